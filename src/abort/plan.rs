//! The plan: which connections of a finished report are aborted, and what it covers.

use super::{Planned, Selection};
use crate::report::{human_duration, Kind, Report};
use std::time::Duration;

/// The plan: the connections of a finished report that `abort` destroys.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub planned: Vec<Planned>,
    /// Connections of the selected problem kinds left alone because their idle time is
    /// unknown (no tcp_info) or below `min_idle`.
    pub left_alone: usize,
}

/// Which connections of `report` to abort: those of problem findings (hung call, CLOSE-WAIT,
/// stalled send, pending connect) of `kinds` (every problem kind when empty), idle at least
/// `min_idle`. A pending connect has no idle time (nothing ever moved): the scan's own test
/// (a SYN retransmitted, no answer) selects it. The report's filters (remote, port, pid,
/// process, namespaces) were applied by the analysis; active connections, idle pools and
/// listeners are never selected.
pub fn select(report: &Report, kinds: &[Kind], min_idle: Duration) -> Selected {
    let min_idle = min_idle.as_secs_f64();
    let mut selected = Selected::default();
    for c in &report.connections {
        if !c.kind.is_problem() || !(kinds.is_empty() || kinds.contains(&c.kind)) {
            continue;
        }
        let idle_enough = match c.idle_secs {
            Some(idle) => idle >= min_idle,
            None => c.kind == Kind::SynSent,
        };
        if !idle_enough {
            selected.left_alone += 1;
            continue;
        }
        let mut pids: Vec<u32> = c.owners.iter().map(|o| o.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        selected.planned.push(Planned {
            netns: c.netns.as_deref().cloned(),
            local: c.local,
            remote: c.remote,
            cookie: c.cookie,
            pids,
            process: c.process.as_deref().map(str::to_string),
            kind: c.kind,
            idle_secs: c.idle_secs,
            result: None,
            error: None,
            state: c.state,
            bytes_received: c.bytes_received,
            direction: c.direction,
        });
    }
    selected
}

/// `hung calls idle ≥ 1m`: what the plan covers, for its header.
pub fn covers(selection: &Selection) -> String {
    let kinds = if selection.kinds.is_empty() {
        "hung calls, CLOSE-WAIT, stalled sends and pending connects".to_string()
    } else {
        selection
            .kinds
            .iter()
            .map(|k| match k {
                Kind::HungCall => "hung calls",
                Kind::CloseWait => "CLOSE-WAIT",
                Kind::StalledSend => "stalled sends",
                Kind::SynSent => "pending connects",
                other => other.label(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{kinds} idle ≥ {}", human_duration(selection.min_idle_secs))
}

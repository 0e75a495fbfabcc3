//! Is the stuck connection really dead? Two proofs for the flows behind problem findings:
//! a packet capture (`--capture`, libpcap, needs CAP_NET_RAW) and a second reading of the
//! kernel's counters (`--confirm`, no privilege). This module is the pure part: the BPF filter,
//! the verdicts, and how they are attached to the report. `live` does the capturing.

pub mod flows;
pub mod live;
pub mod packet;
// The pure parts of capturing serve only the `capture` feature's live capture.
#[cfg_attr(not(feature = "capture"), allow(dead_code))]
pub(crate) mod savefile;

use crate::report::FlowCounts;
use crate::report::{CounterChange, Report, Verdict, WireSummary};
use crate::snapshot::{Endpoint, TcpInfo};
use std::collections::HashMap;
use std::fmt::Write;

/// A BPF filter longer than this falls back to one clause per remote endpoint.
#[cfg_attr(not(feature = "capture"), allow(dead_code))]
const MAX_FILTER_LEN: usize = 16 * 1024;

/// A flow to watch: a connection of the report's `connections` with a problem kind.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    /// Index into `report.connections`.
    pub(crate) index: usize,
    pub(crate) local: Endpoint,
    pub(crate) remote: Endpoint,
    pub(crate) cookie: Option<u64>,
}

/// The flows behind problem findings, in the tool's own network namespace (libpcap and the
/// counters' second reading see only that one).
pub(crate) fn watched(report: &Report) -> Vec<Watched> {
    report
        .connections
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind.is_problem() && c.netns.as_ref().is_none_or(|ns| ns.own))
        .map(|(index, c)| Watched {
            index,
            local: c.local,
            remote: c.remote,
            cookie: c.cookie,
        })
        .collect()
}

#[cfg_attr(not(feature = "capture"), allow(dead_code))]
fn host(ip: std::net::IpAddr) -> String {
    format!("host {ip}")
}

/// The capture filter: one clause per flow (both directions), or, when that would be too
/// long, one per remote endpoint, or all of TCP. Packets are attributed to flows afterwards
/// by exact 4-tuple, so a coarse filter only costs work, never correctness.
#[cfg_attr(not(feature = "capture"), allow(dead_code))]
pub(crate) fn bpf_filter(flows: &[(Endpoint, Endpoint)]) -> String {
    let mut exact = String::from("tcp and (");
    for (i, (local, remote)) in flows.iter().enumerate() {
        let _ = write!(
            exact,
            "{}({} and port {} and {} and port {})",
            if i == 0 { "" } else { " or " },
            host(local.ip),
            local.port,
            host(remote.ip),
            remote.port
        );
    }
    exact.push(')');
    if exact.len() <= MAX_FILTER_LEN {
        return exact;
    }
    let mut remotes: Vec<Endpoint> = flows.iter().map(|(_, r)| *r).collect();
    remotes.sort();
    remotes.dedup();
    let clauses: Vec<String> = remotes
        .iter()
        .map(|r| format!("({} and port {})", host(r.ip), r.port))
        .collect();
    let coarse = format!("tcp and ({})", clauses.join(" or "));
    if coarse.len() <= MAX_FILTER_LEN {
        coarse
    } else {
        "tcp".to_string()
    }
}

/// The counter proof for one flow: tcp_info at collection and again after the window.
pub(crate) fn counter_change(before: &TcpInfo, after: Option<&TcpInfo>) -> CounterChange {
    let Some(after) = after else {
        return CounterChange {
            segs_in: 0,
            segs_out: 0,
            bytes_in: 0,
            bytes_out: 0,
            still_open: false,
            verdict: Verdict::Active,
        };
    };
    let delta = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    let segs = |i: &TcpInfo, f: fn(&TcpInfo) -> Option<u32>| f(i).map(u64::from);
    let change = CounterChange {
        segs_in: delta(segs(before, |i| i.segs_in), segs(after, |i| i.segs_in)),
        segs_out: delta(segs(before, |i| i.segs_out), segs(after, |i| i.segs_out)),
        bytes_in: delta(before.bytes_received, after.bytes_received),
        bytes_out: delta(before.bytes_acked, after.bytes_acked),
        still_open: true,
        verdict: Verdict::Idle,
    };
    let verdict = if change.bytes_in > 0 || change.bytes_out > 0 || after.unacked > before.unacked {
        Verdict::Active
    } else if change.segs_in > 0 || change.segs_out > 0 {
        Verdict::KeepaliveOnly
    } else {
        Verdict::Idle
    };
    CounterChange { verdict, ..change }
}

/// What the wire checks found, ready to attach.
#[derive(Debug, Default)]
pub(crate) struct Results {
    /// Seconds and per-flow counts of the capture, when it ran.
    pub(crate) capture: Option<(f64, HashMap<flows::FlowKey, FlowCounts>)>,
    /// Seconds and per-watched-flow counter changes (same order as `watched`), when read.
    pub(crate) confirm: Option<(f64, Vec<Option<CounterChange>>)>,
}

/// Attaches per-flow results to `report.connections` and sums them per finding.
pub(crate) fn apply(report: &mut Report, watched: &[Watched], results: &Results) {
    for (n, w) in watched.iter().enumerate() {
        let conn = &mut report.connections[w.index];
        if let Some((_, flows)) = &results.capture {
            // Flows that were not captured (another user's, in a restricted run) stay null.
            conn.capture = flows.get(&(w.local, w.remote)).cloned().map(Box::new);
        }
        if let Some((_, changes)) = &results.confirm {
            conn.confirm = changes.get(n).cloned().flatten().map(Box::new);
        }
    }
    // Connections by finding group, built once: never quadratic.
    use crate::report::FindingKey;
    let mut by_group: HashMap<FindingKey, Vec<usize>> = HashMap::new();
    for (i, c) in report.connections.iter().enumerate() {
        by_group.entry(FindingKey::of(c)).or_default().push(i);
    }
    for finding in &mut report.findings {
        let members: Vec<&crate::report::ConnectionReport> = by_group
            .get(&finding.key)
            .map(|indices| indices.iter().map(|&i| &report.connections[i]).collect())
            .unwrap_or_default();
        if let Some((seconds, _)) = &results.capture {
            let flows: Vec<&FlowCounts> = members
                .iter()
                .filter_map(|c| c.capture.as_deref())
                .collect();
            if !flows.is_empty() {
                finding.capture = Some(summarize_capture(*seconds, &flows));
            }
        }
        if let Some((seconds, _)) = &results.confirm {
            let changes: Vec<&CounterChange> = members
                .iter()
                .filter_map(|c| c.confirm.as_deref())
                .collect();
            if !changes.is_empty() {
                finding.confirm = Some(summarize_confirm(*seconds, &changes));
            }
        }
    }
}

fn summary(seconds: f64, verdicts: &[Verdict], flows_gone: usize) -> WireSummary {
    let count = |v| verdicts.iter().filter(|&&x| x == v).count();
    WireSummary {
        seconds,
        flows: verdicts.len(),
        flows_gone,
        flows_idle: count(Verdict::Idle),
        flows_keepalive_only: count(Verdict::KeepaliveOnly),
        flows_active: count(Verdict::Active),
        packets: 0,
        data_packets: 0,
        keepalives: 0,
        verdict: verdicts.iter().copied().max().unwrap_or(Verdict::Idle),
    }
}

fn summarize_capture(seconds: f64, flows: &[&FlowCounts]) -> WireSummary {
    let verdicts: Vec<Verdict> = flows.iter().map(|f| f.verdict()).collect();
    WireSummary {
        packets: flows.iter().map(|f| f.packets).sum(),
        data_packets: flows.iter().map(|f| f.data_packets).sum(),
        keepalives: flows.iter().map(|f| f.keepalives).sum(),
        ..summary(seconds, &verdicts, 0)
    }
}

fn summarize_confirm(seconds: f64, changes: &[&CounterChange]) -> WireSummary {
    let verdicts: Vec<Verdict> = changes.iter().map(|c| c.verdict).collect();
    WireSummary {
        packets: changes.iter().map(|c| c.segs_in + c.segs_out).sum(),
        data_packets: changes
            .iter()
            .filter(|c| c.bytes_in > 0 || c.bytes_out > 0)
            .count() as u64,
        keepalives: changes
            .iter()
            .filter(|c| c.verdict == Verdict::KeepaliveOnly)
            .map(|c| c.segs_out)
            .sum(),
        ..summary(
            seconds,
            &verdicts,
            changes.iter().filter(|c| !c.still_open).count(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        let addr: std::net::SocketAddr = s.parse().unwrap();
        Endpoint::normalized(addr.ip(), addr.port())
    }

    #[test]
    fn filter_is_exact_then_coarse() {
        let flows = vec![(ep("192.0.2.1:40000"), ep("[2001:db8::100]:80"))];
        assert_eq!(
            bpf_filter(&flows),
            "tcp and ((host 192.0.2.1 and port 40000 and host 2001:db8::100 and port 80))"
        );
        let many: Vec<_> = (0..2000u16)
            .map(|i| {
                (
                    ep(&format!("192.0.2.1:{}", 30000 + i)),
                    ep("192.0.2.100:80"),
                )
            })
            .collect();
        assert_eq!(
            bpf_filter(&many),
            "tcp and ((host 192.0.2.100 and port 80))"
        );
    }

    fn info(segs_in: u32, segs_out: u32, bytes_in: u64, bytes_out: u64) -> TcpInfo {
        TcpInfo {
            segs_in: Some(segs_in),
            segs_out: Some(segs_out),
            bytes_received: Some(bytes_in),
            bytes_acked: Some(bytes_out),
            ..TcpInfo::default()
        }
    }

    #[test]
    fn counters_give_the_same_verdicts_as_the_wire() {
        let before = info(3, 4, 0, 74);
        assert_eq!(
            counter_change(&before, Some(&before)).verdict,
            Verdict::Idle
        );
        let probed = info(5, 6, 0, 74);
        let change = counter_change(&before, Some(&probed));
        assert_eq!((change.segs_in, change.segs_out), (2, 2));
        assert_eq!(change.verdict, Verdict::KeepaliveOnly);
        let answered = info(5, 5, 300, 74);
        assert_eq!(
            counter_change(&before, Some(&answered)).verdict,
            Verdict::Active
        );
        let gone = counter_change(&before, None);
        assert!(!gone.still_open);
        assert_eq!(gone.verdict, Verdict::Active);
    }
}

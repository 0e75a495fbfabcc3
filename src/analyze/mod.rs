//! Pure functions from a `Snapshot` to a `Report`: classify every connection, group the
//! findings by `FindingKey` (kind, namespace, and remote endpoint or local service), sum
//! them per process. Never touches the OS. The report it returns has no names and no prose
//! yet: the enrichers fill the names (and more), then `enrich::finish` writes the evidence
//! phrases and explanations from the finished fields.
//!
//! A socket held by several processes (inherited across fork, passed over a Unix socket) is
//! one connection: it is counted once, for its holder (see `holder`), and lists every owner.

pub(crate) mod classify;
mod findings;
pub mod history;
mod judge;
mod processes;
pub mod track;

use crate::report::{
    Kind, Report, ReportOptions, Severity, Summary, Timings, Warning, SCHEMA_VERSION,
};
use crate::seeded::HashMap;
use crate::snapshot::{Connection, Process, Snapshot};
use findings::Context;
use ipnet::IpNet;
use jiff::Timestamp;
use judge::Judged;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Which connections to report on.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub pids: Vec<u32>,
    pub process_names: Vec<String>,
    pub remotes: Vec<IpNet>,
    pub ports: Vec<u16>,
}

impl Filter {
    fn matches(&self, c: &Connection, processes: &HashMap<u32, &Process>) -> bool {
        let pid_ok = self.pids.is_empty() || c.owners().iter().any(|o| self.pids.contains(&o.pid));
        let name_ok = self.process_names.is_empty()
            || c.owners().iter().any(|o| {
                processes.get(&o.pid).is_some_and(|p| {
                    self.process_names.iter().any(|n| {
                        *n == p.name
                            || p.exe.as_deref().and_then(|e| e.rsplit('/').next()) == Some(n)
                    })
                })
            });
        let remote = c.remote();
        let remote_ok =
            self.remotes.is_empty() || self.remotes.iter().any(|net| net.contains(&remote.ip));
        let port_ok = self.ports.is_empty() || self.ports.contains(&remote.port);
        pid_ok && name_ok && remote_ok && port_ok
    }
}

/// What counts as stuck, which connections to report on, and how much of them.
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    pub min_idle: Duration,
    /// Report every socket in `connections`, not only those behind findings.
    pub all: bool,
    pub filter: Filter,
}

/// Analyses a snapshot. `source` is "live" or the snapshot's path; `now` stamps the report.
pub(crate) fn analyze(
    snapshot: &Snapshot,
    options: &AnalysisOptions,
    source: &str,
    now: Timestamp,
) -> Report {
    let processes: HashMap<u32, &Process> = snapshot.processes.iter().map(|p| (p.pid, p)).collect();
    let judged = judge::judge_all(snapshot, options, &processes);
    let pending_by_pid = judge::pending_by_pid(&judged);
    let groups = judge::groups(&judged, &processes);
    let ctx = Context {
        judged: &judged,
        processes: &processes,
        pending_by_pid: &pending_by_pid,
        taken_at: snapshot.taken_at,
        namespaces: snapshot
            .namespaces
            .iter()
            .map(|ns| (ns.inode, Arc::new(ns.clone())))
            .collect(),
        names: processes
            .iter()
            .map(|(&pid, p)| (pid, Arc::from(p.name.as_str())))
            .collect(),
    };
    let mut findings: Vec<_> = groups
        .iter()
        .map(|(key, members)| ctx.finding(key, members))
        .collect();
    findings.sort_by(|a, b| {
        let rank = |f: &crate::report::Finding| {
            (
                f.severity != Severity::Problem,
                f.kind,
                std::cmp::Reverse(f.connections),
            )
        };
        rank(a).cmp(&rank(b)).then_with(|| a.key.cmp(&b.key))
    });
    let summary = summary(snapshot, &judged, &findings);
    Report {
        schema_version: SCHEMA_VERSION,
        generated_at: now,
        host: snapshot.host.clone(),
        source: source.to_string(),
        taken_at: snapshot.taken_at,
        collector: snapshot.collector,
        partial: snapshot.partial,
        options: report_options(options),
        summary,
        processes: ctx.process_summaries(&groups),
        connections: connections(&ctx, &groups, options.all),
        findings,
        wire: None,
        timings: Timings {
            collect_secs: snapshot.collect_secs,
            dns_secs: 0.0,
            breakdown: None,
        },
        warnings: snapshot
            .warnings
            .iter()
            .cloned()
            .map(Warning::Collect)
            .chain(snapshot.partial_reason.clone().map(Warning::Partial))
            .collect(),
    }
}

/// The connections the report lists: those behind findings, or every one that passed the
/// filters with `--all`; by kind, the longest idle first.
fn connections(
    ctx: &Context,
    groups: &BTreeMap<crate::report::FindingKey, Vec<usize>>,
    all: bool,
) -> Vec<crate::report::ConnectionReport> {
    let judged = ctx.judged;
    let behind: Vec<usize> = if all {
        (0..judged.len()).filter(|&i| judged[i].matched()).collect()
    } else {
        groups.values().flatten().copied().collect()
    };
    // Each key computed once (not at every comparison: two random reads each), the position
    // last, so that the unstable sort orders ties as a stable one would.
    let mut keyed: Vec<_> = behind
        .into_iter()
        .enumerate()
        .map(|(at, i)| {
            let j = &judged[i];
            let key = (
                j.kind,
                std::cmp::Reverse(j.idle_ms().unwrap_or(0)),
                j.conn.remote(),
                j.conn.local(),
            );
            (key, at as u32, i as u32)
        })
        .collect();
    keyed.sort_unstable();
    let order: Vec<u32> = keyed.into_iter().map(|(_, _, i)| i).collect();
    order
        .into_iter()
        .map(|i| ctx.connection_report(i as usize))
        .collect()
}

/// The counts. Every count per kind comes from `by_kind`; the totals are read off it.
fn summary(snapshot: &Snapshot, judged: &[Judged], findings: &[crate::report::Finding]) -> Summary {
    let mut by_kind: BTreeMap<Kind, usize> = Kind::ALL.iter().map(|&k| (k, 0)).collect();
    for j in judged.iter().filter(|j| j.matched()) {
        *by_kind.entry(j.kind).or_default() += 1;
    }
    let listening = by_kind[&Kind::Listening];
    Summary {
        sockets: snapshot.connections.len(),
        listening,
        connections: by_kind.values().sum::<usize>() - listening,
        unattributed_sockets: snapshot
            .connections
            .iter()
            .filter(|c| c.inode != 0 && c.owners().is_empty())
            .count(),
        namespaces: snapshot.namespaces.len().max(1),
        findings: findings.len(),
        problems: findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .count(),
        // Every problem is a root cause until `enrich::chain` finds what it waits on.
        root_causes: findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .count(),
        by_kind,
    }
}

fn report_options(options: &AnalysisOptions) -> ReportOptions {
    ReportOptions {
        min_idle_secs: options.min_idle.as_secs_f64(),
        all: options.all,
        pids: options.filter.pids.clone(),
        process_names: options.filter.process_names.clone(),
        remotes: options
            .filter
            .remotes
            .iter()
            .map(|n| n.to_string())
            .collect(),
        ports: options.filter.ports.clone(),
        dns_timeout_secs: None,
        dns_servers: Vec::new(),
    }
}

//! Pure functions from a `Snapshot` to a `Report`: classify every connection, group the
//! findings by (kind, remote), sum them per process, explain them. Never touches the OS.

pub mod classify;
pub mod track;

use crate::report::{
    Client, ConnectionReport, Direction, Finding, FindingProcess, IdleStats, Kind, ProcessSummary,
    Remote, Report, ReportOptions, Severity, Summary, SCHEMA_VERSION,
};
use crate::resolve::{HostName, Names};
use crate::snapshot::{Connection, Process, Snapshot, ThreadEvidence};
use classify::{classify, idle_ms, request_pending, Listeners};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

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
        let pid_ok = self.pids.is_empty() || c.owners.iter().any(|o| self.pids.contains(&o.pid));
        let name_ok = self.process_names.is_empty()
            || c.owners.iter().any(|o| {
                processes.get(&o.pid).is_some_and(|p| {
                    self.process_names.iter().any(|n| {
                        *n == p.name
                            || p.exe.as_deref().and_then(|e| e.rsplit('/').next()) == Some(n)
                    })
                })
            });
        let remote_ok =
            self.remotes.is_empty() || self.remotes.iter().any(|net| net.contains(&c.remote.ip));
        let port_ok = self.ports.is_empty() || self.ports.contains(&c.remote.port);
        pid_ok && name_ok && remote_ok && port_ok
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub min_idle: Duration,
    /// Report every socket in `connections`, not only those behind findings.
    pub all: bool,
    pub filter: Filter,
}

struct Judged<'a> {
    conn: &'a Connection,
    direction: Direction,
    kind: Kind,
    idle_ms: Option<u64>,
    matched: bool,
}

/// Analyses a snapshot. `source` is "live" or the snapshot's path; `now` stamps the report;
/// `names` are the reverse DNS names known so far (addresses not in it are shown bare).
pub fn analyze(
    snapshot: &Snapshot,
    options: &Options,
    source: &str,
    now: SystemTime,
    names: &Names,
) -> Report {
    let processes: HashMap<u32, &Process> = snapshot.processes.iter().map(|p| (p.pid, p)).collect();
    let listeners = Listeners::new(&snapshot.connections);
    let min_idle_ms = options.min_idle.as_millis() as u64;

    let judged: Vec<Judged> = snapshot
        .connections
        .iter()
        .map(|conn| {
            let direction = listeners.direction(conn);
            let kind = classify(conn, direction, min_idle_ms);
            Judged {
                conn,
                direction,
                kind,
                idle_ms: idle_ms(conn, kind),
                matched: (kind != Kind::Listening || options.all)
                    && options.filter.matches(conn, &processes),
            }
        })
        .collect();

    // Inbound connections with a request pending, per pid: the clients stuck workers serve.
    let mut pending_by_pid: HashMap<u32, Vec<usize>> = HashMap::new();
    for (index, j) in judged.iter().enumerate() {
        if j.direction == Direction::Inbound && request_pending(j.conn) {
            for owner in &j.conn.owners {
                pending_by_pid.entry(owner.pid).or_default().push(index);
            }
        }
    }

    let mut groups: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
    for (index, j) in judged.iter().enumerate() {
        if j.matched && (j.kind.is_problem() || j.kind == Kind::IdlePool) {
            groups
                .entry((j.kind, j.conn.netns, j.conn.remote.ip, j.conn.remote.port))
                .or_default()
                .push(index);
        }
    }

    let taken_at = humantime::parse_rfc3339_weak(&snapshot.taken_at).ok();
    let ctx = Context {
        judged: &judged,
        processes: &processes,
        pending_by_pid: &pending_by_pid,
        taken_at,
        names,
        namespaces: snapshot
            .namespaces
            .iter()
            .map(|ns| (ns.inode, ns))
            .collect(),
    };
    let mut findings: Vec<Finding> = groups
        .iter()
        .map(|(&(kind, netns, ip, port), members)| ctx.finding(kind, netns, ip, port, members))
        .collect();
    findings.sort_by(|a, b| {
        (
            a.severity != Severity::Problem,
            a.kind,
            std::cmp::Reverse(a.connections),
        )
            .cmp(&(
                b.severity != Severity::Problem,
                b.kind,
                std::cmp::Reverse(b.connections),
            ))
            .then_with(|| (a.remote.ip, a.remote.port).cmp(&(b.remote.ip, b.remote.port)))
    });

    let process_summaries = ctx.process_summaries(&groups);

    let mut behind: Vec<usize> = if options.all {
        (0..judged.len()).filter(|&i| judged[i].matched).collect()
    } else {
        groups.values().flatten().copied().collect()
    };
    behind.sort_by_key(|&i| {
        (
            judged[i].kind,
            std::cmp::Reverse(judged[i].idle_ms.unwrap_or(0)),
            judged[i].conn.remote,
            judged[i].conn.local,
        )
    });
    let connections = behind.iter().map(|&i| ctx.connection_report(i)).collect();

    let mut by_kind: BTreeMap<&'static str, usize> =
        Kind::ALL.iter().map(|k| (k.key(), 0)).collect();
    for j in judged.iter().filter(|j| j.matched) {
        *by_kind.entry(j.kind.key()).or_default() += 1;
    }
    let summary = Summary {
        sockets: snapshot.connections.len(),
        listening: judged.iter().filter(|j| j.kind == Kind::Listening).count(),
        connections: judged
            .iter()
            .filter(|j| j.matched && j.kind != Kind::Listening)
            .count(),
        unattributed_sockets: snapshot
            .connections
            .iter()
            .filter(|c| c.inode != 0 && c.owners.is_empty())
            .count(),
        namespaces: snapshot.namespaces.len().max(1),
        findings: findings.len(),
        problems: findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .count(),
        by_kind,
    };

    Report {
        schema_version: SCHEMA_VERSION,
        generated_at: humantime::format_rfc3339_seconds(now).to_string(),
        host: snapshot.host.clone(),
        source: source.to_string(),
        taken_at: snapshot.taken_at.clone(),
        collector: snapshot.collector,
        partial: snapshot.partial,
        options: ReportOptions {
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
        },
        summary,
        findings,
        processes: process_summaries,
        connections,
        wire: None,
        timings: crate::report::Timings {
            collect_secs: snapshot.collect_secs,
            dns_secs: 0.0,
        },
        warnings: snapshot.warnings.clone(),
    }
}

struct Context<'a> {
    judged: &'a [Judged<'a>],
    processes: &'a HashMap<u32, &'a Process>,
    pending_by_pid: &'a HashMap<u32, Vec<usize>>,
    taken_at: Option<SystemTime>,
    names: &'a Names,
    namespaces: HashMap<u64, &'a crate::snapshot::Netns>,
}

/// Findings are groups by kind, network namespace and remote endpoint.
type GroupKey = (Kind, Option<u64>, IpAddr, u16);

/// Identity of a process in a summary: same name, unit and container are one row.
type ProcessKey = (String, Option<String>, Option<String>);

const NO_PROCESS: &str = "(no process)";

impl Context<'_> {
    fn netns(&self, inode: Option<u64>) -> Option<crate::snapshot::Netns> {
        inode
            .and_then(|i| self.namespaces.get(&i))
            .map(|ns| (*ns).clone())
    }

    fn name(&self, ip: IpAddr) -> HostName {
        self.names.get(&ip).cloned().unwrap_or_default()
    }

    fn process_key(&self, pid: Option<u32>) -> ProcessKey {
        match pid.and_then(|pid| self.processes.get(&pid)) {
            Some(p) => (p.name.clone(), p.unit.clone(), p.container.clone()),
            None => (NO_PROCESS.to_string(), None, None),
        }
    }

    /// The pids holding a connection; `[None]` when no readable process does.
    fn holders(c: &Connection) -> Vec<Option<u32>> {
        if c.owners.is_empty() {
            return vec![None];
        }
        let pids: BTreeSet<u32> = c.owners.iter().map(|o| o.pid).collect();
        pids.into_iter().map(Some).collect()
    }

    fn clients(&self, pids: &BTreeSet<u32>) -> Vec<Client> {
        let mut indices = BTreeSet::new();
        for pid in pids {
            if let Some(list) = self.pending_by_pid.get(pid) {
                indices.extend(list.iter().copied());
            }
        }
        let mut by_ip: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for i in indices {
            *by_ip.entry(self.judged[i].conn.remote.ip).or_default() += 1;
        }
        let mut clients: Vec<Client> = by_ip
            .into_iter()
            .map(|(ip, connections)| Client {
                ip,
                name: self.name(ip),
                connections,
            })
            .collect();
        clients.sort_by_key(|c| std::cmp::Reverse(c.connections));
        clients
    }

    fn finding(
        &self,
        kind: Kind,
        netns: Option<u64>,
        ip: IpAddr,
        port: u16,
        members: &[usize],
    ) -> Finding {
        let mut idle: Vec<u64> = members
            .iter()
            .filter_map(|&i| self.judged[i].idle_ms)
            .collect();
        idle.sort_unstable();
        let idle_secs = (!idle.is_empty()).then(|| IdleStats {
            min: idle[0] as f64 / 1000.0,
            median: median(&idle) / 1000.0,
            max: idle[idle.len() - 1] as f64 / 1000.0,
        });
        let since = match (self.taken_at, idle_secs) {
            (Some(t), Some(stats)) => t
                .checked_sub(Duration::from_secs_f64(stats.max))
                .map(|s| humantime::format_rfc3339_seconds(s).to_string()),
            _ => None,
        };
        let conns: Vec<&Connection> = members.iter().map(|&i| self.judged[i].conn).collect();
        let info = |f: fn(&crate::snapshot::TcpInfo) -> Option<u64>| -> u64 {
            conns
                .iter()
                .filter_map(|c| c.tcp_info.as_ref().and_then(f))
                .sum()
        };
        let bytes_sent = info(|i| i.bytes_sent());
        let bytes_received = info(|i| i.bytes_received);
        let threads_blocked: usize = conns.iter().map(|c| c.blocked_threads.len()).sum();

        // Per process: by name/unit/container, with pids and blocked threads.
        let mut per_process: BTreeMap<ProcessKey, PerProcess> = BTreeMap::new();
        let mut all_pids = BTreeSet::new();
        for c in &conns {
            for pid in Self::holders(c) {
                let key = self.process_key(pid);
                let entry = per_process.entry(key).or_default();
                if let Some(pid) = pid {
                    entry.pids.insert(pid);
                    all_pids.insert(pid);
                    if let Some(p) = self.processes.get(&pid) {
                        if entry.exe.is_none() {
                            entry.exe = p.exe.clone();
                            entry.cmdline = p.cmdline.clone();
                        }
                        entry.evidence.push(p.thread_evidence);
                    }
                    entry.threads_blocked +=
                        c.blocked_threads.iter().filter(|t| t.pid == pid).count();
                }
                entry.connections += 1;
            }
        }
        let mut processes: Vec<FindingProcess> = per_process
            .into_iter()
            .map(|((name, unit, container), p)| FindingProcess {
                name,
                exe: p.exe,
                cmdline: p.cmdline,
                unit,
                container,
                pids: p.pids.into_iter().collect(),
                connections: p.connections,
                threads_blocked: p.threads_blocked,
                thread_evidence: combined(&p.evidence),
            })
            .collect();
        processes.sort_by_key(|p| std::cmp::Reverse(p.connections));

        let remote = Remote {
            ip,
            port,
            name: self.name(ip),
        };
        let clients = self.clients(&all_pids);
        let all_examined = processes
            .iter()
            .all(|p| p.thread_evidence == ThreadEvidence::Read);
        let evidence = evidence(kind, &conns, threads_blocked, all_examined);
        let netns = self.netns(netns);
        let mut explanation = explain(
            kind,
            &processes,
            &remote,
            conns.len(),
            idle_secs,
            threads_blocked,
        );
        if let Some(ns) = netns.as_ref().filter(|ns| !ns.own) {
            explanation = format!("In network namespace {}: {explanation}", ns.short_label());
        }
        Finding {
            kind,
            netns,
            severity: if kind.is_problem() {
                Severity::Problem
            } else {
                Severity::Info
            },
            remote,
            connections: conns.len(),
            idle_secs,
            since,
            bytes_sent,
            bytes_received,
            threads_blocked,
            processes,
            clients,
            evidence,
            capture: None,
            confirm: None,
            explanation,
        }
    }

    fn process_summaries(&self, groups: &BTreeMap<GroupKey, Vec<usize>>) -> Vec<ProcessSummary> {
        let mut rows: BTreeMap<ProcessKey, ProcessSummary> = BTreeMap::new();
        for (&(kind, _, _, _), members) in groups.iter().filter(|((k, _, _, _), _)| k.is_problem())
        {
            for &i in members {
                let j = &self.judged[i];
                for pid in Self::holders(j.conn) {
                    let key = self.process_key(pid);
                    let row = rows.entry(key.clone()).or_insert_with(|| ProcessSummary {
                        name: key.0.clone(),
                        unit: key.1.clone(),
                        container: key.2.clone(),
                        pids: Vec::new(),
                        hung_call: 0,
                        stalled_send: 0,
                        close_wait: 0,
                        syn_sent: 0,
                        threads_blocked: 0,
                        oldest_idle_secs: None,
                        clients: Vec::new(),
                    });
                    if let Some(pid) = pid {
                        if !row.pids.contains(&pid) {
                            row.pids.push(pid);
                        }
                        row.threads_blocked += j
                            .conn
                            .blocked_threads
                            .iter()
                            .filter(|t| t.pid == pid)
                            .count();
                    }
                    match kind {
                        Kind::HungCall => row.hung_call += 1,
                        Kind::StalledSend => row.stalled_send += 1,
                        Kind::CloseWait => row.close_wait += 1,
                        Kind::SynSent => row.syn_sent += 1,
                        _ => {}
                    }
                    if let Some(ms) = j.idle_ms {
                        let secs = ms as f64 / 1000.0;
                        row.oldest_idle_secs =
                            Some(row.oldest_idle_secs.map_or(secs, |o: f64| o.max(secs)));
                    }
                }
            }
        }
        let mut rows: Vec<ProcessSummary> = rows
            .into_values()
            .map(|mut row| {
                row.pids.sort_unstable();
                row.clients = self.clients(&row.pids.iter().copied().collect());
                row
            })
            .collect();
        rows.sort_by_key(|r| {
            std::cmp::Reverse(r.hung_call + r.stalled_send + r.close_wait + r.syn_sent)
        });
        rows
    }

    fn connection_report(&self, i: usize) -> ConnectionReport {
        let j = &self.judged[i];
        let c = j.conn;
        let owner = c.owners.first();
        let info = c.tcp_info.as_ref();
        ConnectionReport {
            kind: j.kind,
            netns: self.netns(c.netns),
            state: c.state,
            direction: j.direction,
            local: c.local,
            remote: c.remote,
            pid: owner.map(|o| o.pid),
            fd: owner.map(|o| o.fd),
            process: owner
                .and_then(|o| self.processes.get(&o.pid))
                .map(|p| p.name.clone()),
            idle_secs: j.idle_ms.map(|ms| ms as f64 / 1000.0),
            bytes_sent: info.and_then(|i| i.bytes_sent()),
            bytes_received: info.and_then(|i| i.bytes_received),
            recv_q: c.recv_q,
            send_q: c.send_q,
            unacked: info.map(|i| i.unacked),
            retransmits: info.map(|i| i.retransmits),
            blocked_threads: c.blocked_threads.clone(),
            capture: None,
            confirm: None,
            cookie: c.cookie,
            inode: c.inode,
            uid: c.uid,
        }
    }
}

/// What one row of a finding's processes accumulates.
#[derive(Default)]
struct PerProcess {
    pids: BTreeSet<u32>,
    connections: usize,
    threads_blocked: usize,
    exe: Option<String>,
    cmdline: Option<String>,
    evidence: Vec<ThreadEvidence>,
}

/// The thread evidence of several processes as one word.
fn combined(levels: &[ThreadEvidence]) -> ThreadEvidence {
    let all = |level| !levels.is_empty() && levels.iter().all(|&l| l == level);
    if levels.is_empty() || all(ThreadEvidence::NotCollected) {
        ThreadEvidence::NotCollected
    } else if all(ThreadEvidence::Read) {
        ThreadEvidence::Read
    } else if all(ThreadEvidence::Denied) {
        ThreadEvidence::Denied
    } else {
        ThreadEvidence::Partial
    }
}

fn median(sorted: &[u64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    }
}

/// Short phrases for the table: what was seen, in a sysadmin's words.
fn evidence(
    kind: Kind,
    conns: &[&Connection],
    threads_blocked: usize,
    all_examined: bool,
) -> Vec<String> {
    let n = conns.len();
    let infos: Vec<_> = conns.iter().filter_map(|c| c.tcp_info.as_ref()).collect();
    let mut out = Vec::new();
    match kind {
        Kind::HungCall => {
            let nothing = infos.iter().filter(|i| i.bytes_received == Some(0)).count();
            if infos.is_empty() {
                out.push("no tcp_info: judged by blocked threads".to_string());
            } else if nothing == n {
                out.push("request sent, 0 B back".to_string());
            } else if nothing > 0 {
                out.push(format!("request sent; {nothing} of {n} got 0 B back"));
            } else {
                out.push("request sent, no reply since".to_string());
            }
        }
        Kind::CloseWait => {
            out.push("peer closed, fd never closed".to_string());
            let unread = conns.iter().filter(|c| c.recv_q > 0).count();
            if unread > 0 {
                out.push(format!("{unread} with unread data"));
            }
        }
        Kind::StalledSend => {
            let unacked: u64 = infos.iter().map(|i| u64::from(i.unacked)).sum();
            let retrans = infos.iter().map(|i| i.retransmits).max().unwrap_or(0);
            out.push(format!(
                "{unacked} segments unacknowledged, retransmitted {retrans}x"
            ));
        }
        Kind::SynSent => {
            let retries = infos.iter().map(|i| i.retransmits).max().unwrap_or(0);
            out.push(format!("SYN unanswered, retried {retries}x"));
        }
        Kind::IdlePool => out.push("reply received, then idle".to_string()),
        Kind::Active | Kind::Listening => {}
    }
    if kind.is_problem() && kind != Kind::SynSent {
        if threads_blocked > 0 {
            let mut calls: Vec<&str> = conns
                .iter()
                .flat_map(|c| c.blocked_threads.iter().map(|t| t.syscall.as_str()))
                .collect();
            calls.sort_unstable();
            calls.dedup();
            let plural = if threads_blocked == 1 { "" } else { "s" };
            out.push(format!(
                "{threads_blocked} thread{plural} blocked in {}",
                calls.join("/")
            ));
        } else if kind == Kind::HungCall && all_examined {
            out.push("no thread seen blocked on it".to_string());
        } else if kind == Kind::HungCall {
            out.push("threads not examined".to_string());
        }
    }
    out
}

fn who(processes: &[FindingProcess]) -> String {
    match processes {
        [] => NO_PROCESS.to_string(),
        [one] if one.pids.is_empty() => {
            "A process stuckconn could not identify (run as root to see it)".to_string()
        }
        [one] => one.name.clone(),
        [a, b] => format!("{} and {}", a.name, b.name),
        [first, rest @ ..] => format!("{} and {} other processes", first.name, rest.len()),
    }
}

/// One plain sentence: what is wrong and what to look at.
fn explain(
    kind: Kind,
    processes: &[FindingProcess],
    remote: &Remote,
    n: usize,
    idle: Option<IdleStats>,
    threads_blocked: usize,
) -> String {
    let who = who(processes);
    let to = match crate::report::display_name(&remote.name) {
        Some(name) => format!("{name} ({})", remote.endpoint()),
        None => remote.endpoint().to_string(),
    };
    let conns = if n == 1 {
        "1 connection".to_string()
    } else {
        format!("{n} connections")
    };
    let range = idle.map_or("an unknown time".to_string(), |s| s.range(" to "));
    let (has, keeps, is) = if processes.len() > 1 {
        ("have", "keep", "are")
    } else {
        ("has", "keeps", "is")
    };
    match kind {
        Kind::HungCall => {
            let threads = match threads_blocked {
                0 => String::new(),
                1 => "; 1 thread is blocked on it".to_string(),
                t => format!("; {t} threads are blocked on them"),
            };
            format!(
                "{who} sent requests to {to} on {conns} and {has} waited {range} for replies that never came{threads}. The calling code most likely has no read timeout."
            )
        }
        Kind::CloseWait => format!(
            "{to} closed {conns} {range} ago, but {who} never closed its end: the code leaks sockets (a missing close() on some path)."
        ),
        Kind::StalledSend => format!(
            "{who} {has} unacknowledged data to {to} on {conns} with no ACK for {range}: the peer or the path is dead; the kernel gives up after tcp_retries2 (about 15 min)."
        ),
        Kind::SynSent => format!(
            "{who} {is} still connecting to {to} on {conns} and gets no answer: the host is down or a firewall drops the SYNs; the calling code likely has no connect timeout."
        ),
        Kind::IdlePool => format!(
            "{who} {keeps} {conns} to {to} idle for {range} after complete exchanges: a keep-alive pool, not a problem by itself."
        ),
        Kind::Active | Kind::Listening => String::new(),
    }
}

//! Pure functions from a `Snapshot` to a `Report`: classify every connection, group the
//! findings by `FindingKey` (kind, namespace, and remote endpoint or local service), sum
//! them per process, explain them. Never touches the OS.
//!
//! A socket held by several processes (inherited across fork, passed over a Unix socket) is
//! one connection: it is counted once, for its holder (see `holder`), and lists every owner.

pub mod classify;
pub mod history;
pub mod track;

use crate::report::{
    seconds_before, Client, ConnectionReport, Direction, Finding, FindingKey, FindingProcess,
    IdleStats, Kind, OwnerReport, ProcessSummary, Remote, Report, ReportOptions, Severity, Summary,
    Target, SCHEMA_VERSION,
};
use crate::resolve::{HostName, Names};
use crate::snapshot::{Connection, Endpoint, Owner, Process, Snapshot, ThreadEvidence};
use classify::{classify, idle_ms, request_pending, Listeners};
use ipnet::IpNet;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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
    /// Passed the filters: counted in `summary.by_kind`.
    matched: bool,
    /// The owner the connection is counted for.
    holder: Option<Owner>,
}

/// The owner a socket is counted for, when several processes hold it: the one whose thread
/// is blocked on it (the lowest such pid, on the fd the thread waits on), else the owner with
/// the lowest pid (and its lowest fd). `None` when no readable process holds it.
pub fn holder(c: &Connection) -> Option<Owner> {
    let blocked = c
        .owners
        .iter()
        .filter_map(|o| {
            let threads = c.blocked_threads.iter().filter(|t| t.pid == o.pid);
            let mut on_this_fd = false;
            let mut any = false;
            for t in threads {
                any = true;
                on_this_fd |= t.fd == o.fd;
            }
            any.then_some((!on_this_fd, o.pid, o.fd))
        })
        .min()
        .map(|(_, pid, fd)| Owner { pid, fd });
    blocked.or_else(|| c.owners.iter().copied().min_by_key(|o| (o.pid, o.fd)))
}

/// Analyses a snapshot. `source` is "live" or the snapshot's path; `now` stamps the report;
/// `names` are the reverse DNS names known so far (addresses not in it are shown bare).
pub fn analyze(
    snapshot: &Snapshot,
    options: &Options,
    source: &str,
    now: Timestamp,
    names: &Names,
) -> Report {
    let processes: HashMap<u32, &Process> = snapshot.processes.iter().map(|p| (p.pid, p)).collect();
    let listeners = Listeners::new(&snapshot.connections);
    let min_idle_ms = u64::try_from(options.min_idle.as_millis()).unwrap_or(u64::MAX);

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
                matched: options.filter.matches(conn, &processes),
                holder: holder(conn),
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

    let mut groups: BTreeMap<FindingKey, Vec<usize>> = BTreeMap::new();
    for (index, j) in judged.iter().enumerate() {
        if j.matched && (j.kind.is_problem() || j.kind == Kind::IdlePool) {
            let holder_name = j
                .holder
                .and_then(|h| processes.get(&h.pid))
                .map(|p| p.name.as_str());
            let key = FindingKey::new(
                j.kind,
                j.conn.netns,
                j.direction,
                j.conn.local,
                j.conn.remote,
                holder_name,
            );
            groups.entry(key).or_default().push(index);
        }
    }

    let taken_at = snapshot.taken_at;
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
        .map(|(key, members)| ctx.finding(key, members))
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
            .then_with(|| a.key.cmp(&b.key))
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

    // Every count per kind comes from here; the summary's totals are read off it.
    let mut by_kind: BTreeMap<&'static str, usize> =
        Kind::ALL.iter().map(|k| (k.key(), 0)).collect();
    for j in judged.iter().filter(|j| j.matched) {
        *by_kind.entry(j.kind.key()).or_default() += 1;
    }
    let listening = by_kind[Kind::Listening.key()];
    let summary = Summary {
        sockets: snapshot.connections.len(),
        listening,
        connections: by_kind.values().sum::<usize>() - listening,
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
        generated_at: now,
        host: snapshot.host.clone(),
        source: source.to_string(),
        taken_at: snapshot.taken_at,
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
    taken_at: Timestamp,
    names: &'a Names,
    namespaces: HashMap<u64, &'a crate::snapshot::Netns>,
}

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

    fn process_name(&self, pid: u32) -> Option<String> {
        self.processes.get(&pid).map(|p| p.name.clone())
    }

    /// Addresses counted into clients, most connections first.
    fn client_list(&self, ips: impl Iterator<Item = IpAddr>) -> Vec<Client> {
        let mut by_ip: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for ip in ips {
            *by_ip.entry(ip).or_default() += 1;
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

    /// The inbound peers these pids hold with a request pending.
    fn clients(&self, pids: &BTreeSet<u32>) -> Vec<Client> {
        let mut indices = BTreeSet::new();
        for pid in pids {
            if let Some(list) = self.pending_by_pid.get(pid) {
                indices.extend(list.iter().copied());
            }
        }
        self.client_list(indices.into_iter().map(|i| self.judged[i].conn.remote.ip))
    }

    fn finding(&self, key: &FindingKey, members: &[usize]) -> Finding {
        let kind = key.kind;
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
        let since = idle_secs.and_then(|stats| seconds_before(self.taken_at, stats.max));
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

        // Per process (name/unit/container): each connection counted for its holder's row;
        // every other owner listed in its own row, which shares the connection.
        let mut per_process: BTreeMap<ProcessKey, PerProcess> = BTreeMap::new();
        let mut all_pids = BTreeSet::new();
        for &i in members {
            let j = &self.judged[i];
            let c = j.conn;
            let holder_key = self.process_key(j.holder.map(|h| h.pid));
            per_process
                .entry(holder_key.clone())
                .or_default()
                .connections += 1;
            let owner_pids: BTreeSet<u32> = c.owners.iter().map(|o| o.pid).collect();
            let mut sharing = BTreeSet::new();
            for &pid in &owner_pids {
                let key = self.process_key(Some(pid));
                let row = per_process.entry(key.clone()).or_default();
                if row.pids.insert(pid) {
                    if let Some(p) = self.processes.get(&pid) {
                        if row.exe.is_none() {
                            row.exe = p.exe.clone();
                            row.cmdline = p.cmdline.clone();
                        }
                        row.evidence.push(p.thread_evidence);
                    }
                }
                all_pids.insert(pid);
                if key != holder_key {
                    sharing.insert(key);
                }
            }
            for key in sharing {
                if let Some(row) = per_process.get_mut(&key) {
                    row.shared_connections += 1;
                }
            }
            for t in &c.blocked_threads {
                let key = if owner_pids.contains(&t.pid) {
                    self.process_key(Some(t.pid))
                } else {
                    holder_key.clone()
                };
                per_process.entry(key).or_default().threads_blocked += 1;
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
                shared_connections: p.shared_connections,
                threads_blocked: p.threads_blocked,
                thread_evidence: combined(&p.evidence),
            })
            .collect();
        processes.sort_by_key(|p| std::cmp::Reverse((p.connections, p.shared_connections)));

        let direction = key.direction();
        let (remote, local) = match &key.target {
            Target::Remote(e) => (
                Some(Remote {
                    ip: e.ip,
                    port: e.port,
                    name: self.name(e.ip),
                }),
                None,
            ),
            Target::Service { port, .. } => (None, Some(service(&conns, *port))),
        };
        let clients = match direction {
            Direction::Inbound => self.client_list(conns.iter().map(|c| c.remote.ip)),
            _ => self.clients(&all_pids),
        };
        let all_examined = processes
            .iter()
            .all(|p| p.thread_evidence == ThreadEvidence::Read);
        let evidence = evidence(kind, &conns, threads_blocked, all_examined);
        let netns = self.netns(key.netns);
        let mut explanation = explain(
            kind,
            &processes,
            remote.as_ref(),
            local,
            clients.len(),
            conns.len(),
            idle_secs,
            threads_blocked,
        );
        if let Some(ns) = netns.as_ref().filter(|ns| !ns.own) {
            explanation = format!("In network namespace {}: {explanation}", ns.short_label());
        }
        Finding {
            key: key.clone(),
            kind,
            netns,
            severity: if kind.is_problem() {
                Severity::Problem
            } else {
                Severity::Info
            },
            direction,
            remote,
            local,
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

    fn process_summaries(&self, groups: &BTreeMap<FindingKey, Vec<usize>>) -> Vec<ProcessSummary> {
        let mut rows: BTreeMap<ProcessKey, ProcessSummary> = BTreeMap::new();
        for (key, members) in groups.iter().filter(|(k, _)| k.kind.is_problem()) {
            for &i in members {
                let j = &self.judged[i];
                let pid = j.holder.map(|h| h.pid);
                let row_key = self.process_key(pid);
                let row = rows
                    .entry(row_key.clone())
                    .or_insert_with(|| ProcessSummary {
                        name: row_key.0.clone(),
                        unit: row_key.1.clone(),
                        container: row_key.2.clone(),
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
                }
                // The threads of this row's processes (a co-owner of another name keeps its
                // own threads, in the finding's rows).
                row.threads_blocked += j
                    .conn
                    .blocked_threads
                    .iter()
                    .filter(|t| {
                        j.conn.owners.iter().all(|o| o.pid != t.pid)
                            || self.process_key(Some(t.pid)) == row_key
                    })
                    .count();
                match key.kind {
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
        let info = c.tcp_info.as_ref();
        let mut owners: Vec<OwnerReport> = c
            .owners
            .iter()
            .map(|o| OwnerReport {
                pid: o.pid,
                fd: o.fd,
                process: self.process_name(o.pid),
            })
            .collect();
        owners.sort_by_key(|o| (o.pid, o.fd));
        ConnectionReport {
            kind: j.kind,
            netns: self.netns(c.netns),
            state: c.state,
            direction: j.direction,
            local: c.local,
            remote: c.remote,
            pid: j.holder.map(|o| o.pid),
            fd: j.holder.map(|o| o.fd),
            process: j.holder.and_then(|o| self.process_name(o.pid)),
            owners,
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

/// The local service of inbound connections: their port, and their local address when they
/// share one, else the unspecified address (of IPv4 when they are all IPv4).
fn service(conns: &[&Connection], port: u16) -> Endpoint {
    let first = conns.first().map(|c| c.local.ip);
    let ip = match first {
        Some(ip) if conns.iter().all(|c| c.local.ip == ip) => ip,
        _ if conns.iter().all(|c| c.local.ip.is_ipv4()) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    Endpoint { ip, port }
}

/// What one row of a finding's processes accumulates.
#[derive(Default)]
struct PerProcess {
    pids: BTreeSet<u32>,
    connections: usize,
    shared_connections: usize,
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

fn names_of(processes: &[&FindingProcess]) -> String {
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

/// `1 connection`, `2 connections`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// One plain sentence: what is wrong and what to look at. Outbound findings have a
/// `remote`; inbound ones a `local` service and `clients` peers.
#[allow(clippy::too_many_arguments)]
fn explain(
    kind: Kind,
    processes: &[FindingProcess],
    remote: Option<&Remote>,
    local: Option<Endpoint>,
    clients: usize,
    n: usize,
    idle: Option<IdleStats>,
    threads_blocked: usize,
) -> String {
    // Who the connections are counted for; processes that only share them come after.
    let holders: Vec<&FindingProcess> = processes.iter().filter(|p| p.connections > 0).collect();
    let sharers: Vec<&FindingProcess> = processes.iter().filter(|p| p.connections == 0).collect();
    let who = names_of(&holders);
    let conns = count(n, "connection");
    let range = idle.map_or("an unknown time".to_string(), |s| s.range(" to "));
    let (has, keeps, is) = if holders.len() > 1 {
        ("have", "keep", "are")
    } else {
        ("has", "keeps", "is")
    };
    let to = match (remote, local) {
        (Some(remote), _) => match crate::report::display_name(&remote.name) {
            Some(name) => format!("{name} ({})", remote.endpoint()),
            None => remote.endpoint().to_string(),
        },
        (None, Some(local)) => format!("{} of port {}", count(clients, "client"), local.port),
        (None, None) => "an unknown peer".to_string(),
    };
    let mut text = match (kind, local) {
        (Kind::CloseWait, Some(local)) if remote.is_none() => {
            let (peers, them) = if n == 1 {
                ("whose peer", "it")
            } else {
                ("whose peers", "them")
            };
            format!(
                "{who} accepted {conns} on port {} (from {}) {peers} closed {them} {range} ago, but never closed its end: the code leaks sockets (a missing close() on some path).",
                local.port,
                count(clients, "client")
            )
        }
        (Kind::StalledSend, Some(local)) if remote.is_none() => format!(
            "{who} {has} unacknowledged data to {} on {conns} accepted on port {} with no ACK for {range}: the clients or the path are dead; the kernel gives up after tcp_retries2 (about 15 min).",
            count(clients, "client"),
            local.port
        ),
        (Kind::HungCall, _) => {
            let threads = match threads_blocked {
                0 => String::new(),
                1 => "; 1 thread is blocked on it".to_string(),
                t => format!("; {t} threads are blocked on them"),
            };
            format!(
                "{who} sent requests to {to} on {conns} and {has} waited {range} for replies that never came{threads}. The calling code most likely has no read timeout."
            )
        }
        (Kind::CloseWait, _) => format!(
            "{to} closed {conns} {range} ago, but {who} never closed its end: the code leaks sockets (a missing close() on some path)."
        ),
        (Kind::StalledSend, _) => format!(
            "{who} {has} unacknowledged data to {to} on {conns} with no ACK for {range}: the peer or the path is dead; the kernel gives up after tcp_retries2 (about 15 min)."
        ),
        (Kind::SynSent, _) => format!(
            "{who} {is} still connecting to {to} on {conns} and gets no answer: the host is down or a firewall drops the SYNs; the calling code likely has no connect timeout."
        ),
        (Kind::IdlePool, _) => format!(
            "{who} {keeps} {conns} to {to} idle for {range} after complete exchanges: a keep-alive pool, not a problem by itself."
        ),
        (Kind::Active | Kind::Listening, _) => String::new(),
    };
    if !sharers.is_empty() && !text.is_empty() {
        let (also, holds) = if sharers.len() == 1 {
            (sharers[0].name.clone(), "holds")
        } else {
            (names_of(&sharers), "hold")
        };
        let (these, are) = if n == 1 {
            ("the socket", "it is")
        } else {
            ("these sockets", "they are")
        };
        text.push_str(&format!(
            " {also} also {holds} {these} (inherited across fork or passed as a file descriptor); {are} counted once, for {who}."
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{BlockedThread, TcpState};

    fn conn(owners: &[(u32, u32)], blocked: &[(u32, u32)]) -> Connection {
        Connection {
            state: TcpState::Established,
            local: Endpoint::normalized("192.0.2.1".parse().unwrap(), 40000),
            remote: Endpoint::normalized("192.0.2.100".parse().unwrap(), 80),
            inode: 1,
            uid: 0,
            cookie: None,
            recv_q: 0,
            send_q: 0,
            tcp_info: None,
            owners: owners.iter().map(|&(pid, fd)| Owner { pid, fd }).collect(),
            blocked_threads: blocked
                .iter()
                .map(|&(pid, fd)| BlockedThread {
                    pid,
                    tid: pid,
                    fd,
                    syscall: "read".into(),
                    wchan: None,
                })
                .collect(),
            netns: None,
        }
    }

    fn owner(pid: u32, fd: u32) -> Option<Owner> {
        Some(Owner { pid, fd })
    }

    #[test]
    fn the_holder_is_the_owner_blocked_on_the_socket_else_the_lowest_pid() {
        assert_eq!(holder(&conn(&[], &[])), None);
        assert_eq!(holder(&conn(&[(20, 4)], &[])), owner(20, 4));
        // Listed in any order: the lowest pid, its lowest fd.
        assert_eq!(
            holder(&conn(&[(30, 9), (20, 7), (20, 4)], &[])),
            owner(20, 4)
        );
        // A thread of the child is blocked on it: the child, on the fd it waits on.
        assert_eq!(
            holder(&conn(&[(20, 4), (21, 4), (21, 6)], &[(21, 6)])),
            owner(21, 6)
        );
        // Threads of both: the lowest of them.
        assert_eq!(
            holder(&conn(&[(20, 4), (21, 4), (22, 4)], &[(22, 4), (21, 4)])),
            owner(21, 4)
        );
    }

    #[test]
    fn an_inbound_service_keeps_its_address_unless_its_connections_differ() {
        let at = |ip: &str| {
            let mut c = conn(&[], &[]);
            c.local = Endpoint::normalized(ip.parse().unwrap(), 8080);
            c
        };
        let (a, b, c) = (at("192.0.2.1"), at("192.0.2.2"), at("2001:db8::1"));
        assert_eq!(service(&[&a, &a], 8080).to_string(), "192.0.2.1:8080");
        assert_eq!(service(&[&a, &b], 8080).to_string(), "0.0.0.0:8080");
        assert_eq!(service(&[&a, &c], 8080).to_string(), "[::]:8080");
    }
}

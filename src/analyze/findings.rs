//! Findings from the groups: idle times, bytes, the processes that hold the connections
//! (each connection counted once, for its holder), the clients, and the facts the evidence
//! phrases are written from. No names and no prose here: the enrichers and `finish` add them.

use super::judge::Judged;
use crate::report::{
    seconds_before, Client, Direction, Facts, Finding, FindingKey, FindingProcess, IdleStats,
    Remote, Role, Severity, Target,
};
use crate::seeded::HashMap;
use crate::snapshot::{
    BlockedThread, Connection, ContainerNames, Endpoint, Netns, Process, ThreadEvidence,
};
use jiff::Timestamp;
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Identity of a process in a summary: same name, unit and container are one row (borrowed
/// from the snapshot: looked up for every connection, never copied).
pub(super) type ProcessKey<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

pub(super) const NO_PROCESS: &str = "(no process)";

/// What every finding, process row and connection is looked up in.
pub(super) struct Context<'a> {
    pub(crate) judged: &'a [Judged<'a>],
    pub(crate) processes: &'a HashMap<u32, &'a Process>,
    pub(crate) pending_by_pid: &'a HashMap<u32, Vec<usize>>,
    pub(crate) taken_at: Timestamp,
    /// The namespaces and the process names, each once: the connection rows share them.
    pub(crate) namespaces: HashMap<u64, Arc<Netns>>,
    pub(crate) names: HashMap<u32, Arc<str>>,
}

/// What one row of a finding's processes accumulates.
#[derive(Default)]
struct Row {
    pids: BTreeSet<u32>,
    connections: usize,
    shared_connections: usize,
    threads_blocked: usize,
    exe: Option<String>,
    cmdline: Option<String>,
    container_names: ContainerNames,
    evidence: Vec<ThreadEvidence>,
}

impl<'a> Context<'a> {
    pub(crate) fn netns(&self, inode: Option<u64>) -> Option<Netns> {
        self.shared_netns(inode).map(|ns| (*ns).clone())
    }

    pub(crate) fn shared_netns(&self, inode: Option<u64>) -> Option<Arc<Netns>> {
        inode.and_then(|i| self.namespaces.get(&i)).cloned()
    }

    pub(crate) fn process_key(&self, pid: Option<u32>) -> ProcessKey<'a> {
        let processes: &'a HashMap<u32, &'a Process> = self.processes;
        match pid.and_then(|pid| processes.get(&pid)) {
            Some(p) => (&p.name, p.unit.as_deref(), p.container.as_deref()),
            None => (NO_PROCESS, None, None),
        }
    }

    pub(crate) fn process_name(&self, pid: u32) -> Option<Arc<str>> {
        self.names.get(&pid).cloned()
    }

    /// Addresses counted into clients, most connections first (named later, by the names
    /// enricher).
    fn client_list(&self, ips: impl Iterator<Item = IpAddr>) -> Vec<Client> {
        let mut by_ip: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for ip in ips {
            *by_ip.entry(ip).or_default() += 1;
        }
        let mut clients: Vec<Client> = by_ip
            .into_iter()
            .map(|(ip, connections)| Client {
                ip,
                name: Default::default(),
                connections,
            })
            .collect();
        clients.sort_by_key(|c| std::cmp::Reverse(c.connections));
        clients
    }

    /// The inbound peers these pids hold with a request pending.
    pub(crate) fn clients(&self, pids: &BTreeSet<u32>) -> Vec<Client> {
        let mut indices = BTreeSet::new();
        for pid in pids {
            if let Some(list) = self.pending_by_pid.get(pid) {
                indices.extend(list.iter().copied());
            }
        }
        self.client_list(indices.into_iter().map(|i| self.judged[i].conn.remote().ip))
    }

    pub(crate) fn finding(&self, key: &FindingKey, members: &[usize]) -> Finding {
        let kind = key.kind;
        let conns: Vec<&Connection> = members.iter().map(|&i| self.judged[i].conn).collect();
        let idle_secs = self.idle_stats(members);
        let info = |f: fn(&crate::snapshot::TcpInfo) -> Option<u64>| -> u64 {
            conns
                .iter()
                .filter_map(|c| c.tcp_info().as_ref().and_then(f))
                .sum()
        };
        let (processes, all_pids) = self.rows(members);
        let direction = key.direction();
        let (remote, local) = match &key.target {
            Target::Remote(e) => (
                Some(Remote {
                    ip: e.ip,
                    port: e.port,
                    name: Default::default(),
                }),
                None,
            ),
            Target::Service { port, .. } => (None, Some(service(&conns, *port))),
        };
        let clients = match direction {
            Direction::Inbound => self.client_list(conns.iter().map(|c| c.remote().ip)),
            _ => self.clients(&all_pids),
        };
        let blocked: Vec<&[BlockedThread]> =
            members.iter().map(|&i| self.judged[i].blocked()).collect();
        let facts = facts(&conns, &blocked, &processes);
        Finding {
            id: key.id(),
            key: key.clone(),
            kind,
            role: kind.is_problem().then_some(Role::Root),
            netns: self.netns(key.netns),
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
            since: idle_secs.and_then(|stats| seconds_before(self.taken_at, stats.max)),
            bytes_sent: info(|i| i.bytes_sent()),
            bytes_received: info(|i| i.bytes_received),
            threads_blocked: blocked.iter().map(|b| b.len()).sum(),
            processes,
            clients,
            waits_on: Vec::new(),
            blocks: Vec::new(),
            evidence: Vec::new(),
            capture: None,
            confirm: None,
            history: None,
            timeouts: None,
            impact: None,
            hints: Vec::new(),
            explanation: String::new(),
            facts,
            members: members.to_vec(),
        }
    }

    fn idle_stats(&self, members: &[usize]) -> Option<IdleStats> {
        let mut idle: Vec<u64> = members
            .iter()
            .filter_map(|&i| self.judged[i].idle_ms())
            .collect();
        idle.sort_unstable();
        (!idle.is_empty()).then(|| IdleStats {
            min: idle[0] as f64 / 1000.0,
            median: median(&idle) / 1000.0,
            max: idle[idle.len() - 1] as f64 / 1000.0,
        })
    }

    /// The finding's process rows (name/unit/container): each connection counted for its
    /// holder's row; every other owner listed in its own row, which shares the connection.
    /// Also every pid that holds one of the connections.
    fn rows(&self, members: &[usize]) -> (Vec<FindingProcess>, BTreeSet<u32>) {
        let mut rows: BTreeMap<ProcessKey, Row> = BTreeMap::new();
        let mut all_pids = BTreeSet::new();
        for &i in members {
            let j = &self.judged[i];
            let holder_key = self.process_key(j.holder().map(|h| h.pid));
            rows.entry(holder_key).or_default().connections += 1;
            let mut owner_pids: SmallVec<[u32; 2]> =
                j.conn.owners().iter().map(|o| o.pid).collect();
            owner_pids.sort_unstable();
            owner_pids.dedup();
            let mut sharing: SmallVec<[ProcessKey; 2]> = SmallVec::new();
            for &pid in &owner_pids {
                let key = self.process_key(Some(pid));
                let row = rows.entry(key).or_default();
                if row.pids.insert(pid) {
                    if let Some(p) = self.processes.get(&pid) {
                        if row.exe.is_none() {
                            row.exe = p.exe.clone();
                            row.cmdline = p.cmdline.clone();
                        }
                        if row.container_names == ContainerNames::default() {
                            row.container_names = p.container_names.clone();
                        }
                        row.evidence.push(p.thread_evidence);
                    }
                }
                all_pids.insert(pid);
                if key != holder_key && !sharing.contains(&key) {
                    sharing.push(key);
                }
            }
            for key in sharing {
                if let Some(row) = rows.get_mut(&key) {
                    row.shared_connections += 1;
                }
            }
            for t in j.blocked() {
                let key = if owner_pids.contains(&t.pid) {
                    self.process_key(Some(t.pid))
                } else {
                    holder_key
                };
                rows.entry(key).or_default().threads_blocked += 1;
            }
        }
        let mut processes: Vec<FindingProcess> = rows
            .into_iter()
            .map(|((name, unit, container), row)| FindingProcess {
                name: name.to_string(),
                exe: row.exe,
                cmdline: row.cmdline,
                unit: unit.map(str::to_string),
                container: container.map(str::to_string),
                container_names: row.container_names,
                pids: row.pids.into_iter().collect(),
                connections: row.connections,
                shared_connections: row.shared_connections,
                threads_blocked: row.threads_blocked,
                thread_evidence: combined(&row.evidence),
            })
            .collect();
        processes.sort_by_key(|p| std::cmp::Reverse((p.connections, p.shared_connections)));
        (processes, all_pids)
    }
}

/// What the evidence phrases need that the finding does not keep.
fn facts(
    conns: &[&Connection],
    blocked: &[&[BlockedThread]],
    processes: &[FindingProcess],
) -> Facts {
    let infos: Vec<_> = conns.iter().filter_map(|c| c.tcp_info()).collect();
    let mut syscalls: Vec<String> = blocked
        .iter()
        .flat_map(|b| b.iter().map(|t| t.syscall.clone()))
        .collect();
    syscalls.sort_unstable();
    syscalls.dedup();
    Facts {
        with_tcp_info: infos.len(),
        received_nothing: infos.iter().filter(|i| i.bytes_received == Some(0)).count(),
        unread: conns.iter().filter(|c| c.recv_q > 0).count(),
        unacked: infos.iter().map(|i| u64::from(i.unacked)).sum(),
        max_retransmits: infos.iter().map(|i| i.retransmits).max().unwrap_or(0),
        syscalls,
        all_threads_examined: processes
            .iter()
            .all(|p| p.thread_evidence == ThreadEvidence::Read),
    }
}

/// The local service of inbound connections: their port, and their local address when they
/// share one, else the unspecified address (of IPv4 when they are all IPv4).
pub(super) fn service(conns: &[&Connection], port: u16) -> Endpoint {
    let first = conns.first().map(|c| c.local().ip);
    let ip = match first {
        Some(ip) if conns.iter().all(|c| c.local().ip == ip) => ip,
        _ if conns.iter().all(|c| c.local().ip.is_ipv4()) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    Endpoint { ip, port }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::judge::tests::conn;

    #[test]
    fn an_inbound_service_keeps_its_address_unless_its_connections_differ() {
        let at = |ip: &str| {
            let mut c = conn(&[]);
            let remote = c.remote();
            c.set_endpoints(Endpoint::normalized(ip.parse().unwrap(), 8080), remote);
            c
        };
        let (a, b, c) = (at("192.0.2.1"), at("192.0.2.2"), at("2001:db8::1"));
        assert_eq!(service(&[&a, &a], 8080).to_string(), "192.0.2.1:8080");
        assert_eq!(service(&[&a, &b], 8080).to_string(), "0.0.0.0:8080");
        assert_eq!(service(&[&a, &c], 8080).to_string(), "[::]:8080");
    }
}

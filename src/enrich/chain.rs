//! The chain of waits on this host: a stuck call to a local service is a symptom of whatever
//! that service is stuck on. A problem finding **waits on** another when the remote end of
//! one of its connections is a socket of this host (the exact reverse 4-tuple, in any scanned
//! namespace, matched uniquely) held by a process that is itself in the other finding. Pure:
//! only the snapshot's sockets and the report.

use crate::report::{Finding, Report, Role, Severity};
use crate::seeded::{self, HashMap};
use crate::snapshot::{Connection, Endpoint, Snapshot};
use std::collections::BTreeSet;

/// Fills `waits_on`, `blocks` and `role` of every problem finding, counts the root causes,
/// and puts the root causes first.
pub(crate) fn fill(report: &mut Report, snapshot: &Snapshot) {
    let problems: Vec<usize> = (0..report.findings.len())
        .filter(|&i| report.findings[i].severity == Severity::Problem)
        .collect();
    let peers = peers(&report.findings, &problems, &snapshot.connections);
    // The problem findings each pid holds connections of.
    let mut by_pid: HashMap<u32, BTreeSet<usize>> = HashMap::default();
    for &i in &problems {
        for p in &report.findings[i].processes {
            for &pid in &p.pids {
                by_pid.entry(pid).or_default().insert(i);
            }
        }
    }
    // The finding each connection is a member of (a connection is in one finding at most):
    // whether a finding holds a peer is one look-up, not a walk through its members.
    let held: BTreeSet<usize> = by_pid.values().flatten().copied().collect();
    let mut finding_of: Vec<u32> = vec![NO_INDEX; snapshot.connections.len()];
    for &j in &held {
        for &member in &report.findings[j].members {
            if let (Some(slot), Ok(j)) = (finding_of.get_mut(member), u32::try_from(j)) {
                *slot = j;
            }
        }
    }
    let mut waits_on: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); report.findings.len()];
    for &i in &problems {
        // Per pid holding a peer: which finding holds the peers that pid holds (one, or
        // several): each pid's findings are walked once per finding, not once per member (a
        // server holding 100,000 peers in as many findings made that 10^10 steps).
        let mut held_by: HashMap<u32, Holds> = HashMap::default();
        for &member in &report.findings[i].members {
            let Some(&peer) = peers.get(member).filter(|&&p| p != NO_INDEX) else {
                continue;
            };
            let peer = peer as usize;
            let holds = Holds::One(
                finding_of
                    .get(peer)
                    .filter(|&&j| j != NO_INDEX)
                    .map(|&j| j as usize),
            );
            for owner in snapshot.connections[peer].owners() {
                if !by_pid.contains_key(&owner.pid) {
                    continue;
                }
                held_by
                    .entry(owner.pid)
                    .and_modify(|h| {
                        if *h != holds {
                            *h = Holds::Several;
                        }
                    })
                    .or_insert(holds);
            }
        }
        // It waits on every finding of such a pid but itself and, when one finding holds all
        // those peers, that one (the other end of the same calls).
        for (pid, holds) in held_by {
            for &j in by_pid.get(&pid).into_iter().flatten() {
                if j != i && holds != Holds::One(Some(j)) {
                    waits_on[i].insert(j);
                }
            }
        }
    }
    link(&mut report.findings, &waits_on);
    report.summary.root_causes = report
        .findings
        .iter()
        .filter(|f| f.role == Some(Role::Root))
        .count();
    // Root causes first, then their victims, then the rest; the analysis's order within.
    report.findings.sort_by_key(|f| match f.role {
        Some(Role::Root) => 0,
        Some(Role::Downstream) => 1,
        None => 2,
    });
}

/// Which finding holds the peers a pid holds, seen from one finding's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// All of them held by this finding (or by none).
    One(Option<usize>),
    /// Held by different findings.
    Several,
}

/// Writes the ids both ways and the roles.
fn link(findings: &mut [Finding], waits_on: &[BTreeSet<usize>]) {
    let ids: Vec<String> = findings.iter().map(|f| f.id.clone()).collect();
    let mut blocks: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); findings.len()];
    for (i, targets) in waits_on.iter().enumerate() {
        for &j in targets {
            blocks[j].insert(i);
        }
    }
    for (i, f) in findings.iter_mut().enumerate() {
        if f.severity != Severity::Problem {
            continue;
        }
        f.waits_on = waits_on[i].iter().map(|&j| ids[j].clone()).collect();
        f.blocks = blocks[i].iter().map(|&j| ids[j].clone()).collect();
        f.role = Some(if f.waits_on.is_empty() {
            Role::Root
        } else {
            Role::Downstream
        });
    }
}

/// "No connection" or "no finding" in the tables below, indexed by snapshot index.
const NO_INDEX: u32 = u32::MAX;

/// For each connection of a problem finding, by its snapshot index, the snapshot index of its
/// peer (`NO_INDEX`: none): the one socket of this host whose local and remote endpoints are
/// its remote and local ones. Loopback peers are looked for in the same namespace only
/// (loopback never crosses one); a tuple seen more than once is ambiguous and has no peer.
fn peers(findings: &[Finding], problems: &[usize], connections: &[Connection]) -> Vec<u32> {
    // A digest of the (local, remote) of the peer wanted, for each member, sorted: one binary
    // search per socket of the host finds the members it may be the peer of, the tuples then
    // compared in full (no hash tables of tuples: 100,000 members took 23 MiB that way).
    let mut wanted: Vec<(u64, usize)> = problems
        .iter()
        .flat_map(|&i| findings[i].members.iter().copied())
        .filter_map(|m| {
            connections
                .get(m)
                .map(|c| (digest(c.remote(), c.local()), m))
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    // The local ports of the peers wanted (their members' remote ports), one bit each: most
    // sockets of a host are not on one of them, and need no digest nor search.
    let mut ports = vec![0u64; 1 << 10];
    for &(_, m) in &wanted {
        let port = usize::from(connections[m].remote().port);
        ports[port >> 6] |= 1 << (port & 63);
    }
    // Each wanted entry's peer: none found yet, one, or more than one (ambiguous).
    const NONE: usize = usize::MAX;
    const MANY: usize = usize::MAX - 1;
    let mut found = vec![NONE; wanted.len()];
    for (index, c) in connections.iter().enumerate() {
        let (local, remote) = (c.local(), c.remote());
        let port = usize::from(local.port);
        if ports[port >> 6] & (1 << (port & 63)) == 0 {
            continue;
        }
        let d = digest(local, remote);
        let start = wanted.partition_point(|&(w, _)| w < d);
        for (at, &(w, member)) in wanted.iter().enumerate().skip(start) {
            if w != d {
                break;
            }
            let own = &connections[member];
            if index == member
                || (own.remote(), own.local()) != (local, remote)
                || (own.remote().ip.is_loopback() && c.netns() != own.netns())
            {
                continue;
            }
            found[at] = if found[at] == NONE { index } else { MANY };
        }
    }
    let mut peers = vec![NO_INDEX; connections.len()];
    for (&(_, member), peer) in wanted.iter().zip(found) {
        if peer != NONE && peer != MANY {
            peers[member] = u32::try_from(peer).unwrap_or(NO_INDEX);
        }
    }
    peers
}

/// A 64-bit digest of a socket's (local, remote): equal tuples have equal digests (the tuples
/// are compared in full afterwards: a collision costs a comparison, never a wrong peer), by
/// the run's seeded mix (`seeded`: remote ports and addresses are chosen by others).
fn digest(local: Endpoint, remote: Endpoint) -> u64 {
    let mix = seeded::mix;
    let mut h = seeded::seed();
    for e in [local, remote] {
        let ip = match e.ip {
            std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
            std::net::IpAddr::V6(a) => u128::from(a) ^ (1 << 127),
        };
        h = mix(h, ip as u64);
        h = mix(h, (ip >> 64) as u64);
        h = mix(h, u64::from(e.port));
    }
    h
}

//! The chain of waits on this host: a stuck call to a local service is a symptom of whatever
//! that service is stuck on. A problem finding **waits on** another when the remote end of
//! one of its connections is a socket of this host (the exact reverse 4-tuple, in any scanned
//! namespace, matched uniquely) held by a process that is itself in the other finding. Pure:
//! only the snapshot's sockets and the report.

use crate::report::{Finding, Report, Role, Severity};
use crate::snapshot::{Connection, Endpoint, Snapshot};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Fills `waits_on`, `blocks` and `role` of every problem finding, counts the root causes,
/// and puts the root causes first.
pub(crate) fn fill(report: &mut Report, snapshot: &Snapshot) {
    let problems: Vec<usize> = (0..report.findings.len())
        .filter(|&i| report.findings[i].severity == Severity::Problem)
        .collect();
    let peers = peers(&report.findings, &problems, &snapshot.connections);
    // The problem findings each pid holds connections of.
    let mut by_pid: HashMap<u32, BTreeSet<usize>> = HashMap::new();
    for &i in &problems {
        for p in &report.findings[i].processes {
            for &pid in &p.pids {
                by_pid.entry(pid).or_default().insert(i);
            }
        }
    }
    let mut waits_on: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); report.findings.len()];
    for &i in &problems {
        for &member in &report.findings[i].members {
            let Some(&peer) = peers.get(&member) else {
                continue;
            };
            let holds_peer = |j: usize| report.findings[j].members.contains(&peer);
            for owner in &snapshot.connections[peer].owners {
                for &j in by_pid.get(&owner.pid).into_iter().flatten() {
                    if j != i && !holds_peer(j) {
                        waits_on[i].insert(j);
                    }
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

/// For each connection of a problem finding, the snapshot index of its peer: the one socket
/// of this host whose local and remote endpoints are its remote and local ones. Loopback
/// peers are looked for in the same namespace only (loopback never crosses one); a tuple
/// seen more than once is ambiguous and has no peer.
fn peers(
    findings: &[Finding],
    problems: &[usize],
    connections: &[Connection],
) -> HashMap<usize, usize> {
    // (local, remote) of the peer wanted, for each member.
    let wanted: HashMap<usize, (Endpoint, Endpoint)> = problems
        .iter()
        .flat_map(|&i| findings[i].members.iter().copied())
        .filter_map(|m| connections.get(m).map(|c| (m, (c.remote(), c.local()))))
        .collect();
    let tuples: HashSet<(Endpoint, Endpoint)> = wanted.values().copied().collect();
    // One pass over every socket: the candidates of each wanted tuple.
    let mut candidates: HashMap<(Endpoint, Endpoint), Vec<usize>> = HashMap::new();
    for (index, c) in connections.iter().enumerate() {
        let tuple = (c.local(), c.remote());
        if tuples.contains(&tuple) {
            candidates.entry(tuple).or_default().push(index);
        }
    }
    wanted
        .into_iter()
        .filter_map(|(member, tuple)| {
            let own = &connections[member];
            let found: Vec<usize> = candidates
                .get(&tuple)?
                .iter()
                .copied()
                .filter(|&p| p != member)
                .filter(|&p| {
                    !own.remote().ip.is_loopback() || connections[p].netns() == own.netns()
                })
                .collect();
            match found.as_slice() {
                [one] => Some((member, *one)),
                _ => None,
            }
        })
        .collect()
}

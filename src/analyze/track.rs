//! The time dimension: stuck connections followed by socket cookie across samples, summed per
//! process within each finding group (kind, namespace, remote endpoint or local service), with
//! rates, growth, onset and a leak verdict. Pure: it is fed reports and the times they were
//! taken.
//!
//! The first sample is the baseline: the connections it sees were there before watching
//! began, so they are counted as `baseline`, not `opened`, and give no `opened` event.
//! Opened and closed connections, and their rates, count from the second sample on.

use crate::report::{Client, ConnectionReport, Direction, FindingKey, Kind, Remote, Report};
use crate::resolve::HostName;
use crate::snapshot::Endpoint;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;

/// How many samples a group remembers (for the sparkline and the growth rate).
const HISTORY: usize = 240;
/// A leak has grown by at least this many stuck connections since the first sample.
const LEAK_MIN_GROWTH: usize = 3;

/// A group: the same process name within one finding group (`FindingKey`: kind, network
/// namespace, and remote endpoint or, for inbound connections, local service).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub process: String,
    pub finding: FindingKey,
}

#[derive(Debug)]
struct Tracked {
    group: GroupKey,
    first_seen: Timestamp,
    local: Endpoint,
    peer: Remote,
    pid: Option<u32>,
    cookie: Option<u64>,
}

#[derive(Debug)]
struct Group {
    /// (seconds since the first sample, stuck connections) per sample.
    history: VecDeque<(f64, usize)>,
    baseline: usize,
    opened: usize,
    closed: usize,
    onset: Option<Timestamp>,
    oldest_idle_secs: Option<f64>,
    pids: BTreeSet<u32>,
    netns_label: Option<String>,
    remote: Option<Remote>,
    local: Option<Endpoint>,
    clients: Vec<Client>,
    leak: bool,
}

/// One group at one sample, as `watch` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSample {
    pub kind: Kind,
    pub process: String,
    /// The network namespace's inode (null in snapshots without namespaces).
    pub netns: Option<u64>,
    /// The namespace as the tables label it (`ip netns` name, container, `host`, `net:[INODE]`).
    pub netns_label: Option<String>,
    pub pids: Vec<u32>,
    /// `outbound` (grouped by remote endpoint) or `inbound` (by local service).
    pub direction: Direction,
    /// Outbound groups: the remote endpoint. Null for inbound groups.
    pub remote: Option<Remote>,
    /// Inbound groups: the local service (port, and address as in the report). Null for
    /// outbound groups.
    pub local: Option<Endpoint>,
    /// Inbound groups: the peers, as in the report's finding. Empty for outbound groups.
    pub clients: Vec<Client>,
    /// Stuck connections now.
    pub connections: usize,
    /// Stuck connections already there at the first sample (the baseline).
    pub baseline: usize,
    /// Stuck connections that appeared / went away since the first sample.
    pub opened: usize,
    pub closed: usize,
    /// `opened` and `closed` per minute since the first sample (0 at the first sample).
    pub opened_per_min: f64,
    pub closed_per_min: f64,
    /// Least-squares slope of the stuck count, per minute.
    pub growth_per_min: f64,
    pub oldest_idle_secs: Option<f64>,
    /// The earliest moment the evidence shows this group was stuck (RFC 3339): when a
    /// connection was first seen, or the sample time minus its idle time when it never
    /// received a byte.
    pub onset: Option<Timestamp>,
    /// The stuck count keeps growing.
    pub leak: bool,
    /// The stuck count of each sample remembered, oldest first.
    pub history: Vec<usize>,
}

/// Something that happened between two samples.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A connection became stuck after the first sample (connections stuck at the first
    /// sample are the baseline and give no event).
    Opened {
        kind: Kind,
        process: String,
        pid: Option<u32>,
        local: Endpoint,
        remote: Remote,
        cookie: Option<u64>,
    },
    /// A stuck connection went away (`still_open` false) or stopped being stuck.
    Closed {
        kind: Kind,
        process: String,
        pid: Option<u32>,
        local: Endpoint,
        remote: Remote,
        cookie: Option<u64>,
        stuck_secs: f64,
        still_open: bool,
    },
    /// A group's stuck count keeps growing.
    Leak(Box<GroupSample>),
}

#[derive(Debug, Default)]
pub struct Tracker {
    tracked: HashMap<u64, Tracked>,
    groups: BTreeMap<GroupKey, Group>,
    first_sample: Option<Timestamp>,
    samples: usize,
}

/// A connection's identity across samples: the socket cookie (inode without sock_diag).
fn identity(c: &ConnectionReport) -> u64 {
    c.cookie.unwrap_or(c.inode)
}

fn group_key(c: &ConnectionReport) -> GroupKey {
    GroupKey {
        process: c
            .process
            .clone()
            .unwrap_or_else(|| "(no process)".to_string()),
        finding: FindingKey::of(c),
    }
}

fn secs_between(later: Timestamp, earlier: Timestamp) -> f64 {
    later.duration_since(earlier).as_secs_f64().max(0.0)
}

/// Least-squares slope of (t, y), per second.
fn slope(points: &[(f64, usize)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let num: f64 = points
        .iter()
        .map(|p| (p.0 - mean_t) * (p.1 as f64 - mean_y))
        .sum();
    let den: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Takes one sample. `report.connections` must hold the stuck connections (a scan
    /// report always does). Returns what happened since the previous sample (nothing is
    /// `opened` at the first sample: it is the baseline).
    pub fn observe(&mut self, report: &Report, at: Timestamp) -> Vec<Event> {
        let baseline = self.first_sample.is_none();
        let first = *self.first_sample.get_or_insert(at);
        self.samples += 1;
        let elapsed = secs_between(at, first);
        let mut events = Vec::new();
        let names: HashMap<IpAddr, &HostName> = report.named_addresses().collect();
        let remote_of = |e: &Endpoint| -> Remote {
            Remote {
                ip: e.ip,
                port: e.port,
                name: names.get(&e.ip).map(|n| (*n).clone()).unwrap_or_default(),
            }
        };
        let findings: HashMap<&FindingKey, &crate::report::Finding> =
            report.findings.iter().map(|f| (&f.key, f)).collect();

        let mut now: BTreeMap<GroupKey, (usize, Option<f64>, BTreeSet<u32>)> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for c in report.connections.iter().filter(|c| c.kind.is_problem()) {
            let id = identity(c);
            let key = group_key(c);
            seen.insert(id);
            let entry = now.entry(key.clone()).or_default();
            entry.0 += 1;
            if let Some(idle) = c.idle_secs {
                entry.1 = Some(entry.1.map_or(idle, |o: f64| o.max(idle)));
            }
            entry.2.extend(c.pid);
            // The evidence-based onset of this connection.
            let onset = match (c.bytes_received, c.idle_secs) {
                (Some(0), Some(idle)) => crate::report::seconds_before(at, idle),
                _ => None,
            };
            self.groups.entry(key.clone()).or_insert_with(|| {
                let inbound = key.finding.direction() == Direction::Inbound;
                Group {
                    history: VecDeque::new(),
                    baseline: 0,
                    opened: 0,
                    closed: 0,
                    onset: None,
                    oldest_idle_secs: None,
                    pids: BTreeSet::new(),
                    netns_label: c.netns.as_ref().map(|ns| ns.short_label()),
                    remote: (!inbound).then(|| remote_of(&c.remote)),
                    local: inbound.then_some(c.local),
                    clients: Vec::new(),
                    leak: false,
                }
            });
            let new = match self.tracked.get(&id) {
                Some(t) if t.group == key => false,
                Some(_) => {
                    // Same socket, another group (its kind changed): close it in the old one.
                    let old = self.tracked.remove(&id).unwrap();
                    if let Some(g) = self.groups.get_mut(&old.group) {
                        g.closed += 1;
                    }
                    true
                }
                None => true,
            };
            let group = self.groups.get_mut(&key).unwrap_or_else(|| unreachable!());
            let first_seen = if new {
                if baseline {
                    group.baseline += 1;
                } else {
                    group.opened += 1;
                    events.push(Event::Opened {
                        kind: c.kind,
                        process: key.process.clone(),
                        pid: c.pid,
                        local: c.local,
                        remote: remote_of(&c.remote),
                        cookie: c.cookie,
                    });
                }
                self.tracked.insert(
                    id,
                    Tracked {
                        group: key.clone(),
                        first_seen: at,
                        local: c.local,
                        peer: remote_of(&c.remote),
                        pid: c.pid,
                        cookie: c.cookie,
                    },
                );
                at
            } else {
                self.tracked[&id].first_seen
            };
            let candidate = onset.map_or(first_seen, |o| o.min(first_seen));
            group.onset = Some(group.onset.map_or(candidate, |o| o.min(candidate)));
        }

        // Stuck connections not seen now: gone, or no longer stuck.
        let still_open: std::collections::HashSet<u64> =
            report.connections.iter().map(identity).collect();
        let gone: Vec<u64> = self
            .tracked
            .keys()
            .filter(|id| !seen.contains(id))
            .copied()
            .collect();
        for id in gone {
            let t = self.tracked.remove(&id).unwrap_or_else(|| unreachable!());
            if let Some(g) = self.groups.get_mut(&t.group) {
                g.closed += 1;
                events.push(Event::Closed {
                    kind: t.group.finding.kind,
                    process: t.group.process.clone(),
                    pid: t.pid,
                    local: t.local,
                    remote: t.peer,
                    cookie: t.cookie,
                    stuck_secs: secs_between(at, t.first_seen),
                    still_open: still_open.contains(&id),
                });
            }
        }

        for (key, group) in self.groups.iter_mut() {
            let (count, oldest, pids) = now.remove(key).unwrap_or_default();
            group.history.push_back((elapsed, count));
            if group.history.len() > HISTORY {
                group.history.pop_front();
            }
            group.oldest_idle_secs = oldest;
            group.pids.extend(pids);
            // Names, service address and peers as the report's finding has them now.
            if let Some(f) = findings.get(&key.finding) {
                group.remote = f.remote.clone();
                group.local = f.local;
                if f.direction == Direction::Inbound {
                    group.clients = f.clients.clone();
                }
            }
            let was_leak = group.leak;
            group.leak = is_leak(&group.history);
            if group.leak && !was_leak {
                events.push(Event::Leak(Box::new(sample_of(key, group, elapsed))));
            }
        }
        events
    }

    /// Every group with stuck connections now, or that had some since watching began.
    pub fn groups(&self) -> Vec<GroupSample> {
        let elapsed = self
            .groups
            .values()
            .filter_map(|g| g.history.back().map(|h| h.0))
            .fold(0.0, f64::max);
        let mut out: Vec<GroupSample> = self
            .groups
            .iter()
            .map(|(key, group)| sample_of(key, group, elapsed))
            .collect();
        out.sort_by(|a, b| {
            (b.leak, b.connections, b.opened)
                .cmp(&(a.leak, a.connections, a.opened))
                .then_with(|| a.kind.cmp(&b.kind))
        });
        out
    }
}

/// The stuck count keeps growing: it grew by at least LEAK_MIN_GROWTH since the first
/// sample, the latest count is above the count halfway through, and the second half of the
/// history still slopes upward. A pool that opens and closes at a steady rate stays flat.
fn is_leak(history: &VecDeque<(f64, usize)>) -> bool {
    let points: Vec<(f64, usize)> = history.iter().copied().collect();
    if points.len() < 3 {
        return false;
    }
    let first = points[0].1;
    let last = points[points.len() - 1].1;
    let mid = points.len() / 2;
    last >= first + LEAK_MIN_GROWTH && last > points[mid].1 && slope(&points[mid..]) > 0.0
}

fn sample_of(key: &GroupKey, group: &Group, elapsed: f64) -> GroupSample {
    let minutes = (elapsed / 60.0).max(f64::EPSILON);
    let points: Vec<(f64, usize)> = group.history.iter().copied().collect();
    let per_min = |n: usize| {
        if elapsed > 0.0 {
            n as f64 / minutes
        } else {
            0.0
        }
    };
    GroupSample {
        kind: key.finding.kind,
        process: key.process.clone(),
        netns: key.finding.netns,
        netns_label: group.netns_label.clone(),
        pids: group.pids.iter().copied().collect(),
        direction: key.finding.direction(),
        remote: group.remote.clone(),
        local: group.local,
        clients: group.clients.clone(),
        connections: points.last().map_or(0, |p| p.1),
        baseline: group.baseline,
        opened: group.opened,
        closed: group.closed,
        opened_per_min: per_min(group.opened),
        closed_per_min: per_min(group.closed),
        growth_per_min: slope(&points) * 60.0,
        oldest_idle_secs: group.oldest_idle_secs,
        onset: group.onset.map(crate::report::floor_seconds),
        leak: group.leak,
        history: points.iter().map(|p| p.1).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(counts: &[usize]) -> VecDeque<(f64, usize)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (i as f64 * 0.5, c))
            .collect()
    }

    #[test]
    fn growing_is_a_leak_steady_is_not() {
        assert!(is_leak(&history(&[0, 2, 5, 7, 10, 12, 15, 15])));
        assert!(
            !is_leak(&history(&[0, 1, 2, 3, 3, 3, 3, 3, 3])),
            "a pool that filled up"
        );
        assert!(!is_leak(&history(&[3, 3, 2, 3, 3, 2, 3])));
        assert!(!is_leak(&history(&[0, 5])), "too few samples");
        assert!(!is_leak(&history(&[10, 8, 6, 4, 2])));
    }

    #[test]
    fn slope_per_second() {
        let points = [(0.0, 0), (1.0, 2), (2.0, 4)];
        assert!((slope(&points) - 2.0).abs() < 1e-9);
        assert_eq!(slope(&[(0.0, 3)]), 0.0);
    }
}

//! The time dimension: stuck connections followed by socket cookie across samples, summed per
//! process within each finding group (kind, namespace, remote endpoint or local service), with
//! rates, growth, onset and a leak verdict. Pure: it is fed reports and the times they were
//! taken.
//!
//! The first sample is the baseline: the connections it sees were there before watching
//! began, so they are counted as `baseline`, not `opened`, and give no `opened` event.
//! Opened and closed connections, and their rates, count from the second sample on.

use crate::report::{Client, ConnectionReport, Direction, FindingKey, History, Remote, Report};
use crate::snapshot::Endpoint;
use crate::snapshot::HostName;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

mod growth;
mod sample;

use growth::{is_leak, sample_of};
pub use sample::{Event, GroupSample};

/// How many samples a group remembers (for the sparkline and the growth rate).
const HISTORY: usize = 240;
/// A leak has grown by at least this many stuck connections since the first sample.
const LEAK_MIN_GROWTH: usize = 3;

/// A group: the same process name within one finding group (`FindingKey`: kind, network
/// namespace, and remote endpoint or, for inbound connections, local service).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct GroupKey {
    pub(crate) process: String,
    pub(crate) finding: FindingKey,
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
    /// What the first sample's finding tells of the time before watching began (its
    /// reconstructed history), when the group is all of its finding.
    past: Option<History>,
}

#[derive(Debug, Default)]
pub struct Tracker {
    tracked: HashMap<u64, Tracked>,
    groups: BTreeMap<GroupKey, Group>,
    first_sample: Option<Timestamp>,
    samples: usize,
}

/// What one sample gathers on its way through the tracker.
struct Sample<'a> {
    at: Timestamp,
    /// The first sample: what is stuck now is the baseline, not opened.
    baseline: bool,
    names: HashMap<IpAddr, &'a HostName>,
    /// Per group: stuck connections now, the oldest idle time, the pids.
    now: BTreeMap<GroupKey, (usize, Option<f64>, BTreeSet<u32>)>,
    /// The identities of the stuck connections seen now.
    seen: HashSet<u64>,
    events: Vec<Event>,
}

impl Sample<'_> {
    fn remote_of(&self, e: &Endpoint) -> Remote {
        Remote {
            ip: e.ip,
            port: e.port,
            name: self
                .names
                .get(&e.ip)
                .map(|n| (*n).clone())
                .unwrap_or_default(),
        }
    }
}

impl Group {
    fn new(key: &GroupKey, c: &ConnectionReport, remote: Remote) -> Group {
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
            remote: (!inbound).then_some(remote),
            local: inbound.then_some(c.local),
            clients: Vec::new(),
            leak: false,
            past: None,
        }
    }
}

/// A connection's identity across samples: the socket cookie (inode without sock_diag).
fn identity(c: &ConnectionReport) -> u64 {
    c.cookie.unwrap_or(c.inode)
}

fn group_key(c: &ConnectionReport) -> GroupKey {
    GroupKey {
        process: c.process.as_deref().unwrap_or("(no process)").to_string(),
        finding: FindingKey::of(c),
    }
}

fn secs_between(later: Timestamp, earlier: Timestamp) -> f64 {
    later.duration_since(earlier).as_secs_f64().max(0.0)
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    pub(crate) fn samples(&self) -> usize {
        self.samples
    }

    /// Takes one sample. `report.connections` must hold the stuck connections (a scan
    /// report always does). Returns what happened since the previous sample (nothing is
    /// `opened` at the first sample: it is the baseline).
    pub fn observe(&mut self, report: &Report, at: Timestamp) -> Vec<Event> {
        let baseline = self.first_sample.is_none();
        let first = *self.first_sample.get_or_insert(at);
        self.samples += 1;
        let mut sample = Sample {
            at,
            baseline,
            names: report.named_addresses().collect(),
            now: BTreeMap::new(),
            seen: HashSet::new(),
            events: Vec::new(),
        };
        for c in report.connections.iter().filter(|c| c.kind.is_problem()) {
            self.track(c, &mut sample);
        }
        self.close_gone(report, &mut sample);
        self.update_groups(report, &mut sample, secs_between(at, first));
        sample.events
    }

    /// One stuck connection of this sample: counted in its group, opened when new.
    fn track(&mut self, c: &ConnectionReport, sample: &mut Sample) {
        let id = identity(c);
        let key = group_key(c);
        sample.seen.insert(id);
        let entry = sample.now.entry(key.clone()).or_default();
        entry.0 += 1;
        if let Some(idle) = c.idle_secs {
            entry.1 = Some(entry.1.map_or(idle, |o: f64| o.max(idle)));
        }
        entry.2.extend(c.pid);
        // The evidence-based onset of this connection.
        let onset = match (c.bytes_received, c.idle_secs) {
            (Some(0), Some(idle)) => crate::report::seconds_before(sample.at, idle),
            _ => None,
        };
        self.groups
            .entry(key.clone())
            .or_insert_with(|| Group::new(&key, c, sample.remote_of(&c.remote)));
        let new = match self.tracked.get(&id) {
            Some(t) if t.group == key => false,
            Some(_) => {
                // Same socket, another group (its kind changed): close it in the old one.
                if let Some(old) = self.tracked.remove(&id) {
                    if let Some(g) = self.groups.get_mut(&old.group) {
                        g.closed += 1;
                    }
                }
                true
            }
            None => true,
        };
        let first_seen = if new {
            self.open(id, c, &key, sample);
            sample.at
        } else {
            self.tracked[&id].first_seen
        };
        if let Some(group) = self.groups.get_mut(&key) {
            let candidate = onset.map_or(first_seen, |o| o.min(first_seen));
            group.onset = Some(group.onset.map_or(candidate, |o| o.min(candidate)));
        }
    }

    /// A connection seen for the first time: part of the baseline at the first sample,
    /// `opened` after it.
    fn open(&mut self, id: u64, c: &ConnectionReport, key: &GroupKey, sample: &mut Sample) {
        if let Some(group) = self.groups.get_mut(key) {
            if sample.baseline {
                group.baseline += 1;
            } else {
                group.opened += 1;
                sample.events.push(Event::Opened {
                    kind: c.kind,
                    process: key.process.clone(),
                    pid: c.pid,
                    local: c.local,
                    remote: sample.remote_of(&c.remote),
                    cookie: c.cookie,
                });
            }
        }
        self.tracked.insert(
            id,
            Tracked {
                group: key.clone(),
                first_seen: sample.at,
                local: c.local,
                peer: sample.remote_of(&c.remote),
                pid: c.pid,
                cookie: c.cookie,
            },
        );
    }

    /// Stuck connections not seen now: gone, or no longer stuck.
    fn close_gone(&mut self, report: &Report, sample: &mut Sample) {
        let still_open: HashSet<u64> = report.connections.iter().map(identity).collect();
        let gone: Vec<u64> = self
            .tracked
            .keys()
            .filter(|id| !sample.seen.contains(id))
            .copied()
            .collect();
        for id in gone {
            let Some(t) = self.tracked.remove(&id) else {
                continue;
            };
            if let Some(g) = self.groups.get_mut(&t.group) {
                g.closed += 1;
                sample.events.push(Event::Closed {
                    kind: t.group.finding.kind,
                    process: t.group.process.clone(),
                    pid: t.pid,
                    local: t.local,
                    remote: t.peer,
                    cookie: t.cookie,
                    stuck_secs: secs_between(sample.at, t.first_seen),
                    still_open: still_open.contains(&id),
                });
            }
        }
    }

    /// Every group's count, history, names and leak verdict after this sample.
    fn update_groups(&mut self, report: &Report, sample: &mut Sample, elapsed: f64) {
        let findings: HashMap<&FindingKey, &crate::report::Finding> =
            report.findings.iter().map(|f| (&f.key, f)).collect();
        for (key, group) in self.groups.iter_mut() {
            let (count, oldest, pids) = sample.now.remove(key).unwrap_or_default();
            group.history.push_back((elapsed, count));
            if group.history.len() > HISTORY {
                group.history.pop_front();
            }
            group.oldest_idle_secs = oldest;
            group.pids.extend(pids);
            // Names, service address and peers as the report's finding has them now.
            if let Some(f) = findings.get(&key.finding) {
                // The past before watching began: the first sample's reconstruction, when
                // this group is its finding's only holder.
                if sample.baseline && group.past.is_none() {
                    let holders = f.processes.iter().filter(|p| p.connections > 0).count();
                    group.past = f.history.clone().filter(|_| holders == 1);
                }
                group.remote = f.remote.clone();
                group.local = f.local;
                if f.direction == Direction::Inbound {
                    group.clients = f.clients.clone();
                }
            }
            let was_leak = group.leak;
            group.leak = is_leak(&group.history);
            if group.leak && !was_leak {
                sample
                    .events
                    .push(Event::Leak(Box::new(sample_of(key, group, elapsed, false))));
            }
        }
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
            .map(|(key, group)| sample_of(key, group, elapsed, self.samples == 1))
            .collect();
        out.sort_by(|a, b| {
            (b.leak, b.connections, b.opened)
                .cmp(&(a.leak, a.connections, a.opened))
                .then_with(|| a.kind.cmp(&b.kind))
        });
        out
    }
}

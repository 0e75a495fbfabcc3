//! A `watch --format ndjson` recording, read line by line: its samples and their groups, the
//! opened and closed events, how it ended, its warnings, and the lines that could not be read.

use super::plural;
use crate::report::Kind;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::HashSet;

/// A `watch --format ndjson` recording, as `render_watch` reads it.
#[derive(Debug, Clone, Default)]
pub struct WatchRecording {
    /// The host, when the lines say (`host.hostname`).
    pub host: Option<String>,
    pub samples: Vec<WatchSample>,
    /// `opened` and `closed` event lines.
    pub opened: usize,
    pub closed: usize,
    /// The `summary` line's `ended_by`, when the recording has one.
    pub ended_by: Option<String>,
    /// The samples' warnings, each once.
    pub warnings: Vec<String>,
    /// Lines that could not be read (line number and why), at most `MAX_PROBLEMS`.
    pub problems: Vec<String>,
    /// Lines that could not be read, all of them.
    pub bad_lines: usize,
    /// The warnings kept, to keep each once without searching the list.
    known_warnings: HashSet<String>,
}

/// One `sample` line.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchSample {
    pub time: Timestamp,
    pub groups: Vec<WatchGroup>,
}

/// One group of a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchGroup {
    /// The kind's JSON key (`hung_call` ...).
    pub kind: String,
    pub process: String,
    /// The remote endpoint (with its name), or for inbound groups `N clients → :PORT`.
    pub target: String,
    /// What identifies the group's peer across samples: the remote endpoint, or `:PORT`
    /// (a name found later does not make another group).
    pub endpoint: String,
    pub netns: Option<String>,
    pub connections: usize,
    pub leak: bool,
    pub onset: Option<Timestamp>,
    /// The stuck count reconstructed before watching began, when the line carries it
    /// (a `past` object shaped like a finding's `history`): (end of bucket, stuck) points.
    pub past: Vec<(Timestamp, usize)>,
}

/// At most this many unreadable lines are listed.
pub const MAX_PROBLEMS: usize = 20;

/// What identifies a group across samples: kind, process, peer, network namespace.
pub(super) type GroupId = (String, String, String, Option<String>);

impl WatchGroup {
    pub(super) fn id(&self) -> GroupId {
        (
            self.kind.clone(),
            self.process.clone(),
            self.endpoint.clone(),
            self.netns.clone(),
        )
    }

    /// The kind in words (`hung call`).
    pub(super) fn kind_label(&self) -> String {
        Kind::ALL
            .iter()
            .find(|k| k.key() == self.kind)
            .map_or_else(|| self.kind.replace('_', " "), |k| k.label().to_string())
    }

    /// From a `groups` element of a sample line.
    pub fn from_json(v: &Value) -> Option<WatchGroup> {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let endpoint = |e: &Value| -> Option<String> {
            let ip: std::net::IpAddr = e.get("ip")?.as_str()?.parse().ok()?;
            let port = u16::try_from(e.get("port")?.as_u64()?).ok()?;
            Some(crate::snapshot::Endpoint { ip, port }.to_string())
        };
        let (target, id) = match v.get("remote").filter(|r| !r.is_null()) {
            Some(r) => {
                let at = endpoint(r)?;
                let target = match r.get("hostname").and_then(Value::as_str) {
                    Some(name) if r.get("dns_verified") == Some(&Value::Bool(true)) => {
                        format!("{name} {at}")
                    }
                    Some(name) => format!("{name}? {at}"),
                    None => at.clone(),
                };
                (target, at)
            }
            None => {
                let port = v
                    .get("local")
                    .and_then(|l| l.get("port"))
                    .and_then(Value::as_u64)
                    .map_or("?".to_string(), |p| p.to_string());
                let clients = v
                    .get("clients")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                (
                    format!("{} → :{port}", plural(clients, "client", "clients")),
                    format!(":{port}"),
                )
            }
        };
        let past = v
            .get("past")
            .and_then(|p| {
                let step = p.get("bucket_secs")?.as_u64()?;
                let buckets = p.get("buckets")?.as_array()?;
                buckets
                    .iter()
                    .map(|b| {
                        let start: Timestamp = b.get("start")?.as_str()?.parse().ok()?;
                        let end = start
                            .checked_add(jiff::SignedDuration::from_secs(i64::try_from(step).ok()?))
                            .ok()?;
                        Some((end, usize::try_from(b.get("stuck")?.as_u64()?).ok()?))
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .unwrap_or_default();
        Some(WatchGroup {
            kind: text(v.get("kind")?)?,
            process: v.get("process").and_then(text).unwrap_or_default(),
            target,
            endpoint: id,
            netns: v.get("netns_label").and_then(text),
            connections: usize::try_from(v.get("connections")?.as_u64()?).ok()?,
            leak: v.get("leak").and_then(Value::as_bool).unwrap_or(false),
            onset: v
                .get("onset")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok()),
            past,
        })
    }
}

impl WatchRecording {
    /// Reads a whole recording; lines it cannot read are counted and listed, never fatal.
    pub fn from_ndjson(text: &str) -> WatchRecording {
        let mut recording = WatchRecording::default();
        for (i, line) in text.lines().enumerate() {
            recording.add_line(i + 1, line);
        }
        recording
    }

    fn problem(&mut self, number: usize, why: &str) {
        self.bad_lines += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(format!("line {number}: {why}"));
        }
    }

    /// Reads one line of a recording (`number` counts from 1, for the messages).
    pub fn add_line(&mut self, number: usize, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => return self.problem(number, "not JSON"),
        };
        if let Some(host) = v
            .get("host")
            .and_then(|h| h.get("hostname"))
            .and_then(Value::as_str)
        {
            self.host.get_or_insert_with(|| host.to_string());
        }
        match v.get("type").and_then(Value::as_str) {
            Some("sample") => {
                let Some(time) = v
                    .get("time")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse::<Timestamp>().ok())
                else {
                    return self.problem(number, "a sample without a valid time");
                };
                let Some(groups) = v.get("groups").and_then(Value::as_array) else {
                    return self.problem(number, "a sample without groups");
                };
                let parsed: Vec<WatchGroup> =
                    groups.iter().filter_map(WatchGroup::from_json).collect();
                if parsed.len() < groups.len() {
                    self.problem(number, "a group it could not read");
                }
                for w in v
                    .get("warnings")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if self.known_warnings.insert(w.to_string()) {
                        self.warnings.push(w.to_string());
                    }
                }
                self.samples.push(WatchSample {
                    time,
                    groups: parsed,
                });
            }
            Some("opened") => self.opened += 1,
            Some("closed") => self.closed += 1,
            Some("summary") => {
                self.ended_by = v
                    .get("ended_by")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            Some(_) => {}
            None => self.problem(number, "no type"),
        }
    }
}

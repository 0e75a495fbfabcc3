//! The report: what `analyze` concludes from a snapshot (and the enrichers add), and what
//! every renderer prints. Serialized as is, it is the JSON document
//! (`schema/report.schema.json`). Plain data, below everything that computes it.

mod connection;
mod diagnosis;
mod finding;
pub mod history;
mod holder;
mod key;
mod kind;
pub(crate) mod rows;
pub(crate) mod shared;
mod time;
mod timeouts;
mod warning;
mod wire;

pub use connection::{ConnectionReport, OwnerReport};
pub use diagnosis::{Hint, Impact, Role};
pub use finding::{
    display_name, Client, Facts, Finding, FindingProcess, FindingsById, IdleStats, ProcessSummary,
    Remote,
};
pub use history::{Bucket, History, Shape};
pub use holder::place;
pub use key::{FindingKey, Target};
pub use kind::{Direction, Kind, Severity};
pub use time::{floor_seconds, human_duration, now_millis, now_seconds, seconds_before};
pub use timeouts::{ConnectionTimeouts, TimeoutVerdict, Timeouts};
pub use warning::Warning;
pub use wire::{CounterChange, FlowCounts, Verdict, WireRun, WireSummary};

use crate::snapshot::{Collector, Host, HostName};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Version of the JSON report. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub generated_at: Timestamp,
    pub host: Host,
    /// `live`, or the path of the snapshot that was analysed.
    pub source: String,
    /// When the sockets were collected.
    pub taken_at: Timestamp,
    pub collector: Collector,
    /// `--timeout` cut the command short: everything reported is right, but not everything
    /// was seen (exit status 3 for `scan`).
    pub partial: bool,
    pub options: ReportOptions,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    /// Which process leaks: the problem findings summed per process name.
    pub processes: Vec<ProcessSummary>,
    /// Written by two threads when large (`rows`).
    #[serde(serialize_with = "rows::serialize")]
    pub connections: Vec<ConnectionReport>,
    /// How `--capture` / `--confirm` ran; null when neither was asked for.
    pub wire: Option<WireRun>,
    pub timings: Timings,
    pub warnings: Vec<Warning>,
}

impl Report {
    /// The addresses a reader wants named (every finding's remote and clients), with the
    /// names they have so far.
    pub fn named_addresses(&self) -> impl Iterator<Item = (IpAddr, &HostName)> + '_ {
        self.findings.iter().flat_map(|f| {
            f.remote
                .iter()
                .map(|r| (r.ip, &r.name))
                .chain(f.clients.iter().map(|c| (c.ip, &c.name)))
        })
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    /// How long the collection took (when the snapshot was recorded, for `--from`).
    pub collect_secs: f64,
    /// How long reverse DNS took (0 when nothing was looked up).
    pub dns_secs: f64,
    /// With `--timings`: `phases`, `dumps` and `fd_walk`, where the run's time went.
    #[serde(flatten)]
    pub breakdown: Option<crate::snapshot::timings::Breakdown>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportOptions {
    pub min_idle_secs: f64,
    pub all: bool,
    pub pids: Vec<u32>,
    pub process_names: Vec<String>,
    pub remotes: Vec<String>,
    pub ports: Vec<u16>,
    /// Per-lookup DNS timeout; null with `--no-dns`.
    pub dns_timeout_secs: Option<f64>,
    /// DNS servers asked (`IP:PORT`); empty means the system's configuration.
    pub dns_servers: Vec<String>,
}

/// The counts of a report. Each number has one source: `by_kind` counts every socket that
/// passed the filters (listeners included) and `listening` and `connections` are read off
/// it; `findings` and `problems` count the findings.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Every TCP socket the collection saw, listeners included, before filters.
    pub sockets: usize,
    /// Listening sockets that passed the filters: `by_kind.listening`.
    pub listening: usize,
    /// Non-listening sockets that passed the filters: the sum of `by_kind` without listening.
    pub connections: usize,
    /// Sockets (with an inode) that no readable process holds, before filters.
    pub unattributed_sockets: usize,
    /// Network namespaces scanned.
    pub namespaces: usize,
    /// Finding groups, problems and info alike: the findings (and table rows) of the report.
    pub findings: usize,
    /// Finding groups whose kind is a problem.
    pub problems: usize,
    /// Problem findings that nothing on this host explains (`role: root`).
    pub root_causes: usize,
    /// Sockets (after filters) per kind, listeners included. Each connection of a finding is
    /// counted once, whatever the number of processes that hold it.
    #[serde(serialize_with = "by_kind_name")]
    pub by_kind: BTreeMap<Kind, usize>,
}

/// `by_kind` as JSON: keys are the kinds' names, in their alphabetical order.
fn by_kind_name<S: serde::Serializer>(
    by_kind: &BTreeMap<Kind, usize>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let named: BTreeMap<&str, usize> = by_kind.iter().map(|(k, n)| (k.key(), *n)).collect();
    serde::Serialize::serialize(&named, serializer)
}

impl Summary {
    /// Sockets of one kind (after filters).
    pub fn count(&self, kind: Kind) -> usize {
        self.by_kind.get(&kind).copied().unwrap_or(0)
    }

    /// Stuck connections: those of the problem kinds.
    pub fn stuck(&self) -> usize {
        Kind::ALL
            .iter()
            .filter(|k| k.is_problem())
            .map(|&k| self.count(k))
            .sum()
    }
}

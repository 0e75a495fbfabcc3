//! A finding: connections of one kind, namespace and target, with the processes that hold
//! them, and what is known about them.

use super::{
    human_duration, Direction, FindingKey, Hint, Impact, Kind, Role, Severity, Timeouts,
    WireSummary,
};
use crate::snapshot::{ContainerNames, Endpoint, HostName, Netns, ThreadEvidence};
use jiff::Timestamp;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Remote {
    pub ip: IpAddr,
    pub port: u16,
    /// Reverse DNS: `hostname` (null when none), `dns` (ok, nxdomain, timeout, error,
    /// skipped) and `dns_verified` (the name resolves back to this address).
    #[serde(flatten)]
    pub name: HostName,
}

impl Remote {
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            ip: self.ip,
            port: self.port,
        }
    }
}

/// How a name reads to people: `crl.example.com`, or `crl.example.com?` when the name
/// does not resolve back to the address.
pub fn display_name(name: &HostName) -> Option<String> {
    name.hostname.as_ref().map(|h| {
        if name.dns_verified {
            h.clone()
        } else {
            format!("{h}?")
        }
    })
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct IdleStats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl IdleStats {
    /// "5m" when min and max read the same, else "5m{separator}5h 12m".
    pub fn range(&self, separator: &str) -> String {
        let (lo, hi) = (human_duration(self.min), human_duration(self.max));
        if lo == hi {
            lo
        } else {
            format!("{lo}{separator}{hi}")
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What groups these connections (not serialized: kind, netns and direction say it).
    #[serde(skip)]
    pub key: FindingKey,
    /// Unique and stable within the report: kind, namespace and target
    /// (`hung_call/4026531840/192.0.2.100:80`). `waits_on` and `blocks` name findings by it.
    pub id: String,
    pub kind: Kind,
    pub severity: Severity,
    /// Problems only: `root` when nothing on this host explains it, `downstream` when it
    /// waits on another problem finding (see `waits_on`); null for the other findings.
    pub role: Option<Role>,
    /// `outbound`: connections this host made, grouped by remote endpoint. `inbound`:
    /// connections a local service accepted, grouped by process and local port; their peers
    /// are in `clients`.
    pub direction: Direction,
    /// The network namespace of these connections (null in snapshots without namespaces).
    /// Findings are never merged across namespaces.
    pub netns: Option<Netns>,
    /// Outbound: the remote endpoint. Null for inbound findings.
    pub remote: Option<Remote>,
    /// Inbound: the local service (its port, and the address the connections were accepted
    /// on, or the unspecified address when they differ). Null for outbound findings.
    pub local: Option<Endpoint>,
    pub connections: usize,
    /// Seconds since data last moved (for stalled sends: since the last ACK); null if unknown.
    pub idle_secs: Option<IdleStats>,
    /// A lower bound for when the oldest connection of the group went quiet (RFC 3339).
    pub since: Option<Timestamp>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub threads_blocked: usize,
    pub processes: Vec<FindingProcess>,
    /// Outbound findings: inbound peers the same processes hold with a request pending.
    /// Inbound findings: the peers of these connections.
    pub clients: Vec<Client>,
    /// The findings these connections wait on: their remote is a socket of this host held
    /// by a process that is itself stuck in them.
    pub waits_on: Vec<String>,
    /// The findings that wait on this one.
    pub blocks: Vec<String>,
    /// Short phrases a sysadmin reads in the table.
    pub evidence: Vec<String>,
    /// What `--capture` saw of this group's flows on the wire; null without it.
    pub capture: Option<WireSummary>,
    /// What `--confirm` (or `--capture`) saw in the kernel's counters; null without them.
    pub confirm: Option<WireSummary>,
    /// When these connections went quiet, reconstructed from their idle times: the leak's
    /// timeline. Null for idle pools and when no idle time is known.
    pub history: Option<super::History>,
    /// Problems only: whether anything will end these connections, and when.
    pub timeouts: Option<Timeouts>,
    /// Problems only: what the holding processes cost in memory; null when not read.
    pub impact: Option<Impact>,
    /// Problems only: the runtime that made the calls and what to change in it.
    pub hints: Vec<Hint>,
    pub explanation: String,
    /// What the evidence phrases are written from (not serialized: the fields above and the
    /// connections say it in full).
    #[serde(skip)]
    pub facts: Facts,
    /// The indices of its connections in the snapshot (not serialized).
    #[serde(skip)]
    pub members: Vec<usize>,
}

/// What `analyze` saw of a finding's connections that its serialized fields do not keep,
/// for `enrich::finish` to write the evidence phrases from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Connections with tcp_info.
    pub with_tcp_info: usize,
    /// Connections with tcp_info that never received a byte.
    pub received_nothing: usize,
    /// Connections with unread data in their receive queue.
    pub unread: usize,
    /// Segments unacknowledged, over all the connections.
    pub unacked: u64,
    /// The most retransmissions of one connection.
    pub max_retransmits: u8,
    /// The syscalls the blocked threads wait in, sorted, each once.
    pub syscalls: Vec<String>,
    /// Every holding process's threads were examined.
    pub all_threads_examined: bool,
}

/// The processes of a finding, one row per name, unit and container. A socket held by several
/// processes (inherited across fork, passed over a Unix socket) is one connection, counted
/// for one of them: its holder, the process whose thread is blocked on it, else the lowest
/// pid. The rows' `connections` sum to the finding's.
#[derive(Debug, Clone, Serialize)]
pub struct FindingProcess {
    pub name: String,
    pub exe: Option<String>,
    /// The command line of its first pid, secrets masked unless `--no-redact`.
    pub cmdline: Option<String>,
    pub unit: Option<String>,
    pub container: Option<String>,
    /// What the container runtimes call the container (null when unknown).
    #[serde(flatten)]
    pub container_names: ContainerNames,
    /// Every pid of this row that holds one of the connections (holders and co-owners).
    pub pids: Vec<u32>,
    /// Connections counted for these processes (they hold them).
    pub connections: usize,
    /// Connections these processes also hold while another process is counted for them.
    pub shared_connections: usize,
    /// Threads of these processes blocked on the connections.
    pub threads_blocked: usize,
    /// Whether the threads of these processes could be examined: `read`, `partial`, `denied`,
    /// or `not_collected` (no process known, or none of its connections was idle enough).
    pub thread_evidence: ThreadEvidence,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    #[serde(flatten)]
    pub name: HostName,
    pub connections: usize,
}

/// The problem findings summed per process name, unit and container; every connection is
/// counted once, for its holder (see `FindingProcess`).
#[derive(Debug, Clone, Serialize)]
pub struct ProcessSummary {
    pub name: String,
    pub unit: Option<String>,
    pub container: Option<String>,
    /// What the container runtimes call the container (null when unknown).
    #[serde(flatten)]
    pub container_names: ContainerNames,
    pub pids: Vec<u32>,
    pub hung_call: usize,
    pub stalled_send: usize,
    pub close_wait: usize,
    pub syn_sent: usize,
    pub threads_blocked: usize,
    pub oldest_idle_secs: Option<f64>,
    pub clients: Vec<Client>,
    /// These processes' memory (PSS summed, RSS where PSS was not readable); null when not
    /// read.
    pub memory_bytes: Option<u64>,
    /// Their swap (SwapPss summed); null when not read.
    pub swap_bytes: Option<u64>,
}

impl ProcessSummary {
    /// Stuck connections counted for these processes, of every problem kind.
    pub fn stuck(&self) -> usize {
        self.hung_call + self.stalled_send + self.close_wait + self.syn_sent
    }
}

/// Findings by their `id`, built once, to follow `waits_on` and `blocks` without searching
/// every finding for each link (a root cause may block 100,000 others).
pub struct FindingsById<'a> {
    findings: &'a [Finding],
    by_id: std::collections::HashMap<&'a str, usize>,
}

impl<'a> FindingsById<'a> {
    pub fn new(findings: &'a [Finding]) -> FindingsById<'a> {
        // The first finding of an id, as a search from the start would find it.
        let mut by_id = std::collections::HashMap::with_capacity(findings.len());
        for (i, f) in findings.iter().enumerate() {
            by_id.entry(f.id.as_str()).or_insert(i);
        }
        FindingsById { findings, by_id }
    }

    /// The finding with this id, and its place in the report's findings.
    pub fn get(&self, id: &str) -> Option<(usize, &'a Finding)> {
        self.by_id.get(id).map(|&i| (i, &self.findings[i]))
    }
}

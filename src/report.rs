//! The report: what `analyze` concludes from a snapshot, and what every renderer prints.
//! Serialized as is, it is the JSON document (`schema/report.schema.json`).

use crate::resolve::HostName;
use crate::snapshot::{BlockedThread, Collector, Endpoint, Host, Netns, TcpState, ThreadEvidence};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Version of the JSON report. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// What a connection is, judged from its evidence.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Outbound, idle, we sent last and no reply came: the incident.
    HungCall,
    /// Unacknowledged data being retransmitted: the peer or the path is dead.
    StalledSend,
    /// The peer closed; the process never closed its end.
    CloseWait,
    /// A connect whose SYN was never answered.
    SynSent,
    /// Outbound, idle after a complete exchange: a keep-alive pool.
    IdlePool,
    /// Anything else: data moving, just opened, inbound, closing.
    Active,
    /// A listening socket (only with `--all`).
    Listening,
}

impl Kind {
    /// Kinds that make the exit status 1.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Kind::HungCall | Kind::StalledSend | Kind::CloseWait | Kind::SynSent
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::HungCall => "hung call",
            Kind::StalledSend => "stalled send",
            Kind::CloseWait => "close wait",
            Kind::SynSent => "syn sent",
            Kind::IdlePool => "idle pool",
            Kind::Active => "active",
            Kind::Listening => "listening",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Kind::HungCall => "hung_call",
            Kind::StalledSend => "stalled_send",
            Kind::CloseWait => "close_wait",
            Kind::SynSent => "syn_sent",
            Kind::IdlePool => "idle_pool",
            Kind::Active => "active",
            Kind::Listening => "listening",
        }
    }

    pub const ALL: [Kind; 7] = [
        Kind::HungCall,
        Kind::StalledSend,
        Kind::CloseWait,
        Kind::SynSent,
        Kind::IdlePool,
        Kind::Active,
        Kind::Listening,
    ];
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    Listening,
}

/// What a finding's connections have in common besides their kind and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Outbound connections: the remote endpoint they call.
    Remote(Endpoint),
    /// Inbound (accepted) connections: the local port they were accepted on, per name of
    /// the process counted for them (`None`: no readable process holds them).
    Service { port: u16, process: Option<String> },
}

/// The one key findings are grouped by: kind, network namespace and target. `analyze`
/// builds the groups with it, `capture::apply` finds a finding's connections with it, and
/// `watch` groups per process within it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingKey {
    pub kind: Kind,
    /// The network namespace's inode (null in snapshots without namespaces).
    pub netns: Option<u64>,
    pub target: Target,
}

impl FindingKey {
    /// The key of one connection. `process` is the name of the process it is counted for
    /// (its holder): inbound connections are grouped per process and local port.
    pub fn new(
        kind: Kind,
        netns: Option<u64>,
        direction: Direction,
        local: Endpoint,
        remote: Endpoint,
        process: Option<&str>,
    ) -> FindingKey {
        let target = match direction {
            Direction::Inbound => Target::Service {
                port: local.port,
                process: process.map(str::to_string),
            },
            Direction::Outbound | Direction::Listening => Target::Remote(remote),
        };
        FindingKey {
            kind,
            netns,
            target,
        }
    }

    /// The key of a connection of the report (the same as `analyze` gave its finding).
    pub fn of(c: &ConnectionReport) -> FindingKey {
        FindingKey::new(
            c.kind,
            c.netns.as_ref().map(|ns| ns.inode),
            c.direction,
            c.local,
            c.remote,
            c.process.as_deref(),
        )
    }

    pub fn direction(&self) -> Direction {
        match self.target {
            Target::Remote(_) => Direction::Outbound,
            Target::Service { .. } => Direction::Inbound,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Counts towards exit status 1.
    Problem,
    /// Worth knowing, not a problem by itself.
    Info,
}

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
    pub connections: Vec<ConnectionReport>,
    /// How `--capture` / `--confirm` ran; null when neither was asked for.
    pub wire: Option<WireRun>,
    pub timings: Timings,
    pub warnings: Vec<String>,
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
    /// Sockets (after filters) per kind, listeners included. Each connection of a finding is
    /// counted once, whatever the number of processes that hold it.
    pub by_kind: BTreeMap<&'static str, usize>,
}

impl Summary {
    /// Sockets of one kind (after filters).
    pub fn count(&self, kind: Kind) -> usize {
        self.by_kind.get(kind.key()).copied().unwrap_or(0)
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
    pub kind: Kind,
    pub severity: Severity,
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
    /// Short phrases a sysadmin reads in the table.
    pub evidence: Vec<String>,
    /// What `--capture` saw of this group's flows on the wire; null without it.
    pub capture: Option<WireSummary>,
    /// What `--confirm` (or `--capture`) saw in the kernel's counters; null without them.
    pub confirm: Option<WireSummary>,
    pub explanation: String,
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
    pub pids: Vec<u32>,
    pub hung_call: usize,
    pub stalled_send: usize,
    pub close_wait: usize,
    pub syn_sent: usize,
    pub threads_blocked: usize,
    pub oldest_idle_secs: Option<f64>,
    pub clients: Vec<Client>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    pub kind: Kind,
    pub netns: Option<Netns>,
    pub state: TcpState,
    pub direction: Direction,
    pub local: Endpoint,
    pub remote: Endpoint,
    /// The holder: the process this connection is counted for (the owner whose thread is
    /// blocked on it, else the owner with the lowest pid), its fd and its name.
    pub pid: Option<u32>,
    pub fd: Option<u32>,
    pub process: Option<String>,
    /// Every (pid, fd) that holds this socket, holder included, by pid and fd.
    pub owners: Vec<OwnerReport>,
    pub idle_secs: Option<f64>,
    pub bytes_sent: Option<u64>,
    pub bytes_received: Option<u64>,
    pub recv_q: u32,
    pub send_q: u32,
    pub unacked: Option<u32>,
    pub retransmits: Option<u8>,
    pub blocked_threads: Vec<BlockedThread>,
    /// This flow on the wire during `--capture`; null without it.
    pub capture: Option<crate::capture::flows::FlowCounts>,
    /// This flow's counters before and after `--confirm`; null without it.
    pub confirm: Option<CounterChange>,
    pub cookie: Option<u64>,
    pub inode: u64,
    pub uid: u32,
}

/// One (pid, fd) that holds a socket.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OwnerReport {
    pub pid: u32,
    pub fd: u32,
    pub process: Option<String>,
}

/// Whether flows that look stuck really carry nothing.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing crossed (or only pure ACKs).
    Idle,
    /// Only TCP keepalive probes and their ACKs.
    KeepaliveOnly,
    /// Data, FIN or RST: the flow is alive after all.
    Active,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Idle => "idle",
            Verdict::KeepaliveOnly => "keepalive only",
            Verdict::Active => "active",
        }
    }
}

/// One finding's flows watched on the wire (`capture`) or in the kernel's counters
/// (`confirm`). `verdict` is the liveliest of its flows'.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WireSummary {
    pub seconds: f64,
    /// Flows watched.
    pub flows: usize,
    /// Flows that closed meanwhile (confirm only: their socket was gone).
    pub flows_gone: usize,
    pub flows_idle: usize,
    pub flows_keepalive_only: usize,
    pub flows_active: usize,
    /// Capture: packets seen. Confirm: segments in + out.
    pub packets: u64,
    /// Capture: packets with new data. Confirm: flows whose byte counters moved.
    pub data_packets: u64,
    pub keepalives: u64,
    pub verdict: Verdict,
}

/// One flow's kernel counters, before (at collection) and after the `--confirm` window.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CounterChange {
    pub segs_in: u64,
    pub segs_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// False when the socket was gone at the second reading.
    pub still_open: bool,
    pub verdict: Verdict,
}

/// How the wire checks ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WireRun {
    /// `--capture` duration asked for, if any.
    pub capture_secs: Option<f64>,
    /// `--confirm` duration (the capture's when only `--capture` was given), if any.
    pub confirm_secs: Option<f64>,
    pub interfaces: Vec<String>,
    /// The BPF filter the capture used.
    pub filter: Option<String>,
    /// Why the capture did not run (then every finding's `capture` is null).
    pub capture_error: Option<String>,
    /// Why the counters could not be re-read.
    pub confirm_error: Option<String>,
    pub pcap_out: Option<String>,
    /// Packets the capture saw that matched no watched flow (the filter is coarse for many flows).
    pub packets_unmatched: u64,
}

/// A duration for people: two units at most ("5h 12m", "3m 20s", "45s").
pub fn human_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    let rounded = match secs {
        0..=59 => secs,
        60..=3599 => secs,
        3600..=86_399 => secs / 60 * 60,
        _ => secs / 3600 * 3600,
    };
    if rounded == 0 {
        return "0s".to_string();
    }
    humantime::format_duration(std::time::Duration::from_secs(rounded)).to_string()
}

/// Now, to the millisecond (what snapshots record).
pub fn now_millis() -> Timestamp {
    let now = Timestamp::now();
    now.round(jiff::Unit::Millisecond).unwrap_or(now)
}

/// Now, to the second (what reports are stamped with).
pub fn now_seconds() -> Timestamp {
    let now = Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now)
}

/// A timestamp minus some seconds, to the whole second below, when both are sane (a
/// snapshot may say anything: no panic, no wrap, `None` out of range).
pub fn seconds_before(t: Timestamp, secs: f64) -> Option<Timestamp> {
    let span = jiff::SignedDuration::try_from_secs_f64(secs).ok()?;
    t.checked_sub(span).ok().map(floor_seconds)
}

/// A timestamp to the whole second below.
pub fn floor_seconds(t: Timestamp) -> Timestamp {
    t.round(
        jiff::TimestampRound::new()
            .smallest(jiff::Unit::Second)
            .mode(jiff::RoundMode::Floor),
    )
    .unwrap_or(t)
}

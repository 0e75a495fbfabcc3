//! The `Snapshot`: everything one collection saw, as plain serde data.
//!
//! `collect` produces it (from the live host or from a recorded file), `analyze` consumes it.
//! A snapshot written by `stuckconn record` is this structure as JSON.

mod connection;
mod connections;
mod kernel;
mod probe;
mod threads;
pub mod timings;

pub use connection::{Connection, Owner, TcpInfo};
pub use connections::{Connections, OptionsRead};
pub use kernel::{model_timeout_ms, KernelTimer, Limits, TimerKind};
pub use probe::{Detected, Runtime, SocketOptions, Unreadable, Usage};
pub use threads::{receive_call, BlockedThread, ResumedThread, ThreadEvidence, WaitTimeout};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Version of the snapshot file format. Bump on any incompatible change.
pub const SNAPSHOT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub snapshot_version: u32,
    pub host: Host,
    /// When the collection started (RFC 3339, UTC).
    pub taken_at: Timestamp,
    /// How long the collection took.
    pub collect_secs: f64,
    /// Where the sockets came from: `sock_diag` or `proc_net` (no tcp_info).
    pub collector: Collector,
    /// The collection stopped at `--timeout`: what is here is right, but not everything.
    #[serde(default)]
    pub partial: bool,
    /// Why it is partial (`--timeout reached: ...`, `interrupted by SIGINT: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_reason: Option<String>,
    /// Thread evidence was gathered for connections idle at least this long.
    pub thread_evidence_min_idle_secs: f64,
    pub connections: Connections,
    pub processes: Vec<Process>,
    pub warnings: Vec<String>,
    /// The network namespaces that were dumped (empty in snapshots that predate them: then
    /// everything is in one namespace).
    #[serde(default)]
    pub namespaces: Vec<Netns>,
    /// Reverse DNS names looked up when the snapshot was recorded; `scan --from` reuses them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub names: Names,
    /// Names a network namespace's own resolver gave (`ip netns`'s resolv.conf, a container's),
    /// by the namespace's inode; `scan --from` reuses them for that namespace's findings.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub names_by_netns: BTreeMap<u64, Names>,
    /// The capabilities the collection lacked among those that show other users' processes
    /// (`CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE`); null when it had them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_capabilities: Option<String>,
    /// Each namespace's TCP limits (tcp_retries2, tcp_syn_retries), by inode, read inside it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tcp_limits: BTreeMap<u64, Limits>,
    /// The host's RAM (MemTotal), for the share the stuck processes hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_total_bytes: Option<u64>,
    /// Where this run's time went so far (`--timings`); never in a snapshot file.
    #[serde(skip)]
    pub timings: timings::Breakdown,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Host {
    pub hostname: String,
    pub kernel: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Collector {
    SockDiag,
    ProcNet,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    /// An endpoint with IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) turned into IPv4.
    pub fn normalized(ip: IpAddr, port: u16) -> Endpoint {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            },
            v4 => v4,
        };
        Endpoint { ip, port }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// TCP states as the kernel numbers them (include/net/tcp_states.h).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
    Unknown,
}

impl TcpState {
    pub fn from_kernel(n: u8) -> TcpState {
        use TcpState::*;
        match n {
            1 => Established,
            2 => SynSent,
            3 => SynRecv,
            4 => FinWait1,
            5 => FinWait2,
            6 => TimeWait,
            7 => Close,
            8 => CloseWait,
            9 => LastAck,
            10 => Listen,
            11 => Closing,
            12 => NewSynRecv,
            _ => Unknown,
        }
    }

    /// The name `ss` and `netstat` print.
    pub fn label(self) -> &'static str {
        use TcpState::*;
        match self {
            Established => "ESTABLISHED",
            SynSent => "SYN-SENT",
            SynRecv => "SYN-RECV",
            FinWait1 => "FIN-WAIT-1",
            FinWait2 => "FIN-WAIT-2",
            TimeWait => "TIME-WAIT",
            Close => "CLOSE",
            CloseWait => "CLOSE-WAIT",
            LastAck => "LAST-ACK",
            Listen => "LISTEN",
            Closing => "CLOSING",
            NewSynRecv => "NEW-SYN-RECV",
            Unknown => "UNKNOWN",
        }
    }
}

/// A network namespace and what it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Netns {
    /// The namespace's inode (as in `/proc/PID/ns/net -> net:[INODE]`).
    pub inode: u64,
    /// Its name under /run/netns (`ip netns`), if any.
    pub name: Option<String>,
    /// The container id, from the cgroup path of a process inside it.
    pub container: Option<String>,
    /// The Kubernetes pod uid, from the same path.
    pub pod_uid: Option<String>,
    /// What the container runtimes' state files call its container or pod.
    #[serde(flatten)]
    pub container_names: ContainerNames,
    /// The namespace stuckconn ran in.
    pub own: bool,
}

impl Netns {
    /// Its most human name: its container's or pod's (`web-1`, `shop/checkout-7d9f`), else
    /// its `ip netns` name.
    pub fn human_label(&self) -> Option<String> {
        self.container_names.label().or_else(|| self.name.clone())
    }

    /// A short label for people: `human_label`, the container id (12 digits), `host` for the
    /// namespace stuckconn ran in, or `net:[INODE]`.
    pub fn short_label(&self) -> String {
        if let Some(name) = self.human_label() {
            name
        } else if let Some(id) = &self.container {
            id.chars().take(12).collect()
        } else if self.own {
            "host".to_string()
        } else {
            format!("net:[{}]", self.inode)
        }
    }
}

/// A Kubernetes pod.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
}

/// A docker compose project and service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Compose {
    pub project: String,
    pub service: String,
}

/// What the container runtimes' state files call a holder (a namespace or a process), each
/// null when unknown: text chosen by others, kept exact, sanitized where it is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerNames {
    /// The container's name (`web-1`; in a pod, the container's name in it; a machine's).
    pub container_name: Option<String>,
    /// The image as its user asked for it (`nginx:1.27`).
    pub image: Option<String>,
    pub pod: Option<Pod>,
    pub compose: Option<Compose>,
}

impl ContainerNames {
    /// The most human name: `namespace/pod` for a pod's container (a pod has one network
    /// namespace), else the container's (or machine's) name, else `project-service`.
    pub fn label(&self) -> Option<String> {
        container_label(
            self.pod.as_ref(),
            self.container_name.as_deref(),
            self.compose.as_ref(),
        )
    }
}

/// The one choice of a container's label from its names (see [`ContainerNames::label`]).
pub(crate) fn container_label(
    pod: Option<&Pod>,
    container_name: Option<&str>,
    compose: Option<&Compose>,
) -> Option<String> {
    pod.map(|p| format!("{}/{}", p.namespace, p.name))
        .or_else(|| container_name.map(str::to_string))
        .or_else(|| compose.map(|c| format!("{}-{}", c.project, c.service)))
}

/// A process that holds at least one TCP socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub ppid: Option<u32>,
    /// The kernel's short name (`comm`), chosen by the process itself.
    pub name: String,
    pub exe: Option<String>,
    pub cmdline: Option<String>,
    pub uid: Option<u32>,
    /// The systemd unit, from the cgroup path (`apache2.service`).
    pub unit: Option<String>,
    /// The container id, from the cgroup path (docker, containerd, cri-o, podman, kubepods).
    pub container: Option<String>,
    /// What the container runtimes' state files call its container or pod.
    #[serde(flatten)]
    pub container_names: ContainerNames,
    /// When the process started (RFC 3339, UTC).
    pub started_at: Option<Timestamp>,
    pub threads: Option<u32>,
    #[serde(default)]
    pub thread_evidence: ThreadEvidence,
    /// Threads resumed (`restart_syscall`) in a call whose socket is not visible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_threads: Vec<ResumedThread>,
    /// Its memory (read for processes behind problem findings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Usage>,
    /// The runtimes recognised in it (read for processes behind problem findings only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtimes: Vec<Runtime>,
    /// Go's version, from the executable's build information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_version: Option<String>,
}

/// What became of one address's reverse lookup.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DnsStatus {
    /// A PTR name was found (see `dns_verified` for whether it forward-confirms).
    Ok,
    /// The address has no PTR record.
    Nxdomain,
    /// No answer within `--dns-timeout`, or the batch deadline passed first.
    Timeout,
    /// The resolver failed, or the PTR answer was not a usable host name.
    Error,
    /// Not looked up (`--no-dns`, or a link-local or unspecified address).
    #[default]
    Skipped,
}

/// The name of one address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct HostName {
    pub hostname: Option<String>,
    pub dns: DnsStatus,
    /// The name resolves back to the same address. A PTR record is chosen by whoever owns
    /// the address: an unconfirmed name may be a lie.
    pub dns_verified: bool,
    /// Which resolver gave the name (see `crate::resolve::source`): `host`, `override`
    /// (`--dns-server`), `netns:NAME`, `container:ID`, or `container` / `netns` for an
    /// address of another namespace on this host; null when no resolver was asked (loopback,
    /// `--no-dns`, names recorded before sources were kept).
    #[serde(default)]
    pub dns_source: Option<String>,
}

/// Names by address, as a snapshot stores them and the analysis uses them.
pub type Names = BTreeMap<IpAddr, HostName>;

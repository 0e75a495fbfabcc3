//! What was read of the sockets and processes behind problem findings, after the analysis
//! found them (`collect::probe`): each socket's options, each holder's memory and the runtimes
//! it runs. Snapshots record them, so a replay judges with the same facts.

use serde::{Deserialize, Serialize};

/// The options of one TCP socket, as `getsockopt` returns them (the kernel's effective values:
/// keepalive timers the program did not set are its network namespace's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SocketOptions {
    /// `SO_RCVTIMEO` in ms; `None` when not set (a blocking read waits forever).
    pub receive_timeout_ms: Option<u64>,
    /// `SO_SNDTIMEO` in ms; `None` when not set.
    pub send_timeout_ms: Option<u64>,
    /// `SO_KEEPALIVE`.
    pub keepalive: bool,
    /// `TCP_KEEPIDLE`: idle seconds before the first probe (read only with keepalive on).
    pub keepidle_secs: Option<u32>,
    /// `TCP_KEEPINTVL`: seconds between unanswered probes (only with keepalive on).
    pub keepintvl_secs: Option<u32>,
    /// `TCP_KEEPCNT`: unanswered probes before the kernel drops the connection (only with
    /// keepalive on).
    pub keepcnt: Option<u32>,
    /// `TCP_USER_TIMEOUT` in ms; `None` when not set (0: the kernel's retry counts apply).
    pub user_timeout_ms: Option<u32>,
}

/// Why a socket's options could not be read. The message never guesses a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unreadable {
    /// Not allowed: `missing` names the capability (`CAP_SYS_PTRACE`), or is empty when the
    /// tool has it and a security module (Yama, an LSM) refused anyway.
    Denied { missing: String },
    /// The process exited, or closed that descriptor.
    Gone,
    /// The descriptor is not a TCP socket (any more: it may have been reused).
    NotTcp,
    /// The kernel has no `pidfd_getfd` (before Linux 5.6).
    Unsupported,
    /// Duplicating the socket would re-tag its cgroup v1 net_cls / net_prio class.
    WouldRetag,
    /// Anything else, with the error.
    Failed { error: String },
}

impl Unreadable {
    /// One sentence for a warning or an explanation.
    pub fn describe(&self) -> String {
        match self {
            Unreadable::Denied { missing } if missing.is_empty() => {
                "not allowed to read its socket options (refused by a security module, \
                 such as Yama's ptrace_scope)"
                    .to_string()
            }
            Unreadable::Denied { missing } => {
                format!("not allowed to read its socket options: needs {missing} (root has it)")
            }
            Unreadable::Gone => "the process or its descriptor is gone".to_string(),
            Unreadable::NotTcp => "the descriptor is no longer a TCP socket".to_string(),
            Unreadable::Unsupported => {
                "this kernel cannot read another process's socket options (pidfd_getfd needs \
                 Linux 5.6)"
                    .to_string()
            }
            Unreadable::WouldRetag => {
                "its socket options were not read: duplicating the socket would re-tag its \
                 cgroup v1 net_cls/net_prio class"
                    .to_string()
            }
            Unreadable::Failed { error } => format!("its socket options were not read: {error}"),
        }
    }
}

/// One process's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// PSS when `proportional`, else RSS.
    pub memory_bytes: u64,
    /// SwapPss when `proportional`, else the process's whole swap (VmSwap).
    pub swap_bytes: u64,
    /// RSS, always (what `ps` shows).
    pub rss_bytes: u64,
    /// True when read from smaps_rollup (PSS, SwapPss); false for the RSS fallback.
    pub proportional: bool,
}

/// A runtime or library that can make a network call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    Php,
    Curl,
    Python,
    Java,
    Node,
    Ruby,
    Go,
}

/// What was recognised in one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detected {
    pub runtimes: Vec<Runtime>,
    /// The Go version from the build information (`go1.22.1`).
    pub go_version: Option<String>,
}

//! Everything that touches the OS for sockets and processes: the live collection
//! (sock_diag + one pass over /proc), and recorded snapshots.

pub(crate) mod caps;
pub mod cgroup;
pub mod containers;
pub mod destroy;
pub mod fdwalk;
pub mod holders;
mod live;
pub(crate) mod load;
pub mod memory;
pub mod netns;
mod probe;
pub(crate) mod procnet;
pub mod procs;
pub(crate) mod regular;
pub mod runtime;
mod shared;
pub mod sockdiag;
pub mod sockopts;
pub mod waits;

pub(crate) use live::live;
pub(crate) use load::select_namespaces;
pub use load::{load, parse, SNAPSHOT_LIMIT};
pub(crate) use probe::probe;
use std::collections::HashMap;
use std::time::Duration;

/// How a live collection is done.
#[derive(Debug, Clone)]
pub(crate) struct CollectOptions {
    /// Threads are examined for connections idle at least this long (and for those whose
    /// idle time is unknown).
    pub(crate) thread_min_idle: Duration,
    /// Skip sock_diag and read /proc/net/tcp{,6} (what happens anyway when sock_diag fails).
    pub(crate) proc_net_only: bool,
    /// Which network namespaces to cover.
    pub(crate) netns: netns::Selection,
    /// Mask secrets in command lines (`--no-redact` turns it off).
    pub(crate) redact: bool,
    /// Stop collecting when this passes (`--timeout`, or a signal): the snapshot is then
    /// partial.
    pub(crate) deadline: crate::deadline::Deadline,
}

/// Reads every socket's tcp_info again (one more sock_diag dump), by socket cookie: the
/// second reading of `--confirm`.
pub(crate) fn recount() -> std::io::Result<HashMap<u64, crate::snapshot::TcpInfo>> {
    Ok(sockdiag::dump_here()?
        .connections
        .into_iter()
        .filter_map(|c| Some((c.cookie()?, c.tcp_info()?)))
        .collect())
}

/// Whether the tool runs with an effective uid of 0.
pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

//! One socket as the report lists it. A report may list 100,000 of them: what many rows
//! share (the namespace, the process names, a verdict on timeouts) is shared, not copied.

use super::{ConnectionTimeouts, CounterChange, Direction, FlowCounts, Kind};
use crate::snapshot::{BlockedThread, Endpoint, Netns, TcpState};
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    pub kind: Kind,
    #[serde(serialize_with = "super::shared::serialize")]
    pub netns: Option<Arc<Netns>>,
    pub state: TcpState,
    pub direction: Direction,
    pub local: Endpoint,
    pub remote: Endpoint,
    /// The holder: the process this connection is counted for (the owner whose thread is
    /// blocked on it, else the owner with the lowest pid), its fd and its name.
    pub pid: Option<u32>,
    pub fd: Option<u32>,
    pub process: Option<Arc<str>>,
    /// Every (pid, fd) that holds this socket, holder included, by pid and fd.
    pub owners: smallvec::SmallVec<[OwnerReport; 1]>,
    pub idle_secs: Option<f64>,
    pub bytes_sent: Option<u64>,
    pub bytes_received: Option<u64>,
    pub recv_q: u32,
    pub send_q: u32,
    pub unacked: Option<u32>,
    pub retransmits: Option<u8>,
    /// Shared with the snapshot's side table (a clone of a pointer, not of the threads).
    pub blocked_threads: Arc<Vec<BlockedThread>>,
    /// This flow on the wire during `--capture`; null without it.
    pub capture: Option<Box<FlowCounts>>,
    /// This flow's counters before and after `--confirm`; null without it.
    pub confirm: Option<Box<CounterChange>>,
    /// Problems only: whether anything will end it, with the raw values behind the verdict
    /// (connections judged alike share one).
    #[serde(serialize_with = "super::shared::serialize")]
    pub timeouts: Option<Arc<ConnectionTimeouts>>,
    pub cookie: Option<u64>,
    pub inode: u64,
    pub uid: u32,
    /// Its index in the snapshot's connections (not serialized).
    #[serde(skip)]
    pub index: usize,
}

/// One (pid, fd) that holds a socket.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OwnerReport {
    pub pid: u32,
    pub fd: u32,
    pub process: Option<Arc<str>>,
}

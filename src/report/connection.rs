//! One socket as the report lists it.

use super::{CounterChange, Direction, FlowCounts, Kind};
use crate::snapshot::{BlockedThread, Endpoint, Netns, TcpState};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    pub(crate) kind: Kind,
    pub(crate) netns: Option<Netns>,
    pub(crate) state: TcpState,
    pub(crate) direction: Direction,
    pub(crate) local: Endpoint,
    pub(crate) remote: Endpoint,
    /// The holder: the process this connection is counted for (the owner whose thread is
    /// blocked on it, else the owner with the lowest pid), its fd and its name.
    pub(crate) pid: Option<u32>,
    pub(crate) fd: Option<u32>,
    pub(crate) process: Option<String>,
    /// Every (pid, fd) that holds this socket, holder included, by pid and fd.
    pub(crate) owners: Vec<OwnerReport>,
    pub(crate) idle_secs: Option<f64>,
    pub(crate) bytes_sent: Option<u64>,
    pub(crate) bytes_received: Option<u64>,
    pub(crate) recv_q: u32,
    pub(crate) send_q: u32,
    pub(crate) unacked: Option<u32>,
    pub(crate) retransmits: Option<u8>,
    pub(crate) blocked_threads: Vec<BlockedThread>,
    /// This flow on the wire during `--capture`; null without it.
    pub(crate) capture: Option<FlowCounts>,
    /// This flow's counters before and after `--confirm`; null without it.
    pub(crate) confirm: Option<CounterChange>,
    pub(crate) cookie: Option<u64>,
    pub(crate) inode: u64,
    pub(crate) uid: u32,
}

/// One (pid, fd) that holds a socket.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct OwnerReport {
    pub(crate) pid: u32,
    pub(crate) fd: u32,
    pub(crate) process: Option<String>,
}

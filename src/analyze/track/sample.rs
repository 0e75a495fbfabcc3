//! What `watch` prints of the tracker: groups at one sample, and events between samples.

use crate::report::{Client, Direction, Kind, Remote};
use crate::snapshot::Endpoint;
use jiff::Timestamp;
use serde::Serialize;

/// One group at one sample, as `watch` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSample {
    pub kind: Kind,
    pub process: String,
    /// The network namespace's inode (null in snapshots without namespaces).
    pub netns: Option<u64>,
    /// The namespace as the tables label it (`ip netns` name, container, `host`, `net:[INODE]`).
    pub netns_label: Option<String>,
    pub pids: Vec<u32>,
    /// `outbound` (grouped by remote endpoint) or `inbound` (by local service).
    pub direction: Direction,
    /// Outbound groups: the remote endpoint. Null for inbound groups.
    pub remote: Option<Remote>,
    /// Inbound groups: the local service (port, and address as in the report). Null for
    /// outbound groups.
    pub local: Option<Endpoint>,
    /// Inbound groups: the peers, as in the report's finding. Empty for outbound groups.
    pub clients: Vec<Client>,
    /// Stuck connections now.
    pub connections: usize,
    /// Stuck connections already there at the first sample (the baseline).
    pub baseline: usize,
    /// Stuck connections that appeared / went away since the first sample.
    pub opened: usize,
    pub closed: usize,
    /// `opened` and `closed` per minute since the first sample (0 at the first sample).
    pub opened_per_min: f64,
    pub closed_per_min: f64,
    /// Least-squares slope of the stuck count, per minute.
    pub growth_per_min: f64,
    pub oldest_idle_secs: Option<f64>,
    /// The earliest moment the evidence shows this group was stuck (RFC 3339): when a
    /// connection was first seen, or the sample time minus its idle time when it never
    /// received a byte.
    pub onset: Option<Timestamp>,
    /// The stuck count keeps growing.
    pub leak: bool,
    /// The stuck count of each sample remembered, oldest first.
    pub history: Vec<usize>,
    /// The time before watching began, reconstructed from the first sample's idle times (a
    /// finding's `history`): given with the first sample only; null after, and for groups
    /// that are not the whole of a finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub past: Option<crate::report::History>,
    /// The past's stuck count per bucket, for the sparkline of every frame.
    #[serde(skip)]
    pub past_counts: Vec<usize>,
}

/// Something that happened between two samples.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A connection became stuck after the first sample (connections stuck at the first
    /// sample are the baseline and give no event).
    Opened {
        kind: Kind,
        process: String,
        pid: Option<u32>,
        local: Endpoint,
        remote: Remote,
        cookie: Option<u64>,
    },
    /// A stuck connection went away (`still_open` false) or stopped being stuck.
    Closed {
        kind: Kind,
        process: String,
        pid: Option<u32>,
        local: Endpoint,
        remote: Remote,
        cookie: Option<u64>,
        stuck_secs: f64,
        still_open: bool,
    },
    /// A group's stuck count keeps growing.
    Leak(Box<GroupSample>),
}

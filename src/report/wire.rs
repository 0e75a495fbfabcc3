//! Is it really dead: what `--capture` and `--confirm` saw, per flow and per finding.

use serde::Serialize;

/// What one flow did on the wire.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FlowCounts {
    pub packets: u64,
    /// Segments with payload that are neither keepalive probes nor retransmissions.
    pub data_packets: u64,
    pub keepalives: u64,
    pub retransmissions: u64,
    pub resets: u64,
    pub fins: u64,
}

impl FlowCounts {
    pub fn verdict(&self) -> Verdict {
        if self.data_packets > 0 || self.resets > 0 || self.fins > 0 {
            Verdict::Active
        } else if self.keepalives > 0 {
            Verdict::KeepaliveOnly
        } else {
            Verdict::Idle
        }
    }
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

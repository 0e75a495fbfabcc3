//! What a problem finding is diagnosed with beyond its kind: its place in the chain of waits
//! on this host, what its holders cost, and what to change.

use serde::Serialize;

/// Whether something on this host explains a finding (`enrich::chain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Nothing on this host explains it: a root cause.
    Root,
    /// It waits on another problem finding of this host (a local service that is itself
    /// stuck): a victim.
    Downstream,
}

/// The per-finding (or per-process) `impact` of the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    pub processes: usize,
    pub threads: u64,
    /// The holders' proportional set size summed (shared pages divided among the processes
    /// that map them, so forked workers are not counted once each); RSS where PSS was not
    /// readable (then `proportional` is false and the sum may count shared pages more than
    /// once).
    pub memory_bytes: u64,
    /// SwapPss summed (VmSwap where PSS was not readable).
    pub swap_bytes: u64,
    /// `memory_bytes` over MemTotal; null when MemTotal is unknown.
    pub memory_share: Option<f64>,
    /// Every process's memory was read from smaps_rollup.
    pub proportional: bool,
}

/// One hint of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hint {
    pub runtime: String,
    pub advice: String,
    /// Where the advice is documented.
    pub source: String,
}

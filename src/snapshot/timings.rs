//! Where one run's time and memory went (`scan --timings`): each phase's wall and CPU time and
//! the peak RSS after it, each namespace's dump, what the fd walk read. Measured by
//! `crate::timing`; carried by the snapshot of the run, never recorded in a snapshot file.

use serde::Serialize;

/// The breakdown of one run, in the JSON report's `timings` with `--timings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// The phases in the order they ran: `namespaces`, `dump`, `fd_walk`, `describe`,
    /// `threads` (a live collection), `analysis`, `probe` (live), `names`, `diagnose`, `wire`,
    /// `finish`. Rendering comes after the report is written: its time is on standard error.
    pub phases: Vec<Phase>,
    /// Each network namespace's sock_diag dump (a live collection).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dumps: Vec<NamespaceDump>,
    /// What the fd walk read (a live collection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd_walk: Option<WalkCounts>,
}

/// One phase of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub phase: String,
    /// Wall-clock seconds.
    pub secs: f64,
    /// CPU seconds of the whole process (every thread, user and system) during the phase.
    pub cpu_secs: f64,
    /// The process's peak resident memory (VmHWM) after the phase, in KiB.
    pub peak_rss_kib: u64,
    /// Of its resident memory after the phase, what is mapped from files (RssFile: the
    /// program's code and libraries, which the kernel can drop and read again), in KiB.
    pub rss_file_kib: u64,
}

/// One namespace's dump.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NamespaceDump {
    /// The namespace's inode.
    pub netns: u64,
    pub sockets: usize,
    pub secs: f64,
}

/// What the fd walk read. It runs beside the dumps: its own time is here, and the `fd_walk`
/// phase is only what was left of it when the dumps were done (and matching its fds to the
/// sockets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WalkCounts {
    /// The walk's own wall-clock seconds.
    pub secs: f64,
    /// The CPU seconds of the walk's thread.
    pub cpu_secs: f64,
    /// Processes whose fd directory was listed.
    pub processes: usize,
    /// Fds read (one readlinkat each).
    pub fds: usize,
    /// Of those, sockets of any kind.
    pub sockets: usize,
    /// Of those, the dump's TCP sockets: each gave its connection an owner.
    pub matched: usize,
}

impl Breakdown {
    /// The phase named `name`, if it ran.
    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.phase == name)
    }
}

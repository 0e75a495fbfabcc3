//! The abort JSON (`schema/abort.schema.json`): the whole run, the selection, each planned
//! connection with what became of it, and the counts.

use crate::report::{Direction, Kind};
use crate::snapshot::{Endpoint, Netns, TcpState};
use jiff::Timestamp;
use serde::Serialize;

/// Version of the abort JSON. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole run: the selection, the plan, and (unless nothing was done) each result.
#[derive(Debug, Clone, Serialize)]
pub struct AbortReport {
    pub schema_version: u32,
    pub generated_at: Timestamp,
    /// `--dry-run`: the plan only. Without it, a result of null means nothing was attempted
    /// (not confirmed).
    pub dry_run: bool,
    /// The scan behind the plan was cut short (`--timeout`, a signal): the plan covers only
    /// what it saw.
    pub partial: bool,
    pub selection: Selection,
    pub summary: Summary,
    pub connections: Vec<Planned>,
}

/// What the user selected: the scan's filters, the kinds and the idle threshold.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Selection {
    pub remotes: Vec<String>,
    pub ports: Vec<u16>,
    pub pids: Vec<u32>,
    pub processes: Vec<String>,
    /// `--netns` as given (empty: every namespace the scan covers).
    pub netns: Vec<String>,
    /// Empty: every problem kind.
    pub kinds: Vec<Kind>,
    pub min_idle_secs: f64,
}

impl Selection {
    /// Nothing narrows it down (`--netns` and `--min-idle` alone do not): abort refuses.
    pub fn is_empty(&self) -> bool {
        self.remotes.is_empty()
            && self.ports.is_empty()
            && self.pids.is_empty()
            && self.processes.is_empty()
            && self.kinds.is_empty()
    }

    /// The selection as flags, for the system log: `--remote 192.0.2.7 --kind hung_call`.
    pub fn flags(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        let mut add = |flag: &str, values: Vec<String>| {
            for value in values {
                words.push(format!("{flag} {value}"));
            }
        };
        add("--remote", self.remotes.clone());
        add("--port", self.ports.iter().map(u16::to_string).collect());
        add("--pid", self.pids.iter().map(u32::to_string).collect());
        add("--process", self.processes.clone());
        add(
            "--kind",
            self.kinds.iter().map(|k| k.key().to_string()).collect(),
        );
        add("--netns", self.netns.clone());
        words.push(format!("--min-idle {}s", self.min_idle_secs.round() as u64));
        words.join(" ")
    }
}

/// One connection of the plan, and (after the run) what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub netns: Option<Netns>,
    pub local: Endpoint,
    pub remote: Endpoint,
    /// The kernel's socket cookie: the destroy request carries it, so that a connection
    /// closed and replaced since the scan is never hit. Null when the scan could not read
    /// it (no sock_diag): such a connection is never aborted.
    pub cookie: Option<u64>,
    /// Every process holding the socket.
    pub pids: Vec<u32>,
    /// The name of the process it is counted for (as in the scan).
    pub process: Option<String>,
    pub kind: Kind,
    pub idle_secs: Option<f64>,
    /// Null in the plan (`--dry-run`, or not confirmed).
    pub result: Option<Outcome>,
    /// Why it failed (or was spared), for people.
    pub error: Option<String>,
    /// What the scan saw, to tell a connection that came back to life before the abort.
    #[serde(skip)]
    pub state: TcpState,
    #[serde(skip)]
    pub bytes_received: Option<u64>,
    #[serde(skip)]
    pub direction: Direction,
}

impl Planned {
    /// The namespace's inode (None: the tool's own, or a snapshot without namespaces).
    pub fn netns_inode(&self) -> Option<u64> {
        self.netns.as_ref().filter(|ns| !ns.own).map(|ns| ns.inode)
    }
}

/// What became of one connection.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Destroyed: the blocked call failed with ECONNABORTED and the socket is gone.
    Aborted,
    /// Closed meanwhile (or closed and replaced: the cookie no longer matches).
    Gone,
    /// Data came from the peer (or its state changed) since the plan: left alone.
    Spared,
    /// Still there; `error` says why.
    Failed,
}

impl Outcome {
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Aborted => "aborted",
            Outcome::Gone => "gone",
            Outcome::Spared => "spared",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub selected: usize,
    pub aborted: usize,
    pub gone: usize,
    pub spared: usize,
    pub failed: usize,
}

impl Summary {
    pub fn of(planned: &[Planned]) -> Summary {
        let mut summary = Summary {
            selected: planned.len(),
            ..Summary::default()
        };
        for p in planned {
            match p.result {
                Some(Outcome::Aborted) => summary.aborted += 1,
                Some(Outcome::Gone) => summary.gone += 1,
                Some(Outcome::Spared) => summary.spared += 1,
                Some(Outcome::Failed) => summary.failed += 1,
                None => {}
            }
        }
        summary
    }

    /// The exit status of a run that was carried out: 0 when nothing selected is left
    /// stuck (aborted, gone, or spared because it came back to life), 1 when some failed.
    pub fn exit_code(&self) -> i32 {
        if self.failed > 0 {
            1
        } else {
            0
        }
    }
}

//! Enrichers: each fills the finished report of `analyze` in place, in this order, and
//! `finish` writes the evidence phrases and explanations from what they found.
//!
//! - `names`: reverse DNS of remotes and clients (and names a snapshot recorded);
//! - `wire`: `--capture` and `--confirm` verdicts;
//! - `chain`: which problem waits on which, across the host's namespaces: root causes and
//!   their victims (pure);
//! - `timeouts`: why a stuck connection never ends, or when it will (verdicts from the
//!   kernel's timers, tcp_info, socket options and the blocked call's own timeout);
//! - `impact`: what the holders cost in memory and swap;
//! - `hints`: the runtime that made the call and the fix for the finding's kind (one table
//!   of knowledge, each entry with its source);
//! - `history`: each problem finding's timeline, from its idle times (pure);
//! - `finish`: the words, last.
//!
//! Every enricher but `names` and `wire` is pure: what it needs of the OS (socket options,
//! memory, runtimes) `collect::probe` read into the snapshot once the analysis had found the
//! problems, so a replay judges with the same facts.

pub(crate) mod chain;
mod finish;
pub mod hints;
pub(crate) mod history;
pub mod impact;
pub(crate) mod names;
pub mod timeouts;
pub(crate) mod wire;

pub(crate) use finish::finish;

use crate::analyze::{analyze, AnalysisOptions};
use crate::report::Report;
use crate::snapshot::Snapshot;

/// The report of a snapshot with only the names it recorded, nothing looked up and nothing
/// watched: what `scan --from FILE --no-dns` prints.
pub fn offline(
    snapshot: &Snapshot,
    options: &AnalysisOptions,
    source: &str,
    now: jiff::Timestamp,
) -> Report {
    let mut report = analyze(snapshot, options, source, now);
    names::apply(&mut report, snapshot);
    diagnose(&mut report, snapshot);
    finish(&mut report);
    report
}

/// The enrichers that need only the report and its snapshot, in order: the chain of waits,
/// the timeouts, the impact, the hints, the history.
pub(crate) fn diagnose(report: &mut Report, snapshot: &Snapshot) {
    chain::fill(report, snapshot);
    timeouts::fill(report, snapshot);
    impact::fill(report, snapshot);
    hints::fill(report, snapshot);
    history::fill(report);
}

//! Enrichers: each fills the finished report of `analyze` in place, in this order, and
//! `finish` writes the evidence phrases and explanations from what they found.
//!
//! - `names`: reverse DNS of remotes and clients (and names a snapshot recorded);
//! - `history`: each problem finding's timeline, from its idle times (pure);
//! - `wire`: `--capture` and `--confirm` verdicts;
//! - `timeouts`: why a stuck connection never ends, or when it will (verdicts from the
//!   kernel's timers, tcp_info, socket options and the blocked call's own timeout);
//! - `impact`: what the holders cost in memory and swap;
//! - `hints`: the runtime that made the call and the fix for the finding's kind (one table
//!   of knowledge, each entry with its source);
//! - `finish`: the words, last.

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
    history::fill(&mut report);
    finish(&mut report);
    report
}

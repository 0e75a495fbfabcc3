//! Enrichers: each fills the finished report of `analyze` in place, in this order, and
//! `finish` writes the evidence phrases and explanations from what they found.
//!
//! - `names`: reverse DNS of remotes and clients (and names a snapshot recorded);
//! - `history`: each problem finding's timeline, from its idle times (pure);
//! - `wire`: `--capture` and `--confirm` verdicts;
//! - `finish`: the words, last.

mod finish;
pub(crate) mod history;
pub(crate) mod names;
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
    names::apply(&mut report, &snapshot.names);
    history::fill(&mut report);
    finish(&mut report);
    report
}

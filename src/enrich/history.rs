//! The leak's history: each problem finding's timeline, reconstructed from its connections'
//! idle times (`analyze::history`). Pure.

use crate::analyze::history;
use crate::report::Report;

/// Fills `history` of every problem finding (idle pools keep none).
pub fn fill(report: &mut Report) {
    let histories = history::of_report(report, history::BUCKETS);
    for (finding, history) in report.findings.iter_mut().zip(histories) {
        finding.history = history.filter(|_| finding.kind.is_problem());
    }
}

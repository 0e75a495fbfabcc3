//! The findings table: one row per leak.

use super::*;
use super::{sanitize, Style};
use crate::report::Report;
use comfy_table::Cell;

pub(super) fn table(report: &Report, style: Style, evidence: bool) -> String {
    let wire = report.wire.is_some();
    // The namespace column only when the findings span more than one.
    let show_netns = spans_namespaces(
        report
            .findings
            .iter()
            .map(|f| f.netns.as_ref().map(|ns| ns.inode)),
    );
    let mut header = vec!["FINDING"];
    if show_netns {
        header.push("NETNS");
    }
    header.extend(["REMOTE", "CONNS", "HELD BY", "IDLE", "SINCE"]);
    if wire {
        header.push("ON THE WIRE");
    }
    if evidence {
        header.push("EVIDENCE");
    }
    let mut table = new_table(style, &header);
    for f in &report.findings {
        let mut row = vec![kind_cell(f.kind, style)];
        if show_netns {
            let label = f
                .netns
                .as_ref()
                .map_or("-".to_string(), |ns| ns.short_label());
            row.push(Cell::new(sanitize(&label)));
        }
        row.extend([
            Cell::new(target_cell(f, style)),
            Cell::new(f.connections),
            Cell::new(held_by(f)),
            Cell::new(f.idle_secs.map_or("?".to_string(), |s| s.range(" – "))),
            Cell::new(since_text(f.since, report.taken_at)),
        ]);
        if wire {
            row.push(verdict_cell(f, style));
        }
        if evidence {
            row.push(Cell::new(sanitize(&f.evidence.join(" · "))));
        }
        table.add_row(row);
    }
    let o = usize::from(show_netns);
    right_align(&mut table, &[2 + o]);
    keep_whole(&mut table, &[0, o, 1 + o, 2 + o, 4 + o, 5 + o]);
    trimmed(&table)
}

/// The REMOTE cell: a name and its endpoint on one line, or on two when the table must fit a
/// terminal (an IPv6 endpoint after a long name would take half of it).
fn target_cell(f: &crate::report::Finding, style: Style) -> String {
    let text = target_text(f.remote.as_ref(), f.local, &f.clients);
    match (&f.remote, style.width) {
        (Some(remote), Some(_)) if crate::report::display_name(&remote.name).is_some() => {
            text.replacen("  ", "\n", 1)
        }
        _ => text,
    }
}

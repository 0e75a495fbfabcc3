//! `abort` for people and for scripts: the plan (grouped as scan groups its findings: remote,
//! process, count, idle), then what became of each group; or the whole run as one JSON
//! document (`schema/abort.schema.json`).

use super::table::{new_table, spans_namespaces, trimmed};
use super::{sanitize, Style};
use crate::abort::{covers, AbortReport, Outcome, Planned};
use crate::report::{Direction, FindingKey, IdleStats};
use comfy_table::{Cell, CellAlignment};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How many failed connections are listed one by one (the JSON lists every one).
const FAILURES_SHOWN: usize = 10;

/// The connections of one row: same namespace, kind, target and process, as scan groups them.
fn groups(planned: &[Planned]) -> Vec<Vec<&Planned>> {
    let mut groups: BTreeMap<FindingKey, Vec<&Planned>> = BTreeMap::new();
    for p in planned {
        let key = FindingKey::new(
            p.kind,
            p.netns.as_ref().map(|ns| ns.inode),
            p.direction,
            p.local,
            p.remote,
            p.process.as_deref(),
        );
        groups.entry(key).or_default().push(p);
    }
    let mut rows: Vec<Vec<&Planned>> = groups.into_values().collect();
    // Problems in the scan's order of kinds, the largest group first.
    rows.sort_by_key(|g| (g[0].kind, std::cmp::Reverse(g.len())));
    rows
}

fn target_cell(group: &[&Planned]) -> String {
    let first = group[0];
    if first.direction != Direction::Inbound {
        return first.remote.to_string();
    }
    let mut clients: Vec<_> = group.iter().map(|p| p.remote.ip).collect();
    clients.sort_unstable();
    clients.dedup();
    let who = match clients.as_slice() {
        [one] => one.to_string(),
        many => format!("{} clients", many.len()),
    };
    format!("{who} → :{}", first.local.port)
}

fn process_cell(group: &[&Planned]) -> String {
    let mut pids: Vec<u32> = group.iter().flat_map(|p| p.pids.iter().copied()).collect();
    pids.sort_unstable();
    pids.dedup();
    let name = match &group[0].process {
        Some(name) => sanitize(name).into_owned(),
        None => "(no process)".to_string(),
    };
    match pids.as_slice() {
        [] => name,
        [pid] => format!("{name} (pid {pid})"),
        many => format!("{name} ×{} pids", many.len()),
    }
}

fn idle_cell(group: &[&Planned]) -> String {
    let mut idle: Vec<f64> = group.iter().filter_map(|p| p.idle_secs).collect();
    if idle.is_empty() {
        return "?".to_string();
    }
    idle.sort_by(f64::total_cmp);
    IdleStats {
        min: idle[0],
        median: idle[idle.len() / 2],
        max: idle[idle.len() - 1],
    }
    .range(" – ")
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The table of groups; with `results`, what became of each.
fn table(report: &AbortReport, style: Style, results: bool) -> String {
    let rows = groups(&report.connections);
    let netns = spans_namespaces(
        report
            .connections
            .iter()
            .map(|p| p.netns.as_ref().map(|ns| ns.inode)),
    );
    let spared = report.summary.spared > 0;
    let mut header = Vec::new();
    if netns {
        header.push("NETNS");
    }
    header.extend(["KIND", "REMOTE", "PROCESS", "CONNS", "IDLE"]);
    if results {
        header.extend(["ABORTED", "GONE", "FAILED"]);
        if spared {
            header.push("SPARED");
        }
    }
    let mut t = new_table(style, &header);
    for group in &rows {
        let mut cells = Vec::new();
        if netns {
            cells.push(Cell::new(
                group[0].netns.as_ref().map_or("-".to_string(), |ns| {
                    sanitize(&ns.short_label()).into_owned()
                }),
            ));
        }
        cells.push(Cell::new(group[0].kind.label()));
        cells.push(Cell::new(target_cell(group)));
        cells.push(Cell::new(process_cell(group)));
        cells.push(Cell::new(group.len()).set_alignment(CellAlignment::Right));
        cells.push(Cell::new(idle_cell(group)));
        if results {
            let n = |o: Outcome| group.iter().filter(|p| p.result == Some(o)).count();
            let mut outcomes = vec![Outcome::Aborted, Outcome::Gone, Outcome::Failed];
            if spared {
                outcomes.push(Outcome::Spared);
            }
            for o in outcomes {
                cells.push(Cell::new(n(o)).set_alignment(CellAlignment::Right));
            }
        }
        t.add_row(cells);
    }
    trimmed(&t)
}

/// The plan: what will be aborted (or, with `--dry-run`, would be).
pub fn plan(report: &AbortReport, style: Style) -> String {
    let mut out = String::new();
    let n = report.connections.len();
    if n == 0 {
        let _ = writeln!(
            out,
            "Nothing to abort: no connection matches the selection ({}).",
            covers(&report.selection)
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} {} ({}), each by its addresses and socket cookie:",
        if report.dry_run {
            "Would abort"
        } else {
            "Abort plan:"
        },
        count(n, "connection"),
        covers(&report.selection)
    );
    out.push('\n');
    out.push_str(&table(report, style, false));
    if report.dry_run {
        out.push_str("\nDry run: nothing was changed.\n");
    }
    out
}

/// What became of each group, the totals, and every failure with its reason (the first ten).
pub fn results(report: &AbortReport, style: Style) -> String {
    let s = &report.summary;
    let mut out = String::new();
    out.push_str(&table(report, style, true));
    let _ = write!(
        out,
        "\n{} aborted, {} gone, {} failed",
        s.aborted, s.gone, s.failed
    );
    if s.spared > 0 {
        let _ = write!(out, ", {} spared (data moved since the plan)", s.spared);
    }
    out.push_str(".\n");
    let failed: Vec<&Planned> = report
        .connections
        .iter()
        .filter(|p| p.result == Some(Outcome::Failed))
        .collect();
    for p in failed.iter().take(FAILURES_SHOWN) {
        let holder = match (&p.process, p.pids.first()) {
            (Some(name), Some(pid)) => format!(" ({}, pid {pid})", sanitize(name)),
            (None, Some(pid)) => format!(" (pid {pid})"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  failed: {} → {}{holder}: {}",
            p.local,
            p.remote,
            sanitize(p.error.as_deref().unwrap_or("unknown error"))
        );
    }
    if failed.len() > FAILURES_SHOWN {
        let _ = writeln!(
            out,
            "  and {} more (--format json lists each)",
            failed.len() - FAILURES_SHOWN
        );
    }
    out
}

/// The whole run as one JSON document.
pub fn json(report: &AbortReport, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    super::json::write_pretty(report, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abort::{select, Selection, Summary, SCHEMA_VERSION};
    use crate::analyze::{AnalysisOptions, Filter};
    use jiff::Timestamp;
    use std::time::Duration;

    fn report(dry_run: bool) -> AbortReport {
        let path =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mixed.json"));
        let snapshot = crate::collect::load(path, crate::collect::SNAPSHOT_LIMIT).unwrap();
        let options = AnalysisOptions {
            min_idle: Duration::from_secs(60),
            all: false,
            filter: Filter::default(),
        };
        let scan = crate::analyze::analyze(&snapshot, &options, "test", Timestamp::UNIX_EPOCH);
        let planned = select(&scan, &[], Duration::from_secs(60)).planned;
        AbortReport {
            schema_version: SCHEMA_VERSION,
            generated_at: Timestamp::UNIX_EPOCH,
            dry_run,
            partial: false,
            selection: Selection {
                ports: vec![81],
                min_idle_secs: 60.0,
                ..Selection::default()
            },
            summary: Summary::of(&planned),
            connections: planned,
        }
    }

    #[test]
    fn the_plan_groups_as_scan_does() {
        let text = plan(&report(true), Style::default());
        assert!(
            text.starts_with("Would abort 8 connections (hung calls, CLOSE-WAIT, stalled sends and pending connects idle ≥ 1m)"),
            "{text}"
        );
        let row = text
            .lines()
            .find(|l| l.contains("192.0.2.150:81"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(row.contains("close wait"), "{row}");
        assert!(row.contains("leaky-client (pid 4000)"), "{row}");
        assert!(row.contains(" 5 "), "five connections in one row: {row}");
        assert!(row.contains("20m"), "{row}");
        assert!(text.contains("(no process)"), "{text}");
        assert!(text.ends_with("Dry run: nothing was changed.\n"), "{text}");
        assert!(!text.contains("ABORTED"));
    }

    #[test]
    fn results_count_each_group_and_list_failures() {
        let mut r = report(false);
        for (i, p) in r.connections.iter_mut().enumerate() {
            p.result = Some(if i == 0 {
                Outcome::Failed
            } else {
                Outcome::Aborted
            });
            if i == 0 {
                p.error = Some("Operation not permitted (os error 1): needs CAP_NET_ADMIN".into());
            }
        }
        r.summary = Summary::of(&r.connections);
        let text = results(&r, Style::default());
        assert!(text.contains("ABORTED"), "{text}");
        assert!(text.contains("7 aborted, 0 gone, 1 failed."), "{text}");
        assert!(text.contains("  failed: "), "{text}");
        assert!(text.contains("CAP_NET_ADMIN"), "{text}");
        assert!(!text.contains("SPARED"));
    }

    #[test]
    fn nothing_selected_says_so() {
        let mut r = report(true);
        r.connections.clear();
        let text = plan(&r, Style::default());
        assert!(text.starts_with("Nothing to abort"), "{text}");
    }
}

//! The report for people: the answer first (who leaks, to whom, how many, since when), then
//! which process leaks, then one sentence and one next step per finding.

mod blocks;
mod cells;
mod connections;
mod findings;
mod layout;
mod processes;

use super::{sanitize, Style};
use crate::report::{
    display_name, human_duration, Client, Finding, Kind, Remote, Report, Severity,
};
use crate::snapshot::Endpoint;
use cells::*;
use layout::{keep_whole, right_align, wrap};
pub(crate) use layout::{new_table, trimmed};
use std::fmt::Write;

/// From this width on, the findings table has its EVIDENCE column.
const WIDE: u16 = 100;

pub fn render(report: &Report, style: Style) -> String {
    let mut out = String::new();
    let min_idle = human_duration(report.options.min_idle_secs);
    let problems = report.summary.problems;
    let header = format!(
        "{} · {} · {} (idle ≥ {}) · {}{}",
        sanitize(&report.host.hostname),
        count(report.summary.sockets, "TCP socket"),
        findings_count(report),
        min_idle,
        utc_time(report.taken_at),
        if report.source == "live" {
            String::new()
        } else {
            format!(" · from {}", sanitize(&report.source))
        }
    );
    out.push_str(&wrap(&header, style.width, "  "));

    if report.findings.is_empty() {
        let line = format!(
            "{}, {} checked: none idle ≥ {min_idle} waiting on a reply, none left in CLOSE-WAIT, none stalled or stuck connecting.",
            count(report.summary.sockets, "TCP socket"),
            count(report.summary.connections, "connection")
        );
        out.push_str(&wrap(&line, style.width, ""));
    } else {
        // The evidence is a column of the table when the terminal is wide enough (or there
        // is none), else a line of each finding's block.
        let evidence_column = style.width.is_none_or(|w| w >= WIDE);
        out.push('\n');
        out.push_str(&findings::table(report, style, evidence_column));
        if !report.processes.is_empty() {
            out.push('\n');
            out.push_str(&processes::table(report, style));
        }
        let by_id = crate::report::FindingsById::new(&report.findings);
        for f in report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
        {
            out.push('\n');
            out.push_str(&blocks::block(f, report, &by_id, style, !evidence_column));
        }
        if problems == 0 {
            let _ = writeln!(
                out,
                "Nothing stuck: the idle connections above completed their exchanges."
            );
        }
    }

    if report.options.all && !report.connections.is_empty() {
        out.push('\n');
        out.push_str(&connections::table(report, style));
    }
    out
}

/// `1 finding`, `2 findings`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// What the header says of the findings, in the words of the JSON report: every finding is
/// a row of the table (`summary.findings`), and when some are not problems, how many are
/// (`summary.problems`) and what the others are: `4 findings: 3 problems, 1 idle pool`.
fn findings_count(report: &Report) -> String {
    let summary = &report.summary;
    let all = count(summary.findings, "finding");
    if summary.problems == summary.findings && summary.root_causes >= summary.problems {
        return all;
    }
    let mut others: std::collections::BTreeMap<Kind, usize> = Default::default();
    for f in report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Problem)
    {
        *others.entry(f.kind).or_default() += 1;
    }
    let downstream = summary.problems - summary.root_causes.min(summary.problems);
    let mut parts = if downstream > 0 {
        vec![
            count(summary.root_causes, "root cause"),
            format!("{downstream} downstream"),
        ]
    } else {
        vec![count(summary.problems, "problem")]
    };
    parts.extend(others.iter().map(|(kind, &n)| count(n, kind.label())));
    format!("{all}: {}", parts.join(", "))
}

/// The `stuckconn scan` flags that show a finding's sockets: its remote endpoint, or for
/// an inbound finding the process that holds them.
fn selector(f: &Finding) -> String {
    if let Some(remote) = &f.remote {
        return format!("--remote {} --port {} ", remote.ip, remote.port);
    }
    let holders: Vec<&crate::report::FindingProcess> = f
        .processes
        .iter()
        .filter(|p| p.connections > 0 && !p.pids.is_empty())
        .collect();
    match holders.as_slice() {
        [one] if one.pids.len() == 1 => format!("--pid {} ", one.pids[0]),
        [one] => format!("--process {} ", shell_word(&sanitize(&one.name))),
        _ => String::new(),
    }
}

/// `stuckconn abort ... --dry-run` for a problem finding's connections: its selector and
/// kind (a snapshot's: to run on the host it was recorded on). None when no flag selects
/// them.
fn abort_command(report: &Report, f: &Finding) -> Option<String> {
    let mut select = selector(f);
    if select.is_empty() {
        match &f.key.target {
            crate::report::Target::Service {
                process: Some(name),
                ..
            } => select = format!("--process {} ", shell_word(&sanitize(name))),
            _ => return None,
        }
    }
    let min_idle = report.options.min_idle_secs.round() as u64;
    let place = match report.source.as_str() {
        "live" => String::new(),
        _ if report.host.hostname.is_empty() => " (on the recorded host)".to_string(),
        _ => format!(" (on {})", sanitize(&report.host.hostname)),
    };
    Some(format!(
        "abort them{place}:  stuckconn abort {select}--kind {}{}{} --dry-run",
        f.kind.key(),
        if min_idle == 60 {
            String::new()
        } else {
            format!(" --min-idle {min_idle}s")
        },
        match netns_flag(f) {
            // As root, abort covers every namespace: a finding of stuckconn's own names it.
            own if own.is_empty() && report.summary.namespaces > 1 => " --netns self".to_string(),
            flag => flag,
        }
    ))
}

/// `--from FILE ` when the report came from a snapshot: a pasted command must replay the
/// same file, not scan the live host.
fn from(report: &Report) -> String {
    if report.source == "live" {
        String::new()
    } else {
        format!("--from {} ", shell_word(&sanitize(&report.source)))
    }
}

/// ` --netns NAME|net:[INODE]` for a finding outside stuckconn's own namespace: both work
/// live and with `--from`.
fn netns_flag(f: &Finding) -> String {
    match f.netns.as_ref().filter(|ns| !ns.own) {
        Some(ns) => match &ns.name {
            Some(name) => format!(" --netns {}", shell_word(&sanitize(name))),
            None => format!(" --netns 'net:[{}]'", ns.inode),
        },
        None => String::new(),
    }
}

/// A word a shell reads back as it is: quoted when it holds anything but plain characters.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+%=".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Whether a table needs a NETNS column: its rows span more than one network namespace
/// (the same rule for scan's findings and watch's groups).
pub(crate) fn spans_namespaces(inodes: impl IntoIterator<Item = Option<u64>>) -> bool {
    let mut seen: Vec<Option<u64>> = inodes.into_iter().collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len() > 1
}

/// The REMOTE cell of a finding or a watch group: the remote endpoint (after its name), or
/// for inbound connections their clients and the local port: `3 clients → :18080`.
pub(crate) fn target_text(
    remote: Option<&Remote>,
    local: Option<Endpoint>,
    clients: &[Client],
) -> String {
    match (remote, local) {
        (Some(remote), _) => match display_name(&remote.name) {
            Some(name) => format!("{}  {}", sanitize(&name), remote.endpoint()),
            None => remote.endpoint().to_string(),
        },
        (None, local) => {
            let port = local.map_or("?".to_string(), |l| l.port.to_string());
            let who = match clients {
                [] => "clients".to_string(),
                [one] => match display_name(&one.name) {
                    Some(name) => format!("{} ({})", one.ip, sanitize(&name)),
                    None => one.ip.to_string(),
                },
                many => count(many.len(), "client"),
            };
            format!("{who} → :{port}")
        }
    }
}

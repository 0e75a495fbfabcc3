//! The report for people: the answer first (who leaks, to whom, how many, since when), then
//! which process leaks, then one sentence and one next step per finding.

use super::{sanitize, Style};
use crate::report::{
    display_name, human_duration, Client, Finding, Kind, Remote, Report, Severity, Verdict,
};
use crate::snapshot::Endpoint;
use comfy_table::{
    presets, Attribute, Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, Table,
};
use jiff::Timestamp;
use std::fmt::Write;

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
        out.push('\n');
        out.push_str(&findings_table(report, style));
        if !report.processes.is_empty() {
            out.push('\n');
            out.push_str(&process_table(report, style));
        }
        out.push('\n');
        for f in report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
        {
            out.push_str(&wrap(&sanitize(&f.explanation), style.width, ""));
            let next = format!(
                "  see each socket:  stuckconn scan {}{}--all{}",
                from(report),
                selector(f),
                netns_flag(f)
            );
            out.push_str(&wrap(&next, style.width, "    "));
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
        out.push_str(&connections_table(report, style));
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
    if summary.problems == summary.findings {
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
    let mut parts = vec![count(summary.problems, "problem")];
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

pub(crate) fn new_table(style: Style, header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.force_no_tty();
    match style.width {
        Some(width) => {
            table.set_content_arrangement(ContentArrangement::Dynamic);
            table.set_width(width);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    if style.color {
        table.enforce_styling();
    }
    table.set_header(header.iter().map(|h| {
        let cell = Cell::new(h);
        if style.color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    table
}

/// The table's lines without the padding the last column leaves at their ends.
pub(crate) fn trimmed(table: &Table) -> String {
    let mut out = String::new();
    for line in table.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Columns that must never wrap (addresses, counts, times): the others wrap to fit the terminal.
fn keep_whole(table: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(column) = table.column_mut(i) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
}

/// Greedy word wrap to the terminal width; continuation lines indented by `indent`.
fn wrap(text: &str, width: Option<u16>, indent: &str) -> String {
    let Some(width) = width.map(usize::from).filter(|&w| w > 20) else {
        return format!("{text}\n");
    };
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let line_len = line.chars().count();
        if line_len > 0 && line_len + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
        } else if line_len > 0 {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn right_align(table: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn kind_cell(kind: Kind, style: Style) -> Cell {
    let cell = Cell::new(kind.label());
    if !style.color {
        return cell;
    }
    match kind {
        Kind::HungCall | Kind::StalledSend => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        Kind::CloseWait | Kind::SynSent => cell.fg(Color::Yellow),
        Kind::IdlePool => cell.fg(Color::Green),
        Kind::Active | Kind::Listening => cell,
    }
}

/// The processes the connections are counted for, then (`also ...`) those that only share
/// them.
fn held_by(f: &Finding) -> String {
    let name = |p: &crate::report::FindingProcess| match p.pids.as_slice() {
        [pid] => format!("{} (pid {pid})", sanitize(&p.name)),
        [] => sanitize(&p.name).into_owned(),
        pids => format!("{} ×{} pids", sanitize(&p.name), pids.len()),
    };
    let (holders, sharers): (Vec<_>, Vec<_>) = f.processes.iter().partition(|p| p.connections > 0);
    let mut parts: Vec<String> = holders.iter().take(2).map(|p| name(p)).collect();
    if holders.len() > 2 {
        parts.push(format!("+{} more", holders.len() - 2));
    }
    if let Some(first) = sharers.first() {
        let more = match sharers.len() {
            1 => String::new(),
            n => format!(" +{} more", n - 1),
        };
        parts.push(format!("also {}{more}", name(first)));
    }
    parts.join(", ")
}

/// `2012-11-06 17:15:11 UTC`.
fn utc_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The lower bound for when a group went quiet: `~14:03`, with the date when it differs.
fn since_text(since: Option<Timestamp>, taken_at: Timestamp) -> String {
    let Some(since) = since else {
        return "?".to_string();
    };
    let day = |t: Timestamp| t.strftime("%Y-%m-%d").to_string();
    if day(since) == day(taken_at) {
        since.strftime("~%H:%M").to_string()
    } else {
        since.strftime("~%Y-%m-%d %H:%M").to_string()
    }
}

/// The wire verdict of a finding: the capture's, else the counters'.
fn verdict_cell(f: &Finding, style: Style) -> Cell {
    let Some(s) = f.capture.as_ref().or(f.confirm.as_ref()) else {
        return Cell::new("-");
    };
    let text = match s.verdict {
        Verdict::Active => format!("ACTIVE {}/{}", s.flows_active, s.flows),
        v => format!("{} {}", v.label(), human_duration(s.seconds)),
    };
    let cell = Cell::new(text);
    match (style.color, s.verdict) {
        (true, Verdict::Active) => cell.fg(Color::Green),
        _ => cell,
    }
}

fn findings_table(report: &Report, style: Style) -> String {
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
    header.push("EVIDENCE");
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
            Cell::new(target_text(f.remote.as_ref(), f.local, &f.clients)),
            Cell::new(f.connections),
            Cell::new(held_by(f)),
            Cell::new(f.idle_secs.map_or("?".to_string(), |s| s.range(" – "))),
            Cell::new(since_text(f.since, report.taken_at)),
        ]);
        if wire {
            row.push(verdict_cell(f, style));
        }
        row.push(Cell::new(sanitize(&f.evidence.join(" · "))));
        table.add_row(row);
    }
    let o = usize::from(show_netns);
    right_align(&mut table, &[2 + o]);
    keep_whole(&mut table, &[0, o, 1 + o, 2 + o, 4 + o, 5 + o]);
    trimmed(&table)
}

fn process_table(report: &Report, style: Style) -> String {
    // Count columns: HUNG always, the others only when some process has one of that kind.
    type Count = fn(&crate::report::ProcessSummary) -> usize;
    let counts: Vec<(&str, Count)> = [
        ("HUNG", (|p| p.hung_call) as Count),
        ("CLOSE-WAIT", |p| p.close_wait),
        ("STALLED", |p| p.stalled_send),
        ("SYN-SENT", |p| p.syn_sent),
    ]
    .into_iter()
    .enumerate()
    .filter(|(i, (_, count))| *i == 0 || report.processes.iter().any(|p| count(p) > 0))
    .map(|(_, column)| column)
    .collect();
    let mut header = vec!["WHICH PROCESS LEAKS", "UNIT", "PIDS"];
    header.extend(counts.iter().map(|(name, _)| *name));
    header.extend(["OLDEST", "SERVING WHILE STUCK"]);
    let mut table = new_table(style, &header);
    for p in &report.processes {
        let pids = match p.pids.len() {
            0 => "-".to_string(),
            1..=3 => p
                .pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
            n => format!("×{n}"),
        };
        let unit = p
            .unit
            .as_deref()
            .map(str::to_string)
            .or(p.container.as_deref().map(|c| c.chars().take(12).collect()))
            .map(|u| sanitize(&u).into_owned())
            .unwrap_or_else(|| "-".to_string());
        let mut clients: Vec<String> = p
            .clients
            .iter()
            .take(3)
            .map(|c| match display_name(&c.name) {
                Some(name) => format!("{} ({}) ×{}", c.ip, sanitize(&name), c.connections),
                None => format!("{} ×{}", c.ip, c.connections),
            })
            .collect();
        if p.clients.len() > 3 {
            clients.push(format!("+{} more", p.clients.len() - 3));
        }
        let mut row = vec![
            Cell::new(sanitize(&p.name)),
            Cell::new(unit),
            Cell::new(pids),
        ];
        row.extend(counts.iter().map(|(_, count)| Cell::new(count(p))));
        row.push(Cell::new(
            p.oldest_idle_secs.map_or("?".to_string(), human_duration),
        ));
        row.push(Cell::new(if clients.is_empty() {
            "-".to_string()
        } else {
            clients.join(", ")
        }));
        table.add_row(row);
    }
    let numeric: Vec<usize> = (3..4 + counts.len()).collect();
    right_align(&mut table, &numeric);
    let mut whole = vec![2];
    whole.extend(&numeric);
    keep_whole(&mut table, &whole);
    trimmed(&table)
}

fn connections_table(report: &Report, style: Style) -> String {
    let mut table = new_table(
        style,
        &[
            "KIND",
            "STATE",
            "LOCAL",
            "REMOTE",
            "PROCESS",
            "PID/FD",
            "IDLE",
            "SENT",
            "RECV",
            "RQ/SQ",
            "THREAD WAITING",
        ],
    );
    let dash = || "-".to_string();
    for c in &report.connections {
        let thread = c
            .blocked_threads
            .iter()
            .map(|t| format!("{} in {}", t.tid, sanitize(&t.syscall)))
            .collect::<Vec<_>>()
            .join(", ");
        table.add_row(vec![
            kind_cell(c.kind, style),
            Cell::new(c.state.label()),
            Cell::new(c.local),
            Cell::new(c.remote),
            Cell::new(
                c.process
                    .as_deref()
                    .map_or_else(dash, |p| sanitize(p).into_owned()),
            ),
            Cell::new(match (c.pid, c.fd) {
                (Some(pid), Some(fd)) => format!("{pid}/{fd}"),
                _ => dash(),
            }),
            Cell::new(c.idle_secs.map_or_else(dash, human_duration)),
            Cell::new(c.bytes_sent.map_or_else(dash, |b| b.to_string())),
            Cell::new(c.bytes_received.map_or_else(dash, |b| b.to_string())),
            Cell::new(format!("{}/{}", c.recv_q, c.send_q)),
            Cell::new(if thread.is_empty() { dash() } else { thread }),
        ]);
    }
    right_align(&mut table, &[6, 7, 8, 9]);
    keep_whole(&mut table, &[0, 1, 2, 3, 5, 6, 7, 8, 9]);
    trimmed(&table)
}

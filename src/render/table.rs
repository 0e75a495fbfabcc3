//! The report for people: the answer first (who leaks, to whom, how many, since when), then
//! which process leaks, then one sentence and one next step per finding.

use super::{sanitize, Style};
use crate::report::{human_duration, Finding, Kind, Report, Severity};
use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
use std::fmt::Write;

pub fn render(report: &Report, style: Style) -> String {
    let mut out = String::new();
    let min_idle = human_duration(report.options.min_idle_secs);
    let problems = report.summary.problems;
    let _ = writeln!(
        out,
        "{} · {} TCP sockets · {} finding{} (idle ≥ {}) · {}{}",
        sanitize(&report.host.hostname),
        report.summary.sockets,
        problems,
        if problems == 1 { "" } else { "s" },
        min_idle,
        utc_time(&report.taken_at),
        if report.source == "live" {
            String::new()
        } else {
            format!(" · from {}", sanitize(&report.source))
        }
    );

    if report.findings.is_empty() {
        let _ = writeln!(
            out,
            "{} TCP sockets, {} connections checked: none idle ≥ {min_idle} waiting on a reply, none left in CLOSE-WAIT, none stalled or stuck connecting.",
            report.summary.sockets, report.summary.connections
        );
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
            let _ = writeln!(out, "{}", sanitize(&f.explanation));
            let _ = writeln!(
                out,
                "  see each socket:  stuckconn scan --remote {} --port {} --all",
                f.remote.ip, f.remote.port
            );
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

fn new_table(style: Style, header: &[&str]) -> Table {
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
fn trimmed(table: &Table) -> String {
    let mut out = String::new();
    for line in table.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
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

fn remote_text(f: &Finding) -> String {
    let endpoint = crate::snapshot::Endpoint {
        ip: f.remote.ip,
        port: f.remote.port,
    };
    match &f.remote.hostname {
        Some(name) => format!("{}  {endpoint}", sanitize(name)),
        None => endpoint.to_string(),
    }
}

fn held_by(f: &Finding) -> String {
    let mut parts: Vec<String> = f
        .processes
        .iter()
        .take(2)
        .map(|p| match p.pids.as_slice() {
            [pid] => format!("{} (pid {pid})", sanitize(&p.name)),
            [] => sanitize(&p.name).into_owned(),
            pids => format!("{} ×{} pids", sanitize(&p.name), pids.len()),
        })
        .collect();
    if f.processes.len() > 2 {
        parts.push(format!("+{} more", f.processes.len() - 2));
    }
    parts.join(", ")
}

fn idle_text(f: &Finding) -> String {
    match f.idle_secs {
        None => "?".to_string(),
        Some(s) => {
            let (lo, hi) = (human_duration(s.min), human_duration(s.max));
            if lo == hi {
                lo
            } else {
                format!("{lo} – {hi}")
            }
        }
    }
}

/// `2012-11-06T17:15:11.123Z` as `2012-11-06 17:15:11 UTC`.
fn utc_time(rfc3339: &str) -> String {
    let trimmed = rfc3339.trim_end_matches('Z');
    let seconds = trimmed.split('.').next().unwrap_or(trimmed);
    format!("{} UTC", seconds.replacen('T', " ", 1))
}

/// The lower bound for when a group went quiet: `~14:03`, with the date when it differs.
fn since_text(since: Option<&str>, taken_at: &str) -> String {
    let Some(since) = since else {
        return "?".to_string();
    };
    let (date, time) = since.split_once('T').unwrap_or((since, ""));
    let hhmm: String = time.chars().take(5).collect();
    if taken_at.starts_with(date) {
        format!("~{hhmm}")
    } else {
        format!("~{date} {hhmm}")
    }
}

fn findings_table(report: &Report, style: Style) -> String {
    let mut table = new_table(
        style,
        &[
            "FINDING", "REMOTE", "CONNS", "HELD BY", "IDLE", "SINCE", "EVIDENCE",
        ],
    );
    for f in &report.findings {
        table.add_row(vec![
            kind_cell(f.kind, style),
            Cell::new(remote_text(f)),
            Cell::new(f.connections),
            Cell::new(held_by(f)),
            Cell::new(idle_text(f)),
            Cell::new(since_text(f.since.as_deref(), &report.taken_at)),
            Cell::new(sanitize(&f.evidence.join(" · "))),
        ]);
    }
    right_align(&mut table, &[2]);
    trimmed(&table)
}

fn process_table(report: &Report, style: Style) -> String {
    let mut table = new_table(
        style,
        &[
            "WHICH PROCESS LEAKS",
            "UNIT",
            "PIDS",
            "HUNG",
            "CLOSE-WAIT",
            "STALLED",
            "SYN-SENT",
            "OLDEST",
            "SERVING WHILE STUCK",
        ],
    );
    for p in &report.processes {
        let pids = match p.pids.len() {
            0 => "-".to_string(),
            1..=3 => p
                .pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
            n => n.to_string(),
        };
        let unit = p
            .unit
            .as_deref()
            .or(p.container.as_deref().map(|c| &c[..c.len().min(12)]))
            .map(|u| sanitize(u).into_owned())
            .unwrap_or_else(|| "-".to_string());
        let mut clients: Vec<String> = p
            .clients
            .iter()
            .take(3)
            .map(|c| format!("{} ×{}", c.ip, c.connections))
            .collect();
        if p.clients.len() > 3 {
            clients.push(format!("+{} more", p.clients.len() - 3));
        }
        table.add_row(vec![
            Cell::new(sanitize(&p.name)),
            Cell::new(unit),
            Cell::new(pids),
            Cell::new(p.hung_call),
            Cell::new(p.close_wait),
            Cell::new(p.stalled_send),
            Cell::new(p.syn_sent),
            Cell::new(p.oldest_idle_secs.map_or("?".to_string(), human_duration)),
            Cell::new(if clients.is_empty() {
                "-".to_string()
            } else {
                clients.join(", ")
            }),
        ]);
    }
    right_align(&mut table, &[3, 4, 5, 6, 7]);
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
            .map(|t| format!("{} in {}", t.tid, t.syscall))
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
    trimmed(&table)
}

//! `--format html`: one self-contained HTML file to attach to a ticket. No script, no external
//! asset: inline CSS, inline SVG charts, and a Content-Security-Policy that forbids scripts and
//! every load from elsewhere (`CSP`), so the file reads the same offline and a hostile string
//! cannot make it fetch or run anything.
//!
//! Every string of the report goes through [`escape`]: `&`, `<`, `>`, `"` and `'` become
//! entities, and the characters that `text::is_unsafe` names (control characters, bidi
//! overrides and isolates, zero-width characters), plus the Arabic letter mark U+061C, are
//! shown as visible escapes (`\u{202e}`, `\x1b`, `\n`) as on the terminal, so that a bidi
//! override in a process name cannot reorder the page around it. Cells holding outside text are
//! also bidi-isolated by the stylesheet (`unicode-bidi: isolate`): right-to-left names stay
//! within their cell.
//!
//! `render` writes a scan's report: the summary sentence first, the findings and processes
//! tables, each finding's explanation, history chart and further evidence (chain of waits,
//! timeouts and the like, whatever the report carries), the connections with `--all`, the
//! warnings, and how it was collected. `render_watch` writes a `watch --format ndjson`
//! recording: each group's stuck count over time.

use super::chart;
use crate::analyze::history::{self, History, Shape};
use crate::report::{
    display_name, human_duration, ConnectionReport, Finding, FindingProcess, Kind, ProcessSummary,
    Report, Severity,
};
use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The page's Content-Security-Policy: no script, no load from anywhere; inline styles and
/// `data:` images only.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// What the report itself does not say: who wrote it, how it was asked for.
#[derive(Debug, Clone, Default)]
pub struct HtmlMeta {
    /// stuckconn's version (`env!("CARGO_PKG_VERSION")`).
    pub version: String,
    /// The command line as it ran (secrets masked by the caller), for the footer.
    pub command: Option<String>,
    /// `render_watch`: the recording's path.
    pub source: Option<String>,
}

/// Whether a character must be shown as an escape (`text::is_unsafe`).
fn shown_escaped(c: char) -> bool {
    crate::text::is_unsafe(c)
}

/// Text for HTML (element content and quoted attribute values alike): markup characters as
/// entities, invisible and bidi characters as visible escapes (see the module documentation).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if shown_escaped(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if shown_escaped(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d1f23; background: #fff; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d8dbe0; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p.summary { font-size: 17px; margin: 8px 0 4px; }
p.meta, .muted { color: #5b6270; }
.partial { background: #fff4d6; border: 1px solid #e0b43a; padding: 8px 12px; }
table { border-collapse: collapse; margin: 6px 0 12px; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e8ec; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; white-space: nowrap; }
td { unicode-bidi: isolate; overflow-wrap: anywhere; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.spark { font-family: "DejaVu Sans Mono", monospace; white-space: nowrap; }
td .mono { white-space: nowrap; }
code, .mono { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 13px; unicode-bidi: isolate; overflow-wrap: anywhere; }
.kind { font-weight: 600; white-space: nowrap; }
.kind.problem { color: #b3261e; }
.kind.info { color: #2e7d32; }
.finding { border-left: 3px solid #b3261e; padding: 2px 0 2px 14px; margin: 18px 0; }
.finding.info { border-left-color: #2e7d32; }
figure { margin: 8px 0; }
figcaption { color: #3d4350; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
dl.kv dt { color: #5b6270; }
dl.kv dd { margin: 0; unicode-bidi: isolate; overflow-wrap: anywhere; }
ul { margin: 4px 0; padding-left: 20px; }
li { unicode-bidi: isolate; }
svg { max-width: 100%; height: auto; display: block; }
svg .grid { stroke: #e1e4e8; stroke-width: 1; }
svg .axis, svg .legend { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #5b6270; }
svg path.stuck, svg rect.stuck { fill: #f4c7c3; stroke: #b3261e; stroke-width: 1.5; }
svg rect.new { fill: #7a1c16; }
svg polyline.watched, svg rect.watched, svg circle.watched { fill: none; stroke: #b3261e; stroke-width: 2; }
svg rect.watched { fill: #b3261e; }
svg polyline.past, svg rect.past { fill: none; stroke: #b3261e; stroke-width: 1.5; stroke-dasharray: 5 4; }
footer { margin-top: 32px; }
@media print { body { margin: 0; max-width: none; } .finding { break-inside: avoid; } }
"#;

fn head(title: &str, version: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\" dir=\"ltr\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"stuckconn {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(version),
        escape(title)
    )
}

/// A table: the header row, then rows of cells already in HTML; columns listed in
/// `numeric` are right-aligned.
fn table(id: &str, header: &[&str], rows: &[Vec<String>], numeric: &[usize]) -> String {
    let class = |i: usize| {
        if numeric.contains(&i) {
            " class=\"n\""
        } else {
            ""
        }
    };
    let mut s = format!("<table id=\"{id}\">\n<thead><tr>");
    for (i, h) in header.iter().enumerate() {
        let _ = write!(s, "<th{}>{}</th>", class(i), escape(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        s.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(s, "<td{}>{cell}</td>", class(i));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// `2012-11-06 17:15:11 UTC`.
fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    crate::text::count(n, one, many)
}

/// What a finding's connections are called in a sentence.
fn kind_noun(kind: Kind, n: usize) -> String {
    let (one, many) = match kind {
        Kind::HungCall => ("hung call", "hung calls"),
        Kind::StalledSend => ("stalled send", "stalled sends"),
        Kind::CloseWait => (
            "connection left in CLOSE-WAIT",
            "connections left in CLOSE-WAIT",
        ),
        Kind::SynSent => ("unanswered connect", "unanswered connects"),
        Kind::IdlePool => ("idle pooled connection", "idle pooled connections"),
        Kind::Active => ("active connection", "active connections"),
        Kind::Listening => ("listening socket", "listening sockets"),
    };
    plural(n, one, many)
}

/// The processes the connections are counted for (plain text).
fn holders(f: &Finding) -> String {
    let names: Vec<&str> = f
        .processes
        .iter()
        .filter(|p| p.connections > 0)
        .map(|p| p.name.as_str())
        .collect();
    match names.as_slice() {
        [] => "no readable process".to_string(),
        [one] => one.to_string(),
        [a, b] => format!("{a} and {b}"),
        [a, rest @ ..] => format!("{a} and {}", plural(rest.len(), "other", "others")),
    }
}

/// A finding's target in plain text (the HTML escapes it).
fn target(f: &Finding) -> String {
    if let Some(remote) = &f.remote {
        return match display_name(&remote.name) {
            Some(name) => format!("{name} {}", remote.endpoint()),
            None => remote.endpoint().to_string(),
        };
    }
    let port = f.local.map_or("?".to_string(), |l| l.port.to_string());
    let who = match f.clients.as_slice() {
        [] => "clients".to_string(),
        [one] => match display_name(&one.name) {
            Some(name) => format!("{} ({name})", one.ip),
            None => one.ip.to_string(),
        },
        many => plural(many.len(), "client", "clients"),
    };
    format!("{who} → :{port}")
}

/// The summary sentence: the largest problem, when it began and how it grows, then how much
/// else there is. Plain text.
pub fn summary_sentence(report: &Report, histories: &[Option<History>]) -> String {
    let host = &report.host.hostname;
    let when = utc(report.taken_at);
    let problems: Vec<(usize, &Finding)> = report
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.severity == Severity::Problem)
        .collect();
    let Some(&(index, top)) = problems
        .iter()
        .max_by_key(|(i, f)| (f.connections, usize::MAX - i))
    else {
        let min_idle = human_duration(report.options.min_idle_secs);
        let idle = report.summary.count(Kind::IdlePool);
        let mut text = format!(
            "Nothing stuck on {host} at {when}: {} checked, none idle ≥ {min_idle} waiting on a reply, none left in CLOSE-WAIT, none stalled or stuck connecting.",
            plural(report.summary.sockets, "TCP socket", "TCP sockets")
        );
        if idle > 0 {
            let _ = write!(
                text,
                " {} completed their exchanges and wait in keep-alive pools.",
                plural(idle, "idle connection", "idle connections")
            );
        }
        return text;
    };
    let verb = if top.processes.iter().filter(|p| p.connections > 0).count() > 1 {
        "hold"
    } else {
        "holds"
    };
    let whom = match (&top.remote, top.local) {
        (Some(_), _) => format!("to {}", target(top)),
        (None, local) => format!(
            "accepted on port {} from {}",
            local.map_or("?".to_string(), |l| l.port.to_string()),
            plural(top.clients.len(), "client", "clients")
        ),
    };
    let mut text = format!(
        "On {host} at {when}, {} {verb} {} {whom}",
        holders(top),
        kind_noun(top.kind, top.connections),
    );
    match histories.get(index).and_then(Option::as_ref) {
        Some(h) => match h.shape {
            Shape::Leak => {
                let _ = write!(
                    text,
                    ", quiet since {} and still growing: a leak of {:.0} an hour, {} in the last hour",
                    h.onset.strftime("%H:%M UTC"),
                    h.rate_per_hour,
                    h.rate_per_hour_last_hour
                );
                if h.accelerating() {
                    text.push_str(", accelerating");
                }
            }
            Shape::Steady => {
                let _ = write!(
                    text,
                    ", gone quiet between {} and {}, none since",
                    h.onset.strftime("%H:%M"),
                    h.latest.strftime("%H:%M UTC")
                );
            }
            Shape::Event if h.connections > 1 => {
                let _ = write!(
                    text,
                    ", all gone quiet at once at {} (an event such as a network cut or a deploy, not a leak)",
                    h.onset.strftime("%H:%M:%S UTC")
                );
            }
            Shape::Event => {
                let _ = write!(text, ", quiet since {}", h.onset.strftime("%H:%M:%S UTC"));
            }
        },
        None => {
            if let Some(since) = top.since {
                let _ = write!(text, ", quiet since {}", since.strftime("%H:%M UTC"));
            }
        }
    }
    text.push('.');
    let others: Vec<&Finding> = problems
        .iter()
        .filter(|(i, _)| *i != index)
        .map(|(_, f)| *f)
        .collect();
    if !others.is_empty() {
        let stuck: usize = others.iter().map(|f| f.connections).sum();
        let _ = write!(
            text,
            " {} more {} {} more stuck.",
            others.len(),
            if others.len() == 1 {
                "finding holds"
            } else {
                "findings hold"
            },
            stuck
        );
    }
    if report.partial {
        text.push_str(" The scan was cut short: not everything was seen.");
    }
    text
}

fn kind_cell(f: &Finding) -> String {
    let class = if f.severity == Severity::Problem {
        "problem"
    } else {
        "info"
    };
    format!(
        "<span class=\"kind {class}\">{}</span>",
        escape(f.kind.label())
    )
}

fn held_by(f: &Finding) -> String {
    let name = |p: &FindingProcess| match p.pids.as_slice() {
        [pid] => format!("{} (pid {pid})", p.name),
        [] => p.name.clone(),
        pids => format!("{} ×{} pids", p.name, pids.len()),
    };
    let (holders, sharers): (Vec<_>, Vec<_>) = f.processes.iter().partition(|p| p.connections > 0);
    let mut parts: Vec<String> = holders.iter().map(|p| name(p)).collect();
    if !sharers.is_empty() {
        let also: Vec<String> = sharers.iter().map(|p| name(p)).collect();
        parts.push(format!("also {}", also.join(", ")));
    }
    escape(&parts.join(", "))
}

/// A finding's processes, one line each: name, pids, unit or container, executable and the
/// command line of its first pid (as the report has it: secrets masked unless --no-redact).
fn processes_list(processes: &[FindingProcess]) -> String {
    const SHOWN: usize = 10;
    let mut s = "<ul>".to_string();
    for p in processes.iter().take(SHOWN) {
        let pids = match p.pids.as_slice() {
            [] => "no pid".to_string(),
            [pid] => format!("pid {pid}"),
            [first, .., last] if p.pids.len() > 5 => {
                format!("{} pids, {first} to {last}", p.pids.len())
            }
            pids => format!(
                "pids {}",
                pids.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut line = format!("{} ({pids}", p.name);
        let container = p.container_names.label();
        for part in [
            p.unit.as_deref(),
            container.as_deref(),
            p.container.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            let _ = write!(line, ", {part}");
        }
        let _ = write!(
            line,
            "): {} connections{}, {} threads blocked, threads {}",
            p.connections,
            if p.shared_connections > 0 {
                format!(" (and {} shared)", p.shared_connections)
            } else {
                String::new()
            },
            p.threads_blocked,
            match p.thread_evidence {
                crate::snapshot::ThreadEvidence::Read => "read",
                crate::snapshot::ThreadEvidence::Partial => "partly read",
                crate::snapshot::ThreadEvidence::Denied => "not readable (permission denied)",
                crate::snapshot::ThreadEvidence::NotCollected => "not examined",
            }
        );
        let _ = write!(s, "<li>{}", escape(&line));
        if let Some(exe) = &p.exe {
            let _ = write!(s, "<br>executable <code>{}</code>", escape(exe));
        }
        if let Some(cmdline) = &p.cmdline {
            let _ = write!(s, "<br>command line <code>{}</code>", escape(cmdline));
        }
        s.push_str("</li>");
    }
    if processes.len() > SHOWN {
        let _ = write!(s, "<li>… {} more</li>", processes.len() - SHOWN);
    }
    s.push_str("</ul>");
    s
}

fn spans_namespaces(report: &Report) -> bool {
    super::table::spans_namespaces(
        report
            .findings
            .iter()
            .map(|f| f.netns.as_ref().map(|ns| ns.inode)),
    )
}

fn findings_table(report: &Report, histories: &[Option<History>]) -> String {
    let netns = spans_namespaces(report);
    let wire = report.wire.is_some();
    let mut header = vec!["Finding"];
    if netns {
        header.push("Netns");
    }
    header.extend(["Remote", "Conns", "Held by", "Idle", "Since", "History"]);
    if wire {
        header.push("On the wire");
    }
    header.push("Evidence");
    let rows: Vec<Vec<String>> = report
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut row = vec![format!(
                "<a href=\"#finding-{}\">{}</a>",
                i + 1,
                kind_cell(f)
            )];
            if netns {
                row.push(escape(
                    &f.netns
                        .as_ref()
                        .map_or("-".to_string(), |ns| ns.short_label()),
                ));
            }
            let history = match histories.get(i).and_then(Option::as_ref) {
                Some(h) => format!(
                    "{}<br><span class=\"spark\">{}</span>",
                    escape(h.shape.label()),
                    escape(&chart::timeline_chart(h, 16))
                ),
                None => "-".to_string(),
            };
            row.extend([
                format!("<span class=\"mono\">{}</span>", escape(&target(f))),
                f.connections.to_string(),
                held_by(f),
                escape(&f.idle_secs.map_or("?".to_string(), |s| s.range(" – "))),
                escape(
                    &f.since
                        .map_or("?".to_string(), |t| chart::time_label(t, report.taken_at)),
                ),
                history,
            ]);
            if wire {
                row.push(escape(&wire_text(f)));
            }
            row.push(escape(&f.evidence.join(" · ")));
            row
        })
        .collect();
    let o = usize::from(netns);
    table("findings-table", &header, &rows, &[2 + o])
}

fn wire_text(f: &Finding) -> String {
    match f.capture.as_ref().or(f.confirm.as_ref()) {
        Some(s) => format!(
            "{} for {} ({} of {} flows idle, {} keepalive only, {} active)",
            s.verdict.label(),
            human_duration(s.seconds),
            s.flows_idle,
            s.flows,
            s.flows_keepalive_only,
            s.flows_active
        ),
        None => "-".to_string(),
    }
}

fn processes_table(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report
        .processes
        .iter()
        .map(|p: &ProcessSummary| {
            let pids = match p.pids.len() {
                0 => "-".to_string(),
                1..=5 => p
                    .pids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                n => format!("×{n}"),
            };
            let unit = p
                .unit
                .clone()
                .or(p.container_names.label())
                .or(p.container.clone())
                .unwrap_or_else(|| "-".to_string());
            let clients: Vec<String> = p
                .clients
                .iter()
                .map(|c| match display_name(&c.name) {
                    Some(name) => format!("{} ({name}) ×{}", c.ip, c.connections),
                    None => format!("{} ×{}", c.ip, c.connections),
                })
                .collect();
            vec![
                escape(&p.name),
                escape(&unit),
                escape(&pids),
                p.hung_call.to_string(),
                p.close_wait.to_string(),
                p.stalled_send.to_string(),
                p.syn_sent.to_string(),
                escape(&p.oldest_idle_secs.map_or("?".to_string(), human_duration)),
                if clients.is_empty() {
                    "-".to_string()
                } else {
                    escape(&clients.join(", "))
                },
            ]
        })
        .collect();
    table(
        "processes-table",
        &[
            "Which process leaks",
            "Unit",
            "Pids",
            "Hung",
            "Close-wait",
            "Stalled",
            "Syn-sent",
            "Oldest",
            "Serving while stuck",
        ],
        &rows,
        &[3, 4, 5, 6, 7],
    )
}

fn connections_table(connections: &[ConnectionReport]) -> String {
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = connections
        .iter()
        .map(|c| {
            let threads: Vec<String> = c
                .blocked_threads
                .iter()
                .map(|t| format!("{} in {}", t.tid, t.syscall))
                .collect();
            vec![
                escape(c.kind.label()),
                escape(c.state.label()),
                format!("<span class=\"mono\">{}</span>", c.local),
                format!("<span class=\"mono\">{}</span>", c.remote),
                c.process.as_deref().map_or_else(dash, escape),
                match (c.pid, c.fd) {
                    (Some(pid), Some(fd)) => format!("{pid}/{fd}"),
                    _ => dash(),
                },
                c.idle_secs
                    .map_or_else(dash, |s| escape(&human_duration(s))),
                c.bytes_sent.map_or_else(dash, |b| b.to_string()),
                c.bytes_received.map_or_else(dash, |b| b.to_string()),
                format!("{}/{}", c.recv_q, c.send_q),
                if threads.is_empty() {
                    dash()
                } else {
                    escape(&threads.join(", "))
                },
            ]
        })
        .collect();
    table(
        "connections-table",
        &[
            "Kind",
            "State",
            "Local",
            "Remote",
            "Process",
            "Pid/fd",
            "Idle",
            "Sent",
            "Recv",
            "Rq/sq",
            "Thread waiting",
        ],
        &rows,
        &[6, 7, 8, 9],
    )
}

/// Finding fields this page shows in its own way; any other field the report carries (the
/// chain of waits, timeouts, costs, hints ...) is shown as it is, under its title below.
const SHOWN: [&str; 21] = [
    "kind",
    "severity",
    "direction",
    "netns",
    "remote",
    "local",
    "connections",
    "idle_secs",
    "since",
    "bytes_sent",
    "bytes_received",
    "threads_blocked",
    "processes",
    "clients",
    "evidence",
    "capture",
    "confirm",
    "explanation",
    "history",
    "id",
    "key",
];

/// Titles of the fields other parts of stuckconn add to findings.
const TITLES: [(&str, &str); 6] = [
    ("role", "Role"),
    ("waits_on", "Waits on (chain of waits)"),
    ("blocks", "Blocks"),
    ("timeouts", "Timeouts"),
    ("impact", "What it costs"),
    ("hints", "What to fix"),
];

fn title_of(key: &str) -> String {
    TITLES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| key.replace('_', " "), |(_, t)| t.to_string())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Any JSON value as HTML (lists, definition lists), bounded in depth and length.
fn value_html(v: &Value, depth: usize) -> String {
    const MAX_ITEMS: usize = 100;
    if depth > 6 {
        return "…".to_string();
    }
    match v {
        Value::Null => "-".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => escape(&n.to_string()),
        Value::String(s) => escape(s),
        Value::Array(items) => {
            let mut s = "<ul>".to_string();
            for item in items.iter().take(MAX_ITEMS) {
                let _ = write!(s, "<li>{}</li>", value_html(item, depth + 1));
            }
            if items.len() > MAX_ITEMS {
                let _ = write!(s, "<li>… {} more</li>", items.len() - MAX_ITEMS);
            }
            s.push_str("</ul>");
            s
        }
        Value::Object(fields) => {
            let mut s = "<dl class=\"kv\">".to_string();
            for (k, v) in fields.iter().take(MAX_ITEMS) {
                let _ = write!(
                    s,
                    "<dt>{}</dt><dd>{}</dd>",
                    escape(&k.replace('_', " ")),
                    value_html(v, depth + 1)
                );
            }
            s.push_str("</dl>");
            s
        }
    }
}

/// Where a finding's chart begins: at the earliest onset of the report's findings, so that
/// their charts share a time axis and overlaps show, unless that would squeeze this one's
/// history into less than a tenth of the chart: then at its own onset.
fn axis_from(h: &History, histories: &[Option<History>]) -> Timestamp {
    let earliest = histories
        .iter()
        .flatten()
        .map(|h| h.onset)
        .min()
        .unwrap_or(h.onset);
    let shared = h.end.duration_since(earliest).as_secs_f64();
    if h.span_secs() >= 0.1 * shared {
        earliest
    } else {
        h.onset
    }
}

fn finding_section(
    report: &Report,
    index: usize,
    f: &Finding,
    histories: &[Option<History>],
) -> String {
    let h = histories.get(index).and_then(Option::as_ref);
    let class = if f.severity == Severity::Problem {
        "finding"
    } else {
        "finding info"
    };
    let title = format!("{} → {}", f.kind.label(), target(f));
    let mut s = format!(
        "<article class=\"{class}\" id=\"finding-{}\">\n<h3>{}. {}</h3>\n",
        index + 1,
        index + 1,
        escape(&title)
    );
    if !f.explanation.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", escape(&f.explanation));
    }
    if let Some(h) = h {
        let _ = writeln!(
            s,
            "<figure class=\"timeline\">{}<figcaption>{}{}</figcaption></figure>",
            chart::history_svg(
                h,
                &format!("{title}: stuck connections over time"),
                axis_from(h, histories)
            ),
            escape(&upper_first(&chart::words(h))),
            escape(&format!(
                ". Reconstructed from one scan: each connection went quiet at the collection time minus its idle time ({} to {})",
                utc(h.onset),
                utc(h.latest)
            ))
        );
    }
    let mut facts: Vec<(String, String)> = vec![
        ("Connections".into(), f.connections.to_string()),
        ("Held by".into(), held_by(f)),
        (
            "Idle".into(),
            escape(
                &f.idle_secs
                    .map_or("unknown".to_string(), |s| s.range(" to ")),
            ),
        ),
        (
            "Bytes".into(),
            format!("{} sent, {} received", f.bytes_sent, f.bytes_received),
        ),
        ("Threads blocked".into(), f.threads_blocked.to_string()),
    ];
    if let Some(ns) = &f.netns {
        facts.push(("Network namespace".into(), escape(&ns.short_label())));
    }
    if !f.processes.is_empty() {
        facts.push(("Processes".into(), processes_list(&f.processes)));
    }
    if !f.clients.is_empty() {
        let clients: Vec<String> = f
            .clients
            .iter()
            .map(|c| match display_name(&c.name) {
                Some(name) => format!("{} ({name}) ×{}", c.ip, c.connections),
                None => format!("{} ×{}", c.ip, c.connections),
            })
            .collect();
        let title = if f.remote.is_some() {
            "Serving while stuck"
        } else {
            "Clients"
        };
        facts.push((title.into(), escape(&clients.join(", "))));
    }
    if f.capture.is_some() || f.confirm.is_some() {
        facts.push(("On the wire".into(), escape(&wire_text(f))));
    }
    if !f.evidence.is_empty() {
        facts.push(("Evidence".into(), escape(&f.evidence.join(" · "))));
    }
    // Whatever else the report says of this finding (chain of waits, timeouts ...).
    if let Ok(Value::Object(fields)) = serde_json::to_value(f) {
        for (key, value) in fields.iter().filter(|(k, _)| !SHOWN.contains(&k.as_str())) {
            if !is_empty(value) {
                facts.push((escape(&title_of(key)), value_html(value, 0)));
            }
        }
    }
    s.push_str("<dl class=\"kv\">");
    for (k, v) in facts {
        let _ = write!(s, "<dt>{k}</dt><dd>{v}</dd>");
    }
    s.push_str("</dl>\n");
    let _ = write!(
        s,
        "<p class=\"muted\">Taken at {}.</p>\n</article>\n",
        escape(&utc(report.taken_at))
    );
    s
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Report fields this page shows in its own way; any other is shown as it is at the end.
const SHOWN_TOP: [&str; 15] = [
    "schema_version",
    "generated_at",
    "host",
    "source",
    "taken_at",
    "collector",
    "partial",
    "options",
    "summary",
    "findings",
    "processes",
    "connections",
    "wire",
    "timings",
    "warnings",
];

fn collected(report: &Report, meta: &HtmlMeta) -> String {
    let o = &report.options;
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "any".to_string()
        } else {
            items.join(", ")
        }
    };
    let dns = match o.dns_timeout_secs {
        None => "not asked (--no-dns)".to_string(),
        Some(t) => format!(
            "reverse lookups, {} per lookup, servers: {}",
            human_duration(t),
            if o.dns_servers.is_empty() {
                "the system's".to_string()
            } else {
                o.dns_servers.join(", ")
            }
        ),
    };
    let collector = match report.collector {
        crate::snapshot::Collector::SockDiag => "sock_diag (netlink), with tcp_info",
        crate::snapshot::Collector::ProcNet => "/proc/net/tcp (no tcp_info)",
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("Host", report.host.hostname.clone()),
        ("Kernel", report.host.kernel.clone()),
        (
            "Source",
            if report.source == "live" {
                "a live scan".to_string()
            } else {
                format!("the snapshot {}", report.source)
            },
        ),
        ("Collected at", utc(report.taken_at)),
        (
            "Collected with",
            format!(
                "{collector}, in {:.3} s; {}",
                report.timings.collect_secs,
                plural(
                    report.summary.namespaces,
                    "network namespace",
                    "network namespaces"
                )
            ),
        ),
        (
            "Complete",
            if report.partial {
                "no: --timeout cut the scan short; what is shown is right, but not everything was seen".to_string()
            } else {
                "yes".to_string()
            },
        ),
        (
            "Counted as stuck",
            format!(
                "idle at least {}{}",
                human_duration(o.min_idle_secs),
                if o.all {
                    "; every socket listed (--all)"
                } else {
                    ""
                }
            ),
        ),
        (
            "Filters",
            format!(
                "pids: {}; processes: {}; remotes: {}; ports: {}",
                list(o.pids.iter().map(u32::to_string).collect()),
                list(o.process_names.clone()),
                list(o.remotes.clone()),
                list(o.ports.iter().map(u16::to_string).collect())
            ),
        ),
        ("DNS", dns),
        (
            "Sockets",
            format!(
                "{} TCP sockets seen, {} listening, {} not tied to a process",
                report.summary.sockets,
                report.summary.listening,
                report.summary.unattributed_sockets
            ),
        ),
        ("Report written", utc(report.generated_at)),
        (
            "By",
            format!(
                "stuckconn {} (JSON schema {})",
                meta.version, report.schema_version
            ),
        ),
    ];
    if let Some(command) = &meta.command {
        rows.push(("Command", command.clone()));
    }
    if let Some(w) = &report.wire {
        let mut parts = Vec::new();
        if let Some(c) = w.capture_secs {
            parts.push(format!("capture {}", human_duration(c)));
        }
        if let Some(c) = w.confirm_secs {
            parts.push(format!("counters re-read after {}", human_duration(c)));
        }
        if !w.interfaces.is_empty() {
            parts.push(format!("on {}", w.interfaces.join(", ")));
        }
        if let Some(e) = &w.capture_error {
            parts.push(format!("capture failed: {e}"));
        }
        if let Some(e) = &w.confirm_error {
            parts.push(format!("re-read failed: {e}"));
        }
        rows.push(("Wire checks", parts.join("; ")));
    }
    let mut s =
        "<footer id=\"collected\">\n<h2>How it was collected</h2>\n<dl class=\"kv\">".to_string();
    for (k, v) in rows {
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    }
    s.push_str("</dl>\n</footer>\n");
    s
}

/// The HTML report of a scan.
pub fn render(report: &Report, meta: &HtmlMeta) -> String {
    let histories = history::of_report(report, history::BUCKETS);
    let title = format!(
        "stuckconn: {}, {}",
        report.host.hostname,
        utc(report.taken_at)
    );
    let mut s = head(&title, &meta.version);
    let _ = write!(
        s,
        "<header>\n<h1>{}</h1>\n<p class=\"summary\" id=\"summary\">{}</p>\n<p class=\"meta\">{} · {} · {} · collected {}</p>\n</header>\n",
        escape(&format!("Stuck connections on {}", report.host.hostname)),
        escape(&summary_sentence(report, &histories)),
        escape(&plural(report.summary.sockets, "TCP socket", "TCP sockets")),
        escape(&plural(report.summary.findings, "finding", "findings")),
        escape(&plural(report.summary.problems, "problem", "problems")),
        escape(&utc(report.taken_at)),
    );
    if report.partial {
        s.push_str("<p class=\"partial\">This scan was cut short by --timeout: everything reported is right, but not everything was seen.</p>\n");
    }
    if !report.findings.is_empty() {
        s.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n");
        s.push_str(&findings_table(report, &histories));
        s.push_str("</section>\n");
    }
    if !report.processes.is_empty() {
        s.push_str("<section id=\"processes\">\n<h2>Which process leaks</h2>\n");
        s.push_str(&processes_table(report));
        s.push_str("</section>\n");
    }
    if !report.findings.is_empty() {
        s.push_str("<section id=\"details\">\n<h2>Each finding</h2>\n");
        for (i, f) in report.findings.iter().enumerate() {
            s.push_str(&finding_section(report, i, f, &histories));
        }
        s.push_str("</section>\n");
    }
    if report.options.all && !report.connections.is_empty() {
        s.push_str("<section id=\"connections\">\n<h2>Every connection (--all)</h2>\n");
        s.push_str(&connections_table(&report.connections));
        s.push_str("</section>\n");
    }
    // Whatever else the report carries at its top level.
    if let Ok(Value::Object(fields)) = serde_json::to_value(report) {
        let more: Vec<(&String, &Value)> = fields
            .iter()
            .filter(|(k, v)| !SHOWN_TOP.contains(&k.as_str()) && !is_empty(v))
            .collect();
        if !more.is_empty() {
            s.push_str("<section id=\"more\">\n<h2>More</h2>\n<dl class=\"kv\">");
            for (k, v) in more {
                let _ = write!(
                    s,
                    "<dt>{}</dt><dd>{}</dd>",
                    escape(&title_of(k)),
                    value_html(v, 0)
                );
            }
            s.push_str("</dl>\n</section>\n");
        }
    }
    s.push_str(&warnings(&report.warnings));
    s.push_str(&collected(report, meta));
    s.push_str("</body>\n</html>\n");
    s
}

fn warnings<W: AsRef<str>>(warnings: &[W]) -> String {
    if warnings.is_empty() {
        return String::new();
    }
    let mut s = "<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>".to_string();
    for w in warnings {
        let _ = write!(s, "<li>{}</li>", escape(w.as_ref()));
    }
    s.push_str("</ul>\n</section>\n");
    s
}

/// A `watch --format ndjson` recording, as `render_watch` reads it.
#[derive(Debug, Clone, Default)]
pub struct WatchRecording {
    /// The host, when the lines say (`host.hostname`).
    pub host: Option<String>,
    pub samples: Vec<WatchSample>,
    /// `opened` and `closed` event lines.
    pub opened: usize,
    pub closed: usize,
    /// The `summary` line's `ended_by`, when the recording has one.
    pub ended_by: Option<String>,
    /// The samples' warnings, each once.
    pub warnings: Vec<String>,
    /// Lines that could not be read (line number and why), at most `MAX_PROBLEMS`.
    pub problems: Vec<String>,
    /// Lines that could not be read, all of them.
    pub bad_lines: usize,
}

/// One `sample` line.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchSample {
    pub time: Timestamp,
    pub groups: Vec<WatchGroup>,
}

/// One group of a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchGroup {
    /// The kind's JSON key (`hung_call` ...).
    pub kind: String,
    pub process: String,
    /// The remote endpoint (with its name), or for inbound groups `N clients → :PORT`.
    pub target: String,
    /// What identifies the group's peer across samples: the remote endpoint, or `:PORT`
    /// (a name found later does not make another group).
    pub endpoint: String,
    pub netns: Option<String>,
    pub connections: usize,
    pub leak: bool,
    pub onset: Option<Timestamp>,
    /// The stuck count reconstructed before watching began, when the line carries it
    /// (a `past` object shaped like a finding's `history`): (end of bucket, stuck) points.
    pub past: Vec<(Timestamp, usize)>,
}

/// At most this many unreadable lines are listed.
pub const MAX_PROBLEMS: usize = 20;

type GroupId = (String, String, String, Option<String>);

impl WatchGroup {
    fn id(&self) -> GroupId {
        (
            self.kind.clone(),
            self.process.clone(),
            self.endpoint.clone(),
            self.netns.clone(),
        )
    }

    fn kind_label(&self) -> String {
        Kind::ALL
            .iter()
            .find(|k| k.key() == self.kind)
            .map_or_else(|| self.kind.replace('_', " "), |k| k.label().to_string())
    }

    /// From a `groups` element of a sample line.
    pub fn from_json(v: &Value) -> Option<WatchGroup> {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let endpoint = |e: &Value| -> Option<String> {
            let ip: std::net::IpAddr = e.get("ip")?.as_str()?.parse().ok()?;
            let port = u16::try_from(e.get("port")?.as_u64()?).ok()?;
            Some(crate::snapshot::Endpoint { ip, port }.to_string())
        };
        let (target, id) = match v.get("remote").filter(|r| !r.is_null()) {
            Some(r) => {
                let at = endpoint(r)?;
                let target = match r.get("hostname").and_then(Value::as_str) {
                    Some(name) if r.get("dns_verified") == Some(&Value::Bool(true)) => {
                        format!("{name} {at}")
                    }
                    Some(name) => format!("{name}? {at}"),
                    None => at.clone(),
                };
                (target, at)
            }
            None => {
                let port = v
                    .get("local")
                    .and_then(|l| l.get("port"))
                    .and_then(Value::as_u64)
                    .map_or("?".to_string(), |p| p.to_string());
                let clients = v
                    .get("clients")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                (
                    format!("{} → :{port}", plural(clients, "client", "clients")),
                    format!(":{port}"),
                )
            }
        };
        let past = v
            .get("past")
            .and_then(|p| {
                let step = p.get("bucket_secs")?.as_u64()?;
                let buckets = p.get("buckets")?.as_array()?;
                buckets
                    .iter()
                    .map(|b| {
                        let start: Timestamp = b.get("start")?.as_str()?.parse().ok()?;
                        let end = start
                            .checked_add(jiff::SignedDuration::from_secs(i64::try_from(step).ok()?))
                            .ok()?;
                        Some((end, usize::try_from(b.get("stuck")?.as_u64()?).ok()?))
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .unwrap_or_default();
        Some(WatchGroup {
            kind: text(v.get("kind")?)?,
            process: v.get("process").and_then(text).unwrap_or_default(),
            target,
            endpoint: id,
            netns: v.get("netns_label").and_then(text),
            connections: usize::try_from(v.get("connections")?.as_u64()?).ok()?,
            leak: v.get("leak").and_then(Value::as_bool).unwrap_or(false),
            onset: v
                .get("onset")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok()),
            past,
        })
    }
}

impl WatchRecording {
    /// Reads a whole recording; lines it cannot read are counted and listed, never fatal.
    pub fn from_ndjson(text: &str) -> WatchRecording {
        let mut recording = WatchRecording::default();
        for (i, line) in text.lines().enumerate() {
            recording.add_line(i + 1, line);
        }
        recording
    }

    fn problem(&mut self, number: usize, why: &str) {
        self.bad_lines += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(format!("line {number}: {why}"));
        }
    }

    /// Reads one line of a recording (`number` counts from 1, for the messages).
    pub fn add_line(&mut self, number: usize, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => return self.problem(number, "not JSON"),
        };
        if let Some(host) = v
            .get("host")
            .and_then(|h| h.get("hostname"))
            .and_then(Value::as_str)
        {
            self.host.get_or_insert_with(|| host.to_string());
        }
        match v.get("type").and_then(Value::as_str) {
            Some("sample") => {
                let Some(time) = v
                    .get("time")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse::<Timestamp>().ok())
                else {
                    return self.problem(number, "a sample without a valid time");
                };
                let Some(groups) = v.get("groups").and_then(Value::as_array) else {
                    return self.problem(number, "a sample without groups");
                };
                let parsed: Vec<WatchGroup> =
                    groups.iter().filter_map(WatchGroup::from_json).collect();
                if parsed.len() < groups.len() {
                    self.problem(number, "a group it could not read");
                }
                for w in v
                    .get("warnings")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !self.warnings.iter().any(|known| known == w) {
                        self.warnings.push(w.to_string());
                    }
                }
                self.samples.push(WatchSample {
                    time,
                    groups: parsed,
                });
            }
            Some("opened") => self.opened += 1,
            Some("closed") => self.closed += 1,
            Some("summary") => {
                self.ended_by = v
                    .get("ended_by")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            Some(_) => {}
            None => self.problem(number, "no type"),
        }
    }
}

/// One group over the whole recording.
struct Series {
    group: WatchGroup,
    points: Vec<(Timestamp, usize)>,
    leak: bool,
    onset: Option<Timestamp>,
}

impl Series {
    fn first(&self) -> usize {
        self.points.first().map_or(0, |p| p.1)
    }
    fn last(&self) -> usize {
        self.points.last().map_or(0, |p| p.1)
    }
    fn peak(&self) -> usize {
        self.points.iter().map(|p| p.1).max().unwrap_or(0)
    }
}

/// The groups of a recording, each with its stuck count at every sample (0 where a sample
/// does not list it), largest peak first.
fn series(recording: &WatchRecording) -> Vec<Series> {
    let mut order: Vec<GroupId> = Vec::new();
    let mut by_id: BTreeMap<GroupId, Series> = BTreeMap::new();
    for sample in &recording.samples {
        for g in &sample.groups {
            let id = g.id();
            by_id.entry(id.clone()).or_insert_with(|| {
                order.push(id);
                Series {
                    group: g.clone(),
                    points: Vec::new(),
                    leak: false,
                    onset: None,
                }
            });
        }
    }
    for sample in &recording.samples {
        for (id, series) in by_id.iter_mut() {
            let now = sample.groups.iter().find(|g| &g.id() == id);
            series
                .points
                .push((sample.time, now.map_or(0, |g| g.connections)));
            if let Some(g) = now {
                // The latest names and labels.
                series.group.target = g.target.clone();
                series.leak |= g.leak;
                if let Some(onset) = g.onset {
                    series.onset = Some(series.onset.map_or(onset, |o| o.min(onset)));
                }
                if series.group.past.is_empty() && !g.past.is_empty() {
                    series.group.past = g.past.clone();
                }
            }
        }
    }
    let mut out: Vec<Series> = order.iter().filter_map(|id| by_id.remove(id)).collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.peak()));
    out
}

/// `+21`, `-2.5`: a change for people.
fn signed(x: f64) -> String {
    if x.abs() >= 10.0 {
        format!("{x:+.0}")
    } else {
        format!("{x:+.1}")
    }
}

/// Growth per hour between the first and the last sample.
fn per_hour(s: &Series) -> Option<f64> {
    let (first, last) = (s.points.first()?, s.points.last()?);
    let hours = last.0.duration_since(first.0).as_secs_f64() / 3600.0;
    (hours > 0.0).then(|| (last.1 as f64 - first.1 as f64) / hours)
}

/// The HTML report of a `watch --format ndjson` recording: each group's stuck count over
/// time.
pub fn render_watch(recording: &WatchRecording, meta: &HtmlMeta) -> String {
    /// Charts drawn at most (the table lists every group).
    const MAX_CHARTS: usize = 20;
    let host = recording.host.clone().unwrap_or_default();
    let groups = series(recording);
    let (start, end) = (
        recording.samples.first().map(|s| s.time),
        recording.samples.last().map(|s| s.time),
    );
    let title = match (&recording.host, start) {
        (Some(h), Some(t)) => format!("stuckconn watch: {h}, from {}", utc(t)),
        (None, Some(t)) => format!("stuckconn watch, from {}", utc(t)),
        _ => "stuckconn watch".to_string(),
    };
    let mut s = head(&title, &meta.version);
    let sentence = match (start, end, groups.first()) {
        (Some(a), Some(b), Some(top)) => {
            let mut t = format!(
                "Watched{} for {} ({}, {} to {}): the largest group, {}'s {} to {}, went from {} to {} stuck (peak {})",
                if host.is_empty() { String::new() } else { format!(" {host}") },
                human_duration(b.duration_since(a).as_secs_f64()),
                plural(recording.samples.len(), "sample", "samples"),
                utc(a),
                utc(b),
                top.group.process,
                top.group.kind_label(),
                top.group.target,
                top.first(),
                top.last(),
                top.peak()
            );
            if let Some(rate) = per_hour(top) {
                let _ = write!(t, ", {} an hour", signed(rate));
            }
            if top.leak {
                t.push_str(": a leak");
            }
            t.push('.');
            if groups.len() > 1 {
                let _ = write!(t, " {} more.", plural(groups.len() - 1, "group", "groups"));
            }
            t
        }
        (Some(a), Some(b), None) => format!(
            "Watched for {} ({}, {} to {}): no stuck connections.",
            human_duration(b.duration_since(a).as_secs_f64()),
            plural(recording.samples.len(), "sample", "samples"),
            utc(a),
            utc(b)
        ),
        _ => "The recording holds no sample.".to_string(),
    };
    let _ = write!(
        s,
        "<header>\n<h1>{}</h1>\n<p class=\"summary\" id=\"summary\">{}</p>\n</header>\n",
        escape(&if host.is_empty() {
            "Stuck connections over time".to_string()
        } else {
            format!("Stuck connections over time on {host}")
        }),
        escape(&sentence)
    );
    if !groups.is_empty() {
        let rows: Vec<Vec<String>> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                vec![
                    format!(
                        "<a href=\"#group-{}\">{}{}</a>",
                        i + 1,
                        if g.leak { "LEAK " } else { "" },
                        escape(&g.group.kind_label())
                    ),
                    escape(&g.group.process),
                    format!("<span class=\"mono\">{}</span>", escape(&g.group.target)),
                    escape(g.group.netns.as_deref().unwrap_or("-")),
                    g.first().to_string(),
                    g.last().to_string(),
                    g.peak().to_string(),
                    per_hour(g).map_or("-".to_string(), signed),
                    g.onset.map_or("-".to_string(), |t| escape(&utc(t))),
                ]
            })
            .collect();
        s.push_str("<section id=\"groups\">\n<h2>Groups</h2>\n");
        s.push_str(&table(
            "groups-table",
            &[
                "Group", "Process", "Remote", "Netns", "First", "Last", "Peak", "Per hour", "Onset",
            ],
            &rows,
            &[4, 5, 6, 7],
        ));
        s.push_str("</section>\n<section id=\"growth\">\n<h2>Growth over time</h2>\n");
        for (i, g) in groups.iter().enumerate().take(MAX_CHARTS) {
            let name = format!(
                "{} {} → {}",
                g.group.process,
                g.group.kind_label(),
                g.group.target
            );
            let _ = writeln!(
                s,
                "<article class=\"finding\" id=\"group-{}\"><h3>{}</h3><figure>{}<figcaption>{}</figcaption></figure></article>",
                i + 1,
                escape(&name),
                chart::series_svg(&g.group.past, &g.points, &format!("{name}: stuck connections over time")),
                escape(&format!(
                    "{} to {} stuck over the recording, peak {}{}",
                    g.first(),
                    g.last(),
                    g.peak(),
                    g.onset.map_or(String::new(), |t| format!("; stuck since {} by the evidence", utc(t)))
                ))
            );
        }
        if groups.len() > MAX_CHARTS {
            let _ = writeln!(
                s,
                "<p class=\"muted\">{} smaller groups are in the table only.</p>",
                groups.len() - MAX_CHARTS
            );
        }
        s.push_str("</section>\n");
    }
    s.push_str(&warnings(&recording.warnings));
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(source) = &meta.source {
        rows.push(("Recording", source.clone()));
    }
    rows.push((
        "Samples",
        format!(
            "{}; {} opened, {} closed",
            recording.samples.len(),
            recording.opened,
            recording.closed
        ),
    ));
    if let Some(e) = &recording.ended_by {
        rows.push(("Ended by", e.clone()));
    }
    if recording.bad_lines > 0 {
        let mut text = recording.problems.join("; ");
        if recording.bad_lines > recording.problems.len() {
            let _ = write!(
                text,
                "; {} more",
                recording.bad_lines - recording.problems.len()
            );
        }
        rows.push(("Lines not read", text));
    }
    rows.push(("By", format!("stuckconn {}", meta.version)));
    if let Some(command) = &meta.command {
        rows.push(("Command", command.clone()));
    }
    s.push_str("<footer id=\"collected\">\n<h2>How it was collected</h2>\n<dl class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    }
    s.push_str("</dl>\n</footer>\n</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_markup_and_bidi_inert() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("gpj.\u{202e}exe"), "gpj.\\u{202e}exe");
        assert_eq!(escape("a\u{061c}b\u{2066}c"), "a\\u{061c}b\\u{2066}c");
        assert_eq!(escape("\x1b[2J\n"), "\\x1b[2J\\n");
        assert_eq!(escape("crl.example.com"), "crl.example.com");
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let safe = escape(&all);
        assert!(!safe
            .chars()
            .any(|c| shown_escaped(c) || "<>\"'".contains(c)));
    }

    #[test]
    fn a_recording_is_read_line_by_line() {
        let text = concat!(
            r#"{"schema_version":1,"type":"sample","time":"2012-11-06T17:00:00Z","sample":1,"groups":[{"kind":"hung_call","process":"apache2","netns":null,"netns_label":null,"remote":{"ip":"2001:db8:bad::100","port":80,"hostname":null,"dns":"skipped","dns_verified":false},"local":null,"clients":[],"connections":90,"leak":false,"onset":"2012-11-06T12:03:11Z","history":[90]}],"warnings":["w1"]}"#,
            "\n",
            "not json\n",
            r#"{"schema_version":1,"type":"opened","time":"2012-11-06T17:01:00Z"}"#,
            "\n",
            r#"{"schema_version":1,"type":"sample","time":"2012-11-06T17:01:00Z","sample":2,"groups":[{"kind":"hung_call","process":"apache2","netns":null,"remote":{"ip":"2001:db8:bad::100","port":80,"hostname":"crl.example","dns_verified":true},"local":null,"clients":[],"connections":91,"leak":true,"history":[90,91]}],"warnings":["w1"]}"#,
            "\n",
            r#"{"schema_version":1,"type":"summary","time":"2012-11-06T17:01:30Z","samples":2,"ended_by":"signal","groups":[]}"#,
            "\n"
        );
        let r = WatchRecording::from_ndjson(text);
        assert_eq!(r.samples.len(), 2);
        assert_eq!(r.samples[0].groups[0].target, "[2001:db8:bad::100]:80");
        assert_eq!(
            r.samples[1].groups[0].target,
            "crl.example [2001:db8:bad::100]:80"
        );
        assert_eq!(r.samples[0].groups[0].id(), r.samples[1].groups[0].id());
        assert_eq!(r.samples[0].groups[0].connections, 90);
        assert_eq!((r.opened, r.closed), (1, 0));
        assert_eq!(r.ended_by.as_deref(), Some("signal"));
        assert_eq!(r.warnings, ["w1"]);
        assert_eq!(r.problems, ["line 2: not JSON"]);
        let html = render_watch(&r, &HtmlMeta::default());
        assert!(
            html.contains("went from 90 to 91 stuck (peak 91)"),
            "{html}"
        );
        assert!(html.contains("<polyline class=\"watched\""));
        assert!(html.contains("line 2: not JSON"));
    }

    #[test]
    fn an_empty_recording_says_so() {
        let html = render_watch(&WatchRecording::from_ndjson(""), &HtmlMeta::default());
        assert!(html.contains("The recording holds no sample."));
        assert!(!html.contains("<svg"));
    }
}

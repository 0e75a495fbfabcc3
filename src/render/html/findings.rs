//! The findings: their table, and each finding's section (explanation, history chart, facts,
//! and whatever else the report says of it).

use super::page::{definitions, table};
use super::values::{is_empty, title_of, value_html};
use super::{escape, plural, utc};
use crate::analyze::history::History;
use crate::render::chart;
use crate::report::{
    display_name, human_duration, Client, Finding, FindingProcess, Report, Severity,
};
use jiff::Timestamp;
use serde_json::Value;
use std::fmt::Write;

/// A finding's target in plain text (the HTML escapes it).
pub(super) fn target(f: &Finding) -> String {
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

/// A client and its connections: `192.0.2.7 (web7.example) ×3`.
pub(super) fn client_text(c: &Client) -> String {
    match display_name(&c.name) {
        Some(name) => format!("{} ({name}) ×{}", c.ip, c.connections),
        None => format!("{} ×{}", c.ip, c.connections),
    }
}

/// The finding's kind, coloured by its severity.
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

/// Who holds the connections (pids when few), then who only shares them; HTML.
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

/// The findings are in more than one network namespace: the table says which.
fn spans_namespaces(report: &Report) -> bool {
    crate::render::table::spans_namespaces(
        report
            .findings
            .iter()
            .map(|f| f.netns.as_ref().map(|ns| ns.inode)),
    )
}

/// The findings table: one row each, linked to its section.
pub(super) fn findings_table(report: &Report, histories: &[Option<History>]) -> String {
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

/// What the wire checks saw of a finding's flows.
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

/// Finding fields this page shows in its own way; any other field the report carries (the
/// chain of waits, timeouts, costs, hints ...) is shown as it is, under its title below.
const SHOWN_FIELDS: [&str; 27] = [
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
    "role",
    "waits_on",
    "blocks",
    "timeouts",
    "impact",
    "hints",
];

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

/// One finding's section: its explanation, its history chart, its facts.
pub(super) fn finding_section(
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
        let _ = writeln!(s, "{}", history_figure(h, &title, histories));
    }
    s.push_str(&definitions(facts(report, f)));
    s.push('\n');
    let _ = write!(
        s,
        "<p class=\"muted\">Taken at {}.</p>\n</article>\n",
        escape(&utc(report.taken_at))
    );
    s
}

/// A finding's history chart, on the time axis it shares with the report's other charts,
/// with its words as the caption.
fn history_figure(h: &History, title: &str, histories: &[Option<History>]) -> String {
    format!(
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
    )
}

/// A finding's facts as (title, value) in HTML: those this page shows in its own way, then
/// any other field the report carries (chain of waits, timeouts ...) as it is.
fn facts(report: &Report, f: &Finding) -> Vec<(String, String)> {
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
        let clients: Vec<String> = f.clients.iter().map(client_text).collect();
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
    facts.extend(super::diagnosis::facts(report, f));
    // Whatever else the report says of this finding (chain of waits, timeouts ...).
    if let Ok(Value::Object(fields)) = serde_json::to_value(f) {
        for (key, value) in fields
            .iter()
            .filter(|(k, _)| !SHOWN_FIELDS.contains(&k.as_str()))
        {
            if !is_empty(value) {
                facts.push((escape(&title_of(key)), value_html(value, 0)));
            }
        }
    }
    facts
}

/// The text with its first letter in upper case.
fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

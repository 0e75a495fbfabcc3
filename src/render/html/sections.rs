//! The page's other sections: which process leaks, every connection (`--all`), and whatever
//! else the report carries at its top level.

use super::escape;
use super::findings::client_text;
use super::page::{definitions, table};
use super::values::{is_empty, title_of, value_html};
use crate::report::{human_duration, ConnectionReport, ProcessSummary, Report};
use serde_json::Value;

/// The processes table: the problem findings summed per process.
pub(super) fn processes_table(report: &Report) -> String {
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
            let clients: Vec<String> = p.clients.iter().map(client_text).collect();
            vec![
                escape(&p.name),
                escape(&unit),
                escape(&pids),
                p.hung_call.to_string(),
                p.close_wait.to_string(),
                p.stalled_send.to_string(),
                p.syn_sent.to_string(),
                escape(&p.oldest_idle_secs.map_or("?".to_string(), human_duration)),
                list_cell(&clients),
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

/// A cell of items separated by commas, or `-` when there are none.
fn list_cell(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        escape(&items.join(", "))
    }
}

/// The connections table (`--all`): one row each.
pub(super) fn connections_table(connections: &[ConnectionReport]) -> String {
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
                list_cell(&threads),
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

/// Whatever else the report carries at its top level, as it is; nothing when there is none.
pub(super) fn more_section(report: &Report) -> String {
    let Ok(Value::Object(fields)) = serde_json::to_value(report) else {
        return String::new();
    };
    let more: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, v)| !SHOWN_TOP.contains(&k.as_str()) && !is_empty(v))
        .map(|(k, v)| (escape(&title_of(k)), value_html(v, 0)))
        .collect();
    if more.is_empty() {
        return String::new();
    }
    format!(
        "<section id=\"more\">\n<h2>More</h2>\n{}\n</section>\n",
        definitions(more)
    )
}

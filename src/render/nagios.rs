//! `check`: one status line and perfdata in the Nagios/Icinga plugin convention.

use super::sanitize;
use crate::report::{display_name, Kind, Report};

pub const OK: i32 = 0;
pub const WARNING: i32 = 1;
pub const CRITICAL: i32 = 2;
pub const UNKNOWN: i32 = 3;

#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub warning: usize,
    pub critical: usize,
    /// Compare the largest count of one process, not the total.
    pub per_process: bool,
}

const KINDS: [Kind; 4] = [
    Kind::HungCall,
    Kind::CloseWait,
    Kind::StalledSend,
    Kind::SynSent,
];

/// Text chosen by others, safe inside a status line: escaped, and no `|` (it starts perfdata).
fn plugin_text(text: &str) -> String {
    sanitize(text).replace('|', "/")
}

fn plural(n: usize, kind: Kind) -> String {
    let word = match kind {
        Kind::HungCall => "hung call",
        Kind::CloseWait => "close wait",
        Kind::StalledSend => "stalled send",
        Kind::SynSent => "pending connect",
        _ => "connection",
    };
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The plugin output and its exit status.
pub fn check(report: &Report, t: &Thresholds) -> (i32, String) {
    let count = |k: Kind| report.summary.count(k);
    let total = report.summary.stuck();
    let worst_process = report
        .processes
        .iter()
        .max_by_key(|p| p.hung_call + p.close_wait + p.stalled_send + p.syn_sent);
    let per_process = worst_process.map_or(0, |p| {
        p.hung_call + p.close_wait + p.stalled_send + p.syn_sent
    });
    let measured = if t.per_process { per_process } else { total };
    let (status, word) = if measured >= t.critical {
        (CRITICAL, "CRITICAL")
    } else if measured >= t.warning {
        (WARNING, "WARNING")
    } else {
        (OK, "OK")
    };

    let mut text = if total == 0 {
        format!(
            "no stuck connections ({})",
            crate::text::count(report.summary.sockets, "TCP socket", "TCP sockets")
        )
    } else {
        let counts: Vec<String> = KINDS
            .iter()
            .filter(|&&k| count(k) > 0)
            .map(|&k| plural(count(k), k))
            .collect();
        let mut text = counts.join(", ");
        let biggest = report
            .findings
            .iter()
            .filter(|f| f.kind.is_problem())
            .rev()
            .max_by_key(|f| f.connections);
        if let Some(f) = biggest {
            // The process the most connections are counted for.
            let who = f
                .processes
                .iter()
                .find(|p| p.connections > 0)
                .map_or("?", |p| p.name.as_str());
            let what = match (&f.remote, f.local) {
                (Some(remote), _) => match display_name(&remote.name) {
                    Some(name) => format!("{who} -> {name}:{}", remote.port),
                    None => format!("{who} -> {}", remote.endpoint()),
                },
                (None, Some(local)) => {
                    let n = f.clients.len();
                    let s = if n == 1 { "" } else { "s" };
                    format!("{who} <- {n} client{s} on port {}", local.port)
                }
                (None, None) => who.to_string(),
            };
            text.push_str(&format!(": {what} ({})", f.connections));
        }
        text
    };
    if t.per_process {
        if let Some(p) = worst_process {
            text.push_str(&format!(
                "; most in one process: {} ({per_process})",
                p.name
            ));
        }
    }

    // A plugin that could not see everything must not say OK: a partial scan is UNKNOWN,
    // unless what it did see is already CRITICAL (then it says so, and that it is partial).
    let (status, word) = match (report.partial, status) {
        (false, _) => (status, word),
        (true, CRITICAL) => {
            text.push_str(" (partial scan: there may be more)");
            (CRITICAL, "CRITICAL")
        }
        (true, _) => {
            let why = report
                .warnings
                .iter()
                .find(|w| w.contains("the report is partial"))
                .map_or("the scan was cut short", String::as_str);
            text = format!("partial scan, not everything was seen ({why}); so far: {text}");
            (UNKNOWN, "UNKNOWN")
        }
    };

    let (w, c) = (t.warning, t.critical);
    let mut perf: Vec<String> = KINDS
        .iter()
        .map(|&k| format!("{}={};{w};{c};0", k.key(), count(k)))
        .collect();
    perf.push(format!("stuck={total};{w};{c};0"));
    if t.per_process {
        perf.push(format!("max_per_process={per_process};{w};{c};0"));
    }
    perf.push(format!("idle_pool={};;;0", count(Kind::IdlePool)));
    perf.push(format!("sockets={};;;0", report.summary.sockets));
    perf.push(format!("warnings={};;;0", report.warnings.len()));
    (
        status,
        format!(
            "STUCKCONN {word} - {} | {}\n",
            plugin_text(&text),
            perf.join(" ")
        ),
    )
}

/// The line for an error: status UNKNOWN.
pub fn unknown(message: &str) -> String {
    format!("STUCKCONN UNKNOWN - {}\n", plugin_text(message))
}

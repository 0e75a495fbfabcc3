//! `check`: one status line and perfdata in the Nagios/Icinga plugin convention.

use super::sanitize;
use crate::report::{display_name, Finding, Kind, ProcessSummary, Report, Warning};
use crate::text::count;

/// A plugin's status, and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

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

/// The plugin output and its status.
pub fn check(report: &Report, t: &Thresholds) -> (Status, String) {
    let total = report.summary.stuck();
    let worst = report.processes.iter().max_by_key(|p| p.stuck());
    let per_process = worst.map_or(0, ProcessSummary::stuck);
    let measured = if t.per_process { per_process } else { total };
    let status = if measured >= t.critical {
        Status::Critical
    } else if measured >= t.warning {
        Status::Warning
    } else {
        Status::Ok
    };
    let mut text = counts_text(report);
    if let (true, Some(p)) = (t.per_process, worst) {
        text.push_str(&format!(
            "; most in one process: {} ({per_process})",
            p.name
        ));
    }
    let (status, text) = partial(report, status, text);
    let perf = perfdata(report, t, per_process);
    (
        status,
        format!(
            "STUCKCONN {} - {} | {perf}\n",
            status.word(),
            plugin_text(&text)
        ),
    )
}

/// What is stuck, in words: the counts per kind, and the biggest finding.
fn counts_text(report: &Report) -> String {
    let count_of = |k: Kind| report.summary.count(k);
    if report.summary.stuck() == 0 {
        return format!(
            "no stuck connections ({})",
            count(report.summary.sockets, "TCP socket", "TCP sockets")
        );
    }
    let mut text = KINDS
        .iter()
        .filter(|&&k| count_of(k) > 0)
        .map(|&k| plural(count_of(k), k))
        .collect::<Vec<_>>()
        .join(", ");
    let biggest = report
        .findings
        .iter()
        .filter(|f| f.kind.is_problem())
        .rev()
        .max_by_key(|f| f.connections);
    if let Some(f) = biggest {
        text.push_str(&format!(": {} ({})", who_and_what(f), f.connections));
    }
    text
}

/// `apache2 -> crl.example.com:80`, `python3 <- 3 clients on port 18080`.
fn who_and_what(f: &Finding) -> String {
    // The process the most connections are counted for.
    let who = f
        .processes
        .iter()
        .find(|p| p.connections > 0)
        .map_or("?", |p| p.name.as_str());
    match (&f.remote, f.local) {
        (Some(remote), _) => match display_name(&remote.name) {
            Some(name) => format!("{who} -> {name}:{}", remote.port),
            None => format!("{who} -> {}", remote.endpoint()),
        },
        (None, Some(local)) => format!(
            "{who} <- {} on port {}",
            count(f.clients.len(), "client", "clients"),
            local.port
        ),
        (None, None) => who.to_string(),
    }
}

/// A plugin that could not see everything must not say OK: a partial scan is UNKNOWN,
/// unless what it did see is already CRITICAL (then it says so, and that it is partial).
fn partial(report: &Report, status: Status, text: String) -> (Status, String) {
    match (report.partial, status) {
        (false, _) => (status, text),
        (true, Status::Critical) => (
            Status::Critical,
            format!("{text} (partial scan: there may be more)"),
        ),
        (true, _) => {
            let why = report
                .warnings
                .iter()
                .find_map(|w| match w {
                    Warning::Partial(text) => Some(text.as_str()),
                    _ => None,
                })
                .unwrap_or("the scan was cut short");
            (
                Status::Unknown,
                format!("partial scan, not everything was seen ({why}); so far: {text}"),
            )
        }
    }
}

fn perfdata(report: &Report, t: &Thresholds, per_process: usize) -> String {
    let count_of = |k: Kind| report.summary.count(k);
    let (w, c) = (t.warning, t.critical);
    let mut perf: Vec<String> = KINDS
        .iter()
        .map(|&k| format!("{}={};{w};{c};0", k.key(), count_of(k)))
        .collect();
    perf.push(format!("stuck={};{w};{c};0", report.summary.stuck()));
    if t.per_process {
        perf.push(format!("max_per_process={per_process};{w};{c};0"));
    }
    perf.push(format!("idle_pool={};;;0", count_of(Kind::IdlePool)));
    perf.push(format!("sockets={};;;0", report.summary.sockets));
    perf.push(format!("warnings={};;;0", report.warnings.len()));
    perf.join(" ")
}

/// The line for an error: status UNKNOWN.
pub(crate) fn unknown(message: &str) -> String {
    format!("STUCKCONN UNKNOWN - {}\n", plugin_text(message))
}

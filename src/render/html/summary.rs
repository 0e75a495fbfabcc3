//! The summary sentence at the top of a scan's page: the largest problem, when it began and
//! how it grows, then how much else there is. Plain text (the page escapes it).

use super::findings::target;
use super::{plural, utc};
use crate::analyze::history::{History, Shape};
use crate::report::{human_duration, Finding, Kind, Report, Severity};
use std::fmt::Write;

/// The summary sentence: the largest problem, when it began and how it grows, then how much
/// else there is. Plain text.
pub fn summary_sentence(report: &Report, histories: &[Option<History>]) -> String {
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
        return nothing_stuck(report);
    };
    let mut text = format!(
        "On {} at {}, {}",
        report.host.hostname,
        utc(report.taken_at),
        who_holds_what(top)
    );
    text.push_str(&since_when(
        top,
        histories.get(index).and_then(Option::as_ref),
    ));
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

/// The sentence of a scan without problems: what was checked, and the idle pooled connections.
fn nothing_stuck(report: &Report) -> String {
    let min_idle = human_duration(report.options.min_idle_secs);
    let idle = report.summary.count(Kind::IdlePool);
    let mut text = format!(
        "Nothing stuck on {} at {}: {} checked, none idle ≥ {min_idle} waiting on a reply, none left in CLOSE-WAIT, none stalled or stuck connecting.",
        report.host.hostname,
        utc(report.taken_at),
        plural(report.summary.sockets, "TCP socket", "TCP sockets")
    );
    if idle > 0 {
        let _ = write!(
            text,
            " {} completed their exchanges and wait in keep-alive pools.",
            plural(idle, "idle connection", "idle connections")
        );
    }
    text
}

/// `apache2 holds 111 hung calls to [2001:db8:bad::100]:80`, or for an inbound finding
/// `... accepted on port 443 from 3 clients`.
fn who_holds_what(top: &Finding) -> String {
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
    format!(
        "{} {verb} {} {whom}",
        holders(top),
        kind_noun(top.kind, top.connections),
    )
}

/// When the finding began and how it grows, by its history (or when it went quiet, without
/// one): `, quiet since 12:03 UTC and still growing: ...`. Empty when nothing is known.
fn since_when(top: &Finding, history: Option<&History>) -> String {
    let mut text = String::new();
    let Some(h) = history else {
        if let Some(since) = top.since {
            let _ = write!(text, ", quiet since {}", since.strftime("%H:%M UTC"));
        }
        return text;
    };
    match h.shape {
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
    }
    text
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

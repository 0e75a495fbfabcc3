//! Cells and texts shared by the tables.

use super::{sanitize, Style};
use crate::report::{human_duration, Finding, Kind, Verdict};
use comfy_table::{Attribute, Cell, Color};
use jiff::Timestamp;

pub(super) fn kind_cell(kind: Kind, style: Style) -> Cell {
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
pub(super) fn held_by(f: &Finding) -> String {
    let name = |p: &crate::report::FindingProcess| sanitize(&p.label()).into_owned();
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
pub(super) fn utc_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The lower bound for when a group went quiet: `~14:03`, with the date when it differs.
pub(super) fn since_text(since: Option<Timestamp>, taken_at: Timestamp) -> String {
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
pub(super) fn verdict_cell(f: &Finding, style: Style) -> Cell {
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

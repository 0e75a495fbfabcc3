//! The page of a watch recording: each group's stuck count over the samples, its table and
//! its charts.

use super::page::table;
use super::recording::{GroupId, WatchGroup, WatchRecording};
use super::{escape, plural, utc, HtmlMeta};
use crate::render::chart;
use crate::report::human_duration;
use jiff::Timestamp;
use std::collections::HashMap;
use std::fmt::Write;

/// Charts drawn at most (the table lists every group).
const MAX_CHARTS: usize = 20;

/// One group over the whole recording: its stuck count where a sample lists it (0 at the
/// other samples, never stored: a recording whose groups come and go would otherwise cost
/// samples × groups in time and memory).
pub(super) struct Series {
    pub(super) group: WatchGroup,
    /// (index of the sample, stuck count), in sample order, where a sample lists the group.
    seen: Vec<(usize, usize)>,
    /// The recording's samples: how many, and the times of the first and the last.
    samples: usize,
    span: Option<(Timestamp, Timestamp)>,
    leak: bool,
    onset: Option<Timestamp>,
}

impl Series {
    /// The count at sample `index` (0 when that sample does not list the group).
    fn at(&self, index: usize) -> usize {
        self.seen
            .binary_search_by_key(&index, |p| p.0)
            .map_or(0, |i| self.seen[i].1)
    }
    pub(super) fn first(&self) -> usize {
        self.at(0)
    }
    pub(super) fn last(&self) -> usize {
        self.samples.checked_sub(1).map_or(0, |i| self.at(i))
    }
    pub(super) fn peak(&self) -> usize {
        self.seen.iter().map(|p| p.1).max().unwrap_or(0)
    }
    /// The count at every sample, for a chart.
    pub(super) fn points(&self, recording: &WatchRecording) -> Vec<(Timestamp, usize)> {
        let mut seen = self.seen.iter().peekable();
        recording
            .samples
            .iter()
            .enumerate()
            .map(|(i, sample)| {
                let count = seen.next_if(|p| p.0 == i).map_or(0, |p| p.1);
                (sample.time, count)
            })
            .collect()
    }
}

/// The groups of a recording, each with its stuck count at every sample (0 where a sample
/// does not list it), largest peak first. Linear in the recording's size.
pub(super) fn series(recording: &WatchRecording) -> Vec<Series> {
    let samples = recording.samples.len();
    let span = recording
        .samples
        .first()
        .zip(recording.samples.last())
        .map(|(a, b)| (a.time, b.time));
    let mut out: Vec<Series> = Vec::new();
    let mut index: HashMap<GroupId, usize> = HashMap::new();
    for (i, sample) in recording.samples.iter().enumerate() {
        for g in &sample.groups {
            let at = *index.entry(g.id()).or_insert_with(|| {
                out.push(Series {
                    group: g.clone(),
                    seen: Vec::new(),
                    samples,
                    span,
                    leak: false,
                    onset: None,
                });
                out.len() - 1
            });
            let series = &mut out[at];
            // A sample that lists a group twice: the first counts.
            if series.seen.last().is_some_and(|p| p.0 == i) {
                continue;
            }
            series.seen.push((i, g.connections));
            // The latest names and labels.
            series.group.target.clone_from(&g.target);
            series.leak |= g.leak;
            if let Some(onset) = g.onset {
                series.onset = Some(series.onset.map_or(onset, |o| o.min(onset)));
            }
            if series.group.past.is_empty() && !g.past.is_empty() {
                series.group.past.clone_from(&g.past);
            }
        }
    }
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
    let (first, last) = s.span?;
    let hours = last.duration_since(first).as_secs_f64() / 3600.0;
    (hours > 0.0).then(|| (s.last() as f64 - s.first() as f64) / hours)
}

/// The page's title: `stuckconn watch: HOST, from TIME`.
pub(super) fn title(recording: &WatchRecording) -> String {
    let start = recording.samples.first().map(|s| s.time);
    match (&recording.host, start) {
        (Some(h), Some(t)) => format!("stuckconn watch: {h}, from {}", utc(t)),
        (None, Some(t)) => format!("stuckconn watch, from {}", utc(t)),
        _ => "stuckconn watch".to_string(),
    }
}

/// The summary sentence: how long it watched, and how the largest group grew.
pub(super) fn summary(recording: &WatchRecording, groups: &[Series]) -> String {
    let host = recording.host.clone().unwrap_or_default();
    let (start, end) = (
        recording.samples.first().map(|s| s.time),
        recording.samples.last().map(|s| s.time),
    );
    let (Some(a), Some(b)) = (start, end) else {
        return "The recording holds no sample.".to_string();
    };
    let Some(top) = groups.first() else {
        return format!(
            "Watched for {} ({}, {} to {}): no stuck connections.",
            human_duration(b.duration_since(a).as_secs_f64()),
            plural(recording.samples.len(), "sample", "samples"),
            utc(a),
            utc(b)
        );
    };
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

/// The groups table: one row each, linked to its chart.
pub(super) fn groups_table(groups: &[Series]) -> String {
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
    table(
        "groups-table",
        &[
            "Group", "Process", "Remote", "Netns", "First", "Last", "Peak", "Per hour", "Onset",
        ],
        &rows,
        &[4, 5, 6, 7],
    )
}

/// A chart of each of the largest groups (at most [`MAX_CHARTS`]), then how many were left
/// to the table.
pub(super) fn growth_charts(recording: &WatchRecording, groups: &[Series]) -> String {
    let mut s = String::new();
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
            chart::series_svg(&g.group.past, &g.points(recording), &format!("{name}: stuck connections over time")),
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
    s
}

/// The footer's rows: the recording, its samples and events, how it ended, the lines that
/// could not be read, who wrote the page.
pub(super) fn footer_rows(
    recording: &WatchRecording,
    meta: &HtmlMeta,
) -> Vec<(&'static str, String)> {
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
    rows
}

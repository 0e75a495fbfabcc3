//! Charts of a finding's history (`analyze::history`) and of a watch recording: a one-line
//! text timeline for the table (`▁▁▂▃▅▇█ 12:03 → 17:15`) and inline SVG for the HTML report.
//! Times are UTC, as in the table.
//!
//! Both draw the stuck count over time: the running total of connections gone quiet (what a
//! graph of the past would have shown, less those that closed since); the SVG also draws how
//! many went quiet in each bucket.

use super::html::escape;
use crate::analyze::history::{History, Shape};
use crate::report::human_duration;
use jiff::Timestamp;
use std::fmt::Write;

/// The chart's width when the table is not on a terminal.
pub const DEFAULT_WIDTH: usize = 24;
/// The narrowest chart worth drawing.
const MIN_WIDTH: usize = 8;

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Values as a sparkline scaled to the largest: 0 is `▁`, anything above it at least `▂`,
/// the largest `█`, the others rounded to the nearest step.
pub fn sparkline(values: &[usize]) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let top = (SPARKS.len() - 1) as f64;
    values
        .iter()
        .map(|&v| {
            let level = if v == 0 {
                0
            } else {
                ((v as f64 / max * top).round() as usize).clamp(1, SPARKS.len() - 1)
            };
            SPARKS[level]
        })
        .collect()
}

/// Sums adjacent counts down to at most `width` (source bucket `i` goes to `i * width / len`).
pub fn rebucket(counts: &[usize], width: usize) -> Vec<usize> {
    let width = width.max(1);
    if counts.len() <= width {
        return counts.to_vec();
    }
    let mut out = vec![0; width];
    for (i, &c) in counts.iter().enumerate() {
        out[i * width / counts.len()] += c;
    }
    out
}

/// The running total of counts.
pub fn running_total(counts: &[usize]) -> Vec<usize> {
    counts
        .iter()
        .scan(0, |sum, &c| {
            *sum += c;
            Some(*sum)
        })
        .collect()
}

/// `12:03` on the day of `end`, `11-05 12:03` on another day, `2012-11-05 12:03` in another
/// year (UTC).
pub fn time_label(t: Timestamp, end: Timestamp) -> String {
    let fmt = |t: Timestamp, f: &str| t.strftime(f).to_string();
    if fmt(t, "%Y-%m-%d") == fmt(end, "%Y-%m-%d") {
        fmt(t, "%H:%M")
    } else if fmt(t, "%Y") == fmt(end, "%Y") {
        fmt(t, "%m-%d %H:%M")
    } else {
        fmt(t, "%Y-%m-%d %H:%M")
    }
}

/// The stuck count as a sparkline `width` characters wide at most, then the times it spans:
/// `▁▁▂▃▅▇█ 12:03 → 17:15`.
pub fn timeline_chart(history: &History, width: usize) -> String {
    let counts = rebucket(&history.counts(), width.max(1));
    let stuck = running_total(&counts);
    format!(
        "{} {} → {}",
        sparkline(&stuck),
        time_label(history.onset, history.end),
        time_label(history.end, history.end)
    )
}

/// A rate for people: `21/h`, `2.5/h`.
fn rate(per_hour: f64) -> String {
    if per_hour >= 10.0 || per_hour == per_hour.trunc() {
        format!("{per_hour:.0}/h")
    } else {
        format!("{per_hour:.1}/h")
    }
}

/// What the history says, in words (no chart): `leak since 12:03: 21/h overall, 20 in the
/// last hour`, `steady since 12:03: 30 went quiet by 12:23, none since`, `event at 14:03:05,
/// not a leak: all 100 went quiet within 3s (a network cut, a deploy?)`.
pub fn words(h: &History) -> String {
    let since = time_label(h.onset, h.end);
    let mut text = match h.shape {
        Shape::Leak => {
            let mut t = format!(
                "leak since {since}: {} overall, {} in the last hour",
                rate(h.rate_per_hour),
                h.rate_per_hour_last_hour
            );
            if h.accelerating() {
                t.push_str(", accelerating");
            }
            t
        }
        Shape::Steady => format!(
            "steady since {since}: {} went quiet by {}, none since",
            h.connections,
            time_label(h.latest, h.end)
        ),
        Shape::Event if h.connections == 1 => format!(
            "one connection, quiet since {}",
            h.onset.strftime("%H:%M:%S")
        ),
        Shape::Event => format!(
            "event at {}, not a leak: all {} went quiet within {} (a network cut, a deploy?)",
            h.onset.strftime("%H:%M:%S"),
            h.connections,
            human_duration(h.spread_secs.max(1.0))
        ),
    };
    if h.unknown > 0 {
        let _ = write!(text, "; {} with no idle time", h.unknown);
    }
    text
}

/// The table's timeline line of a finding: the words, then the chart fitted to `width`
/// (the terminal's; `None`: `DEFAULT_WIDTH` characters of chart). The caller indents it.
pub fn timeline_line(h: &History, width: Option<u16>) -> String {
    let words = words(h);
    let labels = format!(
        " {} → {}",
        time_label(h.onset, h.end),
        time_label(h.end, h.end)
    );
    let room = match width {
        Some(w) => usize::from(w)
            .saturating_sub(words.chars().count() + labels.chars().count() + 6)
            .max(MIN_WIDTH),
        None => DEFAULT_WIDTH,
    };
    format!("{words}  {}", timeline_chart(h, room.min(h.buckets.len())))
}

/// The top of a chart's axis for a largest value `n`: `n` rounded up to a fifth of its
/// power of ten (111 -> 120, 72 -> 72, 1234 -> 1400), and to an even number below 10 (so
/// that the middle line is a whole number); at least 2.
fn axis_top(n: usize) -> usize {
    if n < 10 {
        return (n + n % 2).max(2);
    }
    let mut magnitude = 1usize;
    while magnitude <= n / 10 {
        magnitude *= 10;
    }
    let unit = (magnitude / 5).max(1);
    n.div_ceil(unit).saturating_mul(unit)
}

/// A chart's frame: size, margins, axes and their labels.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    /// Seconds since the epoch at the left and right edges.
    t0: f64,
    t1: f64,
    y_max: usize,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;

impl Frame {
    fn new(t0: Timestamp, t1: Timestamp, max: usize) -> Frame {
        let t0 = t0.as_millisecond() as f64 / 1000.0;
        let t1 = (t1.as_millisecond() as f64 / 1000.0).max(t0 + 1.0);
        Frame {
            width: WIDTH,
            height: HEIGHT,
            left: 48.0,
            right: 16.0,
            top: 14.0,
            bottom: 40.0,
            t0,
            t1,
            y_max: axis_top(max),
        }
    }

    fn x_secs(&self, secs: f64) -> f64 {
        let w = self.width - self.left - self.right;
        self.left + (secs - self.t0) / (self.t1 - self.t0) * w
    }

    fn x(&self, t: Timestamp) -> f64 {
        self.x_secs(t.as_millisecond() as f64 / 1000.0)
    }

    fn y(&self, v: usize) -> f64 {
        let h = self.height - self.top - self.bottom;
        self.top + h - v as f64 / self.y_max as f64 * h
    }

    fn baseline(&self) -> f64 {
        self.y(0)
    }

    /// `<svg ...>`, its title, the grid and the axes' labels.
    fn open(&self, class: &str, title: &str, end: Timestamp) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="{class}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><title>{t}</title>"#,
            w = self.width,
            h = self.height,
            t = escape(title)
        );
        for v in [0, self.y_max / 2, self.y_max] {
            let y = self.y(v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{l}" y1="{y:.1}" x2="{r}" y2="{y:.1}"/><text class="axis" x="{tx}" y="{ty:.1}" text-anchor="end">{v}</text>"#,
                l = self.left,
                r = self.width - self.right,
                tx = self.left - 6.0,
                ty = y + 4.0,
            );
        }
        let y = self.height - self.bottom + 16.0;
        let mid = (self.t0 + self.t1) / 2.0;
        let label = |secs: f64| {
            Timestamp::from_millisecond((secs * 1000.0) as i64)
                .map(|t| time_label(t, end))
                .unwrap_or_default()
        };
        for (secs, anchor) in [(self.t0, "start"), (mid, "middle"), (self.t1, "end")] {
            let _ = write!(
                s,
                r#"<text class="axis" x="{x:.1}" y="{y}" text-anchor="{anchor}">{}</text>"#,
                escape(&label(secs)),
                x = self.x_secs(secs),
            );
        }
        s
    }

    fn legend(&self, items: &[(&str, &str)]) -> String {
        let mut s = String::new();
        let mut x = self.left;
        let y = self.height - 6.0;
        for (class, text) in items {
            let _ = write!(
                s,
                r#"<rect class="{class}" x="{x}" y="{}" width="10" height="10"/><text class="legend" x="{}" y="{y}">{}</text>"#,
                y - 9.0,
                x + 14.0,
                escape(text)
            );
            x += 24.0 + 6.5 * text.chars().count() as f64;
        }
        s
    }
}

/// A finding's history as an SVG chart: the stuck count over time (a filled step line) and
/// the connections that went quiet in each bucket (bars), from `axis_from` (the onset, or an
/// earlier time shared by the charts of one report, so that they can be compared) to the
/// collection.
pub fn history_svg(h: &History, title: &str, axis_from: Timestamp) -> String {
    let stuck = running_total(&h.counts());
    let max = stuck.last().copied().unwrap_or(0);
    let f = Frame::new(axis_from.min(h.onset), h.end, max);
    let mut s = f.open("history", title, h.end);
    // The step line: each bucket at the stuck count by its end.
    let step = h.bucket_secs as f64;
    let onset = h.onset.as_millisecond() as f64 / 1000.0;
    let start = |i: usize| f.x_secs(onset + i as f64 * step).min(f.width - f.right);
    let mut d = format!(
        "M{:.1},{:.1} L{:.1},{:.1}",
        f.left,
        f.baseline(),
        start(0),
        f.baseline()
    );
    for (i, &v) in stuck.iter().enumerate() {
        let y = f.y(v);
        let _ = write!(d, " L{:.1},{y:.1} L{:.1},{y:.1}", start(i), start(i + 1));
    }
    let _ = write!(d, " L{:.1},{:.1} Z", start(stuck.len()), f.baseline());
    let _ = write!(s, r#"<path class="stuck" d="{d}"/>"#);
    for (i, b) in h.buckets.iter().enumerate().filter(|(_, b)| b.count > 0) {
        let (x0, x1) = (start(i), start(i + 1));
        let w = ((x1 - x0) * 0.7).max(1.0);
        let y = f.y(b.count);
        let _ = write!(
            s,
            r#"<rect class="new" x="{:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}"><title>{}: {}</title></rect>"#,
            x0 + (x1 - x0 - w) / 2.0,
            (f.baseline() - y).max(0.5),
            escape(&time_label(b.start, h.end)),
            b.count
        );
    }
    let per = format!("went quiet per {}", human_duration(step));
    s.push_str(&f.legend(&[("stuck", "stuck (reconstructed)"), ("new", &per)]));
    s.push_str("</svg>");
    s
}

/// At most `max_points` points: the largest value of each stretch, so that no peak is lost.
fn thin(points: &[(Timestamp, usize)], max_points: usize) -> Vec<(Timestamp, usize)> {
    if points.len() <= max_points || max_points == 0 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max_points);
    points
        .chunks(per)
        .filter_map(|chunk| chunk.iter().max_by_key(|(_, v)| *v).copied())
        .collect()
}

/// A watch group's stuck count over the samples (a solid line), after the stuck count
/// reconstructed before watching began (`past`, dashed), if any.
pub fn series_svg(
    past: &[(Timestamp, usize)],
    samples: &[(Timestamp, usize)],
    title: &str,
) -> String {
    let samples = thin(samples, 600);
    let past = thin(past, 200);
    let all = || past.iter().chain(samples.iter());
    let (Some(t0), Some(t1)) = (all().map(|p| p.0).min(), all().map(|p| p.0).max()) else {
        return String::new();
    };
    let max = all().map(|p| p.1).max().unwrap_or(0);
    let f = Frame::new(t0, t1, max);
    let mut s = f.open("series", title, t1);
    let line = |points: &[(Timestamp, usize)]| {
        points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", f.x(t), f.y(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !past.is_empty() {
        // Joined to the first sample, so that the two read as one line.
        let mut joined = past.clone();
        joined.extend(samples.first().copied());
        let _ = write!(s, r#"<polyline class="past" points="{}"/>"#, line(&joined));
    }
    let _ = write!(
        s,
        r#"<polyline class="watched" points="{}"/>"#,
        line(&samples)
    );
    if samples.len() == 1 {
        let (t, v) = samples[0];
        let _ = write!(
            s,
            r#"<circle class="watched" cx="{:.1}" cy="{:.1}" r="3"/>"#,
            f.x(t),
            f.y(v)
        );
    }
    let mut legend = vec![("watched", "stuck, as watched")];
    if !past.is_empty() {
        legend.push(("past", "before watching (reconstructed)"));
    }
    s.push_str(&f.legend(&legend));
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests;

//! `watch` on a terminal: the groups as a table, redrawn in place each interval, with a
//! sparkline of each group's stuck count over the samples so far.

use super::{sanitize, Style};
use crate::analyze::track::GroupSample;
use crate::report::human_duration;
use std::fmt::Write;

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A group's trend: the reconstructed past (squeezed into the first half) and the samples
/// so far, so that the first frame already shows the hours before watching began.
fn trend(g: &GroupSample) -> String {
    if g.past_counts.is_empty() {
        return sparkline(&g.history, 30);
    }
    let samples = g.history.len().min(15);
    // The past's values are levels (stuck counts), not counts to add: keep each new
    // bucket's last level.
    let width = 30 - samples;
    let n = g.past_counts.len();
    let past: Vec<usize> = if n <= width {
        g.past_counts.clone()
    } else {
        (1..=width)
            .map(|i| g.past_counts[i * n / width - 1])
            .collect()
    };
    let values: Vec<usize> = past
        .into_iter()
        .chain(g.history[g.history.len() - samples..].iter().copied())
        .collect();
    sparkline(&values, 30)
}

/// The last `width` values as a sparkline, scaled to the largest.
pub(crate) fn sparkline(values: &[usize], width: usize) -> String {
    let shown = &values[values.len().saturating_sub(width)..];
    let max = shown.iter().copied().max().unwrap_or(0).max(1);
    shown
        .iter()
        .map(|&v| SPARKS[(v * (SPARKS.len() - 1)).div_ceil(max).min(SPARKS.len() - 1)])
        .collect()
}

/// The line above the table.
pub(crate) struct Header {
    pub(crate) hostname: String,
    /// Samples taken so far.
    pub(crate) samples: usize,
    pub(crate) interval: std::time::Duration,
    /// Stuck connections in the latest sample.
    pub(crate) stuck: usize,
    pub(crate) min_idle: std::time::Duration,
    /// When the latest sample was taken.
    pub(crate) time: jiff::Timestamp,
}

impl std::fmt::Display for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} · sample {} every {} · {} stuck now (idle ≥ {}) · {} · Ctrl-C to stop",
            sanitize(&self.hostname),
            self.samples,
            humantime::format_duration(self.interval),
            self.stuck,
            human_duration(self.min_idle.as_secs_f64()),
            self.time.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
    }
}

/// The screen watch leaves behind when it ends: the last table and how watching went.
pub(crate) fn last_screen(
    header: &str,
    groups: &[GroupSample],
    style: Style,
    samples: usize,
    watched: std::time::Duration,
    ended_by: &str,
) -> String {
    screen(header, groups, style, false)
        + &format!(
            "\nWatched {samples} samples over {}; ended by {ended_by}.\n",
            human_duration(watched.as_secs_f64())
        )
}

/// The whole screen: clear, header, groups.
pub fn screen(header: &str, groups: &[GroupSample], style: Style, clear: bool) -> String {
    let mut out = String::new();
    if clear {
        out.push_str("\x1b[H\x1b[2J");
    }
    let _ = writeln!(out, "{header}\n");
    if groups.is_empty() {
        out.push_str("No stuck connections so far.\n");
        return out;
    }
    // The namespace column as in scan's findings table: when the groups span more than one.
    let show_netns = super::table::spans_namespaces(groups.iter().map(|g| g.netns));
    let mut header = vec!["GROUP"];
    if show_netns {
        header.push("NETNS");
    }
    header.extend([
        "PROCESS",
        "REMOTE",
        "NOW",
        "TREND",
        "OPENED/MIN",
        "CLOSED/MIN",
        "GROWTH/MIN",
        "OLDEST",
        "SINCE",
    ]);
    let mut table = super::table::new_table(style, &header);
    for g in groups {
        let remote = super::table::target_text(g.remote.as_ref(), g.local, &g.clients);
        let kind = if g.leak {
            format!("LEAK {}", g.kind.label())
        } else {
            g.kind.label().to_string()
        };
        let mut row = vec![kind];
        if show_netns {
            row.push(sanitize(g.netns_label.as_deref().unwrap_or("-")).into_owned());
        }
        row.extend([
            sanitize(&g.process).into_owned(),
            remote,
            g.connections.to_string(),
            trend(g),
            format!("{:.1}", g.opened_per_min),
            format!("{:.1}", g.closed_per_min),
            format!("{:+.1}", g.growth_per_min),
            g.oldest_idle_secs.map_or("-".to_string(), human_duration),
            g.onset
                .map_or("-".to_string(), |t| t.strftime("~%H:%M:%S").to_string()),
        ]);
        table.add_row(row);
    }
    out.push_str(&super::table::trimmed(&table));
    out
}

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn sparkline_scales_to_the_largest() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 10), "▁▂▃▅█");
        assert_eq!(sparkline(&[0, 0, 0], 10), "▁▁▁");
        assert_eq!(sparkline(&[1, 2, 3, 4], 2).chars().count(), 2);
    }
}

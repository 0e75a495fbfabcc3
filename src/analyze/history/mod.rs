//! The leak's history from one scan. Every stuck connection's idle time says when it went
//! quiet (collection time minus idle time): the distribution of those moments is the
//! finding's timeline: when it began (`onset`), how fast it grew (`rate_per_hour`, over the
//! whole span and over the last hour), and its `shape`. Pure: it is fed idle times and the
//! collection time.
//!
//! The idle time is the report's `idle_secs` of each connection: for hung calls and
//! CLOSE-WAIT, since data last moved in either direction; for stalled sends, since the last
//! ACK. Connections with no idle time (no tcp_info, a pending connect) are counted in
//! `unknown` and left out of the timeline.
//!
//! The kernel keeps these times in 32-bit jiffies: they wrap after about 49.7 days, so a
//! connection quiet for longer looks younger than it is (its onset is too late), and no single
//! scan can tell. An idle time beyond the 32-bit range (more than 4,294,967.295 s) cannot come
//! from the kernel: a snapshot that says so is not trusted, and the time is counted as unknown.
//!
//! The shapes (thresholds are the constants below):
//! - `event`: every onset falls within a short window of the first: 2% of the time since the
//!   first onset, at least 10 s and at most 2 min. Connections that all went quiet at one
//!   moment were cut by one thing (a network cut, a deploy, a restarted peer), not leaked one
//!   by one. A single connection is an `event` too: one moment.
//! - `leak`: spread over time and still coming: split the span from the first onset to the
//!   last moment an onset could be seen (collection time minus `--min-idle`, the youngest a
//!   stuck connection can be) in two halves; the recent half holds at least half as many onsets
//!   as the older half (a constant or growing rate). At least 3 connections.
//! - `steady`: spread over time, but the recent half holds less than half as many onsets as
//!   the older half (the population filled and stopped growing: a pool stuck once and kept),
//!   or too few connections (2) to call a leak.

pub use crate::report::{Bucket, History, Shape};
use crate::report::{ConnectionReport, Finding, FindingKey, Report};
use jiff::{SignedDuration, Timestamp};

/// Buckets of the JSON timeline (the table re-buckets them to the terminal's width).
pub const BUCKETS: usize = 48;
/// At most this many buckets, whatever is asked.
pub const MAX_BUCKETS: usize = 1000;
/// The event window: this fraction of the time since the first onset ...
pub const EVENT_SPAN_FRACTION: f64 = 0.02;
/// ... but at least this many seconds ...
pub const EVENT_MIN_SECS: f64 = 10.0;
/// ... and at most this many.
pub const EVENT_MAX_SECS: f64 = 120.0;
/// A leak needs at least this many connections.
pub const LEAK_MIN_CONNECTIONS: usize = 3;
/// A leak's recent half holds at least this fraction of its older half's onsets.
pub const LEAK_RECENT_RATIO: f64 = 0.5;
/// The largest idle time the kernel can report: 2^32 - 1 ms.
pub const MAX_IDLE_SECS: f64 = u32::MAX as f64 / 1000.0;
pub use crate::report::history::{ACCELERATING_MIN_SPAN_SECS, ACCELERATING_RATIO};

/// The history of some connections collected at `taken_at` with `--min-idle min_idle_secs`,
/// in at most `buckets` buckets (see `BUCKETS`). `None` when none has a known idle time.
pub fn reconstruct(
    connections: &[&ConnectionReport],
    taken_at: Timestamp,
    min_idle_secs: f64,
    buckets: usize,
) -> Option<History> {
    reconstruct_idle(
        connections.iter().map(|c| c.idle_secs),
        taken_at,
        min_idle_secs,
        buckets,
    )
}

/// The history of one finding of a report: its connections are those of `report.connections`
/// with the finding's key.
pub fn of_finding(report: &Report, finding: &Finding, buckets: usize) -> Option<History> {
    let connections: Vec<&ConnectionReport> = report
        .connections
        .iter()
        .filter(|c| FindingKey::of(c) == finding.key)
        .collect();
    reconstruct(
        &connections,
        report.taken_at,
        report.options.min_idle_secs,
        buckets,
    )
}

/// The history of every finding of a report, in the order of `report.findings` (one pass over
/// the connections: what the enrich step calls).
pub fn of_report(report: &Report, buckets: usize) -> Vec<Option<History>> {
    let mut by_key: crate::seeded::HashMap<FindingKey, Vec<&ConnectionReport>> = Default::default();
    for c in &report.connections {
        by_key.entry(FindingKey::of(c)).or_default().push(c);
    }
    report
        .findings
        .iter()
        .map(|f| {
            let connections = by_key.get(&f.key).map_or(&[][..], Vec::as_slice);
            reconstruct(
                connections,
                report.taken_at,
                report.options.min_idle_secs,
                buckets,
            )
        })
        .collect()
}

/// The same from bare idle times (seconds; `None` when unknown).
pub fn reconstruct_idle(
    idle_secs: impl IntoIterator<Item = Option<f64>>,
    taken_at: Timestamp,
    min_idle_secs: f64,
    buckets: usize,
) -> Option<History> {
    let mut ago: Vec<f64> = Vec::new();
    let mut unknown = 0;
    for idle in idle_secs {
        match idle {
            Some(s) if s.is_finite() && (0.0..=MAX_IDLE_SECS).contains(&s) => ago.push(s),
            _ => unknown += 1,
        }
    }
    if ago.is_empty() {
        return None;
    }
    // Seconds before `taken_at`, oldest first.
    ago.sort_by(|a, b| b.total_cmp(a));
    let oldest = ago[0];
    let youngest = ago[ago.len() - 1];
    let onset = crate::report::seconds_before(taken_at, oldest)?;
    let latest = crate::report::seconds_before(taken_at, youngest)?;
    let span = taken_at.duration_since(onset).as_secs_f64().max(0.0);

    let wanted = buckets.clamp(1, MAX_BUCKETS);
    let bucket_secs = ((span / wanted as f64).ceil() as u64).max(1);
    let n_buckets = ((span / bucket_secs as f64).ceil() as usize).clamp(1, wanted);
    let mut counts = vec![0usize; n_buckets];
    for &a in &ago {
        let after_onset = (span - a).max(0.0);
        let i = ((after_onset / bucket_secs as f64) as usize).min(n_buckets - 1);
        counts[i] += 1;
    }
    let mut stuck = 0;
    let buckets = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            stuck += count;
            let offset = SignedDuration::from_secs(i64::try_from(i as u64 * bucket_secs).ok()?);
            Some(Bucket {
                start: onset.checked_add(offset).ok()?,
                count,
                stuck,
            })
        })
        .collect::<Option<Vec<Bucket>>>()?;

    let n = ago.len();
    let rate_per_hour = round2(n as f64 * 3600.0 / span.max(1.0));
    let last_hour = ago.iter().filter(|&&a| a <= 3600.0).count();
    let spread = oldest - youngest;
    let shape = shape(&ago, min_idle_secs);
    Some(History {
        onset,
        latest,
        end: taken_at,
        spread_secs: round2(spread),
        bucket_secs,
        buckets,
        rate_per_hour,
        rate_per_hour_last_hour: last_hour as f64,
        shape,
        connections: n,
        unknown,
    })
}

/// The window within which onsets make an event, for a first onset `oldest` seconds ago.
pub fn event_window_secs(oldest: f64) -> f64 {
    (EVENT_SPAN_FRACTION * oldest).clamp(EVENT_MIN_SECS, EVENT_MAX_SECS)
}

/// The shape of onsets given as seconds before collection, oldest first (see the module's
/// documentation).
fn shape(ago: &[f64], min_idle_secs: f64) -> Shape {
    let (oldest, youngest) = (ago[0], ago[ago.len() - 1]);
    if oldest - youngest <= event_window_secs(oldest) {
        return Shape::Event;
    }
    if ago.len() < LEAK_MIN_CONNECTIONS {
        return Shape::Steady;
    }
    // The youngest a stuck connection can be: an onset could be seen up to then.
    let min_idle = if min_idle_secs.is_finite() {
        min_idle_secs.max(0.0)
    } else {
        0.0
    };
    let last_visible = youngest.min(min_idle);
    let middle = (oldest + last_visible) / 2.0;
    let older = ago.iter().filter(|&&a| a > middle).count();
    let recent = ago.len() - older;
    if recent as f64 >= LEAK_RECENT_RATIO * older as f64 {
        Shape::Leak
    } else {
        Shape::Steady
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests;

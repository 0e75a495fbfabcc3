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
    let mut by_key: std::collections::HashMap<FindingKey, Vec<&ConnectionReport>> =
        Default::default();
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
mod tests {
    use super::*;
    use crate::report::{Direction, Kind};
    use crate::snapshot::{Endpoint, TcpState};

    const TAKEN_AT: &str = "2012-11-06T17:15:11Z";

    fn taken_at() -> Timestamp {
        TAKEN_AT.parse().unwrap()
    }

    fn conn(idle_secs: Option<f64>) -> ConnectionReport {
        ConnectionReport {
            kind: Kind::HungCall,
            netns: None,
            state: TcpState::Established,
            direction: Direction::Outbound,
            local: Endpoint {
                ip: "192.0.2.10".parse().unwrap(),
                port: 40000,
            },
            remote: Endpoint {
                ip: "192.0.2.100".parse().unwrap(),
                port: 80,
            },
            pid: Some(1000),
            fd: Some(10),
            process: Some("apache2".into()),
            owners: vec![],
            idle_secs,
            bytes_sent: Some(73),
            bytes_received: Some(0),
            recv_q: 0,
            send_q: 0,
            unacked: Some(0),
            retransmits: Some(0),
            blocked_threads: vec![],
            capture: None,
            confirm: None,
            timeouts: None,
            cookie: None,
            inode: 1,
            uid: 0,
            index: 0,
        }
    }

    fn history(idle: &[f64], min_idle: f64) -> History {
        let conns: Vec<ConnectionReport> = idle.iter().map(|&s| conn(Some(s))).collect();
        let refs: Vec<&ConnectionReport> = conns.iter().collect();
        reconstruct(&refs, taken_at(), min_idle, BUCKETS).expect("a history")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_steady_leak_is_a_leak_with_its_rate() {
        // One new stuck connection every 5 minutes for 6 hours: 72 connections, the youngest
        // 5 minutes old (the scan's --min-idle 1m could not see it sooner).
        let idle: Vec<f64> = (1..=72).map(|k| f64::from(k) * 300.0).collect();
        let h = history(&idle, 60.0);
        assert_eq!(h.shape, Shape::Leak);
        assert_eq!(h.onset, at("2012-11-06T11:15:11Z"), "taken_at minus 6 h");
        assert_eq!(h.latest, at("2012-11-06T17:10:11Z"));
        assert_eq!(h.end, taken_at());
        assert_eq!(h.connections, 72);
        assert_eq!(h.unknown, 0);
        assert_eq!(h.rate_per_hour, 12.0, "72 in 6 h");
        assert_eq!(h.rate_per_hour_last_hour, 12.0, "idle 300 s to 3600 s");
        assert!(!h.accelerating());
        // 6 h in 48 buckets of 450 s: the counts are flat (one every 300 s), the stuck count
        // grows to 72.
        assert_eq!(h.bucket_secs, 450);
        assert_eq!(h.buckets.len(), 48);
        assert_eq!(h.buckets[0].start, h.onset);
        assert_eq!(h.buckets[1].start, at("2012-11-06T11:22:41Z"));
        assert_eq!(h.buckets.iter().map(|b| b.count).sum::<usize>(), 72);
        assert!(h.buckets.iter().all(|b| (1..=2).contains(&b.count)));
        assert_eq!(h.buckets.last().unwrap().stuck, 72);
        assert!(h.buckets.windows(2).all(|w| w[0].stuck <= w[1].stuck));
    }

    #[test]
    fn a_burst_is_an_event() {
        // 100 connections that went quiet within 3 s, two hours ago: a network cut.
        let idle: Vec<f64> = (0..100).map(|k| 7200.0 + f64::from(k) * 0.03).collect();
        let h = history(&idle, 60.0);
        assert_eq!(h.shape, Shape::Event);
        assert_eq!(h.connections, 100);
        assert!(h.spread_secs <= 3.0, "{}", h.spread_secs);
        assert_eq!(h.rate_per_hour_last_hour, 0.0);
        // Every one in the first bucket: the stuck count jumps at once and stays.
        assert_eq!(h.buckets[0].count, 100);
        assert!(h.buckets.iter().all(|b| b.stuck == 100));
    }

    #[test]
    fn a_burst_stays_an_event_a_day_later_but_an_hour_of_onsets_does_not() {
        // The window grows with the time since onset (2%), capped at 2 minutes.
        let day = 86_400.0;
        let burst: Vec<f64> = (0..20).map(|k| day + f64::from(k) * 5.0).collect();
        assert_eq!(history(&burst, 60.0).shape, Shape::Event, "95 s, a day ago");
        let slow: Vec<f64> = (0..20).map(|k| day + f64::from(k) * 180.0).collect();
        assert_ne!(history(&slow, 60.0).shape, Shape::Event, "57 min");
        // Ten seconds at least, even just after the onset.
        let fresh = [70.0, 65.0, 61.0];
        assert_eq!(history(&fresh, 60.0).shape, Shape::Event);
    }

    #[test]
    fn a_pool_stuck_once_and_kept_is_steady() {
        // 30 connections went quiet over 20 minutes five hours ago; nothing since.
        let idle: Vec<f64> = (0..30).map(|k| 18_000.0 - f64::from(k) * 40.0).collect();
        let h = history(&idle, 60.0);
        assert_eq!(h.shape, Shape::Steady);
        assert_eq!(h.rate_per_hour_last_hour, 0.0);
        let stuck: Vec<usize> = h.buckets.iter().map(|b| b.stuck).collect();
        assert_eq!(stuck[0..5], [10, 19, 29, 30, 30], "{stuck:?}");
        assert_eq!(*stuck.last().unwrap(), 30);
    }

    #[test]
    fn a_leak_that_stopped_is_steady() {
        // One every 5 minutes for 3 hours, then nothing for the last 4 hours.
        let idle: Vec<f64> = (0..36).map(|k| 25_200.0 - f64::from(k) * 300.0).collect();
        assert_eq!(history(&idle, 60.0).shape, Shape::Steady);
    }

    #[test]
    fn two_overlapping_leaks_in_one_finding_accelerate() {
        // One finding, two phases: a slow leak (one every 30 min since 10:15) joined at 15:15
        // by a fast one (one every 2 min), both still running at 17:15.
        let slow: Vec<f64> = (1..=14).map(|k| f64::from(k) * 1800.0).collect();
        let fast: Vec<f64> = (1..=60).map(|k| f64::from(k) * 120.0).collect();
        let idle: Vec<f64> = slow.iter().chain(&fast).copied().collect();
        let h = history(&idle, 60.0);
        assert_eq!(h.shape, Shape::Leak);
        assert_eq!(h.onset, at("2012-11-06T10:15:11Z"));
        assert_eq!(h.connections, 74);
        // 74 in 7 h; the last hour: 30 fast + 2 slow.
        assert_eq!(h.rate_per_hour, 10.57);
        assert_eq!(h.rate_per_hour_last_hour, 32.0);
        assert!(h.accelerating());
        // The buckets show both phases: at most one onset per bucket before 15:15, four or
        // more in each bucket after it.
        let second_phase = at("2012-11-06T15:15:11Z");
        let width = SignedDuration::from_secs(h.bucket_secs as i64);
        for b in &h.buckets {
            let end = b.start.checked_add(width).unwrap();
            if end <= second_phase {
                assert!(b.count <= 1, "{b:?}");
            } else if b.start >= second_phase {
                assert!(b.count >= 4, "{b:?}");
            }
        }
    }

    #[test]
    fn a_steady_leak_is_not_accelerating() {
        let idle: Vec<f64> = (1..=72).map(|k| f64::from(k) * 300.0).collect();
        assert!(!history(&idle, 60.0).accelerating());
    }

    #[test]
    fn one_connection_is_an_event_and_two_are_not_a_leak() {
        let h = history(&[600.0], 60.0);
        assert_eq!(h.shape, Shape::Event);
        assert_eq!(h.onset, h.latest);
        assert_eq!(h.connections, 1);
        assert_eq!(h.buckets.iter().map(|b| b.count).sum::<usize>(), 1);
        assert_eq!(history(&[7200.0, 600.0], 60.0).shape, Shape::Steady);
        assert_eq!(history(&[7200.0, 3000.0, 600.0], 60.0).shape, Shape::Leak);
    }

    #[test]
    fn unknown_idle_times_are_counted_apart() {
        let conns = [conn(None), conn(Some(600.0)), conn(Some(f64::NAN))];
        let refs: Vec<&ConnectionReport> = conns.iter().collect();
        let h = reconstruct(&refs, taken_at(), 60.0, BUCKETS).unwrap();
        assert_eq!((h.connections, h.unknown), (1, 2));
        let none = [conn(None), conn(Some(-1.0))];
        let refs: Vec<&ConnectionReport> = none.iter().collect();
        assert_eq!(reconstruct(&refs, taken_at(), 60.0, BUCKETS), None);
        assert_eq!(reconstruct(&[], taken_at(), 60.0, BUCKETS), None);
    }

    #[test]
    fn idle_times_no_kernel_can_report_are_unknown() {
        // 49.7 days is the most 32-bit jiffies hold; a connection quiet longer wraps (and looks
        // younger: one scan cannot tell). A snapshot claiming more is not believed.
        let h = history(&[MAX_IDLE_SECS, 600.0], 60.0);
        assert_eq!(h.connections, 2);
        assert_eq!(
            h.onset,
            at("2012-09-18T00:12:23Z"),
            "49 d 17 h 2 min 48 s earlier"
        );
        let h = reconstruct_idle(
            [
                Some(MAX_IDLE_SECS + 1.0),
                Some(1e300),
                Some(f64::INFINITY),
                Some(600.0),
            ],
            taken_at(),
            60.0,
            BUCKETS,
        )
        .unwrap();
        assert_eq!((h.connections, h.unknown), (1, 3));
    }

    #[test]
    fn bucket_counts_are_bounded_and_never_zero() {
        let idle = [5000.0, 100.0];
        let h = reconstruct_idle(idle.map(Some), taken_at(), 60.0, 0).unwrap();
        assert_eq!(h.buckets.len(), 1);
        assert_eq!(h.buckets[0].count, 2);
        let h = reconstruct_idle(idle.map(Some), taken_at(), 60.0, usize::MAX).unwrap();
        assert!(h.buckets.len() <= MAX_BUCKETS);
        assert_eq!(h.buckets.iter().map(|b| b.count).sum::<usize>(), 2);
        // Idle 0 (just quiet): one bucket of one second.
        let h = reconstruct_idle([Some(0.0)], taken_at(), 0.0, BUCKETS).unwrap();
        assert_eq!((h.buckets.len(), h.bucket_secs), (1, 1));
        // A collection time at the start of time: no history rather than a wrapped one.
        assert_eq!(
            reconstruct_idle([Some(600.0)], Timestamp::MIN, 60.0, BUCKETS),
            None
        );
    }

    #[test]
    fn serializes_as_the_json_contract() {
        let h = history(&[7200.0, 3600.0, 600.0], 60.0);
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(v["onset"], "2012-11-06T15:15:11Z");
        assert_eq!(v["shape"], "leak");
        assert!(v["rate_per_hour"].is_f64());
        assert!(v["rate_per_hour_last_hour"].is_f64());
        assert_eq!(v["buckets"][0]["start"], "2012-11-06T15:15:11Z");
        assert_eq!(v["buckets"][0]["count"], 1);
        assert_eq!(serde_json::to_value(Shape::Event).unwrap(), "event");
        assert_eq!(serde_json::to_value(Shape::Steady).unwrap(), "steady");
    }
}

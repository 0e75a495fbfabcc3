//! Unit tests of the history reconstructed from one scan.

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
        owners: Default::default(),
        idle_secs,
        bytes_sent: Some(73),
        bytes_received: Some(0),
        recv_q: 0,
        send_q: 0,
        unacked: Some(0),
        retransmits: Some(0),
        blocked_threads: Default::default(),
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

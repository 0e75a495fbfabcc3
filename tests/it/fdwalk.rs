//! The fast fd walk (`collect::fdwalk`) against the procfs walk it replaces
//! (`collect::procs::attribute_with_procfs`): the same owners for every socket of a bed full of processes
//! and sockets, shared sockets included; processes that vanish mid-walk are counted, never a
//! panic.

use crate::common::*;
use std::time::{Duration, Instant};
use stuckconn::collect::{fdwalk, netns, procs};
use stuckconn::deadline::Deadline;
use stuckconn::snapshot::Connection;

/// The bed's sockets, as a live scan dumps them.
fn sockets_of(bed: &Bed) -> Vec<Connection> {
    let mut warnings = Vec::new();
    let selection = netns::Selection::Chosen(vec![netns::Choice::Name(bed.name().to_string())]);
    let targets = netns::targets(&selection, &mut warnings).expect("the bed's namespace");
    assert_eq!(targets.len(), 1, "{warnings:?}");
    netns::dump(&targets[0])
        .expect("sock_diag dump")
        .connections
}

/// Each socket's owners, sorted, by inode (sockets without an inode left out).
fn owners(connections: &[Connection]) -> Vec<(u32, Vec<(u32, u32)>)> {
    let mut all: Vec<(u32, Vec<(u32, u32)>)> = connections
        .iter()
        .filter(|c| c.inode != 0)
        .map(|c| {
            let mut o: Vec<(u32, u32)> = c.owners().iter().map(|o| (o.pid, o.fd)).collect();
            o.sort_unstable();
            (c.inode, o)
        })
        .collect();
    all.sort_unstable();
    all
}

#[test]
fn the_fast_walk_finds_what_the_procfs_walk_finds() {
    let Some(bed) = Bed::new("fdwalk-same", &[]) else {
        return;
    };
    let sink = bed.testbed(&["sink"]);
    let port = sink.port().to_string();
    // 30 processes of 25 connections each, a listener, and a socket that a parent and its
    // child both hold (two owners).
    let holds: Vec<Proc> = (0..30)
        .map(|_| bed.testbed(&["hold", &port, "25"]))
        .collect();
    let server = bed.testbed(&["blackhole"]);
    let parent = bed.testbed(&["fork-reader", &server.port().to_string()]);
    let child: u32 = parent
        .line
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected `ready PID`, got {:?}", parent.line));

    let dumped = sockets_of(&bed);
    let mut slow = dumped.clone();
    let mut fast = dumped;
    let mut slow_stats = procs::PassStats::default();
    let mut fast_stats = procs::PassStats::default();
    let slow_holders = procs::attribute_with_procfs(&mut slow, &mut slow_stats, &Deadline::none());
    let (fast_holders, counts) =
        fdwalk::attribute_counted(&mut fast, &mut fast_stats, &Deadline::none());

    // The same owners for every socket, and the same holders in the same order.
    assert_eq!(owners(&fast), owners(&slow));
    assert_eq!(fast_holders, slow_holders);
    assert!(!fast_stats.cut_short && !slow_stats.cut_short);
    assert_eq!(fast_stats.denied, 0, "root reads every fd table");

    // And they are right, not just alike: every process of the bed holds its sockets.
    let mut expected: Vec<u32> = holds.iter().map(Proc::pid).collect();
    expected.extend([sink.pid(), server.pid(), parent.pid(), child]);
    expected.sort_unstable();
    assert_eq!(fast_holders, expected);
    for hold in &holds {
        let held = fast
            .iter()
            .filter(|c| c.owners().iter().any(|o| o.pid == hold.pid()))
            .count();
        assert_eq!(held, 25, "hold {} holds 25 connections", hold.pid());
    }
    let sink_port: u16 = port.parse().unwrap();
    let accepted = fast
        .iter()
        .filter(|c| c.local().port == sink_port && c.owners().iter().any(|o| o.pid == sink.pid()))
        .count();
    assert_eq!(
        accepted,
        30 * 25 + 1,
        "every accepted connection and the listener"
    );
    let shared: Vec<&Connection> = fast.iter().filter(|c| c.owners().len() == 2).collect();
    assert_eq!(shared.len(), 1, "the fork-reader's socket has two owners");
    let mut pids: Vec<u32> = shared[0].owners().iter().map(|o| o.pid).collect();
    pids.sort_unstable();
    let mut want = vec![parent.pid(), child];
    want.sort_unstable();
    assert_eq!(pids, want);
    // What the walk says it did covers the bed (and whatever else the host runs).
    assert!(counts.matched >= 2 * 30 * 25 + 3, "{counts:?}");
    assert!(counts.fds >= counts.sockets && counts.sockets >= counts.matched);

    // A scan walks on two threads at once (each takes the next process not yet taken): the
    // same owners as one thread.
    let mut shared = sockets_of(&bed);
    let mut stats = procs::PassStats::default();
    let walk = fdwalk::Walk::list(c"/proc", &mut stats).expect("/proc is listed");
    let (mut fds, other) = std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            let mut stats = procs::PassStats::default();
            (walk.walk(&mut stats, &Deadline::none()), stats)
        });
        let mine = walk.walk(&mut stats, &Deadline::none());
        (mine, other.join().unwrap())
    });
    fds.absorb(other.0);
    stats.absorb(other.1);
    let (holders, _) = fds.assign(&mut shared);
    assert_eq!(owners(&shared), owners(&fast));
    assert_eq!(holders, fast_holders);
    assert!(!stats.cut_short);
}

#[test]
fn processes_that_vanish_mid_walk_are_counted() {
    let Some(bed) = Bed::new("fdwalk-churn", &[]) else {
        return;
    };
    let server = bed.testbed(&["blackhole"]);
    let port = server.port().to_string();
    let hung = bed.testbed(&["hung-recv", &port]);
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("forks");
    let _storm = bed.testbed(&["fork-churn", &port, counter.to_str().unwrap()]);

    // Walk again and again while children fork, connect and exit, until one walk has seen a
    // process go (or 20 s pass): the stable socket keeps its owner in every walk.
    let started = Instant::now();
    let mut vanished = 0;
    let mut walks = 0;
    while vanished == 0 && started.elapsed() < Duration::from_secs(20) {
        let mut connections = sockets_of(&bed);
        let mut stats = procs::PassStats::default();
        let holders = fdwalk::attribute(&mut connections, &mut stats, &Deadline::none());
        walks += 1;
        assert!(!stats.cut_short);
        assert!(holders.contains(&hung.pid()), "walk {walks}");
        let mine: Vec<&Connection> = connections
            .iter()
            .filter(|c| c.owners().iter().any(|o| o.pid == hung.pid()))
            .collect();
        assert_eq!(
            mine.len(),
            1,
            "walk {walks}: the hung call, held by its process"
        );
        vanished += stats.vanished;
    }
    assert!(
        vanished > 0,
        "no process vanished in {walks} walks of a fork storm: the count is not kept"
    );
}

#[test]
fn a_deadline_stops_the_walk_and_says_so() {
    let mut connections = Vec::new();
    let mut stats = procs::PassStats::default();
    let holders = fdwalk::attribute(
        &mut connections,
        &mut stats,
        &Deadline::after(Duration::ZERO),
    );
    assert!(holders.is_empty());
    assert!(stats.cut_short, "the report must say it is partial");
}

/// `scan --timings`: every phase of a live scan in the JSON report's `timings`, in order, with
/// the bed's dump and what the walk read; on standard error for the table; nothing without it.
#[test]
fn timings_say_where_a_live_scan_went() {
    let Some(bed) = Bed::new("timings", &[]) else {
        return;
    };
    let server = bed.testbed(&["blackhole"]);
    let _hung = bed.testbed(&["hung-recv", &server.port().to_string()]);
    let (code, out, err) =
        run(bed
            .stuckconn("scan")
            .args(["--format", "json", "--min-idle", "0s", "--timings"]));
    assert_eq!(code, 1, "a hung call is found: {err}");
    let report = json(&out);
    assert_matches_schema(&report);
    let timings = &report["timings"];
    let phases: Vec<&str> = timings["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "namespaces",
            "dump",
            "fd_walk",
            "describe",
            "threads",
            "holders",
            "analysis",
            "probe",
            "names",
            "diagnose",
            "wire",
            "finish"
        ]
    );
    for p in timings["phases"].as_array().unwrap() {
        assert!(p["peak_rss_kib"].as_u64().unwrap() > 0, "{p}");
    }
    let dumps = timings["dumps"].as_array().expect("dumps");
    assert_eq!(dumps.len(), 1, "the bed's namespace only: {dumps:?}");
    assert_eq!(dumps[0]["sockets"], report["summary"]["sockets"]);
    // The bed's three sockets at least (the listener and both ends of the hung call).
    assert!(
        timings["fd_walk"]["matched"].as_u64().unwrap() >= 3,
        "{timings}"
    );
    // The walk ran beside the dump: its own time is there, and took some.
    assert!(
        timings["fd_walk"]["secs"].as_f64().unwrap() > 0.0
            && timings["fd_walk"]["cpu_secs"].as_f64().unwrap() > 0.0,
        "{timings}"
    );
    // The rendering comes after the report: its line is on standard error.
    assert!(err.contains("stuckconn: timings: render"), "{err}");

    let (_, _, err) = run(bed
        .stuckconn("scan")
        .args(["--min-idle", "0s", "--timings"]));
    for phase in [
        "dump", "fd_walk", "threads", "analysis", "probe", "render", "total",
    ] {
        assert!(
            err.contains(&format!("timings: {phase} ")),
            "{phase}: {err}"
        );
    }
    let (_, out, err) = run(bed.stuckconn("scan").args(["--format", "json"]));
    assert!(json(&out)["timings"].get("phases").is_none());
    assert!(!err.contains("timings:"), "{err}");
}

//! The blocked call's own bounds, on facts as measured on real connections: SO_RCVTIMEO and
//! poll timeouts as deadlines, timeouts long passed as loops, stopped and resumed threads,
//! `unknown` only where a missing fact would decide, and a finding's verdict from its
//! connections.

use super::*;

#[test]
fn the_incident_never_ends() {
    // PHP curl_exec: no keepalive, no options, libcurl's 1 s poll, idle 5 min.
    let i = info(300_000, 300_004, 300_000);
    let f = facts(
        &i,
        off(),
        Some(Ok(opts())),
        vec![wait("poll", WaitTimeout::Ms(1000))],
    );
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert!(t.wait_loop);
    assert_eq!(t.wait_timeout_ms, Some(1000));
    assert_eq!(t.keepalive, Some(false));
    assert_eq!(t.receive_timeout_ms, Some(0));
    assert_eq!(t.ends_in_secs, None);
    assert_explains(&t, "calls poll again every 1s");
    assert_explains(&t, "no keepalive");
    assert_eq!(t.phrase, "poll loop every 1s: never ends");
}

#[test]
fn nothing_set_and_a_blocking_read() {
    let i = info(60_000, 60_000, 60_000);
    let f = facts(
        &i,
        off(),
        Some(Ok(opts())),
        vec![wait("read", WaitTimeout::Forever)],
    );
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.wait_timeout_ms, Some(-1));
    assert!(!t.wait_loop);
    assert_eq!(t.phrase, "no timeout anywhere");
}

#[test]
fn receive_timeout_is_a_deadline() {
    // RCVTIMEO 10 min, idle 6 min: ends in about 4 min.
    let i = info(360_000, 360_000, 360_000);
    let f = facts(
        &i,
        off(),
        Some(Ok(rcvtimeo(600_000))),
        vec![wait("recvfrom", WaitTimeout::Forever)],
    );
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Deadline);
    assert_eq!(t.ends_in_secs, Some(240));
    assert_eq!(t.receive_timeout_ms, Some(600_000));
    assert_eq!(t.wait_timeout_ms, Some(600_000));
    assert_eq!(t.phrase, "RCVTIMEO 10m, ends in 4m");
}

#[test]
fn receive_timeout_long_passed_is_a_loop() {
    // RCVTIMEO 5 s, idle 1 h: the program retries after each timeout.
    let i = info(3_600_000, 3_600_000, 3_600_000);
    let f = facts(
        &i,
        off(),
        Some(Ok(rcvtimeo(5000))),
        vec![wait("recvfrom", WaitTimeout::Forever)],
    );
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert!(t.wait_loop);
}

#[test]
fn receive_timeout_ignored_by_poll() {
    let i = info(60_000, 60_000, 60_000);
    let f = facts(
        &i,
        off(),
        Some(Ok(rcvtimeo(600_000))),
        vec![wait("poll", WaitTimeout::Forever)],
    );
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert_explains(&t, "ignores it");
}

#[test]
fn a_poll_with_a_long_timeout_is_a_deadline() {
    // Python settimeout(30): poll(…, 30000), idle 12 s.
    let i = info(12_000, 12_000, 12_000);
    let f = facts(
        &i,
        off(),
        Some(Ok(opts())),
        vec![wait("poll", WaitTimeout::Ms(30_000))],
    );
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Deadline);
    assert_eq!(t.ends_in_secs, Some(18));
    assert_eq!(t.phrase, "poll timeout 30s, ends in 18s");
}

#[test]
fn stopped_and_restarted_threads() {
    let i = info(30_000, 30_000, 30_000);
    let mut w = wait("read", WaitTimeout::Forever);
    w.stopped = true;
    let t = judged(&facts(&i, off(), Some(Ok(rcvtimeo(60_000))), vec![w]));
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.phrase, "thread stopped: never ends");
    // A resumed poll with its original 1 s: still a loop after 30 s idle.
    let mut w = wait("poll", WaitTimeout::Ms(1000));
    w.restarted = true;
    let t = judged(&facts(&i, off(), Some(Ok(opts())), vec![w]));
    assert_eq!(t.verdict, Verdict::Never);
    assert!(t.wait_loop);
    // A resumed call whose timeout is not visible: unknown.
    let mut w = wait("restart_syscall", WaitTimeout::Unknown);
    w.restarted = true;
    let t = judged(&facts(&i, off(), Some(Ok(opts())), vec![w]));
    assert_eq!(t.verdict, Verdict::Unknown);
    assert_explains(&t, "restart_syscall");
}

#[test]
fn unknown_only_when_it_matters() {
    let i = info(60_000, 60_000, 60_000);
    // The thread reads: SO_RCVTIMEO would decide, and it is not visible.
    let t = judged(&facts(
        &i,
        off(),
        denied(),
        vec![wait("read", WaitTimeout::Forever)],
    ));
    assert_eq!(t.verdict, Verdict::Unknown);
    assert_explains(&t, "needs CAP_SYS_PTRACE");
    // The thread polls forever: SO_RCVTIMEO cannot matter, no keepalive timer runs.
    let t = judged(&facts(
        &i,
        off(),
        denied(),
        vec![wait("poll", WaitTimeout::Forever)],
    ));
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.receive_timeout_ms, None, "unknown, never 0");
    // Options not read at all (no holder known) and a thread that reads.
    let t = judged(&facts(
        &i,
        off(),
        None,
        vec![wait("read", WaitTimeout::Forever)],
    ));
    assert_eq!(t.verdict, Verdict::Unknown);
    assert_explains(&t, "were not read");
}

#[test]
fn a_finding_takes_the_majority() {
    let i = info(300_000, 300_000, 300_000);
    let never = judged(&facts(
        &i,
        off(),
        Some(Ok(opts())),
        vec![wait("poll", WaitTimeout::Ms(1000))],
    ));
    let j = info(100_000, 100_000, 100_000);
    let o = rcvtimeo(600_000);
    let deadline = judged(&facts(
        &j,
        off(),
        Some(Ok(o)),
        vec![wait("read", WaitTimeout::Forever)],
    ));
    let s = summarize(&[&never, &never, &deadline]).unwrap();
    assert_eq!(s.verdict, Verdict::Never);
    assert!(s.wait_loop);
    assert!(
        s.explanation
            .ends_with("(2 of 3 connections; 1 end at a deadline)"),
        "{}",
        s.explanation
    );
    // Two deadlines: the finding ends with its last connection.
    let k = info(500_000, 500_000, 500_000);
    let sooner = judged(&facts(
        &k,
        off(),
        Some(Ok(o)),
        vec![wait("read", WaitTimeout::Forever)],
    ));
    let s = summarize(&[&sooner, &deadline]).unwrap();
    assert_eq!(s.verdict, Verdict::Deadline);
    assert_eq!(s.ends_in_secs, Some(500));
    assert_eq!(s.phrase, "RCVTIMEO 10m, ends in 8m20s");
    assert_eq!(summarize(&[]), None);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["verdict"], "deadline");
    assert!(json.get("phrase").is_none());
}

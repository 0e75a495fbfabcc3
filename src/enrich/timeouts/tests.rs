//! The rules on facts as measured on real connections.

use super::*;
use crate::report::TimeoutVerdict as Verdict;
use crate::snapshot::Limits;

fn info(sent: u32, recv: u32, ack: u32) -> TcpInfo {
    TcpInfo {
        last_data_sent_ms: sent,
        last_data_recv_ms: recv,
        last_ack_recv_ms: ack,
        ..TcpInfo::default()
    }
}

fn opts() -> SocketOptions {
    SocketOptions {
        receive_timeout_ms: None,
        send_timeout_ms: None,
        keepalive: false,
        keepidle_secs: None,
        keepintvl_secs: None,
        keepcnt: None,
        user_timeout_ms: None,
    }
}

fn off() -> Option<KernelTimer> {
    KernelTimer::from_raw(0, 0, 0)
}

fn wait(syscall: &str, timeout: WaitTimeout) -> Wait {
    Wait {
        syscall: syscall.to_string(),
        timeout,
        honours_receive_timeout: matches!(syscall, "read" | "recvfrom" | "recvmsg" | "readv"),
        restarted: false,
        stopped: false,
    }
}

fn facts<'a>(
    i: &'a TcpInfo,
    timer: Option<KernelTimer>,
    options: Option<Result<SocketOptions, Unreadable>>,
    waits: Vec<Wait>,
) -> Facts<'a> {
    Facts {
        state: TcpState::Established,
        timer,
        tcp_info: Some(i),
        options,
        waiters: Waiters::Seen(waits),
    }
}

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
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert!(t.wait_loop);
    assert_eq!(t.wait_timeout_ms, Some(1000));
    assert_eq!(t.keepalive, Some(false));
    assert_eq!(t.receive_timeout_ms, Some(0));
    assert_eq!(t.ends_in_secs, None);
    assert!(
        t.explanation.contains("calls poll again every 1s"),
        "{}",
        t.explanation
    );
    assert!(t.explanation.contains("no keepalive"), "{}", t.explanation);
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
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.wait_timeout_ms, Some(-1));
    assert!(!t.wait_loop);
    assert_eq!(t.phrase, "no timeout anywhere");
}

#[test]
fn receive_timeout_is_a_deadline() {
    // RCVTIMEO 10 min, idle 6 min: ends in about 4 min.
    let i = info(360_000, 360_000, 360_000);
    let o = SocketOptions {
        receive_timeout_ms: Some(600_000),
        ..opts()
    };
    let f = facts(
        &i,
        off(),
        Some(Ok(o)),
        vec![wait("recvfrom", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
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
    let o = SocketOptions {
        receive_timeout_ms: Some(5000),
        ..opts()
    };
    let f = facts(
        &i,
        off(),
        Some(Ok(o)),
        vec![wait("recvfrom", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert!(t.wait_loop);
}

#[test]
fn receive_timeout_ignored_by_poll() {
    let i = info(60_000, 60_000, 60_000);
    let o = SocketOptions {
        receive_timeout_ms: Some(600_000),
        ..opts()
    };
    let f = facts(
        &i,
        off(),
        Some(Ok(o)),
        vec![wait("poll", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert!(t.explanation.contains("ignores it"), "{}", t.explanation);
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
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Deadline);
    assert_eq!(t.ends_in_secs, Some(18));
    assert_eq!(t.phrase, "poll timeout 30s, ends in 18s");
}

#[test]
fn keepalive_answered_never_ends() {
    // Measured: timer keepalive, lastrcv 10.7 s, lastack 0.62 s, no probes out.
    let i = info(10_700, 10_700, 620);
    let o = SocketOptions {
        keepalive: true,
        keepidle_secs: Some(2),
        keepintvl_secs: Some(1),
        ..opts()
    };
    let f = facts(
        &i,
        KernelTimer::from_raw(2, 1380, 0),
        Some(Ok(o)),
        vec![wait("read", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.keepalive, Some(true));
    assert_eq!(t.keepalive_answered, Some(true));
    assert_eq!(t.phrase, "keepalive answered: never ends");
    assert!(t.explanation.contains("answered"), "{}", t.explanation);
}

#[test]
fn keepalive_seen_without_privilege() {
    // No options (denied), but the timer shows keepalive and the ACKs show answers; a
    // thread is not visible either: unknown, naming the capability, with keepalive known.
    let i = info(10_700, 10_700, 620);
    let f = Facts {
        state: TcpState::Established,
        timer: KernelTimer::from_raw(2, 1380, 0),
        tcp_info: Some(&i),
        options: Some(Err(Unreadable::Denied {
            missing: "CAP_SYS_PTRACE".to_string(),
        })),
        waiters: Waiters::NotSeen {
            why: "threads not readable: needs CAP_SYS_PTRACE".to_string(),
        },
    };
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Unknown);
    assert_eq!(t.keepalive, Some(true));
    assert_eq!(t.keepalive_answered, Some(true));
    assert_eq!(t.receive_timeout_ms, None);
    assert_eq!(t.user_timeout_ms, None);
    assert!(
        t.explanation.contains("CAP_SYS_PTRACE"),
        "{}",
        t.explanation
    );
    assert_eq!(t.phrase, "timeouts unknown: needs CAP_SYS_PTRACE");
}

#[test]
fn keepalive_not_yet_probed() {
    let i = info(60_000, 60_000, 60_000);
    let o = SocketOptions {
        keepalive: true,
        keepidle_secs: Some(7200),
        keepintvl_secs: Some(75),
        keepcnt: Some(9),
        ..opts()
    };
    let f = facts(
        &i,
        KernelTimer::from_raw(2, 7_140_000, 0),
        Some(Ok(o)),
        vec![wait("read", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.keepalive_answered, None);
    assert!(
        t.explanation.contains("first probe after 2h"),
        "{}",
        t.explanation
    );
}

#[test]
fn keepalive_unanswered_is_the_kernel() {
    // 3 probes out of 5, next in 1 s, 2 s apart: 1 + 2×2 = 5 s.
    let i = TcpInfo {
        probes: 3,
        ..info(20_000, 20_000, 20_000)
    };
    let o = SocketOptions {
        keepalive: true,
        keepidle_secs: Some(10),
        keepintvl_secs: Some(2),
        keepcnt: Some(5),
        ..opts()
    };
    let f = facts(
        &i,
        KernelTimer::from_raw(2, 1000, 3),
        Some(Ok(o)),
        vec![wait("read", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Kernel);
    assert_eq!(t.keepalive_answered, Some(false));
    assert_eq!(t.ends_in_secs, Some(5));
    assert_eq!(t.phrase, "keepalive unanswered, ends in 5s");
}

#[test]
fn user_timeout_without_unacked_data_does_nothing() {
    let i = info(120_000, 120_000, 120_000);
    let o = SocketOptions {
        user_timeout_ms: Some(5000),
        ..opts()
    };
    let f = facts(
        &i,
        off(),
        Some(Ok(o)),
        vec![wait("read", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.user_timeout_ms, Some(5000));
    assert!(
        t.explanation.contains("TCP_USER_TIMEOUT"),
        "{}",
        t.explanation
    );
}

#[test]
fn retransmissions_end_at_the_user_timeout_or_retries2() {
    let i = TcpInfo {
        unacked: 1,
        backoff: 3,
        ..info(2_000, 60_000, 2_000)
    };
    let o = SocketOptions {
        user_timeout_ms: Some(30_000),
        ..opts()
    };
    let f = facts(
        &i,
        KernelTimer::from_raw(1, 1600, 3),
        Some(Ok(o)),
        vec![wait("poll", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Kernel);
    assert_eq!(t.ends_in_secs, Some(28));
    // Without a user timeout: tcp_retries2 (924.6 s) from the last ACK.
    let f = facts(
        &i,
        KernelTimer::from_raw(1, 1600, 3),
        Some(Ok(opts())),
        vec![wait("poll", WaitTimeout::Forever)],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Kernel);
    assert_eq!(t.ends_in_secs, Some(923));
    assert!(t.explanation.contains("tcp_retries2"), "{}", t.explanation);
    // Even unprivileged: the kernel's end needs no option.
    let f = Facts {
        options: Some(Err(Unreadable::Denied {
            missing: "CAP_SYS_PTRACE".into(),
        })),
        waiters: Waiters::NotSeen {
            why: "denied".into(),
        },
        ..f
    };
    assert_eq!(judge(&f, &Limits::default()).verdict, Verdict::Kernel);
}

#[test]
fn syn_sent_ends_at_the_syn_retries() {
    // After 2 retransmissions (1 s, 2 s), the third fires in 3 s (of 4), then 8+16+32+64.
    let f = Facts {
        state: TcpState::SynSent,
        timer: KernelTimer::from_raw(1, 3000, 2),
        tcp_info: None,
        options: Some(Ok(opts())),
        waiters: Waiters::Seen(vec![]),
    };
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Kernel);
    assert_eq!(t.ends_in_secs, Some(3 + 8 + 16 + 32 + 64));
    assert!(t.phrase.starts_with("SYN retries"), "{}", t.phrase);
}

#[test]
fn close_wait_never_ends() {
    let i = info(600_000, 600_000, 600_000);
    let f = Facts {
        state: TcpState::CloseWait,
        ..facts(&i, off(), Some(Ok(opts())), vec![])
    };
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert!(
        t.explanation.contains("closing the socket"),
        "{}",
        t.explanation
    );
}

#[test]
fn zero_window_answered_and_with_user_timeout() {
    let i = info(1000, 90_000, 1000);
    let f = facts(
        &i,
        KernelTimer::from_raw(4, 5000, 0),
        Some(Ok(opts())),
        vec![],
    );
    let t = judge(&f, &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert!(t.explanation.contains("window probes"), "{}", t.explanation);
    let o = SocketOptions {
        user_timeout_ms: Some(20_000),
        ..opts()
    };
    let f = facts(&i, KernelTimer::from_raw(4, 5000, 0), Some(Ok(o)), vec![]);
    assert_eq!(judge(&f, &Limits::default()).verdict, Verdict::Kernel);
}

#[test]
fn stopped_and_restarted_threads() {
    let i = info(30_000, 30_000, 30_000);
    let mut w = wait("read", WaitTimeout::Forever);
    w.stopped = true;
    let o = SocketOptions {
        receive_timeout_ms: Some(60_000),
        ..opts()
    };
    let t = judge(&facts(&i, off(), Some(Ok(o)), vec![w]), &Limits::default());
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.phrase, "thread stopped: never ends");
    // A resumed poll with its original 1 s: still a loop after 30 s idle.
    let mut w = wait("poll", WaitTimeout::Ms(1000));
    w.restarted = true;
    let t = judge(
        &facts(&i, off(), Some(Ok(opts())), vec![w]),
        &Limits::default(),
    );
    assert_eq!(t.verdict, Verdict::Never);
    assert!(t.wait_loop);
    // A resumed call whose timeout is not visible: unknown.
    let mut w = wait("restart_syscall", WaitTimeout::Unknown);
    w.restarted = true;
    let t = judge(
        &facts(&i, off(), Some(Ok(opts())), vec![w]),
        &Limits::default(),
    );
    assert_eq!(t.verdict, Verdict::Unknown);
    assert!(
        t.explanation.contains("restart_syscall"),
        "{}",
        t.explanation
    );
}

#[test]
fn unknown_only_when_it_matters() {
    let i = info(60_000, 60_000, 60_000);
    let denied = || {
        Some(Err(Unreadable::Denied {
            missing: "CAP_SYS_PTRACE".to_string(),
        }))
    };
    // The thread reads: SO_RCVTIMEO would decide, and it is not visible.
    let t = judge(
        &facts(
            &i,
            off(),
            denied(),
            vec![wait("read", WaitTimeout::Forever)],
        ),
        &Limits::default(),
    );
    assert_eq!(t.verdict, Verdict::Unknown);
    assert!(
        t.explanation.contains("needs CAP_SYS_PTRACE"),
        "{}",
        t.explanation
    );
    // The thread polls forever: SO_RCVTIMEO cannot matter, no keepalive timer runs.
    let t = judge(
        &facts(
            &i,
            off(),
            denied(),
            vec![wait("poll", WaitTimeout::Forever)],
        ),
        &Limits::default(),
    );
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.receive_timeout_ms, None, "unknown, never 0");
    // Options not read at all (no holder known) and a thread that reads.
    let t = judge(
        &facts(&i, off(), None, vec![wait("read", WaitTimeout::Forever)]),
        &Limits::default(),
    );
    assert_eq!(t.verdict, Verdict::Unknown);
    assert!(t.explanation.contains("were not read"), "{}", t.explanation);
}

#[test]
fn a_finding_takes_the_majority() {
    let i = info(300_000, 300_000, 300_000);
    let never = judge(
        &facts(
            &i,
            off(),
            Some(Ok(opts())),
            vec![wait("poll", WaitTimeout::Ms(1000))],
        ),
        &Limits::default(),
    );
    let j = info(100_000, 100_000, 100_000);
    let o = SocketOptions {
        receive_timeout_ms: Some(600_000),
        ..opts()
    };
    let deadline = judge(
        &facts(
            &j,
            off(),
            Some(Ok(o)),
            vec![wait("read", WaitTimeout::Forever)],
        ),
        &Limits::default(),
    );
    let s = summarize(&[never.clone(), never.clone(), deadline.clone()]).unwrap();
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
    let sooner = judge(
        &facts(
            &k,
            off(),
            Some(Ok(o)),
            vec![wait("read", WaitTimeout::Forever)],
        ),
        &Limits::default(),
    );
    let s = summarize(&[sooner, deadline]).unwrap();
    assert_eq!(s.verdict, Verdict::Deadline);
    assert_eq!(s.ends_in_secs, Some(500));
    assert_eq!(s.phrase, "RCVTIMEO 10m, ends in 8m20s");
    assert_eq!(summarize(&[]), None);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["verdict"], "deadline");
    assert!(json.get("phrase").is_none());
}

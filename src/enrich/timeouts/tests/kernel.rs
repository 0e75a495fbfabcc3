//! The kernel's own ends, on facts as measured on real connections: keepalive probes
//! (answered, unanswered, not yet sent), retransmissions and the user timeout, SYN retries,
//! zero-window probes, and CLOSE-WAIT, which has none.

use super::*;

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
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.keepalive, Some(true));
    assert_eq!(t.keepalive_answered, Some(true));
    assert_eq!(t.phrase, "keepalive answered: never ends");
    assert_explains(&t, "answered");
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
        options: denied(),
        waiters: Waiters::NotSeen {
            why: "threads not readable: needs CAP_SYS_PTRACE".to_string(),
        },
    };
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Unknown);
    assert_eq!(t.keepalive, Some(true));
    assert_eq!(t.keepalive_answered, Some(true));
    assert_eq!(t.receive_timeout_ms, None);
    assert_eq!(t.user_timeout_ms, None);
    assert_explains(&t, "CAP_SYS_PTRACE");
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
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.keepalive_answered, None);
    assert_explains(&t, "first probe after 2h");
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
    let t = judged(&f);
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
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert_eq!(t.user_timeout_ms, Some(5000));
    assert_explains(&t, "TCP_USER_TIMEOUT");
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
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Kernel);
    assert_eq!(t.ends_in_secs, Some(28));
    // Without a user timeout: tcp_retries2 (924.6 s) from the last ACK.
    let f = facts(
        &i,
        KernelTimer::from_raw(1, 1600, 3),
        Some(Ok(opts())),
        vec![wait("poll", WaitTimeout::Forever)],
    );
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Kernel);
    assert_eq!(t.ends_in_secs, Some(923));
    assert_explains(&t, "tcp_retries2");
    // Even unprivileged: the kernel's end needs no option.
    let f = Facts {
        options: denied(),
        waiters: Waiters::NotSeen {
            why: "denied".into(),
        },
        ..f
    };
    assert_eq!(judged(&f).verdict, Verdict::Kernel);
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
    let t = judged(&f);
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
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert_explains(&t, "closing the socket");
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
    let t = judged(&f);
    assert_eq!(t.verdict, Verdict::Never);
    assert_explains(&t, "window probes");
    let o = SocketOptions {
        user_timeout_ms: Some(20_000),
        ..opts()
    };
    let f = facts(&i, KernelTimer::from_raw(4, 5000, 0), Some(Ok(o)), vec![]);
    assert_eq!(judged(&f).verdict, Verdict::Kernel);
}

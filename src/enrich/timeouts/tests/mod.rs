//! The rules on facts as measured on real connections, by theme: the kernel's ends
//! (`kernel.rs`), the blocked call's own bounds and what is unknown (`waits.rs`). The
//! helpers build the facts.

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

/// The verdict with the kernel's default limits.
fn judged(f: &Facts) -> ConnectionTimeouts {
    judge(f, &Limits::default())
}

#[track_caller]
fn assert_explains(t: &ConnectionTimeouts, words: &str) {
    assert!(t.explanation.contains(words), "{}", t.explanation);
}

/// Nothing set but SO_RCVTIMEO.
fn rcvtimeo(ms: u64) -> SocketOptions {
    SocketOptions {
        receive_timeout_ms: Some(ms),
        ..opts()
    }
}

/// The options could not be read: the capability is missing.
fn denied() -> Option<Result<SocketOptions, Unreadable>> {
    Some(Err(Unreadable::Denied {
        missing: "CAP_SYS_PTRACE".to_string(),
    }))
}

mod kernel;
mod memo;
mod waits;

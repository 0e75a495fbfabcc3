//! What the facts of one connection say before any rule: its idle time, keepalive and whether
//! the probes are answered, and the bound of the calls blocked on it.

use super::{Facts, Wait, Waiters};
use crate::snapshot::{SocketOptions, TcpInfo, TcpState, TimerKind, Unreadable, WaitTimeout};

/// Keepalive probes count as answered when the last ACK came at least this long after the
/// last data: an ACK of our own request arrives within a round trip and a delayed-ACK timer.
const ANSWERED_SLACK_MS: u64 = 1000;

/// A wait counts as re-issued (a loop) once the connection has been idle at least twice its
/// timeout, and at least a second longer: the call cannot have begun before the last data.
fn is_loop(bound_ms: u64, idle_ms: u64) -> bool {
    idle_ms >= bound_ms.saturating_mul(2) && idle_ms >= bound_ms.saturating_add(1000)
}

pub(super) struct Derived<'a> {
    pub info: Option<&'a TcpInfo>,
    pub idle_ms: Option<u64>,
    pub options: Option<&'a SocketOptions>,
    pub unreadable: Option<&'a Unreadable>,
    /// Probes sent and unanswered (keepalive or zero-window).
    pub probes: u8,
    pub keepalive: Option<bool>,
    pub keepidle_ms: Option<u64>,
    pub keepalive_answered: Option<bool>,
    /// `TCP_USER_TIMEOUT` (0: not set); `None` when the options were not read.
    pub user_timeout_ms: Option<u64>,
    /// Data sent and not acknowledged, or being retransmitted.
    pub unacked: bool,
    pub blocked: Blocked,
}

impl Derived<'_> {
    /// Whether the verdict may depend on tcp_info's times (the idle time, the last ACK): with
    /// keepalive on (answered or not; when the probes end it), unacknowledged data (when the
    /// retransmissions end it), or a call bounded in time (its deadline, or a loop). Otherwise
    /// connections whose facts differ only in those times have the same verdict.
    pub(super) fn reads_times(&self, facts: &Facts) -> bool {
        self.keepalive == Some(true)
            || self.unacked
            || matches!(&facts.waiters, Waiters::Seen(waits)
                if waits.iter().any(|w| matches!(bound(w, self.options), WaitTimeout::Ms(_))))
    }
}

/// The blocked call that decides: the last to give up (a socket waited on by several threads
/// stays until all of them stop).
#[derive(Default)]
pub(super) struct Blocked {
    pub syscall: Option<String>,
    pub bound: Option<WaitTimeout>,
    /// The bound is much shorter than the idle time: the call is re-issued in a loop.
    pub looping: bool,
    pub stopped: bool,
    pub restarted: bool,
    /// The bound is the socket's SO_RCVTIMEO (a read or recv call).
    pub bound_is_rcvtimeo: bool,
    /// Why the calls are not known (threads not examined).
    pub unknown: Option<String>,
}

pub(super) fn derive<'a>(facts: &'a Facts) -> Derived<'a> {
    let info = facts.tcp_info;
    let idle_ms = info.map(|i| u64::from(i.last_data_sent_ms.min(i.last_data_recv_ms)));
    let options = facts.options.as_ref().and_then(|o| o.as_ref().ok());
    let unreadable = facts.options.as_ref().and_then(|o| o.as_ref().err());
    let timer = facts.timer;
    let probes = info
        .map(|i| i.probes)
        .or_else(|| {
            timer
                .filter(|t| t.kind != TimerKind::Retransmit)
                .map(|t| t.retrans)
        })
        .unwrap_or(0);

    // Keepalive: the kernel's timer says it without any privilege; the options say it too.
    let keepalive = match (timer.map(|t| t.kind), options) {
        (Some(TimerKind::Keepalive), _) => Some(true),
        (_, Some(o)) => Some(o.keepalive),
        // No timer at all on an established socket: keepalive would have armed one.
        (Some(TimerKind::Off), None) if facts.state == TcpState::Established => Some(false),
        _ => None,
    };
    let keepidle_ms = options
        .and_then(|o| o.keepidle_secs)
        .map(|k| u64::from(k) * 1000);
    let keepalive_answered = match (keepalive, info, idle_ms) {
        (Some(true), Some(i), Some(idle)) => {
            if probes > 0 {
                Some(false)
            } else if idle.saturating_sub(u64::from(i.last_ack_recv_ms)) >= ANSWERED_SLACK_MS
                && keepidle_ms.is_none_or(|k| idle >= k)
            {
                Some(true)
            } else {
                None
            }
        }
        _ => None,
    };
    Derived {
        info,
        idle_ms,
        options,
        unreadable,
        probes,
        keepalive,
        keepidle_ms,
        keepalive_answered,
        user_timeout_ms: options.map(|o| o.user_timeout_ms.map_or(0, u64::from)),
        unacked: info.is_some_and(|i| i.unacked > 0 || i.backoff > 0)
            || timer.is_some_and(|t| t.kind == TimerKind::Retransmit),
        blocked: blocked(&facts.waiters, options, idle_ms),
    }
}

/// The blocked call that gives up last: forever or a loop, then unknown, then the longest
/// finite bound.
fn blocked(waiters: &Waiters, options: Option<&SocketOptions>, idle_ms: Option<u64>) -> Blocked {
    let waits = match waiters {
        Waiters::NotSeen { why } => {
            return Blocked {
                unknown: Some(why.clone()),
                ..Blocked::default()
            }
        }
        Waiters::Seen(waits) => waits,
    };
    let rank = |b: WaitTimeout, looping: bool| match b {
        WaitTimeout::Forever => (3, 0),
        _ if looping => (3, 0),
        WaitTimeout::Unknown => (2, 0),
        WaitTimeout::Ms(ms) => (1, ms),
    };
    let mut chosen = Blocked::default();
    for w in waits {
        let bound = bound(w, options);
        let looping =
            matches!(bound, WaitTimeout::Ms(ms) if idle_ms.is_some_and(|i| is_loop(ms, i)));
        let better = chosen
            .bound
            .is_none_or(|old| rank(bound, looping) > rank(old, chosen.looping));
        if better {
            chosen = Blocked {
                syscall: Some(w.syscall.clone()),
                bound: Some(bound),
                looping,
                stopped: w.stopped,
                restarted: w.restarted,
                bound_is_rcvtimeo: w.honours_receive_timeout && !w.stopped,
                unknown: None,
            };
        }
    }
    chosen
}

/// How long a blocked call may wait: forever when its thread is stopped; for read/recv,
/// SO_RCVTIMEO (unknown when the options were not read); else its own timeout.
fn bound(w: &Wait, options: Option<&SocketOptions>) -> WaitTimeout {
    if w.stopped {
        WaitTimeout::Forever
    } else if w.honours_receive_timeout {
        match options {
            Some(o) => o
                .receive_timeout_ms
                .map_or(WaitTimeout::Forever, WaitTimeout::Ms),
            None => WaitTimeout::Unknown,
        }
    } else {
        w.timeout
    }
}

//! The rules that judge one connection, in the order of the module's table: each end the
//! kernel or the blocked call can bring is a candidate, the earliest wins; without one, the
//! verdict is unknown (what would decide is not visible) or never.

use super::derive::{derive, Derived};
use super::Facts;
use crate::report::{human_duration, ConnectionTimeouts, TimeoutVerdict as Verdict, Timeouts};
use crate::snapshot::{KernelTimer, Limits, TcpState, TimerKind, Unreadable, WaitTimeout};

pub(super) fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// `5m`, `1h2m`: a duration in the fewest characters.
pub(super) fn dur(ms: u64) -> String {
    human_duration(ms as f64 / 1000.0).replace(' ', "")
}

/// One candidate end: how, when (ms from now, if known), and the words.
struct End {
    verdict: Verdict,
    in_ms: Option<u64>,
    explanation: String,
    phrase: String,
}

/// Judges one connection.
pub fn judge(facts: &Facts, limits: &Limits) -> ConnectionTimeouts {
    let d = derive(facts);
    let end = decide(facts, limits, &d);
    let options = d.options;
    ConnectionTimeouts {
        judged: Timeouts {
            keepalive: d.keepalive,
            keepalive_answered: d.keepalive_answered,
            user_timeout_ms: d.user_timeout_ms,
            receive_timeout_ms: options.map(|o| o.receive_timeout_ms.unwrap_or(0)),
            wait_timeout_ms: d.blocked.bound.and_then(WaitTimeout::json_ms),
            wait_loop: d.blocked.looping,
            verdict: end.verdict,
            ends_in_secs: end.in_ms.map(secs),
            explanation: end.explanation,
            phrase: end.phrase,
        },
        timer: facts.timer,
        keepidle_secs: options.and_then(|o| o.keepidle_secs),
        keepintvl_secs: options.and_then(|o| o.keepintvl_secs),
        keepcnt: options.and_then(|o| o.keepcnt),
        send_timeout_ms: options.map(|o| o.send_timeout_ms.unwrap_or(0)),
        options_unreadable: d.unreadable.map(Unreadable::describe),
        wait_syscall: d.blocked.syscall.clone(),
    }
}

/// The rules, in order (see the module's table).
fn decide(facts: &Facts, limits: &Limits, d: &Derived) -> End {
    if facts.state == TcpState::CloseWait {
        return close_wait(d);
    }
    let unacked = d.unacked;
    let zero_window = zero_window(facts, limits, d);
    let (zero_window_end, zero_window_note) = match zero_window {
        ZeroWindow::Ends(end) => (Some(end), None),
        ZeroWindow::Forever(note) => (None, Some(note)),
        ZeroWindow::No => (None, None),
    };
    let ends = [
        syn_sent(facts, limits, d),
        retransmitting(facts, limits, d, unacked),
        zero_window_end,
        keepalive_unanswered(facts, d, unacked),
        wait_bound(d),
    ];
    // The earliest end wins (an end whose time is unknown comes after the known ones).
    if let Some(mut end) = ends
        .into_iter()
        .flatten()
        .min_by_key(|e| (e.in_ms.is_none(), e.in_ms.unwrap_or(0)))
    {
        if let Some(ms) = end.in_ms {
            end.phrase = format!("{}, ends in {}", end.phrase, dur(secs(ms) * 1000));
        }
        return end;
    }
    unknown(facts, d).unwrap_or_else(|| never(d, unacked, zero_window_note))
}

/// Rule 1: CLOSE-WAIT: no timer of the kernel's ends it.
fn close_wait(d: &Derived) -> End {
    let extra = if d.keepalive == Some(true) {
        " (keepalive may reset it once the peer has forgotten the connection, but the \
         descriptor stays open until the program closes it)"
    } else {
        ""
    };
    End {
        verdict: Verdict::Never,
        in_ms: None,
        explanation: format!(
            "the peer closed its end; nothing in the kernel closes ours: only the program can, \
             by closing the socket{extra}"
        ),
        phrase: "only close() ends it".to_string(),
    }
}

/// Rule 2: SYN-SENT: the SYN retries or the user timeout.
fn syn_sent(facts: &Facts, limits: &Limits, d: &Derived) -> Option<End> {
    if facts.state != TcpState::SynSent {
        return None;
    }
    let timer = facts.timer;
    let user = d.user_timeout_ms.filter(|&u| u > 0);
    let in_ms = match (timer, user) {
        (_, Some(u)) => Some(u.saturating_sub(syn_elapsed_ms(timer))),
        (Some(t), None) if t.kind == TimerKind::Retransmit => {
            Some(syn_left_ms(t, limits.tcp_syn_retries))
        }
        _ => None,
    };
    let how = match user {
        Some(u) => format!("once TCP_USER_TIMEOUT ({}) has passed", dur(u)),
        None => format!(
            "after {} SYN retransmissions (tcp_syn_retries, about {} in all)",
            limits.tcp_syn_retries,
            dur(limits.syn_ms())
        ),
    };
    Some(End {
        verdict: Verdict::Kernel,
        in_ms,
        explanation: format!("the peer never answered the SYN: the kernel gives up {how}"),
        phrase: "SYN retries".to_string(),
    })
}

/// Rule 3: Unacknowledged data being retransmitted.
fn retransmitting(facts: &Facts, limits: &Limits, d: &Derived, unacked: bool) -> Option<End> {
    if !unacked || facts.state == TcpState::SynSent {
        return None;
    }
    let last_ack = d.info.map_or(0, |i| u64::from(i.last_ack_recv_ms));
    let (in_ms, how) = match d.user_timeout_ms.filter(|&u| u > 0) {
        Some(u) => (
            u.saturating_sub(last_ack),
            format!(
                "once TCP_USER_TIMEOUT ({}) has passed without an ACK",
                dur(u)
            ),
        ),
        None => (
            limits.retries2_ms().saturating_sub(last_ack),
            format!(
                "after {} retransmissions (tcp_retries2, about {} without an ACK)",
                limits.tcp_retries2,
                dur(limits.retries2_ms())
            ),
        ),
    };
    Some(End {
        verdict: Verdict::Kernel,
        in_ms: Some(in_ms),
        explanation: format!(
            "data sent is not acknowledged (last ACK {} ago): the kernel gives up {how}",
            dur(last_ack)
        ),
        phrase: "retransmitting".to_string(),
    })
}

enum ZeroWindow {
    No,
    Ends(End),
    /// Probes answered and no user timeout: the kernel probes forever (the words for why).
    Forever(&'static str),
}

/// Rule 4: Zero-window probes: only a user timeout or silence ends them.
fn zero_window(facts: &Facts, limits: &Limits, d: &Derived) -> ZeroWindow {
    if !facts
        .timer
        .is_some_and(|t| t.kind == TimerKind::ZeroWindowProbe)
    {
        return ZeroWindow::No;
    }
    let probes = d.probes;
    match d.user_timeout_ms.filter(|&u| u > 0) {
        Some(u) => ZeroWindow::Ends(End {
            verdict: Verdict::Kernel,
            in_ms: None,
            explanation: format!(
                "the peer's receive window is closed; TCP_USER_TIMEOUT ({}) ends the probing",
                dur(u)
            ),
            phrase: format!("zero window, user timeout {}", dur(u)),
        }),
        None if probes > 0 => ZeroWindow::Ends(End {
            verdict: Verdict::Kernel,
            in_ms: None,
            explanation: format!(
                "the peer's receive window is closed and {probes} window probes went \
                 unanswered: the kernel gives up after {} (tcp_retries2)",
                limits.tcp_retries2
            ),
            phrase: "zero window, probes unanswered".to_string(),
        }),
        None => ZeroWindow::Forever(
            "the peer's receive window is closed and it answers the window probes: it is \
             alive but does not read, and the kernel probes forever",
        ),
    }
}

/// Rule 5: Keepalive probes out and unanswered.
fn keepalive_unanswered(facts: &Facts, d: &Derived, unacked: bool) -> Option<End> {
    let probes = d.probes;
    if d.keepalive != Some(true) || probes == 0 || facts.state != TcpState::Established || unacked {
        return None;
    }
    let last_ack = d.info.map_or(0, |i| u64::from(i.last_ack_recv_ms));
    let in_ms = match (d.options, facts.timer) {
        (Some(o), _) if o.user_timeout_ms.is_some_and(|u| u > 0) => {
            Some(u64::from(o.user_timeout_ms.unwrap_or(0)).saturating_sub(last_ack))
        }
        (Some(o), Some(t)) if t.kind == TimerKind::Keepalive => {
            o.keepcnt.zip(o.keepintvl_secs).map(|(cnt, intvl)| {
                u64::from(t.expires_ms)
                    + u64::from(cnt.saturating_sub(u32::from(probes))) * u64::from(intvl) * 1000
            })
        }
        _ => None,
    };
    Some(End {
        verdict: Verdict::Kernel,
        in_ms,
        explanation: format!(
            "{probes} keepalive probes went unanswered: the peer's host is gone, and the kernel \
             drops the connection when TCP_KEEPCNT probes (or TCP_USER_TIMEOUT) have failed"
        ),
        phrase: "keepalive unanswered".to_string(),
    })
}

/// Rule 6: The blocked call's own bound.
fn wait_bound(d: &Derived) -> Option<End> {
    let b = &d.blocked;
    let (Some(WaitTimeout::Ms(bound)), false) = (b.bound, b.looping) else {
        return None;
    };
    let call = b.syscall.as_deref().unwrap_or("the call");
    let (what, short) = if b.bound_is_rcvtimeo {
        (
            format!("its {call} ends at SO_RCVTIMEO ({})", dur(bound)),
            format!("RCVTIMEO {}", dur(bound)),
        )
    } else {
        (
            format!("its {call} was given a timeout of {}", dur(bound)),
            format!("{call} timeout {}", dur(bound)),
        )
    };
    let left = bound.saturating_sub(d.idle_ms.unwrap_or(0));
    Some(End {
        verdict: Verdict::Deadline,
        in_ms: d.idle_ms.map(|_| left),
        explanation: format!(
            "the thread waiting on it will stop: {what}, about {} from now (counted from the \
             last data)",
            dur(secs(left) * 1000)
        ),
        phrase: short,
    })
}

/// Rule 7, unknown: what would bound the call is not visible. The options matter only when
/// a thread reads (SO_RCVTIMEO bounds it) or the threads could not be seen.
fn unknown(facts: &Facts, d: &Derived) -> Option<End> {
    let b = &d.blocked;
    let reads = matches!(&facts.waiters, super::Waiters::Seen(w)
        if w.iter().any(|w| w.honours_receive_timeout && !w.stopped));
    let missing_options = d.unreadable.is_some() && (reads || b.unknown.is_some());
    if !(missing_options || b.unknown.is_some() || b.bound == Some(WaitTimeout::Unknown)) {
        return None;
    }
    let why = match (d.unreadable, &b.unknown) {
        (Some(u), _) if missing_options => u.describe(),
        (_, Some(why)) => why.clone(),
        _ if reads && d.options.is_none() => {
            "the thread reads, and the socket's options (SO_RCVTIMEO) were not read".to_string()
        }
        _ if b.restarted => "the blocked call was resumed after a stop or a signal \
                             (restart_syscall) and its timeout is not visible"
            .to_string(),
        _ => "the blocked call's timeout could not be read".to_string(),
    };
    let phrase = match d.unreadable {
        Some(Unreadable::Denied { missing }) if missing_options && !missing.is_empty() => {
            format!("timeouts unknown: needs {missing}")
        }
        _ => "timeouts unknown".to_string(),
    };
    Some(End {
        verdict: Verdict::Unknown,
        in_ms: None,
        explanation: format!("whether it ends cannot be told: {why}"),
        phrase,
    })
}

/// Rule 8: Never: say why in the words of each part.
fn never(d: &Derived, unacked: bool, zero_window_note: Option<&str>) -> End {
    let mut parts: Vec<String> = Vec::new();
    let mut phrase = "no timeout anywhere".to_string();
    match (d.keepalive, d.keepalive_answered) {
        (Some(true), Some(true)) => {
            parts.push(
                "keepalive probes are answered by the peer's kernel (its application is stuck, \
                 not its host), so keepalive never ends it"
                    .to_string(),
            );
            phrase = "keepalive answered: never ends".to_string();
        }
        (Some(true), _) => {
            let first = d
                .keepidle_ms
                .map(|k| format!(" (first probe after {} idle)", dur(k)))
                .unwrap_or_default();
            parts.push(format!(
                "keepalive is on{first} but ends it only if the peer's host disappears; a stuck \
                 application's kernel answers the probes"
            ));
            phrase = "keepalive on: ends only if the host dies".to_string();
        }
        (Some(false), _) => parts.push("no keepalive".to_string()),
        (None, _) => {}
    }
    if let Some(note) = zero_window_note {
        parts.push(note.to_string());
        phrase = "zero window, probes answered: never ends".to_string();
    }
    parts.extend(option_words(d, unacked));
    if let Some(p) = blocked_words(d, &mut parts) {
        phrase = p;
    }
    End {
        verdict: Verdict::Never,
        in_ms: None,
        explanation: format!("nothing will end it: {}", parts.join("; ")),
        phrase,
    }
}

/// What the socket's options add to a `never`.
fn option_words(d: &Derived, unacked: bool) -> Vec<String> {
    let Some(o) = d.options else {
        return Vec::new();
    };
    let b = &d.blocked;
    let mut parts = Vec::new();
    match o.receive_timeout_ms {
        None => parts.push("no receive timeout (SO_RCVTIMEO)".to_string()),
        Some(ms) if b.syscall.is_some() && !b.bound_is_rcvtimeo => parts.push(format!(
            "SO_RCVTIMEO ({}) is set but the thread waits in {}, which ignores it",
            dur(ms),
            b.syscall.as_deref().unwrap_or("poll")
        )),
        Some(_) => {}
    }
    if o.user_timeout_ms.is_some_and(|u| u > 0) && !unacked {
        parts.push(
            "TCP_USER_TIMEOUT is set but acts only on unacknowledged data and unanswered probes"
                .to_string(),
        );
    }
    parts
}

/// What the blocked call adds to a `never`; returns the phrase when it decides it.
fn blocked_words(d: &Derived, parts: &mut Vec<String>) -> Option<String> {
    let b = &d.blocked;
    match (&b.syscall, b.bound) {
        (Some(call), _) if b.stopped => {
            parts.push(format!(
                "the thread in {call} is stopped (SIGSTOP or a debugger): nothing moves until it \
                 is continued"
            ));
            Some("thread stopped: never ends".to_string())
        }
        (Some(call), Some(WaitTimeout::Ms(ms))) if b.looping => {
            parts.push(format!(
                "the thread calls {call} again every {} and has waited {} (a loop, not a \
                 deadline: the program's own limit, if any, is not visible)",
                dur(ms),
                dur(d.idle_ms.unwrap_or(0))
            ));
            Some(format!("{call} loop every {}: never ends", dur(ms)))
        }
        (Some(call), _) => {
            parts.push(format!(
                "the thread waits in {call} with no timeout{}",
                if b.restarted {
                    " (resumed after a stop or a signal)"
                } else {
                    ""
                }
            ));
            None
        }
        (None, _) => {
            parts.push(
                "no thread is blocked on it (an event loop's own timers are not visible)"
                    .to_string(),
            );
            None
        }
    }
}

/// Time since the SYN was first sent, from the retransmit timer (1 s doubling).
fn syn_elapsed_ms(timer: Option<KernelTimer>) -> u64 {
    match timer {
        Some(t) if t.kind == TimerKind::Retransmit => {
            let k = u32::from(t.retrans).min(20);
            // The (k+1)th timeout is 2^k s long and fires in expires_ms.
            ((1u64 << (k + 1)) - 1) * 1000 - u64::from(t.expires_ms).min((1u64 << k) * 1000)
        }
        _ => 0,
    }
}

/// Time left for a connect: the current timeout, then 2^(k+1) .. 2^n s more.
fn syn_left_ms(t: KernelTimer, syn_retries: u32) -> u64 {
    let k = u32::from(t.retrans).min(20);
    let n = syn_retries.min(20);
    let later: u64 = (k + 1..=n).map(|j| (1u64 << j) * 1000).sum();
    u64::from(t.expires_ms) + later
}

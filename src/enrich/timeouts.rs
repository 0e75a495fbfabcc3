//! Why a stuck connection will never end, or when it will: the verdict from the kernel's timers
//! (sock_diag), tcp_info, the socket's options (`collect::sockopts`) and the blocked call's own
//! timeout (`collect::waits`). Pure: no I/O; every input is a fact collected before.
//!
//! # The kernel facts behind the rules
//!
//! | fact | source |
//! |---|---|
//! | keepalive probes are ACKed by the peer's kernel, whatever its application does: answered probes never end a connection whose peer host is up | tcp(7); measured (FIELD-NOTES: `lastack` < `lastrcv`) |
//! | an answered probe resets `tcpi_last_ack_recv`, never `tcpi_last_data_*`; `tcpi_probes` counts unanswered ones | net/ipv4/tcp_timer.c `tcp_keepalive_timer` |
//! | unanswered keepalive probes end it after `TCP_KEEPIDLE` + `TCP_KEEPCNT` × `TCP_KEEPINTVL`; with `TCP_USER_TIMEOUT` set, once that long has passed since anything was received (and a probe is out), `TCP_KEEPCNT` ignored | tcp_keepalive_timer |
//! | `TCP_USER_TIMEOUT` acts only on unacknowledged data, unanswered keepalive probes and zero-window probes: a live, silent peer never trips it | tcp(7); measured |
//! | unacknowledged data is retransmitted with exponential backoff until `tcp_retries2` (default 15: about 924.6 s ≈ 15.4 min with the 200 ms minimum RTO) or `TCP_USER_TIMEOUT` | ip-sysctl.rst; tcp_timer.c `tcp_model_timeout` |
//! | a SYN is retransmitted `tcp_syn_retries` times (default 6: 1+2+…+64 = 127 s) | ip-sysctl.rst |
//! | zero-window probes answered by the peer (window still 0) go on forever; only `TCP_USER_TIMEOUT` (Linux 5.10+) or unanswered probes (`tcp_retries2`) end them | tcp_timer.c `tcp_probe_timer` |
//! | CLOSE-WAIT has no timer of its own: the socket stays until the program closes it | RFC 793; tcp_states |
//! | `SO_RCVTIMEO` bounds read/recv only; poll, select and epoll ignore it and have their own timeout | socket(7) |
//! | a wait timeout much shorter than the time the connection has been idle was re-issued: a loop (libcurl polls every 1 s), not a deadline | measured (FIELD-NOTES) |
//!
//! # Verdicts, in the order they are decided (per connection)
//!
//! | # | when | verdict |
//! |---|---|---|
//! | 1 | CLOSE-WAIT | `never` (only close() ends it) |
//! | 2 | SYN-SENT | `kernel` (SYN retries, or the user timeout) |
//! | 3 | unacked data / retransmit timer | `kernel` (tcp_retries2 or the user timeout) |
//! | 4 | zero-window probes: unanswered, or a user timeout set | `kernel`; answered without one: no end from the kernel |
//! | 5 | keepalive probes out and unanswered | `kernel` |
//! | 6 | a blocked call with a finite bound (its own timeout, or SO_RCVTIMEO for read/recv) not yet exceeded | `deadline` (the earliest of 2–6 wins) |
//! | 7 | the thread's call or the options that would bound it not visible (no permission, restart of an unknown call, threads not examined) | `unknown` |
//! | 8 | otherwise (no keepalive, answered keepalive, infinite wait, a polling loop, a stopped thread) | `never` |

use crate::collect::sockopts::{SocketOptions, Unreadable};
use crate::collect::waits::{BlockedCall, WaitTimeout};
use crate::report::human_duration;
use crate::snapshot::{TcpInfo, TcpState};
use serde::{Deserialize, Serialize};

/// The kernel's TCP timer of a socket, as sock_diag reports it (`idiag_timer`,
/// `idiag_expires`, `idiag_retrans`; /proc/net/tcp's `tr tm->when retrnsmt` say the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelTimer {
    pub kind: TimerKind,
    /// Milliseconds until it fires (0 for `off`).
    pub expires_ms: u32,
    /// Retransmissions so far (`retransmit`), or probes sent and unanswered (`keepalive`,
    /// `zero_window_probe`: the kernel's `icsk_probes_out`).
    pub retrans: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// No timer runs (idiag_timer 0): on an ESTABLISHED socket, keepalive is off.
    Off,
    /// Unacknowledged data or a SYN is being retransmitted (1).
    Retransmit,
    /// The keepalive timer (2).
    Keepalive,
    /// TIME-WAIT (3).
    TimeWait,
    /// The peer's receive window is closed and is probed (4).
    ZeroWindowProbe,
}

impl KernelTimer {
    /// From sock_diag's raw fields. Unknown timer numbers are `None`.
    pub fn from_raw(timer: u8, expires_ms: u32, retrans: u8) -> Option<KernelTimer> {
        let kind = match timer {
            0 => TimerKind::Off,
            1 => TimerKind::Retransmit,
            2 => TimerKind::Keepalive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::ZeroWindowProbe,
            _ => return None,
        };
        Some(KernelTimer {
            kind,
            expires_ms: if kind == TimerKind::Off {
                0
            } else {
                expires_ms
            },
            retrans,
        })
    }

    /// From netlink-packet-sock-diag's `InetResponseHeader::timer`. The crate keeps the count
    /// only for retransmit timers: for keepalive and zero-window timers `retrans` is taken
    /// from tcp_info's `probes` (the same kernel counter), when known.
    pub fn from_sock_diag(
        timer: Option<&netlink_packet_sock_diag::inet::Timer>,
        probes: Option<u8>,
    ) -> KernelTimer {
        use netlink_packet_sock_diag::inet::Timer;
        let ms = |d: &std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        let (kind, expires_ms, retrans) = match timer {
            None => (TimerKind::Off, 0, 0),
            Some(Timer::Retransmit(d, n)) => (TimerKind::Retransmit, ms(d), *n),
            Some(Timer::KeepAlive(d)) => (TimerKind::Keepalive, ms(d), probes.unwrap_or(0)),
            Some(Timer::TimeWait) => (TimerKind::TimeWait, 0, 0),
            Some(Timer::Probe(d)) => (TimerKind::ZeroWindowProbe, ms(d), probes.unwrap_or(0)),
        };
        KernelTimer {
            kind,
            expires_ms,
            retrans,
        }
    }
}

/// The timer of one line of /proc/net/tcp{,6} (the collector without sock_diag): `tr` and
/// `tm->when` (clock ticks, `ticks_per_sec` a second: USER_HZ, 100), `retrnsmt` (retransmits)
/// and `timeout` (the kernel's `icsk_probes_out`), with the socket's inode.
pub fn timer_from_proc_net(line: &str, ticks_per_sec: u64) -> Option<(u64, KernelTimer)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (tr, when) = f.get(5)?.split_once(':')?;
    let tr = u8::from_str_radix(tr, 16).ok()?;
    let ticks = u64::from_str_radix(when, 16).ok()?;
    let retransmits = u8::try_from(u64::from_str_radix(f.get(6)?, 16).ok()?).unwrap_or(u8::MAX);
    let probes = u8::try_from(f.get(8)?.parse::<u64>().ok()?).unwrap_or(u8::MAX);
    let inode = f.get(9)?.parse().ok()?;
    let ms = u32::try_from(ticks.saturating_mul(1000) / ticks_per_sec.max(1)).unwrap_or(u32::MAX);
    let count = if tr == 1 { retransmits } else { probes };
    Some((inode, KernelTimer::from_raw(tr, ms, count)?))
}

/// The host's TCP limits (per network namespace; read in the tool's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `net.ipv4.tcp_retries2`: retransmissions of data before giving up.
    pub tcp_retries2: u32,
    /// `net.ipv4.tcp_syn_retries`.
    pub tcp_syn_retries: u32,
}

impl Default for Limits {
    /// The kernel's defaults.
    fn default() -> Limits {
        Limits {
            tcp_retries2: 15,
            tcp_syn_retries: 6,
        }
    }
}

impl Limits {
    /// Reads /proc/sys/net/ipv4/tcp_{retries2,syn_retries} of the namespace this runs in;
    /// the defaults where unreadable.
    pub fn read_here() -> Limits {
        let read = |name: &str, default: u32| {
            std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(default)
        };
        let d = Limits::default();
        Limits {
            tcp_retries2: read("tcp_retries2", d.tcp_retries2),
            tcp_syn_retries: read("tcp_syn_retries", d.tcp_syn_retries),
        }
    }

    /// How long the kernel retransmits data before giving up, from the first retransmission:
    /// `tcp_model_timeout` with the 200 ms minimum RTO and the 120 s maximum.
    pub fn retries2_ms(&self) -> u64 {
        model_timeout_ms(self.tcp_retries2, 200, 120_000)
    }

    /// How long a connect's SYNs are retransmitted: 1 s doubling, `tcp_syn_retries` times,
    /// plus the last wait.
    pub fn syn_ms(&self) -> u64 {
        model_timeout_ms(self.tcp_syn_retries, 1000, 120_000)
    }
}

/// The kernel's `tcp_model_timeout`: `boundary` retransmissions from `rto_base`, doubling up
/// to `rto_max`.
pub fn model_timeout_ms(boundary: u32, rto_base: u64, rto_max: u64) -> u64 {
    let thresh = (rto_max / rto_base).max(1).ilog2();
    if boundary <= thresh {
        ((2u64 << boundary) - 1) * rto_base
    } else {
        ((2u64 << thresh) - 1) * rto_base + u64::from(boundary - thresh) * rto_max
    }
}

/// A blocked call waiting on the connection, as far as the verdict needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub syscall: String,
    pub timeout: WaitTimeout,
    /// read/recv: `SO_RCVTIMEO` bounds it; poll/select/epoll: their own timeout does.
    pub honours_receive_timeout: bool,
    pub restarted: bool,
    pub stopped: bool,
}

impl From<&BlockedCall> for Wait {
    fn from(c: &BlockedCall) -> Wait {
        Wait {
            syscall: c.syscall.clone(),
            timeout: c.timeout,
            honours_receive_timeout: c.honours_receive_timeout,
            restarted: c.restarted,
            stopped: c.stopped,
        }
    }
}

/// What is known of the threads waiting on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiters {
    /// The holders' threads were examined: these wait on it (possibly none).
    Seen(Vec<Wait>),
    /// They could not be examined (permission, or not collected): `why` says.
    NotSeen { why: String },
}

/// The waiters of `fd` from an examination of its process's threads: the calls on it when
/// every thread was seen; otherwise why they may be missing (permission, threads that could
/// not be read, a thread resumed from a stop in a call whose fds are not visible).
pub fn waiters_of(process: &crate::collect::waits::ProcessWaits, fd: u32) -> Waiters {
    use crate::snapshot::ThreadEvidence;
    let on_fd: Vec<Wait> = process.on_fd(fd).map(Wait::from).collect();
    match process.evidence {
        ThreadEvidence::Denied | ThreadEvidence::NotCollected => Waiters::NotSeen {
            why: match crate::collect::caps::missing(&[
                crate::collect::caps::SYS_PTRACE,
                crate::collect::caps::DAC_READ_SEARCH,
            ]) {
                lacking if lacking.is_empty() => "its threads could not be examined".to_string(),
                lacking => format!("its threads could not be examined: needs {lacking}"),
            },
        },
        _ if !on_fd.is_empty() => Waiters::Seen(on_fd),
        ThreadEvidence::Partial => Waiters::NotSeen {
            why: "some of its threads could not be examined".to_string(),
        },
        ThreadEvidence::Read => match process.resumed.first() {
            Some((tid, wchan)) => Waiters::NotSeen {
                why: format!(
                    "thread {tid} resumed a call after a stop or a signal (restart_syscall{}) \
                     whose socket and timeout are not visible",
                    wchan
                        .as_deref()
                        .map(|w| format!(", waiting in {w}"))
                        .unwrap_or_default()
                ),
            },
            None => Waiters::Seen(Vec::new()),
        },
    }
}

/// Everything known of one connection.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub state: TcpState,
    /// `None`: not collected (an old snapshot).
    pub timer: Option<KernelTimer>,
    pub tcp_info: Option<&'a TcpInfo>,
    /// `None`: not read (no holder known).
    pub options: Option<Result<SocketOptions, Unreadable>>,
    pub waiters: Waiters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A receive timeout or the blocked call's own timeout will end it.
    Deadline,
    /// The kernel will end it (unanswered probes, retransmissions toward a limit).
    Kernel,
    /// Not allowed to look (or the call's timeout is not visible).
    Unknown,
    /// Nothing in the kernel or the blocked call will end it.
    Never,
}

/// The verdict on one connection, with the raw values behind it (for `connections[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionTimeouts {
    pub timer: Option<KernelTimer>,
    /// Keepalive on: from the timer or the options; null when neither says.
    pub keepalive: Option<bool>,
    /// Keepalive probes sent and ACKed (true), sent and unanswered (false); null when none
    /// was due yet or keepalive is off.
    pub keepalive_answered: Option<bool>,
    pub keepidle_secs: Option<u32>,
    pub keepintvl_secs: Option<u32>,
    pub keepcnt: Option<u32>,
    /// `TCP_USER_TIMEOUT` (0: not set); null when the options could not be read.
    pub user_timeout_ms: Option<u64>,
    /// `SO_RCVTIMEO` (0: not set); null when the options could not be read.
    pub receive_timeout_ms: Option<u64>,
    /// `SO_SNDTIMEO` (0: not set); null when the options could not be read.
    pub send_timeout_ms: Option<u64>,
    /// Why the options are null, with the capability that would show them.
    pub options_unreadable: Option<String>,
    /// The blocked call (`poll`, `recvfrom`...), when a thread waits on it.
    pub wait_syscall: Option<String>,
    /// The bound of the blocked call: its own timeout, or `SO_RCVTIMEO` for read/recv; -1 for
    /// none; null when unknown or no thread waits on it.
    pub wait_timeout_ms: Option<i64>,
    /// The wait's timeout is much shorter than the idle time: the call is re-issued in a loop.
    pub wait_loop: bool,
    pub verdict: Verdict,
    /// Seconds until it ends, for `deadline` and `kernel` when it can be computed (from the
    /// last data: the earliest the wait can have begun).
    pub ends_in_secs: Option<u64>,
    /// One sentence.
    pub explanation: String,
    /// A few words for the table's EVIDENCE column.
    #[serde(skip)]
    pub phrase: String,
}

/// The per-finding `timeouts` of the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    pub keepalive: Option<bool>,
    pub keepalive_answered: Option<bool>,
    pub user_timeout_ms: Option<u64>,
    pub receive_timeout_ms: Option<u64>,
    pub wait_timeout_ms: Option<i64>,
    pub wait_loop: bool,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_in_secs: Option<u64>,
    pub explanation: String,
    /// For the table's EVIDENCE column: `no timeout anywhere`, `RCVTIMEO 10m, ends in 4m`,
    /// `keepalive answered: never ends`.
    #[serde(skip)]
    pub phrase: String,
}

/// A wait counts as re-issued (a loop) once the connection has been idle at least twice its
/// timeout, and at least a second longer: the call cannot have begun before the last data.
fn is_loop(bound_ms: u64, idle_ms: u64) -> bool {
    idle_ms >= bound_ms.saturating_mul(2) && idle_ms >= bound_ms.saturating_add(1000)
}

/// Keepalive probes count as answered when the last ACK came at least this long after the
/// last data: an ACK of our own request arrives within a round trip and a delayed-ACK timer.
const ANSWERED_SLACK_MS: u64 = 1000;

fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

fn dur(ms: u64) -> String {
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
        timer: facts.timer,
        keepalive: d.keepalive,
        keepalive_answered: d.keepalive_answered,
        keepidle_secs: options.and_then(|o| o.keepidle_secs),
        keepintvl_secs: options.and_then(|o| o.keepintvl_secs),
        keepcnt: options.and_then(|o| o.keepcnt),
        user_timeout_ms: d.user_timeout_ms,
        receive_timeout_ms: options.map(|o| o.receive_timeout_ms.unwrap_or(0)),
        send_timeout_ms: options.map(|o| o.send_timeout_ms.unwrap_or(0)),
        options_unreadable: d.unreadable.map(Unreadable::describe),
        wait_syscall: d.wait_syscall.clone(),
        wait_timeout_ms: d.wait_bound.and_then(WaitTimeout::json_ms),
        wait_loop: d.wait_loop,
        verdict: end.verdict,
        ends_in_secs: end.in_ms.map(secs),
        explanation: end.explanation,
        phrase: end.phrase,
    }
}

/// What the facts say before any rule: keepalive, the bound of the blocked calls.
struct Derived<'a> {
    info: Option<&'a TcpInfo>,
    idle_ms: Option<u64>,
    options: Option<&'a SocketOptions>,
    unreadable: Option<&'a Unreadable>,
    probes: u8,
    keepalive: Option<bool>,
    keepidle_ms: Option<u64>,
    keepalive_answered: Option<bool>,
    user_timeout_ms: Option<u64>,
    wait_syscall: Option<String>,
    wait_bound: Option<WaitTimeout>,
    wait_loop: bool,
    stopped: bool,
    restarted: bool,
    bound_is_rcvtimeo: bool,
    calls_unknown: Option<String>,
}

fn derive<'a>(facts: &'a Facts) -> Derived<'a> {
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
    let user_timeout_ms = options.map(|o| o.user_timeout_ms.map_or(0, u64::from));

    // The blocked calls: the last to give up decides (a socket waited on by several threads
    // stays until all of them stop).
    let mut wait_syscall = None;
    let mut wait_bound: Option<WaitTimeout> = None;
    let mut wait_loop = false;
    let mut stopped = false;
    let mut restarted = false;
    let mut bound_is_rcvtimeo = false;
    let mut calls_unknown: Option<String> = None;
    match &facts.waiters {
        Waiters::NotSeen { why } => calls_unknown = Some(why.clone()),
        Waiters::Seen(waits) => {
            for w in waits {
                let bound = if w.stopped {
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
                };
                let looping =
                    matches!(bound, WaitTimeout::Ms(ms) if idle_ms.is_some_and(|i| is_loop(ms, i)));
                // Order: forever or a loop > unknown > the longest finite bound.
                let rank = |b: WaitTimeout, l: bool| match b {
                    WaitTimeout::Forever => (3, 0),
                    _ if l => (3, 0),
                    WaitTimeout::Unknown => (2, 0),
                    WaitTimeout::Ms(ms) => (1, ms),
                };
                let better = match wait_bound {
                    None => true,
                    Some(old) => rank(bound, looping) > rank(old, wait_loop),
                };
                if better {
                    wait_bound = Some(bound);
                    wait_loop = looping;
                    wait_syscall = Some(w.syscall.clone());
                    stopped = w.stopped;
                    restarted = w.restarted;
                    bound_is_rcvtimeo = w.honours_receive_timeout && !w.stopped;
                }
            }
        }
    }

    Derived {
        info,
        idle_ms,
        options,
        unreadable,
        probes,
        keepalive,
        keepidle_ms,
        keepalive_answered,
        user_timeout_ms,
        wait_syscall,
        wait_bound,
        wait_loop,
        stopped,
        restarted,
        bound_is_rcvtimeo,
        calls_unknown,
    }
}

/// The rules, in order (see the module's table).
fn decide(facts: &Facts, limits: &Limits, d: &Derived) -> End {
    let Derived {
        info,
        idle_ms,
        options,
        unreadable,
        probes,
        keepalive,
        keepidle_ms,
        keepalive_answered,
        user_timeout_ms,
        ref wait_syscall,
        wait_bound,
        wait_loop,
        stopped,
        restarted,
        bound_is_rcvtimeo,
        ref calls_unknown,
    } = *d;
    let timer = facts.timer;
    let mut ends: Vec<End> = Vec::new();
    let idle = idle_ms.unwrap_or(0);
    let last_ack = info.map_or(0, |i| u64::from(i.last_ack_recv_ms));

    // 1. CLOSE-WAIT: no timer of the kernel's ends it.
    if facts.state == TcpState::CloseWait {
        let extra = if keepalive == Some(true) {
            " (keepalive may reset it once the peer has forgotten the connection, but the \
             descriptor stays open until the program closes it)"
        } else {
            ""
        };
        return End {
            verdict: Verdict::Never,
            in_ms: None,
            explanation: format!(
                "the peer closed its end; nothing in the kernel closes ours: only the \
                     program can, by closing the socket{extra}"
            ),
            phrase: "only close() ends it".to_string(),
        };
    }

    // 2. SYN-SENT: the SYN retries or the user timeout.
    if facts.state == TcpState::SynSent {
        let user = user_timeout_ms.filter(|&u| u > 0);
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
        ends.push(End {
            verdict: Verdict::Kernel,
            in_ms,
            explanation: format!("the peer never answered the SYN: the kernel gives up {how}"),
            phrase: "SYN retries".to_string(),
        });
    }

    // 3. Unacknowledged data being retransmitted.
    let unacked = info.is_some_and(|i| i.unacked > 0 || i.backoff > 0)
        || timer.is_some_and(|t| t.kind == TimerKind::Retransmit);
    if unacked && facts.state != TcpState::SynSent {
        let (in_ms, how) = match user_timeout_ms.filter(|&u| u > 0) {
            Some(u) => (
                Some(u.saturating_sub(last_ack)),
                format!(
                    "once TCP_USER_TIMEOUT ({}) has passed without an ACK",
                    dur(u)
                ),
            ),
            None => (
                Some(limits.retries2_ms().saturating_sub(last_ack)),
                format!(
                    "after {} retransmissions (tcp_retries2, about {} without an ACK)",
                    limits.tcp_retries2,
                    dur(limits.retries2_ms())
                ),
            ),
        };
        ends.push(End {
            verdict: Verdict::Kernel,
            in_ms,
            explanation: format!(
                "data sent is not acknowledged (last ACK {} ago): the kernel gives up {how}",
                dur(last_ack)
            ),
            phrase: "retransmitting".to_string(),
        });
    }

    // 4. Zero-window probes: only a user timeout or silence ends them.
    let mut zero_window_note = None;
    if timer.is_some_and(|t| t.kind == TimerKind::ZeroWindowProbe) {
        match user_timeout_ms.filter(|&u| u > 0) {
            Some(u) => ends.push(End {
                verdict: Verdict::Kernel,
                in_ms: None,
                explanation: format!(
                    "the peer's receive window is closed; TCP_USER_TIMEOUT ({}) ends the \
                     probing",
                    dur(u)
                ),
                phrase: format!("zero window, user timeout {}", dur(u)),
            }),
            None if probes > 0 => ends.push(End {
                verdict: Verdict::Kernel,
                in_ms: None,
                explanation: format!(
                    "the peer's receive window is closed and {probes} window probes went \
                     unanswered: the kernel gives up after {} (tcp_retries2)",
                    limits.tcp_retries2
                ),
                phrase: "zero window, probes unanswered".to_string(),
            }),
            None => {
                zero_window_note = Some(
                    "the peer's receive window is closed and it answers the window probes: it \
                     is alive but does not read, and the kernel probes forever",
                )
            }
        }
    }

    // 5. Keepalive probes out and unanswered.
    if keepalive == Some(true) && probes > 0 && facts.state == TcpState::Established && !unacked {
        let in_ms = match (options, timer) {
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
        ends.push(End {
            verdict: Verdict::Kernel,
            in_ms,
            explanation: format!(
                "{probes} keepalive probes went unanswered: the peer's host is gone, and the \
                 kernel drops the connection when TCP_KEEPCNT probes (or TCP_USER_TIMEOUT) \
                 have failed"
            ),
            phrase: "keepalive unanswered".to_string(),
        });
    }

    // 6. The blocked call's own bound.
    if let (Some(WaitTimeout::Ms(bound)), false) = (wait_bound, wait_loop) {
        let call = wait_syscall.as_deref().unwrap_or("the call");
        let (what, short) = if bound_is_rcvtimeo {
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
        let left = bound.saturating_sub(idle);
        ends.push(End {
            verdict: Verdict::Deadline,
            in_ms: idle_ms.map(|_| left),
            explanation: format!(
                "the thread waiting on it will stop: {what}, about {} from now (counted from \
                 the last data)",
                dur(secs(left) * 1000)
            ),
            phrase: short,
        });
    }

    // The earliest end wins (an end whose time is unknown comes after the known ones).
    if let Some(end) = ends
        .into_iter()
        .min_by_key(|e| (e.in_ms.is_none(), e.in_ms.unwrap_or(0)))
    {
        let mut end = end;
        if let Some(ms) = end.in_ms {
            end.phrase = format!("{}, ends in {}", end.phrase, dur(secs(ms) * 1000));
        }
        return end;
    }

    // 7. Unknown: what would bound the call is not visible. The options matter only when a
    // thread reads (SO_RCVTIMEO bounds it) or the threads could not be seen.
    let reads = matches!(&facts.waiters, Waiters::Seen(w)
        if w.iter().any(|w| w.honours_receive_timeout && !w.stopped));
    let missing_options = unreadable.is_some() && (reads || calls_unknown.is_some());
    if missing_options || calls_unknown.is_some() || wait_bound == Some(WaitTimeout::Unknown) {
        let why = match (unreadable, &calls_unknown) {
            (Some(u), _) if missing_options => u.describe(),
            (_, Some(why)) => why.clone(),
            _ if reads && options.is_none() => {
                "the thread reads, and the socket's options (SO_RCVTIMEO) were not read".to_string()
            }
            _ if restarted => {
                "the blocked call was resumed after a stop or a signal (restart_syscall) and its \
                 timeout is not visible"
                    .to_string()
            }
            _ => "the blocked call's timeout could not be read".to_string(),
        };
        let phrase = match unreadable {
            Some(Unreadable::Denied { missing }) if missing_options && !missing.is_empty() => {
                format!("timeouts unknown: needs {missing}")
            }
            _ => "timeouts unknown".to_string(),
        };
        return End {
            verdict: Verdict::Unknown,
            in_ms: None,
            explanation: format!("whether it ends cannot be told: {why}"),
            phrase,
        };
    }

    // 8. Never: say why in the words of each part.
    let mut parts: Vec<String> = Vec::new();
    let mut phrase = "no timeout anywhere".to_string();
    match (keepalive, keepalive_answered) {
        (Some(true), Some(true)) => {
            parts.push(
                "keepalive probes are answered by the peer's kernel (its application is stuck, \
                 not its host), so keepalive never ends it"
                    .to_string(),
            );
            phrase = "keepalive answered: never ends".to_string();
        }
        (Some(true), _) => {
            let first = keepidle_ms
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
    if let Some(o) = options {
        match o.receive_timeout_ms {
            None => parts.push("no receive timeout (SO_RCVTIMEO)".to_string()),
            Some(ms) if wait_syscall.is_some() && !bound_is_rcvtimeo => parts.push(format!(
                "SO_RCVTIMEO ({}) is set but the thread waits in {}, which ignores it",
                dur(ms),
                wait_syscall.as_deref().unwrap_or("poll")
            )),
            Some(_) => {}
        }
        if o.user_timeout_ms.is_some_and(|u| u > 0) && !unacked {
            parts.push(
                "TCP_USER_TIMEOUT is set but acts only on unacknowledged data and unanswered \
                 probes"
                    .to_string(),
            );
        }
    }
    match (&wait_syscall, wait_bound) {
        (Some(call), _) if stopped => {
            parts.push(format!(
                "the thread in {call} is stopped (SIGSTOP or a debugger): nothing moves until it \
                 is continued"
            ));
            phrase = "thread stopped: never ends".to_string();
        }
        (Some(call), Some(WaitTimeout::Ms(ms))) if wait_loop => {
            parts.push(format!(
                "the thread calls {call} again every {} and has waited {} (a loop, not a \
                 deadline: the program's own limit, if any, is not visible)",
                dur(ms),
                dur(idle)
            ));
            phrase = format!("{call} loop every {}: never ends", dur(ms));
        }
        (Some(call), _) => parts.push(format!(
            "the thread waits in {call} with no timeout{}",
            if restarted {
                " (resumed after a stop or a signal)"
            } else {
                ""
            }
        )),
        (None, _) => parts.push(
            "no thread is blocked on it (an event loop's own timers are not visible)".to_string(),
        ),
    }
    End {
        verdict: Verdict::Never,
        in_ms: None,
        explanation: format!("nothing will end it: {}", parts.join("; ")),
        phrase,
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

/// The verdict of a finding from its connections' verdicts: the verdict most of them share
/// (ties: the graver one, `never` before `unknown` before `kernel` before `deadline`); its
/// values are those of that group's longest-waiting connection (the first given, when the
/// caller passes them oldest first), and `ends_in_secs` is when the last of the group ends.
/// When the connections disagree, the explanation says how many are judged otherwise.
pub fn summarize(connections: &[ConnectionTimeouts]) -> Option<Timeouts> {
    let mut counts: Vec<(Verdict, usize)> = Vec::new();
    for c in connections {
        match counts.iter_mut().find(|(v, _)| *v == c.verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.verdict, 1)),
        }
    }
    let &(verdict, n) = counts.iter().max_by_key(|(v, n)| (*n, *v))?;
    let group: Vec<&ConnectionTimeouts> = connections
        .iter()
        .filter(|c| c.verdict == verdict)
        .collect();
    let first = group[0];
    let ends_in_secs = if group.iter().all(|c| c.ends_in_secs.is_some()) {
        group.iter().filter_map(|c| c.ends_in_secs).max()
    } else {
        None
    };
    let mut explanation = first.explanation.clone();
    if n < connections.len() {
        let others: Vec<String> = counts
            .iter()
            .filter(|(v, _)| *v != verdict)
            .map(|(v, n)| format!("{n} {}", verdict_words(*v)))
            .collect();
        explanation = format!(
            "{explanation} ({n} of {} connections; {})",
            connections.len(),
            others.join(", ")
        );
    }
    let phrase = match (verdict, ends_in_secs, group.len() > 1) {
        // The group ends when its last connection does.
        (Verdict::Deadline | Verdict::Kernel, Some(s), true) => {
            let head = first.phrase.split(", ends in").next().unwrap_or_default();
            format!("{head}, ends in {}", dur(s * 1000))
        }
        _ => first.phrase.clone(),
    };
    Some(Timeouts {
        keepalive: first.keepalive,
        keepalive_answered: first.keepalive_answered,
        user_timeout_ms: first.user_timeout_ms,
        receive_timeout_ms: first.receive_timeout_ms,
        wait_timeout_ms: first.wait_timeout_ms,
        wait_loop: first.wait_loop,
        verdict,
        ends_in_secs,
        explanation,
        phrase,
    })
}

fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Never => "never end",
        Verdict::Deadline => "end at a deadline",
        Verdict::Kernel => "are ended by the kernel",
        Verdict::Unknown => "cannot be judged",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn timers_from_proc_net() {
        // A keepalive client and its listener, as measured (USER_HZ 100).
        let ka = "   2: 0100007F:97B2 0100007F:96F7 01 00000000:00000000 02:00000033 00000000     0        0 3336896 2 00000000bed91a1f 20 0 0 11 -1";
        let (inode, t) = timer_from_proc_net(ka, 100).unwrap();
        assert_eq!(inode, 3336896);
        assert_eq!(
            t,
            KernelTimer {
                kind: TimerKind::Keepalive,
                expires_ms: 510,
                retrans: 0
            }
        );
        let none = "   1: 0100007F:96F7 0100007F:97B2 01 00000000:00000000 00:00000000 00000000     0        0 3336841 1 00000000b7cea793 20 4 30 10 -1";
        assert_eq!(
            timer_from_proc_net(none, 100).unwrap().1.kind,
            TimerKind::Off
        );
        let retrans = "   3: 0100007F:97B2 0100007F:96F7 01 00000010:00000000 01:0000002A 00000003     0        0 3336897 2 00000000bed91a1f 20 0 0 11 -1";
        let (_, t) = timer_from_proc_net(retrans, 100).unwrap();
        assert_eq!(
            (t.kind, t.expires_ms, t.retrans),
            (TimerKind::Retransmit, 420, 3)
        );
        assert_eq!(
            timer_from_proc_net("  sl  local_address rem_address   st", 100),
            None
        );
    }

    #[test]
    fn model_timeouts() {
        assert_eq!(Limits::default().retries2_ms(), 924_600);
        assert_eq!(Limits::default().syn_ms(), 127_000);
        assert_eq!(model_timeout_ms(3, 200, 120_000), 3000);
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
}

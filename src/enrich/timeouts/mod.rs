//! Why a stuck connection will never end, or when it will: the verdict from the kernel's timers
//! (sock_diag), tcp_info, the socket's options (`collect::sockopts`) and the blocked call's own
//! timeout (`collect::waits`). Pure: no I/O; every input is a fact of the snapshot.
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

mod derive;
mod memo;
mod rules;
mod summary;
#[cfg(test)]
mod tests;

pub use rules::judge;
pub use summary::summarize;

use memo::Memo;

use crate::report::{ConnectionTimeouts, Report, Severity};
use crate::snapshot::{
    BlockedThread, Connection, KernelTimer, OptionsRead, Process, Snapshot, SocketOptions, TcpInfo,
    TcpState, ThreadEvidence, Unreadable, WaitTimeout,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A blocked call waiting on the connection, as far as the verdict needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wait {
    pub syscall: String,
    pub timeout: WaitTimeout,
    /// read/recv: `SO_RCVTIMEO` bounds it; poll/select/epoll: their own timeout does.
    pub honours_receive_timeout: bool,
    pub restarted: bool,
    pub stopped: bool,
}

impl From<&BlockedThread> for Wait {
    fn from(t: &BlockedThread) -> Wait {
        Wait {
            syscall: t.syscall.clone(),
            timeout: t.timeout(),
            honours_receive_timeout: t.honours_receive_timeout(),
            restarted: t.restarted,
            stopped: t.stopped,
        }
    }
}

/// What is known of the threads waiting on one connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Waiters {
    /// The holders' threads were examined: these wait on it (possibly none).
    Seen(Vec<Wait>),
    /// They could not be examined (permission, or not collected): `why` says.
    NotSeen { why: String },
}

/// Everything known of one connection.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub state: TcpState,
    /// `None`: not collected (an old snapshot).
    pub timer: Option<KernelTimer>,
    pub tcp_info: Option<&'a TcpInfo>,
    /// `None`: not read (no holder known, or a snapshot without them).
    pub options: Option<Result<SocketOptions, Unreadable>>,
    pub waiters: Waiters,
}

impl<'a> Facts<'a> {
    /// The facts a snapshot holds of connection `c` (its `tcp_info`, the threads `blocked` on
    /// it, what was `read` of its options), whose holder is `holder`; `lacking`: the
    /// capabilities the collection lacked.
    pub fn of(
        c: &Connection,
        tcp_info: Option<&'a TcpInfo>,
        blocked: &[BlockedThread],
        read: Option<&OptionsRead>,
        holder: Option<&Process>,
        lacking: Option<&str>,
    ) -> Facts<'a> {
        let options = read.and_then(|r| match (&r.options, &r.unreadable) {
            (Some(o), _) => Some(Ok(*o)),
            (None, Some(why)) => Some(Err(why.clone())),
            (None, None) => None,
        });
        Facts {
            state: c.state,
            timer: c.timer(),
            tcp_info,
            options,
            waiters: waiters_of(blocked, holder, lacking),
        }
    }
}

/// The waiters of a socket: the calls blocked on it when every thread of its holder was
/// seen; otherwise why they may be missing (permission, threads that could not be read, a
/// thread resumed from a stop in a call whose fds are not visible).
pub fn waiters_of(
    blocked: &[BlockedThread],
    holder: Option<&Process>,
    lacking: Option<&str>,
) -> Waiters {
    let needs = lacking.map_or(String::new(), |caps| {
        format!(": needs {caps} (root has them)")
    });
    let Some(process) = holder else {
        return Waiters::NotSeen {
            why: format!("no process is known to hold it{needs}"),
        };
    };
    let on: Vec<Wait> = blocked.iter().map(Wait::from).collect();
    let why = match process.thread_evidence {
        ThreadEvidence::Denied => format!("its threads could not be examined{needs}"),
        ThreadEvidence::NotCollected => "its threads were not examined".to_string(),
        _ if !on.is_empty() => return Waiters::Seen(on),
        ThreadEvidence::Partial => "some of its threads could not be examined".to_string(),
        ThreadEvidence::Read => match process.resumed_threads.first() {
            Some(resumed) => format!(
                "thread {} resumed a call after a stop or a signal (restart_syscall{}) whose \
                 socket and timeout are not visible",
                resumed.tid,
                resumed
                    .wchan
                    .as_deref()
                    .map(|w| format!(", waiting in {w}"))
                    .unwrap_or_default()
            ),
            None => return Waiters::Seen(on),
        },
    };
    Waiters::NotSeen { why }
}

/// Judges every connection of every problem finding (in `connections[]`) and each finding
/// from its connections (`timeouts`).
pub(crate) fn fill(report: &mut Report, snapshot: &Snapshot) {
    // The holders by pid, sorted: a binary search per connection, not a hash.
    let mut processes: Vec<(u32, &Process)> =
        snapshot.processes.iter().map(|p| (p.pid, p)).collect();
    processes.sort_unstable_by_key(|&(pid, _)| pid);
    let process = |pid: u32| {
        processes
            .binary_search_by_key(&pid, |&(p, _)| p)
            .ok()
            .map(|at| processes[at].1)
    };
    // The row of each snapshot connection in `connections[]`, by snapshot index.
    let mut rows: Vec<Option<u32>> = vec![None; snapshot.connections.len()];
    for (row, c) in report.connections.iter().enumerate() {
        if let (Some(slot), Ok(row)) = (rows.get_mut(c.index), u32::try_from(row)) {
            *slot = Some(row);
        }
    }
    let Report {
        findings,
        connections,
        ..
    } = report;
    // Connections judged alike (most of a leak's) share one verdict: as judged (with its
    // words), and as `connections[]` lists it (without); a verdict is held once, not once per
    // connection, even while a finding of 100,000 connections is summarized.
    let mut memo = Memo::default();
    let mut wordless: HashMap<usize, Arc<ConnectionTimeouts>> = HashMap::new();
    for finding in findings
        .iter_mut()
        .filter(|f| f.severity == Severity::Problem)
    {
        // (idle, row in connections[], verdict) of each connection of the finding.
        let mut judged: Vec<(u64, Option<usize>, Arc<ConnectionTimeouts>)> = Vec::new();
        for &index in &finding.members {
            let Some(c) = snapshot.connections.get(index) else {
                continue;
            };
            let row = rows.get(index).copied().flatten().map(|r| r as usize);
            let holder = row
                .and_then(|r| connections.get(r))
                .and_then(|r| r.pid)
                .and_then(process);
            let limits = c
                .netns()
                .and_then(|ns| snapshot.tcp_limits.get(&ns))
                .copied();
            let info = c.tcp_info();
            let facts = Facts::of(
                c,
                info.as_ref(),
                snapshot.connections.blocked(index),
                snapshot.connections.probed(index),
                holder,
                snapshot.missing_capabilities.as_deref(),
            );
            let verdict = memo.verdict(&facts, &limits.unwrap_or_default());
            judged.push((c.idle_ms().unwrap_or(0), row, verdict));
        }
        // The longest-waiting connection first: the finding takes its values.
        judged.sort_by_key(|(idle, _, _)| std::cmp::Reverse(*idle));
        let verdicts: Vec<&ConnectionTimeouts> = judged.iter().map(|(_, _, v)| &**v).collect();
        finding.timeouts = summarize(&verdicts);
        // Each connection keeps its raw values and verdict; the words are the finding's.
        let mut last: Option<(usize, Arc<ConnectionTimeouts>)> = None;
        for (_, row, verdict) in judged {
            if let Some(row) = row.and_then(|r| connections.get_mut(r)) {
                let key = Arc::as_ptr(&verdict) as usize;
                let listed = match &last {
                    Some((k, listed)) if *k == key => listed.clone(),
                    _ => wordless
                        .entry(key)
                        .or_insert_with(|| {
                            let mut listed = (*verdict).clone();
                            listed.judged.explanation = String::new();
                            Arc::new(listed)
                        })
                        .clone(),
                };
                last = Some((key, listed.clone()));
                row.timeouts = Some(listed);
            }
        }
    }
}

/// The verdict equal to `verdict` already held in `alike`, else `verdict`, now held there.
/// The last one given is compared first: a leak's connections, judged in a row, are mostly
/// alike, and a comparison costs less than hashing every word of a verdict.
pub(super) fn shared(alike: &mut Alike, verdict: ConnectionTimeouts) -> Arc<ConnectionTimeouts> {
    if let Some(last) = alike.last.as_ref().filter(|last| ***last == verdict) {
        return last.clone();
    }
    let verdict = match alike.all.get(&verdict) {
        Some(same) => same.clone(),
        None => {
            let verdict = Arc::new(verdict);
            alike.all.insert(verdict.clone());
            verdict
        }
    };
    alike.last = Some(verdict.clone());
    verdict
}

/// The verdicts given so far, each once, and the last one given.
#[derive(Default)]
pub(super) struct Alike {
    all: HashSet<Arc<ConnectionTimeouts>>,
    last: Option<Arc<ConnectionTimeouts>>,
}

//! The blocked call's own timeout: what `/proc/PID/task/TID/syscall` shows a thread waiting
//! in, the fds it waits on, and how long the call itself may wait, with the timespec or
//! timeval it points to read from `/proc/PID/mem`.
//!
//! Facts this module relies on (Linux 6.x, checked on this machine):
//! - `poll`/`epoll_wait`/`epoll_pwait` take their timeout in ms as an `int` argument
//!   (negative: forever). `ppoll`, `pselect6`, `epoll_pwait2` point to a `struct timespec`,
//!   `select` to a `struct timeval` (NULL: forever). The kernel writes the time left back only
//!   when the call returns, so the memory holds the timeout the call was given.
//! - `read`/`readv`/`recvfrom`/`recvmsg` have no timeout of their own: only the socket's
//!   `SO_RCVTIMEO` ends them (see `sockopts`). poll, select and epoll ignore `SO_RCVTIMEO`.
//! - A thread stopped (SIGSTOP, a debugger) still shows its call, with wchan
//!   `do_signal_stop` and state `T`. Once continued, a `poll` resumes as `restart_syscall`
//!   (x86_64 219, aarch64 128): the registers, so the arguments shown, are still the original
//!   `poll`'s; the kernel's note of the time left is not visible. Its wchan
//!   (`poll_schedule_timeout`) says that it is a poll again. `read` resumes as itself
//!   (measured); by fs/select.c, `ppoll` and `select` resume as themselves with the time left
//!   written back, and `epoll_wait` returns EINTR to the program (signal(7)).
//! - libcurl polls with a 1000 ms timeout in a loop, Python's `settimeout` becomes a `poll`
//!   with that timeout: a short timeout on a thread idle far longer is a loop, which
//!   `enrich::timeouts` judges, not this module.

use crate::collect::threads::{fd_set_fds, parse_syscall, poll_fds, SyscallLine};
use crate::snapshot::ThreadEvidence;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::FileExt;

/// At most this many pollfd entries, fd_set bits, or bytes of an epoll fdinfo are read.
const MAX_POLL_FDS: u64 = 4096;
const MAX_SELECT_NFDS: u64 = 65536;
const MAX_FDINFO_BYTES: u64 = 1 << 20;

/// The syscall numbers this module knows, per architecture (`None`: the architecture has no
/// such call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbers {
    pub read: i64,
    pub readv: i64,
    pub recvfrom: i64,
    pub recvmsg: i64,
    pub poll: Option<i64>,
    pub ppoll: i64,
    pub select: Option<i64>,
    pub pselect6: i64,
    pub epoll_wait: Option<i64>,
    pub epoll_pwait: i64,
    pub epoll_pwait2: i64,
    pub restart_syscall: i64,
}

/// x86_64 (arch/x86/entry/syscalls/syscall_64.tbl).
pub const X86_64: Numbers = Numbers {
    read: 0,
    readv: 19,
    recvfrom: 45,
    recvmsg: 47,
    poll: Some(7),
    ppoll: 271,
    select: Some(23),
    pselect6: 270,
    epoll_wait: Some(232),
    epoll_pwait: 281,
    epoll_pwait2: 441,
    restart_syscall: 219,
};

/// aarch64 (the generic table, include/uapi/asm-generic/unistd.h): no poll, select or
/// epoll_wait; libc uses ppoll, pselect6 and epoll_pwait.
pub const AARCH64: Numbers = Numbers {
    read: 63,
    readv: 65,
    recvfrom: 207,
    recvmsg: 212,
    poll: None,
    ppoll: 73,
    select: None,
    pselect6: 72,
    epoll_wait: None,
    epoll_pwait: 22,
    epoll_pwait2: 441,
    restart_syscall: 128,
};

/// The table of the architecture this was built for (`None` elsewhere: nothing is judged).
pub fn native() -> Option<&'static Numbers> {
    if cfg!(target_arch = "x86_64") {
        Some(&X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(&AARCH64)
    } else {
        None
    }
}

/// Where a call keeps its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutArg {
    /// None of its own (read, recv*).
    None,
    /// An `int` of milliseconds in a register; negative: forever.
    Ms(i32),
    /// A pointer to a `struct timespec` (NULL: forever).
    Timespec(u64),
    /// A pointer to a `struct timeval` (NULL: forever).
    Timeval(u64),
}

/// A call a thread waits in, and where its fds and timeout are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// read, readv, recvfrom, recvmsg on `fd`: bounded only by `SO_RCVTIMEO`.
    Receive { name: &'static str, fd: u32 },
    /// poll, ppoll: `nfds` pollfd entries at `ptr`.
    Poll {
        name: &'static str,
        ptr: u64,
        nfds: u64,
        timeout: TimeoutArg,
    },
    /// select, pselect6: a read fd_set at `ptr` covering `nfds` fds.
    Select {
        name: &'static str,
        ptr: u64,
        nfds: u64,
        timeout: TimeoutArg,
    },
    /// epoll_wait, epoll_pwait, epoll_pwait2 on the epoll instance `epfd`.
    Epoll {
        name: &'static str,
        epfd: u32,
        timeout: TimeoutArg,
    },
}

impl Call {
    pub fn name(&self) -> &'static str {
        match self {
            Call::Receive { name, .. }
            | Call::Poll { name, .. }
            | Call::Select { name, .. }
            | Call::Epoll { name, .. } => name,
        }
    }

    /// Whether `SO_RCVTIMEO` can end this call (only the receive calls honour it).
    pub fn honours_receive_timeout(&self) -> bool {
        matches!(self, Call::Receive { .. })
    }

    fn timeout_arg(&self) -> TimeoutArg {
        match self {
            Call::Receive { .. } => TimeoutArg::None,
            Call::Poll { timeout, .. }
            | Call::Select { timeout, .. }
            | Call::Epoll { timeout, .. } => *timeout,
        }
    }
}

/// What a `syscall` line means on architecture `n`: the call, and whether it was seen as
/// `restart_syscall` (resumed after a stop or a signal; then `wchan` says what it resumed, and
/// only a poll is recognised).
pub fn classify_for(n: &Numbers, line: &SyscallLine, wchan: Option<&str>) -> Classified {
    let a = line.args;
    let int = |v: u64| v as u32 as i32;
    let fd = |v: u64| u32::try_from(v).ok();
    let nr = line.nr;
    let call = if nr == n.read || nr == n.readv || nr == n.recvfrom || nr == n.recvmsg {
        let name = if nr == n.read {
            "read"
        } else if nr == n.readv {
            "readv"
        } else if nr == n.recvfrom {
            "recvfrom"
        } else {
            "recvmsg"
        };
        fd(a[0]).map(|fd| Call::Receive { name, fd })
    } else if Some(nr) == n.poll {
        Some(poll(a))
    } else if nr == n.ppoll {
        Some(Call::Poll {
            name: "ppoll",
            ptr: a[0],
            nfds: a[1],
            timeout: TimeoutArg::Timespec(a[2]),
        })
    } else if Some(nr) == n.select {
        Some(Call::Select {
            name: "select",
            ptr: a[1],
            nfds: a[0],
            timeout: TimeoutArg::Timeval(a[4]),
        })
    } else if nr == n.pselect6 {
        Some(Call::Select {
            name: "pselect6",
            ptr: a[1],
            nfds: a[0],
            timeout: TimeoutArg::Timespec(a[4]),
        })
    } else if Some(nr) == n.epoll_wait || nr == n.epoll_pwait || nr == n.epoll_pwait2 {
        let name = if nr == n.epoll_pwait2 {
            "epoll_pwait2"
        } else if nr == n.epoll_pwait {
            "epoll_pwait"
        } else {
            "epoll_wait"
        };
        let timeout = if nr == n.epoll_pwait2 {
            TimeoutArg::Timespec(a[3])
        } else {
            TimeoutArg::Ms(int(a[3]))
        };
        fd(a[0]).map(|epfd| Call::Epoll {
            name,
            epfd,
            timeout,
        })
    } else if nr == n.restart_syscall {
        // Only poll resumes through restart_syscall (do_restart_poll); its wait shows as
        // poll_schedule_timeout. The registers still hold poll's arguments.
        let is_poll = wchan.is_some_and(|w| w.starts_with("poll_schedule_timeout"));
        return Classified {
            call: (is_poll && n.poll.is_some()).then(|| poll(a)),
            restarted: true,
        };
    } else {
        None
    };
    Classified {
        call,
        restarted: false,
    }
}

fn poll(a: [u64; 6]) -> Call {
    Call::Poll {
        name: "poll",
        ptr: a[0],
        nfds: a[1],
        timeout: TimeoutArg::Ms(a[2] as u32 as i32),
    }
}

/// `classify_for` on this machine's architecture.
pub fn classify(line: &SyscallLine, wchan: Option<&str>) -> Classified {
    match native() {
        Some(n) => classify_for(n, line, wchan),
        None => Classified {
            call: None,
            restarted: false,
        },
    }
}

/// What [`classify_for`] understood of a syscall line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    /// The call, when it is one that can wait on a socket and is understood.
    pub call: Option<Call>,
    /// The thread shows `restart_syscall`: a call resumed after a stop or a signal.
    pub restarted: bool,
}

/// How long the blocked call itself may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ms", rename_all = "snake_case")]
pub enum WaitTimeout {
    /// No timeout of its own: it waits until the socket (or a signal) wakes it.
    Forever,
    /// It was given this many milliseconds.
    Ms(u64),
    /// Not visible: the timespec could not be read, or the call resumed as `restart_syscall`
    /// from something other than poll.
    Unknown,
}

impl WaitTimeout {
    /// The JSON value `wait_timeout_ms`: -1 for none, null when unknown.
    pub fn json_ms(self) -> Option<i64> {
        match self {
            WaitTimeout::Forever => Some(-1),
            WaitTimeout::Ms(ms) => Some(i64::try_from(ms).unwrap_or(i64::MAX)),
            WaitTimeout::Unknown => None,
        }
    }
}

/// A `struct timespec` (64-bit: i64 seconds, i64 nanoseconds) in ms, rounded up as the kernel
/// rounds a wait. `None` for a value the kernel would refuse (negative, nsec out of range).
pub fn parse_timespec(raw: &[u8]) -> Option<u64> {
    let (secs, sub) = two_i64(raw)?;
    if secs < 0 || !(0..1_000_000_000).contains(&sub) {
        return None;
    }
    Some((secs as u64).saturating_mul(1000) + (sub as u64).div_ceil(1_000_000))
}

/// A `struct timeval` (64-bit: i64 seconds, i64 microseconds) in ms, rounded up.
pub fn parse_timeval(raw: &[u8]) -> Option<u64> {
    let (secs, usec) = two_i64(raw)?;
    if secs < 0 || !(0..1_000_000).contains(&usec) {
        return None;
    }
    Some((secs as u64).saturating_mul(1000) + (usec as u64).div_ceil(1000))
}

fn two_i64(raw: &[u8]) -> Option<(i64, i64)> {
    let a = i64::from_ne_bytes(raw.get(..8)?.try_into().ok()?);
    let b = i64::from_ne_bytes(raw.get(8..16)?.try_into().ok()?);
    Some((a, b))
}

/// The call's own timeout, reading a timespec or timeval through `mem(ptr, len)`.
pub fn timeout_of(call: &Call, mem: &mut dyn FnMut(u64, u64) -> Option<Vec<u8>>) -> WaitTimeout {
    match call.timeout_arg() {
        TimeoutArg::None => WaitTimeout::Forever,
        TimeoutArg::Ms(ms) if ms < 0 => WaitTimeout::Forever,
        TimeoutArg::Ms(ms) => WaitTimeout::Ms(ms as u64),
        TimeoutArg::Timespec(0) | TimeoutArg::Timeval(0) => WaitTimeout::Forever,
        TimeoutArg::Timespec(ptr) => mem(ptr, 16)
            .as_deref()
            .and_then(parse_timespec)
            .map_or(WaitTimeout::Unknown, WaitTimeout::Ms),
        TimeoutArg::Timeval(ptr) => mem(ptr, 16)
            .as_deref()
            .and_then(parse_timeval)
            .map_or(WaitTimeout::Unknown, WaitTimeout::Ms),
    }
}

/// The fds the call waits on (for epoll: the epoll fd itself; see [`epoll_targets`]), or
/// `None` when its array could not be read.
pub fn fds_of(call: &Call, mem: &mut dyn FnMut(u64, u64) -> Option<Vec<u8>>) -> Option<Vec<u32>> {
    match *call {
        Call::Receive { fd, .. } => Some(vec![fd]),
        Call::Epoll { epfd, .. } => Some(vec![epfd]),
        Call::Poll { ptr, nfds, .. } => {
            let len = nfds.min(MAX_POLL_FDS) * 8;
            if len == 0 {
                return Some(Vec::new());
            }
            mem(ptr, len).map(|raw| poll_fds(&raw))
        }
        Call::Select { ptr, nfds, .. } => {
            if ptr == 0 {
                return Some(Vec::new());
            }
            let nfds = nfds.min(MAX_SELECT_NFDS);
            mem(ptr, nfds.div_ceil(8)).map(|raw| fd_set_fds(&raw, nfds))
        }
    }
}

/// The fds an epoll instance watches: the `tfd:` lines of /proc/PID/fdinfo/EPFD (bounded).
/// Event loops keep every socket registered, so registration alone proves nothing.
pub fn epoll_targets(pid: u32, epfd: u32) -> Option<Vec<u32>> {
    use std::io::Read;
    let file = std::fs::File::open(format!("/proc/{pid}/fdinfo/{epfd}")).ok()?;
    let mut text = String::new();
    file.take(MAX_FDINFO_BYTES).read_to_string(&mut text).ok()?;
    Some(parse_epoll_fdinfo(&text))
}

/// The `tfd:` numbers of an epoll fdinfo text.
pub fn parse_epoll_fdinfo(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.strip_prefix("tfd:"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// One thread blocked in a call that can wait on a socket, with the call's own timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedCall {
    pub tid: u32,
    /// The call: `read`, `recvfrom`, `poll`, `ppoll`, `select`, `pselect6`, `epoll_wait`...
    /// A poll resumed after a stop shows `poll` here and `restarted: true`.
    pub syscall: String,
    /// The thread shows `restart_syscall`: its call was interrupted (SIGSTOP, a debugger, a
    /// signal) and resumed; it is still blocked. The time left is not visible, only the
    /// timeout the call was first given.
    pub restarted: bool,
    /// The thread is stopped (state T or t): nothing moves until it is continued.
    pub stopped: bool,
    /// The fds it waits on (for epoll calls: the epoll fd); empty when they could not be read.
    pub fds: Vec<u32>,
    pub timeout: WaitTimeout,
    /// Whether the socket's `SO_RCVTIMEO` can end it (read and recv calls only).
    pub honours_receive_timeout: bool,
    pub wchan: Option<String>,
}

/// A thread whose call could not be understood is reported as such, never guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Blocked in a call that can wait on a socket.
    Blocked(BlockedCall),
    /// In `restart_syscall` resuming something other than poll: still blocked, but on what
    /// and for how long is not visible.
    Resumed { tid: u32, wchan: Option<String> },
    /// Running, or in a call that does not wait on a socket.
    Other,
}

/// Why a thread could not be examined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSeen {
    /// /proc/PID/task/TID/syscall is not readable (root, or CAP_SYS_PTRACE and
    /// CAP_DAC_READ_SEARCH for another user's process).
    Denied,
    /// The thread exited.
    Gone,
}

/// /proc/PID/mem, opened on first use; every read bounded by its caller.
pub struct Mem {
    pid: u32,
    file: Option<std::io::Result<std::fs::File>>,
}

impl Mem {
    pub fn new(pid: u32) -> Mem {
        Mem { pid, file: None }
    }

    /// `len` bytes at `ptr` of the process's memory, or `None` (not mapped, not allowed).
    pub fn read(&mut self, ptr: u64, len: u64) -> Option<Vec<u8>> {
        if len == 0 {
            return Some(Vec::new());
        }
        let pid = self.pid;
        let file = self
            .file
            .get_or_insert_with(|| std::fs::File::open(format!("/proc/{pid}/mem")))
            .as_ref()
            .ok()?;
        let mut buf = vec![0u8; usize::try_from(len).ok()?];
        file.read_exact_at(&mut buf, ptr).ok()?;
        Some(buf)
    }
}

/// Examines one thread: its syscall, wchan, state, and for a waiting call the fds and the
/// call's own timeout (read from `mem` when it is a pointer).
pub fn examine_thread(pid: u32, tid: u32, mem: &mut Mem) -> Result<Seen, NotSeen> {
    let text = match std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(NotSeen::Denied)
        }
        Err(_) => return Err(NotSeen::Gone),
    };
    let Some(line) = parse_syscall(&text) else {
        return Ok(Seen::Other);
    };
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/wchan"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "0");
    let classified = classify(&line, wchan.as_deref());
    let Some(call) = classified.call else {
        return Ok(if classified.restarted {
            Seen::Resumed { tid, wchan }
        } else {
            Seen::Other
        });
    };
    let mut read = |ptr, len| mem.read(ptr, len);
    let timeout = timeout_of(&call, &mut read);
    let fds = fds_of(&call, &mut read).unwrap_or_default();
    let stopped = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat"))
        .ok()
        .and_then(|stat| state_of(&stat))
        .is_some_and(|state| state == 'T' || state == 't');
    Ok(Seen::Blocked(BlockedCall {
        tid,
        syscall: call.name().to_string(),
        restarted: classified.restarted,
        stopped,
        fds,
        timeout,
        honours_receive_timeout: call.honours_receive_timeout(),
        wchan,
    }))
}

/// The state letter of a /proc/PID/stat line (after the command name, which may hold spaces
/// and parentheses).
pub fn state_of(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Every thread of a process: the blocked calls, the resumed calls that are not understood,
/// and whether all threads could be examined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessWaits {
    pub calls: Vec<BlockedCall>,
    /// Threads in `restart_syscall` of a call other than poll: `(tid, wchan)`.
    pub resumed: Vec<(u32, Option<String>)>,
    pub evidence: ThreadEvidence,
}

impl ProcessWaits {
    /// The calls waiting on `fd` (directly, or in a poll/select set).
    pub fn on_fd(&self, fd: u32) -> impl Iterator<Item = &BlockedCall> {
        self.calls.iter().filter(move |c| c.fds.contains(&fd))
    }
}

/// Examines every thread of `pid`.
pub fn examine(pid: u32) -> ProcessWaits {
    let mut waits = ProcessWaits {
        calls: Vec::new(),
        resumed: Vec::new(),
        evidence: ThreadEvidence::Read,
    };
    let tasks = match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(dir) => dir,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            waits.evidence = ThreadEvidence::Denied;
            return waits;
        }
        Err(_) => {
            waits.evidence = ThreadEvidence::Partial;
            return waits;
        }
    };
    let mut mem = Mem::new(pid);
    let (mut seen, mut denied) = (0usize, 0usize);
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        match examine_thread(pid, tid, &mut mem) {
            Ok(Seen::Blocked(call)) => {
                seen += 1;
                waits.calls.push(call);
            }
            Ok(Seen::Resumed { tid, wchan }) => {
                seen += 1;
                waits.resumed.push((tid, wchan));
            }
            Ok(Seen::Other) => seen += 1,
            Err(NotSeen::Denied) => denied += 1,
            Err(NotSeen::Gone) => {}
        }
    }
    waits.evidence = match (seen, denied) {
        (_, 0) => ThreadEvidence::Read,
        (0, _) => ThreadEvidence::Denied,
        _ => ThreadEvidence::Partial,
    };
    waits.calls.sort_by_key(|c| c.tid);
    waits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> SyscallLine {
        parse_syscall(text).unwrap()
    }

    #[test]
    fn the_tables_match_libc() {
        let n = native().expect("a supported architecture");
        assert_eq!(n.read, libc::SYS_read);
        assert_eq!(n.readv, libc::SYS_readv);
        assert_eq!(n.recvfrom, libc::SYS_recvfrom);
        assert_eq!(n.recvmsg, libc::SYS_recvmsg);
        assert_eq!(n.ppoll, libc::SYS_ppoll);
        assert_eq!(n.pselect6, libc::SYS_pselect6);
        assert_eq!(n.epoll_pwait, libc::SYS_epoll_pwait);
        assert_eq!(n.epoll_pwait2, libc::SYS_epoll_pwait2);
        assert_eq!(n.restart_syscall, libc::SYS_restart_syscall);
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(n.poll, Some(libc::SYS_poll));
            assert_eq!(n.select, Some(libc::SYS_select));
            assert_eq!(n.epoll_wait, Some(libc::SYS_epoll_wait));
        }
    }

    #[test]
    fn curl_polls_for_a_second() {
        // libcurl under PHP's curl_exec, as measured.
        let l = line("7 0x7ffc6a6d0170 0x2 0x3e8 0x8 0x1 0x0 0x7ffc6a6d00e8 0x7f8164227230");
        let c = classify_for(&X86_64, &l, Some("poll_schedule_timeout.constprop.0"));
        assert!(!c.restarted);
        let call = c.call.unwrap();
        assert_eq!(call.name(), "poll");
        assert!(!call.honours_receive_timeout());
        assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Ms(1000));
    }

    #[test]
    fn infinite_poll_and_epoll() {
        // poll(fds, 1, -1): the int arrives zero-extended.
        let l = line("7 0x7f397ccc4740 0x1 0xffffffff 0x1 0x0 0x0 0x7ffd 0x7f39");
        let call = classify_for(&X86_64, &l, None).call.unwrap();
        assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Forever);
        // ... or sign-extended.
        let l = line("232 0x5 0x7ffd 0x400 0xffffffffffffffff 0x0 0x0 0x7ffd 0x7f39");
        let call = classify_for(&X86_64, &l, None).call.unwrap();
        assert_eq!(call.name(), "epoll_wait");
        assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Forever);
        assert_eq!(fds_of(&call, &mut |_, _| None), Some(vec![5]));
        // epoll_pwait on aarch64 with 250 ms.
        let l = line("22 0x5 0xffffd000 0x400 0xfa 0x0 0x0 0xffffd 0xffff");
        let call = classify_for(&AARCH64, &l, None).call.unwrap();
        assert_eq!(call.name(), "epoll_pwait");
        assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Ms(250));
    }

    #[test]
    fn receive_calls_have_no_timeout_of_their_own() {
        for (n, text) in [
            (&X86_64, "45 0x3 0x7ffd 0x2000 0x0 0x0 0x0 0x7ffd 0x7f00"),
            (&X86_64, "0 0x4 0x7ffd 0x1000 0x0 0x0 0x0 0x7ffd 0x7f00"),
            (&AARCH64, "63 0x4 0xffffd 0x1000 0x0 0x0 0x0 0xffffd 0xffff"),
            (
                &AARCH64,
                "207 0x3 0xffffd 0x2000 0x0 0x0 0x0 0xffffd 0xffff",
            ),
        ] {
            let call = classify_for(n, &line(text), None).call.unwrap();
            assert!(call.honours_receive_timeout(), "{text}");
            assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Forever);
        }
        let call = classify_for(&AARCH64, &line("212 0x9 0x0 0x0 0x0 0x0 0x0 0x0 0x0"), None)
            .call
            .unwrap();
        assert_eq!(
            call,
            Call::Receive {
                name: "recvmsg",
                fd: 9
            }
        );
        // On aarch64, 7 is not poll (the generic table has none): not a waiting call.
        assert_eq!(
            classify_for(&AARCH64, &line("7 0x1 0x2 0x3 0x0 0x0 0x0 0x0 0x0"), None).call,
            None
        );
    }

    #[test]
    fn pointers_to_timespec_and_timeval() {
        let mut ts = Vec::new();
        ts.extend_from_slice(&30i64.to_ne_bytes());
        ts.extend_from_slice(&500_000_001i64.to_ne_bytes());
        assert_eq!(parse_timespec(&ts), Some(30_501));
        let mut tv = Vec::new();
        tv.extend_from_slice(&2i64.to_ne_bytes());
        tv.extend_from_slice(&250_000i64.to_ne_bytes());
        assert_eq!(parse_timeval(&tv), Some(2_250));
        // Out of range and short input are not values.
        let mut bad = Vec::new();
        bad.extend_from_slice(&(-1i64).to_ne_bytes());
        bad.extend_from_slice(&0i64.to_ne_bytes());
        assert_eq!(parse_timespec(&bad), None);
        assert_eq!(parse_timespec(&ts[..12]), None);

        // ppoll (x86_64 271) with a timespec at 0x1000; NULL: forever.
        let call = classify_for(
            &X86_64,
            &line("271 0x2000 0x1 0x1000 0x0 0x8 0x0 0x0 0x0"),
            None,
        )
        .call
        .unwrap();
        let mut mem = |ptr: u64, len: u64| (ptr == 0x1000 && len == 16).then(|| ts.clone());
        assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Ms(30_501));
        let call = classify_for(
            &AARCH64,
            &line("73 0x2000 0x1 0x0 0x0 0x8 0x0 0x0 0x0"),
            None,
        )
        .call
        .unwrap();
        assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Forever);
        // An unreadable pointer is unknown, never forever.
        let call = classify_for(
            &X86_64,
            &line("271 0x2000 0x1 0x3000 0x0 0x8 0x0 0x0 0x0"),
            None,
        )
        .call
        .unwrap();
        assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Unknown);
        // select (x86_64 23): timeval at arg4; pselect6: timespec at arg4.
        let call = classify_for(
            &X86_64,
            &line("23 0x8 0x5000 0x0 0x0 0x6000 0x0 0x0 0x0"),
            None,
        )
        .call
        .unwrap();
        let mut mem = |ptr: u64, _| (ptr == 0x6000).then(|| tv.clone());
        assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Ms(2_250));
        let call = classify_for(
            &AARCH64,
            &line("72 0x8 0x5000 0x0 0x0 0x0 0x0 0x0 0x0"),
            None,
        )
        .call
        .unwrap();
        assert_eq!(call.name(), "pselect6");
        assert_eq!(timeout_of(&call, &mut mem), WaitTimeout::Forever);
    }

    #[test]
    fn restart_syscall_is_recognised() {
        // A poll(…, 60000) stopped with SIGSTOP and continued, as measured.
        let l = line("219 0x7fee5d66c740 0x1 0xea60 0x1 0x0 0x0 0x7ffdb5b5be88 0x7fee5d91a230");
        let c = classify_for(&X86_64, &l, Some("poll_schedule_timeout.constprop.0"));
        assert!(c.restarted);
        let call = c.call.unwrap();
        assert_eq!(call.name(), "poll");
        assert_eq!(timeout_of(&call, &mut |_, _| None), WaitTimeout::Ms(60_000));
        // A resumed nanosleep: still blocked, but not a socket wait this module understands.
        let c = classify_for(&X86_64, &l, Some("hrtimer_nanosleep"));
        assert!(c.restarted);
        assert_eq!(c.call, None);
        // aarch64 has no poll: restart_syscall there is never taken for one.
        let l = line("128 0xffff 0x1 0xea60 0x0 0x0 0x0 0x0 0x0");
        let c = classify_for(&AARCH64, &l, Some("poll_schedule_timeout.constprop.0"));
        assert!(c.restarted);
        assert_eq!(c.call, None);
    }

    #[test]
    fn fdinfo_and_stat() {
        let text = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n\
                    tfd:        5 events:       19 data:                5  pos:0 ino:3e8 sdev:8\n\
                    tfd:       12 events:       19 data:                c  pos:0 ino:3e9 sdev:8\n";
        assert_eq!(parse_epoll_fdinfo(text), vec![5, 12]);
        assert_eq!(state_of("123 (a) b) c) T 1 2 3"), Some('T'));
        assert_eq!(state_of("123 (php8.2) S 1 2"), Some('S'));
        assert_eq!(state_of("garbage"), None);
    }

    #[test]
    fn json_values() {
        assert_eq!(WaitTimeout::Forever.json_ms(), Some(-1));
        assert_eq!(WaitTimeout::Ms(1000).json_ms(), Some(1000));
        assert_eq!(WaitTimeout::Unknown.json_ms(), None);
    }
}

//! Which call a thread waits in, on which fds, and how long the call itself may wait: the
//! `syscall` line of a thread decoded per architecture, its fd array or set and its timespec
//! or timeval read through a bounded reader of the process's memory.

use crate::snapshot::WaitTimeout;

/// At most this many pollfd entries (or fd_set bits) are read from a process's memory.
const MAX_POLL_FDS: u64 = 4096;
const MAX_SELECT_NFDS: u64 = 65536;

/// A syscall a thread is blocked in, as `/proc/PID/task/TID/syscall` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallLine {
    pub nr: i64,
    pub args: [u64; 6],
}

/// Parses the `syscall` file. `None` when the thread is not in a syscall (`running`, `-1 ...`)
/// or the text is not understood.
pub fn parse_syscall(text: &str) -> Option<SyscallLine> {
    let mut words = text.split_ascii_whitespace();
    let nr: i64 = words.next()?.parse().ok()?;
    if nr < 0 {
        return None;
    }
    let mut args = [0u64; 6];
    for arg in &mut args {
        let word = words.next()?;
        *arg = u64::from_str_radix(word.strip_prefix("0x").unwrap_or(word), 16).ok()?;
    }
    Some(SyscallLine { nr, args })
}

/// The fds in a raw `struct pollfd` array (8 bytes each: i32 fd, i16 events, i16 revents).
pub fn poll_fds(raw: &[u8]) -> Vec<u32> {
    raw.chunks_exact(8)
        .filter_map(|e| u32::try_from(i32::from_ne_bytes([e[0], e[1], e[2], e[3]])).ok())
        .collect()
}

/// The fds set in a raw fd_set bitmap (little-endian longs: bit i of byte i/8).
pub fn fd_set_fds(raw: &[u8], nfds: u64) -> Vec<u32> {
    let mut fds = Vec::new();
    for (byte_index, byte) in raw.iter().enumerate() {
        for bit in 0..8 {
            let fd = (byte_index * 8 + bit) as u64;
            if fd < nfds && byte & (1 << bit) != 0 {
                fds.push(fd as u32);
            }
        }
    }
    fds
}

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

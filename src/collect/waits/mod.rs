//! Which thread is blocked on which socket, and the blocked call's own timeout: what
//! `/proc/PID/task/TID/syscall` shows a thread waiting in, the fds it waits on (a poll array
//! or select set read from `/proc/PID/mem`), and how long the call itself may wait (the
//! timespec or timeval it points to, read the same way).
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

mod calls;
#[cfg(test)]
mod tests;

use calls::native;
pub use calls::{
    classify, fd_set_fds, fds_of, parse_syscall, poll_fds, timeout_of, Call, Classified,
    SyscallLine,
};

use crate::snapshot::{BlockedThread, ResumedThread, ThreadEvidence};
use std::collections::HashMap;
use std::os::unix::fs::FileExt;

/// What the threads of one process showed, beyond the threads blocked on wanted sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Examined {
    pub evidence: ThreadEvidence,
    /// Threads in `restart_syscall` of a call other than poll: still blocked, on what is
    /// not visible.
    pub resumed: Vec<ResumedThread>,
}

/// Examines every thread of `pid`. For each thread blocked on an fd that `wanted` maps to a
/// connection index, pushes `(index, BlockedThread)` onto `found`, with the call's own
/// timeout. Never guesses: threads whose syscall or fd set cannot be read lower the
/// returned evidence level.
pub fn examine(
    pid: u32,
    wanted: &HashMap<(u32, u32), usize>,
    found: &mut Vec<(usize, BlockedThread)>,
) -> Examined {
    let mut examined = Examined {
        evidence: ThreadEvidence::Read,
        resumed: Vec::new(),
    };
    let tasks = match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(dir) => dir,
        Err(err) => {
            examined.evidence = match err.kind() {
                std::io::ErrorKind::PermissionDenied => ThreadEvidence::Denied,
                _ => ThreadEvidence::Partial,
            };
            return examined;
        }
    };
    let mut mem = Mem::new(pid);
    let (mut read, mut denied, mut unreadable) = (0usize, 0usize, 0usize);
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let thread = Thread { pid, tid };
        match thread.look(&mut mem) {
            Look::Gone => {}
            Look::Denied => denied += 1,
            Look::Unreadable => unreadable += 1,
            Look::Other => read += 1,
            Look::Resumed(wchan) => {
                read += 1;
                examined.resumed.push(ResumedThread { tid, wchan });
            }
            Look::Waiting {
                call,
                fds,
                restarted,
            } => {
                read += 1;
                thread.record(&call, &fds, restarted, wanted, &mut mem, found);
            }
        }
    }
    examined.evidence = match (read, denied, unreadable) {
        (_, 0, 0) => ThreadEvidence::Read,
        (0, _, 0) => ThreadEvidence::Denied,
        _ => ThreadEvidence::Partial,
    };
    examined
}

/// What one thread's files say.
enum Look {
    /// The thread exited meanwhile.
    Gone,
    /// Its syscall file may not be read.
    Denied,
    /// Its evidence could not be read otherwise (its poll array in /proc/PID/mem, say).
    Unreadable,
    /// Running, or in a call that does not wait on a socket.
    Other,
    /// In `restart_syscall` resuming something other than poll (its wchan).
    Resumed(Option<String>),
    /// Waiting in `call` on `fds`.
    Waiting {
        call: Call,
        fds: Vec<u32>,
        restarted: bool,
    },
}

#[derive(Clone, Copy)]
struct Thread {
    pid: u32,
    tid: u32,
}

impl Thread {
    fn file(self, name: &str) -> String {
        format!("/proc/{}/task/{}/{name}", self.pid, self.tid)
    }

    /// The call the thread waits in and its fds. wchan is read only for `restart_syscall`,
    /// where it tells which call resumed.
    fn look(self, mem: &mut Mem) -> Look {
        let text = match crate::procfile::read_text(self.file("syscall"), SMALL_CAP) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Look::Gone,
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => return Look::Denied,
            Err(_) => return Look::Unreadable,
        };
        let Some(line) = parse_syscall(&text) else {
            return Look::Other;
        };
        let resuming = native().is_some_and(|n| line.nr == n.restart_syscall);
        let wchan = if resuming { self.wchan() } else { None };
        let classified = classify(&line, wchan.as_deref());
        match classified.call {
            None if classified.restarted => Look::Resumed(wchan),
            None => Look::Other,
            Some(call) => match fds_of(&call, &mut |ptr, len| mem.read(ptr, len)) {
                Some(fds) => Look::Waiting {
                    call,
                    fds,
                    restarted: classified.restarted,
                },
                None => Look::Unreadable,
            },
        }
    }

    /// Records the thread on every wanted socket it waits on, with the call's timeout and
    /// whether the thread is stopped (read only when it waits on one).
    fn record(
        self,
        call: &Call,
        fds: &[u32],
        restarted: bool,
        wanted: &HashMap<(u32, u32), usize>,
        mem: &mut Mem,
        found: &mut Vec<(usize, BlockedThread)>,
    ) {
        let mut on: Vec<(usize, u32)> = fds
            .iter()
            .filter_map(|&fd| wanted.get(&(self.pid, fd)).map(|&index| (index, fd)))
            .collect();
        if on.is_empty() {
            return;
        }
        on.dedup();
        let timeout = timeout_of(call, &mut |ptr, len| mem.read(ptr, len));
        let stopped = crate::procfile::read_text(self.file("stat"), SMALL_CAP)
            .ok()
            .and_then(|stat| state_of(&stat))
            .is_some_and(|state| state == 'T' || state == 't');
        let wchan = self.wchan();
        for (index, fd) in on {
            found.push((
                index,
                BlockedThread {
                    pid: self.pid,
                    tid: self.tid,
                    fd,
                    syscall: call.name().to_string(),
                    wchan: wchan.clone(),
                    timeout_ms: timeout.json_ms(),
                    restarted,
                    stopped,
                },
            ));
        }
    }

    /// The kernel function the thread sleeps in (`wait_woken`), when it says.
    fn wchan(self) -> Option<String> {
        crate::procfile::read_text(self.file("wchan"), SMALL_CAP)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "0")
    }
}

/// The state letter of a /proc/PID/stat line (after the command name, which may hold spaces
/// and parentheses).
fn state_of(stat: &str) -> Option<char> {
    crate::procfile::Stat::parse(stat)?.field(3)?.chars().next()
}

/// The most read of a thread's `syscall`, `stat` or `wchan` (one line each).
const SMALL_CAP: u64 = 4096;

/// /proc/PID/mem, opened on first use; every read bounded by its caller.
struct Mem {
    pid: u32,
    file: Option<std::io::Result<std::fs::File>>,
}

impl Mem {
    fn new(pid: u32) -> Mem {
        Mem { pid, file: None }
    }

    /// `len` bytes at `ptr` of the process's memory, or `None` (not mapped, not allowed).
    fn read(&mut self, ptr: u64, len: u64) -> Option<Vec<u8>> {
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

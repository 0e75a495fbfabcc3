//! Which thread is blocked on which socket: /proc/PID/task/TID/{syscall,wchan}, and for
//! poll/select the fd set itself, read from /proc/PID/mem.

use crate::snapshot::{BlockedThread, ThreadEvidence};
use std::collections::HashMap;
use std::os::unix::fs::FileExt;

/// At most this many pollfd entries (or select bits / 8) are read from a process's memory.
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

/// How a blocking syscall names the fds it waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// read/recvfrom/recvmsg/readv: arg0 is the fd.
    Fd(&'static str, u32),
    /// poll/ppoll: an array of `struct pollfd` at `ptr`, `nfds` entries.
    PollFds(&'static str, u64, u64),
    /// select/pselect6: a read fd_set at `ptr` covering `nfds` fds.
    FdSet(&'static str, u64, u64),
}

/// What a syscall waits on, for the syscalls that block on socket reads.
pub fn wait_of(line: &SyscallLine) -> Option<Wait> {
    let a = line.args;
    let fd = |name| u32::try_from(a[0]).ok().map(|fd| Wait::Fd(name, fd));
    #[cfg(target_arch = "x86_64")]
    {
        match line.nr {
            libc::SYS_poll => return Some(Wait::PollFds("poll", a[0], a[1])),
            libc::SYS_select => return Some(Wait::FdSet("select", a[1], a[0])),
            _ => {}
        }
    }
    match line.nr {
        libc::SYS_read => fd("read"),
        libc::SYS_readv => fd("readv"),
        libc::SYS_recvfrom => fd("recvfrom"),
        libc::SYS_recvmsg => fd("recvmsg"),
        libc::SYS_ppoll => Some(Wait::PollFds("ppoll", a[0], a[1])),
        libc::SYS_pselect6 => Some(Wait::FdSet("pselect6", a[1], a[0])),
        _ => None,
    }
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

/// What one thread's files say.
enum Look {
    /// The thread exited meanwhile.
    Gone,
    /// Its syscall file may not be read.
    Denied,
    /// Its evidence could not be read otherwise (its poll array in /proc/PID/mem, say).
    Unreadable,
    /// Read: not waiting on a socket's fd.
    Idle,
    /// Read: waiting in this syscall on these fds.
    Waiting(&'static str, Vec<u32>),
}

/// What thread `tid` of `pid` waits on. `mem` is the process's memory, opened once.
fn look(pid: u32, tid: u32, mem: &mut Option<std::io::Result<std::fs::File>>) -> Look {
    let text = match std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Look::Gone,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => return Look::Denied,
        Err(_) => return Look::Unreadable,
    };
    let Some(wait) = parse_syscall(&text).as_ref().and_then(wait_of) else {
        return Look::Idle;
    };
    match wait {
        Wait::Fd(name, fd) => Look::Waiting(name, vec![fd]),
        Wait::PollFds(name, ptr, nfds) => {
            match read_mem(mem, pid, ptr, nfds.min(MAX_POLL_FDS) * 8) {
                Some(raw) => Look::Waiting(name, poll_fds(&raw)),
                None => Look::Unreadable,
            }
        }
        Wait::FdSet(_, 0, _) => Look::Idle,
        Wait::FdSet(name, ptr, nfds) => {
            let nfds = nfds.min(MAX_SELECT_NFDS);
            match read_mem(mem, pid, ptr, nfds.div_ceil(8)) {
                Some(raw) => Look::Waiting(name, fd_set_fds(&raw, nfds)),
                None => Look::Unreadable,
            }
        }
    }
}

/// Examines every thread of `pid`. For each thread blocked on an fd that `wanted` maps to a
/// connection index, pushes `(index, BlockedThread)` onto `found`. Never guesses: threads whose
/// syscall or memory cannot be read are counted in the returned evidence level.
pub fn examine(
    pid: u32,
    wanted: &HashMap<(u32, u32), usize>,
    found: &mut Vec<(usize, BlockedThread)>,
) -> ThreadEvidence {
    let tasks = match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(dir) => dir,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            return ThreadEvidence::Denied
        }
        Err(_) => return ThreadEvidence::Partial,
    };
    let (mut read, mut denied, mut unreadable) = (0usize, 0usize, 0usize);
    let mut mem: Option<std::io::Result<std::fs::File>> = None;
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let (name, fds) = match look(pid, tid, &mut mem) {
            Look::Gone => continue,
            Look::Denied => {
                denied += 1;
                continue;
            }
            Look::Unreadable => {
                unreadable += 1;
                continue;
            }
            Look::Idle => {
                read += 1;
                continue;
            }
            Look::Waiting(name, fds) => (name, fds),
        };
        read += 1;
        let mut wchan = None;
        for fd in fds {
            if let Some(&index) = wanted.get(&(pid, fd)) {
                let wchan = wchan.get_or_insert_with(|| read_wchan(pid, tid)).clone();
                found.push((
                    index,
                    BlockedThread {
                        pid,
                        tid,
                        fd,
                        syscall: name.to_string(),
                        wchan,
                    },
                ));
            }
        }
    }
    match (read, denied, unreadable) {
        (_, 0, 0) => ThreadEvidence::Read,
        (0, _, 0) => ThreadEvidence::Denied,
        _ => ThreadEvidence::Partial,
    }
}

/// The kernel function a thread sleeps in (`wait_woken`), when it says.
fn read_wchan(pid: u32, tid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/wchan"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "0")
}

fn read_mem(
    mem: &mut Option<std::io::Result<std::fs::File>>,
    pid: u32,
    ptr: u64,
    len: u64,
) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let file = mem
        .get_or_insert_with(|| std::fs::File::open(format!("/proc/{pid}/mem")))
        .as_ref()
        .ok()?;
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, ptr).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_read_names_its_fd() {
        let line = parse_syscall("0 0x4 0x7ffd 0x1000 0x0 0x0 0x0 0x7ffd 0x7f00\n").unwrap();
        assert_eq!(wait_of(&line), Some(Wait::Fd("read", 4)));
    }

    #[test]
    fn not_in_a_syscall() {
        assert_eq!(parse_syscall("running\n"), None);
        assert_eq!(parse_syscall("-1 0x7ffd 0x7f00\n"), None);
        assert_eq!(parse_syscall(""), None);
        assert_eq!(parse_syscall("0 0xzz"), None);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn curl_poll_is_an_array() {
        let line = parse_syscall("7 0x7ffc1000 0x2 0x3e8 0x0 0x0 0x0 0x7ffd 0x7f00").unwrap();
        assert_eq!(wait_of(&line), Some(Wait::PollFds("poll", 0x7ffc1000, 2)));
    }

    #[test]
    fn pollfd_array_and_fd_set() {
        let mut raw = Vec::new();
        for (fd, events) in [(5i32, 1i16), (-1, 0), (9, 1)] {
            raw.extend_from_slice(&fd.to_ne_bytes());
            raw.extend_from_slice(&events.to_ne_bytes());
            raw.extend_from_slice(&0i16.to_ne_bytes());
        }
        assert_eq!(poll_fds(&raw), vec![5, 9]);
        // fds 3 and 10 set; nfds 11.
        assert_eq!(fd_set_fds(&[0b0000_1000, 0b0000_0100], 11), vec![3, 10]);
        // bits at or beyond nfds are ignored.
        assert_eq!(fd_set_fds(&[0b0000_1000, 0b0000_0100], 4), vec![3]);
    }
}

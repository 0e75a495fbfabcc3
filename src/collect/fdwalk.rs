//! The /proc fd walk at close to the kernel's floor: which (pid, fd) holds which socket.
//!
//! The same result as a walk with `procfs` (`Owner { pid, fd }` for every socket inode asked
//! about, the same denied / vanished / cut-short accounting), in about one system call per fd
//! instead of four:
//!
//! - /proc is opened once and listed with getdents64 into a reused buffer;
//! - each process's `fd` directory is opened relative to it (`PID/fd`, the name getdents gave:
//!   no formatting) and listed with one reused getdents64 buffer;
//! - each fd is read with `readlinkat(fd_dir, NAME)` into a stack buffer (no path built, no
//!   `open(O_PATH)` + `fstat` + `close` per fd), and `socket:[INODE]` is parsed in place;
//! - the walk only appends (inode, pid, fd) of each socket fd to one vector; afterwards it is
//!   sorted, merged with the connections sorted by inode, and the owners are written in the
//!   connections' order. Looking every fd up at once, between two system calls, cost more
//!   than the system calls at 200,000 sockets (a cache and TLB miss each). And the walk needs
//!   nothing from the sock_diag dump: the two can run at the same time.
//!
//! Measured (examples/walk_variants.rs, 200,000 socket fds over 1,000 processes): listing
//! costs 0.9 us per fd and reading the link 1.1 us, all of it in the kernel (dentry lookups
//! and `socket:[N]` formatting); fstatat or statx on the fd costs the same as readlinkat.
//!
//! What is deliberately not done, measured or unsound:
//! - narrowing the processes by the sockets' uids: a process of one uid holds sockets of
//!   another after setuid, fork or SCM_RIGHTS (nginx workers hold root's listeners); nothing
//!   but the fd table says which process holds which socket;
//! - stopping once every socket has an owner: a socket shared by a parent and its child has
//!   two, and no file tells how many sockets a process holds (`/proc/PID/status` counts none);
//! - reading every fd below `FDSize:` of /proc/PID/status instead of listing: 50% dearer;
//! - skipping kernel threads by their stat: reading it (1.9 us) costs more than opening and
//!   listing their empty fd directory (1.2 us).

use super::procs::PassStats;
use crate::deadline::Deadline;
use crate::snapshot::{Connection, Owner};
use rustix::fs::{openat, readlinkat_raw, Mode, OFlags, RawDir, CWD};
use rustix::io::Errno;
use std::ffi::CStr;
use std::mem::MaybeUninit;

/// getdents64 buffer: about 250 fd entries (32 bytes each) per call. 4 to 32 KiB cost the
/// same at 200,000 fds (8 KiB a little less); 128 KiB costs 15% more (examples/walk_variants).
const DIR_BUFFER: usize = 8 * 1024;

/// The deadline is asked before each process and every this many fds within one (a process
/// with a million fds must not hold the walk past its 50 ms bound).
const CHECK_EVERY_FDS: usize = 4096;

/// The longest link a socket fd can have: `socket:[` + 20 digits + `]`. A longer link is not
/// a socket; the buffer is larger so that a truncated read can be told from a socket.
const LINK_BUFFER: usize = 64;

/// The sockets asked about, by inode: a sorted vector of (inode, index into the connections).
#[derive(Debug, Default)]
pub struct SocketIndex {
    by_inode: Vec<(u32, u32)>,
}

impl SocketIndex {
    /// Every connection with an inode (0 is TIME-WAIT and other orphans: nobody holds them).
    pub fn new(connections: &[Connection]) -> SocketIndex {
        let mut by_inode: Vec<(u32, u32)> = connections
            .iter()
            .enumerate()
            .filter(|(_, c)| c.inode != 0)
            .map(|(i, c)| (c.inode, i as u32))
            .collect();
        by_inode.sort_unstable();
        SocketIndex { by_inode }
    }

    /// The index of the connection with this inode (the first, if a broken dump listed one
    /// twice).
    pub fn get(&self, inode: u64) -> Option<usize> {
        let inode = u32::try_from(inode).ok()?;
        let at = self.by_inode.partition_point(|&(ino, _)| ino < inode);
        match self.by_inode.get(at) {
            Some(&(ino, index)) if ino == inode => Some(index as usize),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.by_inode.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_inode.is_empty()
    }
}

/// What one walk did: for `--timings` and the benchmark.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Processes whose fd directory was listed.
    pub processes: usize,
    /// Fds read (one readlinkat each).
    pub fds: usize,
    /// Of those, sockets (any kind, any namespace).
    pub sockets: usize,
    /// Of those, sockets asked about: the (pid, fd) pairs given to connections (filled in by
    /// [`SocketFds::assign`]).
    pub matched: usize,
}

/// Walks every process's fd table once and records, for each socket inode in `connections`,
/// which (pid, fd) holds it; returns the pids that hold at least one of those sockets, in
/// ascending order (as /proc lists them), walking on this thread alone.
pub fn attribute(
    connections: &mut [Connection],
    stats: &mut PassStats,
    deadline: &Deadline,
) -> Vec<u32> {
    attribute_counted(connections, stats, deadline).0
}

/// [`attribute`], with what the walk did.
pub fn attribute_counted(
    connections: &mut [Connection],
    stats: &mut PassStats,
    deadline: &Deadline,
) -> (Vec<u32>, Counts) {
    socket_fds(c"/proc", stats, deadline).assign(connections)
}

/// One socket fd: the socket's inode, and the process and fd that hold it (12 bytes: one
/// per socket fd of the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SocketFd {
    /// The kernel's socket inodes are 32 bits wide (a connection keeps 32); a wider one
    /// could be nobody's connection and is counted, not kept.
    pub inode: u32,
    pub pid: u32,
    pub fd: u32,
}

/// Every socket fd a walk saw (of any kind: TCP, UDP, unix, netlink), in walk order, and what
/// the walk did. It needs nothing from the sock_diag dump, so the two can run at once.
#[derive(Debug, Default)]
pub struct SocketFds {
    pub fds: Vec<SocketFd>,
    pub counts: Counts,
}

impl SocketFds {
    /// Gives each connection the (pid, fd) pairs that hold its inode, in ascending order, and
    /// returns the pids that hold at least one of them (ascending) and the counts (`matched`
    /// filled in).
    ///
    /// The walk only appends to one vector; the owners are matched here by sorting and
    /// merging, and written in the connections' order: between two system calls of the walk
    /// nothing else is touched (looking each fd up in the connections at once cost more than
    /// the system calls themselves at 200,000 sockets: a cache and TLB miss each).
    pub fn assign(self, connections: &mut [Connection]) -> (Vec<u32>, Counts) {
        let SocketFds {
            mut fds,
            mut counts,
        } = self;
        fds.sort_unstable();
        let index = SocketIndex::new(connections);
        // Merge: keep the fds whose inode is a connection's, with `inode` now the index of
        // that connection (the first, if a broken dump listed an inode twice).
        let mut at = 0;
        fds.retain_mut(|f| {
            while index
                .by_inode
                .get(at)
                .is_some_and(|&(ino, _)| ino < f.inode)
            {
                at += 1;
            }
            match index.by_inode.get(at) {
                Some(&(ino, i)) if ino == f.inode => {
                    f.inode = i;
                    true
                }
                _ => false,
            }
        });
        drop(index);
        fds.sort_unstable();
        counts.matched = fds.len();
        let mut holders: Vec<u32> = fds.iter().map(|f| f.pid).collect();
        for f in &fds {
            connections[f.inode as usize].push_owner(Owner {
                pid: f.pid,
                fd: f.fd,
            });
        }
        drop(fds);
        holders.sort_unstable();
        holders.dedup();
        (holders, counts)
    }
}

/// Walks the fd tables under `proc` (`/proc`, or a directory laid out like it: `PID/fd/N`
/// symlinks) and returns every socket fd it saw.
///
/// Accounting, as `procs::attribute_with_procfs` does it: a process whose `fd` directory may not be
/// opened (EACCES, EPERM) is `denied`; one that is gone (or fails otherwise) is `vanished`;
/// an fd closed while it was read is skipped; `cut_short` when the deadline passed (asked
/// before each process and every 4,096 fds).
pub fn socket_fds(proc: &CStr, stats: &mut PassStats, deadline: &Deadline) -> SocketFds {
    match Walk::list(proc, stats) {
        Some(walk) => walk.walk(stats, deadline),
        None => SocketFds::default(),
    }
}

/// The processes of one walk, listed first, then walked by as many threads as call
/// [`Walk::walk`]: each takes the next process not yet taken. The dump's thread joins in
/// when its dump is done.
#[derive(Debug)]
pub struct Walk {
    proc_dir: rustix::fd::OwnedFd,
    pids: Vec<u32>,
    next: std::sync::atomic::AtomicUsize,
}

impl Walk {
    /// Lists the processes under `proc`; `None` (counted as denied) when it cannot be
    /// opened. A listing that fails part way keeps what it read (counted as vanished).
    pub fn list(proc: &CStr, stats: &mut PassStats) -> Option<Walk> {
        let Ok(proc_dir) = openat(CWD, proc, DIR_FLAGS, Mode::empty()) else {
            stats.denied += 1;
            return None;
        };
        let mut buffer = vec![MaybeUninit::<u8>::uninit(); DIR_BUFFER];
        let mut entries = RawDir::new(&proc_dir, &mut buffer);
        let mut pids = Vec::new();
        while let Some(entry) = entries.next() {
            let Ok(entry) = entry else {
                // /proc itself could not be read on: what is left is unseen, not denied.
                stats.vanished += 1;
                break;
            };
            pids.extend(parse_decimal(entry.file_name().to_bytes()));
        }
        Some(Walk {
            proc_dir,
            pids,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Walks processes not yet taken by another thread until none is left (or the deadline
    /// passes); returns the socket fds this thread saw, `stats` what it could not read.
    pub fn walk(&self, stats: &mut PassStats, deadline: &Deadline) -> SocketFds {
        let mut out = SocketFds::default();
        let mut fds_buffer = vec![MaybeUninit::<u8>::uninit(); DIR_BUFFER];
        loop {
            let at = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&pid) = self.pids.get(at) else {
                break;
            };
            if deadline.passed() {
                stats.cut_short = true;
                break;
            }
            if !self.walk_process(pid, &mut fds_buffer, &mut out, stats, deadline) {
                stats.cut_short = true;
                break;
            }
        }
        out
    }

    /// Reads one process's fd table into `out`; false when the deadline passed within it.
    fn walk_process(
        &self,
        pid: u32,
        fds_buffer: &mut [MaybeUninit<u8>],
        out: &mut SocketFds,
        stats: &mut PassStats,
        deadline: &Deadline,
    ) -> bool {
        let mut path = [0u8; 16];
        let fd_dir = match openat(
            &self.proc_dir,
            fd_dir_path(pid, &mut path),
            DIR_FLAGS,
            Mode::empty(),
        ) {
            Ok(fd_dir) => fd_dir,
            Err(Errno::ACCESS | Errno::PERM) => {
                stats.denied += 1;
                return true;
            }
            Err(_) => {
                stats.vanished += 1;
                return true;
            }
        };
        let counts = &mut out.counts;
        counts.processes += 1;
        let mut link = [0u8; LINK_BUFFER];
        let mut fds = RawDir::new(&fd_dir, fds_buffer);
        // The process exited while it was listed: what was read stands, the rest is gone.
        while let Some(Ok(entry)) = fds.next() {
            let name = entry.file_name();
            let Some(fd) = parse_decimal(name.to_bytes()) else {
                continue; // "." and ".."
            };
            counts.fds += 1;
            if counts.fds.is_multiple_of(CHECK_EVERY_FDS) && deadline.passed() {
                return false;
            }
            // An fd closed since it was listed is skipped, as procfs skips it.
            let Ok(len) = readlinkat_raw(&fd_dir, name, &mut link) else {
                continue;
            };
            if let Some(inode) = socket_inode(&link[..len]) {
                counts.sockets += 1;
                if let Ok(inode) = u32::try_from(inode) {
                    out.fds.push(SocketFd { inode, pid, fd });
                }
            }
        }
        true
    }
}

impl SocketFds {
    /// Adds what another thread of the same walk saw.
    pub fn absorb(&mut self, other: SocketFds) {
        self.fds.extend(other.fds);
        self.counts.processes += other.counts.processes;
        self.counts.fds += other.counts.fds;
        self.counts.sockets += other.counts.sockets;
    }
}

impl PassStats {
    /// Adds what another thread of the same walk could not read.
    pub fn absorb(&mut self, other: PassStats) {
        self.denied += other.denied;
        self.vanished += other.vanished;
        self.cut_short |= other.cut_short;
    }
}

/// "PID/fd", relative to /proc, in `buffer`.
fn fd_dir_path(pid: u32, buffer: &mut [u8; 16]) -> &CStr {
    let mut digits = [0u8; 10];
    let mut n = pid;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, d) in digits[..len].iter().rev().enumerate() {
        buffer[i] = *d;
    }
    buffer[len..len + 4].copy_from_slice(b"/fd\0");
    CStr::from_bytes_with_nul(&buffer[..len + 4])
        .expect("one NUL, at the end: a u32 has at most 10 digits")
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// The inode of a socket fd's link, `socket:[INODE]`; `None` for anything else (files,
/// pipes, anon inodes, a link cut short by the buffer).
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    parse_decimal_u64(digits)
}

/// A pid or fd name: 1 to 10 ASCII digits that fit in a u32 and an i32 (`RawFd`, pid_t).
pub fn parse_decimal(name: &[u8]) -> Option<u32> {
    if name.len() > 10 {
        return None;
    }
    let n = parse_decimal_u64(name)?;
    u32::try_from(n).ok().filter(|&n| i32::try_from(n).is_ok())
}

fn parse_decimal_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_directories_are_named_by_pid() {
        let mut buffer = [0u8; 16];
        for (pid, path) in [(1, "1/fd"), (4242, "4242/fd"), (u32::MAX, "4294967295/fd")] {
            assert_eq!(fd_dir_path(pid, &mut buffer).to_str(), Ok(path));
        }
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[0]"), Some(0));
        assert_eq!(
            socket_inode(b"socket:[18446744073709551615]"),
            Some(u64::MAX)
        );
        // Not sockets, or not whole.
        for link in [
            &b"socket:[18446744073709551616]"[..],
            b"socket:[]",
            b"socket:[12a]",
            b"socket:[123",
            b"socket:[123] ",
            b"socket:[+12]",
            b"socket:[-1]",
            b"pipe:[12345]",
            b"anon_inode:[eventfd]",
            b"/tmp/socket:[12345]",
            b"/dev/null",
            b"",
            b"socket:",
        ] {
            assert_eq!(
                socket_inode(link),
                None,
                "{:?}",
                String::from_utf8_lossy(link)
            );
        }
    }

    #[test]
    fn pid_and_fd_names() {
        assert_eq!(parse_decimal(b"1"), Some(1));
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"4194304"), Some(4_194_304));
        assert_eq!(parse_decimal(b"2147483647"), Some(i32::MAX as u32));
        for name in [
            &b"2147483648"[..],
            b"99999999999",
            b"",
            b".",
            b"..",
            b"self",
            b"thread-self",
            b"+1",
            b"1 ",
        ] {
            assert_eq!(
                parse_decimal(name),
                None,
                "{:?}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn index_finds_every_inode_and_nothing_else() {
        let inodes = [7u32, 0, 3, u32::MAX, 5, 0];
        let connections: Vec<Connection> = inodes.iter().map(|&i| connection(i)).collect();
        let index = SocketIndex::new(&connections);
        assert_eq!(index.len(), 4, "inode 0 is nobody's");
        for (i, &inode) in inodes.iter().enumerate().filter(|(_, &n)| n != 0) {
            assert_eq!(index.get(u64::from(inode)), Some(i));
        }
        for missing in [0, 1, 4, 6, 8, u64::MAX] {
            assert_eq!(index.get(missing), None);
        }
        assert!(SocketIndex::new(&[]).get(1).is_none());
    }

    /// A directory laid out like /proc: PID/fd/N symlinks, a process without an fd
    /// directory (it vanished), names that are not pids.
    #[test]
    fn walks_a_proc_like_tree() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let at = |p: &str| root.path().join(p);
        for (pid, fds) in [
            (
                "10",
                &[
                    ("0", "/dev/null"),
                    ("3", "socket:[100]"),
                    ("4", "socket:[999]"),
                ][..],
            ),
            (
                "11",
                &[
                    ("7", "socket:[101]"),
                    ("8", "pipe:[100]"),
                    ("9", "socket:[100]"),
                ][..],
            ),
            (
                "12",
                &[("1", "socket:[102"), ("2", "anon_inode:[eventfd]")][..],
            ),
        ] {
            std::fs::create_dir_all(at(&format!("{pid}/fd"))).unwrap();
            for (fd, target) in fds {
                symlink(target, at(&format!("{pid}/fd/{fd}"))).unwrap();
            }
        }
        std::fs::create_dir_all(at("13")).unwrap(); // no fd directory: vanished
        std::fs::create_dir_all(at("self/fd")).unwrap();
        symlink("socket:[101]", at("self/fd/5")).unwrap(); // not a pid: not walked
        std::fs::write(at("uptime"), "1.0 1.0").unwrap();

        let mut connections: Vec<Connection> =
            [100, 101, 102, 0].into_iter().map(connection).collect();
        let mut stats = PassStats::default();
        let proc = std::ffi::CString::new(root.path().as_os_str().as_encoded_bytes()).unwrap();
        let walked = socket_fds(&proc, &mut stats, &Deadline::none());
        let mut seen: Vec<(u32, u32, u32)> =
            walked.fds.iter().map(|f| (f.pid, f.fd, f.inode)).collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            vec![(10, 3, 100), (10, 4, 999), (11, 7, 101), (11, 9, 100)]
        );
        let (holders, counts) = walked.assign(&mut connections);
        assert_eq!(holders, vec![10, 11]);
        let owners = |i: usize| -> Vec<(u32, u32)> {
            connections[i]
                .owners()
                .iter()
                .map(|o| (o.pid, o.fd))
                .collect()
        };
        assert_eq!(
            owners(0),
            vec![(10, 3), (11, 9)],
            "a shared socket, owners in order"
        );
        assert_eq!(owners(1), vec![(11, 7)]);
        assert_eq!(
            counts,
            Counts {
                processes: 3,
                fds: 8,
                sockets: 4,
                matched: 3
            }
        );
        assert_eq!(
            (stats.denied, stats.vanished, stats.cut_short),
            (0, 1, false)
        );
        assert!(owners(2).is_empty(), "socket:[102 is no socket link");
        assert!(owners(3).is_empty(), "inode 0 is nobody's");
    }

    #[test]
    fn a_passed_deadline_walks_nothing() {
        let mut stats = PassStats::default();
        let passed = Deadline::after(std::time::Duration::ZERO);
        let mut connections = vec![connection(1)];
        let holders = attribute(&mut connections, &mut stats, &passed);
        assert!(holders.is_empty());
        assert!(stats.cut_short);
    }

    #[test]
    fn a_missing_proc_is_counted_not_a_panic() {
        let mut stats = PassStats::default();
        let walked = socket_fds(c"/nonexistent/proc", &mut stats, &Deadline::none());
        assert!(walked.fds.is_empty());
        assert_eq!(walked.counts, Counts::default());
        assert_eq!(stats.denied, 1);
    }

    fn connection(inode: u32) -> Connection {
        let mut c = Connection::example();
        c.inode = inode;
        c
    }
}

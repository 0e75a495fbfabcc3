//! Ways to walk every process's fds, timed side by side (CPU time of this thread, which a
//! busy machine disturbs less than wall time): the measurements behind the choices of
//! src/collect/fdwalk.rs. For bench/; not a part of stuckconn.
//!
//!   walk_variants [RUNS=5]
//!
//! - readlinkat NAME relative to the fd directory (fdwalk's way), with getdents64 buffers of
//!   4, 8, 32 and 128 KiB;
//! - fstatat / statx following the link (S_IFSOCK and the inode, instead of the link text);
//! - getdents64 alone: the cost of listing, below which no walk of /proc goes;
//! - FDSize from /proc/PID/status, then readlinkat of every fd below it (no listing);
//! - kernel threads: opening and listing their (empty) fd directory, against reading
//!   /proc/PID/stat to recognise and skip them.

use rustix::fs::{
    openat, readlinkat_raw, statat, statx, AtFlags, Mode, OFlags, RawDir, StatxFlags, CWD,
};
use std::ffi::CString;
use std::mem::MaybeUninit;

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Readlink,
    Fstatat,
    Statx,
    ListOnly,
    FdSize,
}

fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which outlives the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// `PID/leaf` as a C string.
fn under(pid: u32, leaf: &str) -> CString {
    CString::new(format!("{pid}/{leaf}")).expect("no NUL")
}

fn pids() -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Walks every process's fds one way; returns (fds, sockets).
fn walk(way: Way, buffer: usize, pids: &[u32]) -> (usize, usize) {
    let proc = openat(CWD, c"/proc", dir_flags(), Mode::empty()).expect("/proc");
    let mut buf = vec![MaybeUninit::<u8>::uninit(); buffer];
    let mut link = [0u8; 64];
    let (mut fds, mut sockets) = (0, 0);
    for &pid in pids {
        let Ok(dir) = openat(&proc, under(pid, "fd"), dir_flags(), Mode::empty()) else {
            continue;
        };
        if way == Way::FdSize {
            let Some(max) = fd_size(&proc, pid) else {
                continue;
            };
            for fd in 0..max {
                let name = CString::new(fd.to_string()).expect("digits");
                if let Ok(len) = readlinkat_raw(&dir, &name, &mut link) {
                    fds += 1;
                    sockets += usize::from(link[..len].starts_with(b"socket:["));
                }
            }
            continue;
        }
        let mut entries = RawDir::new(&dir, &mut buf);
        while let Some(Ok(entry)) = entries.next() {
            let name = entry.file_name();
            if name.to_bytes().first() == Some(&b'.') {
                continue;
            }
            fds += 1;
            let socket = match way {
                Way::Readlink => readlinkat_raw(&dir, name, &mut link)
                    .is_ok_and(|len| link[..len].starts_with(b"socket:[")),
                Way::Fstatat => statat(&dir, name, AtFlags::empty())
                    .is_ok_and(|st| st.st_mode & S_IFMT == S_IFSOCK),
                Way::Statx => statx(
                    &dir,
                    name,
                    AtFlags::STATX_DONT_SYNC,
                    StatxFlags::TYPE | StatxFlags::INO,
                )
                .is_ok_and(|st| u32::from(st.stx_mode) & S_IFMT == S_IFSOCK),
                Way::ListOnly | Way::FdSize => false,
            };
            sockets += usize::from(socket);
        }
    }
    (fds, sockets)
}

/// `FDSize:` of /proc/PID/status: the size of the fd table (every fd is below it).
fn fd_size(proc: &impl rustix::fd::AsFd, pid: u32) -> Option<u32> {
    let file = openat(proc, under(pid, "status"), OFlags::RDONLY, Mode::empty()).ok()?;
    let mut text = [0u8; 4096];
    let n = rustix::io::read(&file, &mut text).ok()?;
    std::str::from_utf8(&text[..n])
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("FDSize:"))?
        .trim()
        .parse()
        .ok()
}

/// Kernel threads: children of kthreadd (pid 2), and kthreadd itself.
fn kernel_threads(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|&pid| {
            pid == 2
                || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    s.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        == Some("2")
                })
        })
        .collect()
}

/// Reads /proc/PID/stat of each: what recognising a kernel thread would cost.
fn read_stats(pids: &[u32]) -> usize {
    let proc = openat(CWD, c"/proc", dir_flags(), Mode::empty()).expect("/proc");
    let mut text = [0u8; 1024];
    let mut read = 0;
    for &pid in pids {
        if let Ok(file) = openat(&proc, under(pid, "stat"), OFlags::RDONLY, Mode::empty()) {
            read += rustix::io::read(&file, &mut text).unwrap_or(0);
        }
    }
    read
}

fn timed(runs: usize, mut f: impl FnMut() -> (usize, usize)) -> (f64, (usize, usize)) {
    let mut cpu = Vec::new();
    let mut out = (0, 0);
    for _ in 0..runs {
        let start = thread_cpu();
        out = f();
        cpu.push(thread_cpu() - start);
    }
    cpu.sort_by(f64::total_cmp);
    (cpu[runs / 2], out)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let pids = pids();
    println!("{} processes; median CPU time of {runs} runs", pids.len());
    for (label, way, buffer) in [
        ("readlinkat, 4 KiB getdents", Way::Readlink, 4096),
        ("readlinkat, 8 KiB getdents", Way::Readlink, 8192),
        ("readlinkat, 32 KiB getdents", Way::Readlink, 32768),
        ("readlinkat, 128 KiB getdents", Way::Readlink, 131072),
        ("fstatat (follows the link)", Way::Fstatat, 32768),
        ("statx TYPE|INO", Way::Statx, 32768),
        ("getdents64 alone (no link read)", Way::ListOnly, 32768),
        ("FDSize, then readlinkat 0..FDSize", Way::FdSize, 64),
    ] {
        let (cpu, (fds, sockets)) = timed(runs, || walk(way, buffer, &pids));
        println!(
            "{label:36} {cpu:.4} s  ({fds} fds, {sockets} sockets: {:.2} us per fd)",
            cpu * 1e6 / fds.max(1) as f64
        );
    }
    let kthreads = kernel_threads(&pids);
    let (listed, _) = timed(runs, || walk(Way::ListOnly, 32768, &kthreads));
    let (stat, _) = timed(runs, || (read_stats(&kthreads), 0));
    let n = kthreads.len().max(1) as f64;
    println!(
        "{} kernel threads: open + list their empty fd dir {:.2} us each; read their stat to skip them {:.2} us each",
        kthreads.len(),
        listed * 1e6 / n,
        stat * 1e6 / n
    );
}

//! Socket-to-process attribution: one pass over /proc/*/fd, then the details of just the
//! processes that hold a TCP socket.

use super::containers::Holder;
use crate::snapshot::{Connection, Owner, Process};
use procfs::process::FDTarget;
use procfs::ProcError;

/// What the /proc pass could not see. Both are normal on a live host.
#[derive(Debug, Default)]
pub struct PassStats {
    /// Processes whose fd table we were not allowed to read.
    pub denied: usize,
    /// Processes that exited while we looked at them.
    pub vanished: usize,
    /// The deadline passed before every process was examined.
    pub cut_short: bool,
}

/// The fd walk as it was before `fdwalk` (with the procfs crate: four system calls per
/// fd): the reference that tests/it/fdwalk.rs compares `fdwalk` with.
pub fn attribute_with_procfs(
    connections: &mut [Connection],
    stats: &mut PassStats,
    deadline: &crate::deadline::Deadline,
) -> Vec<u32> {
    // Sorted (inode, index) pairs: half the memory of a hash map at 200,000 sockets.
    let mut by_inode: Vec<(u64, u32)> = connections
        .iter()
        .enumerate()
        .filter(|(_, c)| c.inode != 0)
        .map(|(i, c)| (u64::from(c.inode), i as u32))
        .collect();
    by_inode.sort_unstable();
    let index_of = |inode: u64| {
        by_inode
            .binary_search_by_key(&inode, |&(ino, _)| ino)
            .ok()
            .map(|at| by_inode[at].1 as usize)
    };
    let mut holders = Vec::new();
    let processes = match procfs::process::all_processes() {
        Ok(iter) => iter,
        Err(_) => {
            stats.denied += 1;
            return holders;
        }
    };
    for process in processes {
        if deadline.passed() {
            stats.cut_short = true;
            break;
        }
        let process = match process {
            Ok(p) => p,
            Err(_) => {
                stats.vanished += 1;
                continue;
            }
        };
        let pid = process.pid as u32;
        let fds = match process.fd() {
            Ok(fds) => fds,
            Err(ProcError::PermissionDenied(_)) => {
                stats.denied += 1;
                continue;
            }
            Err(_) => {
                stats.vanished += 1;
                continue;
            }
        };
        let mut holds = false;
        for fd in fds.flatten() {
            if let FDTarget::Socket(inode) = fd.target {
                if let Some(i) = index_of(inode) {
                    connections[i].push_owner(Owner {
                        pid,
                        fd: fd.fd as u32,
                    });
                    holds = true;
                }
            }
        }
        if holds {
            holders.push(pid);
        }
    }
    holders
}

/// The most read of a process's `stat` (a line of about 300 bytes).
const STAT_CAP: u64 = 4096;

/// The most read of a process's command line; an argument the cap cuts into is left out
/// (a part of one could be a secret the masking no longer recognizes).
const CMDLINE_CAP: u64 = 1 << 20;

/// Reads what a report needs about one process, and the keys of naming its container (from
/// the same read of its cgroup). `None` when it vanished. With `redact`, secrets in the command
/// line are masked (see `crate::redact`).
pub fn describe(
    pid: u32,
    boot_time: Option<u64>,
    ticks: u64,
    redact: bool,
) -> Option<(Process, Holder)> {
    use crate::procfile;
    let dir = format!("/proc/{pid}");
    let stat = procfile::read_text(format!("{dir}/stat"), STAT_CAP).ok()?;
    let stat = procfile::Stat::parse(&stat)?;
    let exe = std::fs::read_link(format!("{dir}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let cmdline = procfile::read_records(format!("{dir}/cmdline"), CMDLINE_CAP, 0)
        .ok()
        .map(|bytes| {
            bytes
                .split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect::<Vec<String>>()
        })
        .filter(|args| !args.is_empty())
        .map(|args| {
            if redact {
                crate::redact::redact_args(&args).join(" ")
            } else {
                args.join(" ")
            }
        });
    let uid = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&dir).ok().map(|m| m.uid())
    };
    // Its cgroup, read once: the unit and container here, the keys of naming it later.
    let cgroup = super::cgroup::paths_of(pid);
    let (unit, container) = super::cgroup::identify(&cgroup);
    let holder = Holder {
        owner: uid,
        ..Holder::from_cgroup(&cgroup)
    };
    let started_at = boot_time.and_then(|boot| {
        let starttime: u64 = stat.field(22)?.parse().ok()?;
        let secs = boot.checked_add(starttime / ticks.max(1))?;
        jiff::Timestamp::from_second(i64::try_from(secs).ok()?).ok()
    });
    let process = Process {
        pid,
        ppid: stat.field(4).and_then(|ppid| ppid.parse().ok()),
        name: stat.comm.to_string(),
        exe,
        cmdline,
        uid,
        unit,
        container,
        container_names: Default::default(),
        started_at,
        threads: stat.field(20).and_then(|n| n.parse().ok()),
        thread_evidence: Default::default(),
        resumed_threads: Vec::new(),
        memory: None,
        runtimes: Vec::new(),
        go_version: None,
    };
    Some((process, holder))
}

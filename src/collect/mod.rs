//! Everything that touches the OS for sockets and processes: the live collection
//! (sock_diag + one pass over /proc), and recorded snapshots.

pub mod caps;
pub mod cgroup;
pub mod fdwalk;
mod load;
pub mod netns;
pub mod procnet;
pub mod procs;
pub mod sockdiag;
pub mod threads;

use crate::error::Error;
use crate::snapshot::{Collector, Host, Snapshot, TcpState, ThreadEvidence, SNAPSHOT_VERSION};
use crate::text::count;
pub use load::{load, parse, select_namespaces, SNAPSHOT_LIMIT};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How a live collection is done.
#[derive(Debug, Clone)]
pub struct Options {
    /// Threads are examined for connections idle at least this long (and for those whose
    /// idle time is unknown).
    pub thread_min_idle: Duration,
    /// Skip sock_diag and read /proc/net/tcp{,6} (what happens anyway when sock_diag fails).
    pub proc_net_only: bool,
    /// Which network namespaces to cover.
    pub netns: netns::Selection,
    /// Mask secrets in command lines (`--no-redact` turns it off).
    pub redact: bool,
    /// Stop collecting when this passes (`--timeout`, or a signal): the snapshot is then
    /// partial.
    pub deadline: crate::deadline::Deadline,
}

/// Collects a snapshot of the live host. Fails only when `--netns` names no namespace;
/// everything else that could not be seen is in `warnings`.
pub fn live(options: &Options) -> Result<Snapshot, Error> {
    let taken_at = crate::report::now_millis();
    let clock = Instant::now();
    let mut warnings = Vec::new();

    let targets = netns::targets(&options.netns, &mut warnings).map_err(Error::Usage)?;
    let own = netns::own_inode();
    let mut dumps = Vec::new();
    let mut own_dump = None;
    let mut vanished = 0;
    let expired = || options.deadline.passed();
    let mut cut_short = Vec::new();
    let mut skipped = 0;
    for target in &targets {
        if target.file.is_some() && expired() {
            skipped += 1;
            continue;
        }
        if target.file.is_none() {
            own_dump = Some(if options.proc_net_only {
                Err(std::io::Error::other("disabled by STUCKCONN_PROC_NET"))
            } else {
                netns::dump(target)
            });
            continue;
        }
        match netns::dump(target) {
            Ok(dump) => dumps.push((target.label.inode, dump)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => vanished += 1,
            Err(err) => warnings.push(format!(
                "network namespace {} could not be scanned: {err}",
                target.label.short_label()
            )),
        }
    }
    if vanished > 0 {
        warnings.push(format!(
            "{} disappeared while they were being scanned",
            count(vanished, "network namespace", "network namespaces")
        ));
    }
    if skipped > 0 {
        cut_short.push(format!(
            "{} not scanned",
            count(skipped, "network namespace was", "network namespaces were")
        ));
    }
    let dumped = match own_dump {
        Some(result) => result.map(|dump| vec![(own.unwrap_or(0), dump)]),
        None => Ok(Vec::new()),
    };
    let (mut connections, collector) = match dumped {
        Ok(own_dumps) => {
            // The largest dump's vector is kept and the others moved into it: no copy of
            // every socket while the original is still alive.
            let mut all: Vec<(u64, sockdiag::Dump)> = own_dumps.into_iter().chain(dumps).collect();
            all.sort_by_key(|(_, d)| std::cmp::Reverse(d.connections.len()));
            let mut connections: Vec<crate::snapshot::Connection> = Vec::new();
            let mut short_info = 0;
            for (inode, mut dump) in all {
                warnings.append(&mut dump.warnings);
                short_info += dump.short_info;
                for c in &mut dump.connections {
                    c.netns = Some(inode);
                }
                if connections.is_empty() {
                    connections = dump.connections;
                } else {
                    connections.append(&mut dump.connections);
                }
            }
            if short_info > 0 {
                warnings.push(format!(
                    "{short_info} sockets had a short tcp_info (an older kernel): their byte and segment counters are unknown"
                ));
            }
            (connections, Collector::SockDiag)
        }
        Err(err) => {
            warnings.push(format!(
                "sock_diag unavailable ({err}); read /proc/net/tcp and /proc/net/tcp6 instead: \
                 without tcp_info, idle times and byte counts are unknown, so only CLOSE-WAIT, \
                 SYN-SENT and threads blocked on a socket can be judged"
            ));
            let mut connections = procnet::read(&mut warnings);
            for c in &mut connections {
                c.netns = own;
            }
            (connections, Collector::ProcNet)
        }
    };

    // Vectors grow by doubling: give back the unused half (an mremap, not a copy).
    connections.shrink_to_fit();
    let mut pass = procs::PassStats::default();
    let holders = procs::attribute(&mut connections, &mut pass, &options.deadline);
    if pass.cut_short {
        cut_short.push(
            "the /proc pass stopped early: some sockets show without their process".to_string(),
        );
    }
    let root = is_root();
    let unattributed = connections
        .iter()
        .filter(|c| c.inode != 0 && c.owners.is_empty())
        .count();
    if pass.denied > 0 || unattributed > 0 {
        let lacking = caps::missing(&[caps::DAC_READ_SEARCH, caps::SYS_PTRACE]);
        let how = if root || lacking.is_empty() {
            "they belong to processes that exited or to the kernel".to_string()
        } else {
            format!(
                "other users' /proc/PID/fd needs {lacking} (root has them); run with sudo to see them"
            )
        };
        let denied = match pass.denied {
            0 => String::new(),
            1 => " (1 process's fd table was not readable)".to_string(),
            n => format!(" ({n} processes' fd tables were not readable)"),
        };
        warnings.push(format!(
            "{unattributed} of {} sockets could not be tied to a process{denied}: {how}",
            connections.len(),
        ));
    }
    if pass.vanished > 0 {
        warnings.push(format!(
            "{} exited while being read; their sockets are shown without a process",
            count(pass.vanished, "process", "processes")
        ));
    }

    let boot_time = procfs::boot_time_secs().ok();
    let ticks = procfs::ticks_per_second();
    let mut processes: Vec<_> = holders
        .iter()
        .take_while(|_| !expired())
        .filter_map(|&pid| procs::describe(pid, boot_time, ticks, options.redact))
        .collect();
    if processes.len() < holders.len() && expired() {
        cut_short.push("some processes were not described".to_string());
    }

    // Thread evidence, only for processes that hold a connection that may be stuck.
    let min_idle_ms = u64::try_from(options.thread_min_idle.as_millis()).unwrap_or(u64::MAX);
    let mut wanted: HashMap<(u32, u32), usize> = HashMap::new();
    for (index, c) in connections.iter().enumerate() {
        let may_be_stuck = matches!(
            c.state,
            TcpState::Established | TcpState::CloseWait | TcpState::SynSent
        ) && c.idle_ms().is_none_or(|idle| idle >= min_idle_ms);
        if may_be_stuck {
            for owner in &c.owners {
                wanted.insert((owner.pid, owner.fd), index);
            }
        }
    }
    let pids: HashSet<u32> = wanted.keys().map(|&(pid, _)| pid).collect();
    let mut found = Vec::new();
    let mut not_examined = 0;
    for process in processes.iter_mut().filter(|p| pids.contains(&p.pid)) {
        if expired() {
            cut_short.push("some processes' threads were not examined".to_string());
            break;
        }
        process.thread_evidence = threads::examine(process.pid, &wanted, &mut found);
        if process.thread_evidence != ThreadEvidence::Read {
            not_examined += 1;
        }
    }
    for (index, thread) in found {
        connections[index].blocked_threads.push(thread);
    }
    if not_examined > 0 {
        warnings.push(format!(
            "the threads of {} could not all be examined ({}): \
             threads blocked on their connections may be missing",
            count(not_examined, "process", "processes"),
            match caps::missing(&[caps::DAC_READ_SEARCH, caps::SYS_PTRACE]) {
                lacking if root || lacking.is_empty() => {
                    "they exited, or their memory was not readable".to_string()
                }
                lacking => format!("needs {lacking}, or root"),
            }
        ));
    }

    processes.sort_by_key(|p| p.pid);
    let partial = !cut_short.is_empty();
    if partial {
        warnings.push(format!(
            "{}: the report is partial ({})",
            options.deadline.reason(),
            cut_short.join("; ")
        ));
    }
    Ok(Snapshot {
        partial,
        snapshot_version: SNAPSHOT_VERSION,
        host: Host {
            hostname: read_trimmed("/proc/sys/kernel/hostname"),
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        },
        taken_at,
        collect_secs: clock.elapsed().as_secs_f64(),
        collector,
        thread_evidence_min_idle_secs: options.thread_min_idle.as_secs_f64(),
        connections,
        processes,
        warnings,
        namespaces: targets.into_iter().map(|t| t.label).collect(),
        names: Default::default(),
    })
}

/// Reads every socket's tcp_info again (one more sock_diag dump), by socket cookie: the
/// second reading of `--confirm`.
pub fn recount() -> std::io::Result<HashMap<u64, crate::snapshot::TcpInfo>> {
    Ok(sockdiag::dump_here()?
        .connections
        .into_iter()
        .filter_map(|c| Some((c.cookie?, c.tcp_info?)))
        .collect())
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Whether the tool runs with an effective uid of 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

//! The live collection, in phases that share one accumulator of what could not be seen:
//! dump every namespace's sockets, tie them to processes (one pass over /proc), describe
//! those processes, examine the threads of those that may be stuck.

use super::containers::Holder;
use super::{
    caps, fdwalk, holders, is_root, netns, procnet, procs, shared, sockdiag, waits, CollectOptions,
};
use crate::error::Error;
use crate::snapshot::timings::{Breakdown, NamespaceDump, WalkCounts};
use crate::snapshot::{
    Collector, Connection, Connections, Host, Limits, Process, Snapshot, TcpState, ThreadEvidence,
    SNAPSHOT_VERSION,
};
use crate::text::count;
use crate::timing::Stopwatch;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

/// What the phases could not see: warnings, and what `--timeout` (or a signal) cut short.
struct Seen<'a> {
    options: &'a CollectOptions,
    warnings: Vec<String>,
    cut_short: Vec<String>,
}

impl Seen<'_> {
    fn expired(&self) -> bool {
        self.options.deadline.passed()
    }
}

/// Collects a snapshot of the live host. Fails only when `--netns` names no namespace (or
/// something that is not one); everything else that could not be seen is a warning.
pub(crate) fn live(options: &CollectOptions) -> Result<Snapshot, Error> {
    let taken_at = crate::report::now_millis();
    let clock = Instant::now();
    let mut seen = Seen {
        options,
        warnings: Vec::new(),
        cut_short: Vec::new(),
    };
    let mut timings = Breakdown::default();
    let mut watch = Stopwatch::start();
    let targets = netns::targets(&options.netns, &mut seen.warnings).map_err(Error::Usage)?;
    timings.phases.push(watch.lap("namespaces"));
    // The fd walk needs nothing from the dumps: a thread of its own walks processes while
    // the namespaces are dumped here, and this thread joins the walk when its dumps are done
    // (a host out of threads walks after dumping).
    let walk_clock = Instant::now();
    let mut pass = procs::PassStats::default();
    let listed = fdwalk::Walk::list(c"/proc", &mut pass);
    let deadline = options.deadline;
    let ((mut connections, collector, limits), walk) = std::thread::scope(|scope| {
        let walker = listed.as_ref().map(|walk| {
            std::thread::Builder::new()
                .name("fd walk".to_string())
                .spawn_scoped(scope, move || walk_part(walk, &deadline))
        });
        let dumped = dump_namespaces(&targets, &mut seen, &mut timings.dumps);
        let mut walked = Walked {
            fds: fdwalk::SocketFds::default(),
            pass,
            secs: 0.0,
            cpu_secs: 0.0,
        };
        if let Some(walk) = &listed {
            walked.absorb(walk_part(walk, &deadline));
        }
        if let Some(Ok(walker)) = walker {
            let part = walker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            walked.absorb(part);
        }
        walked.secs = walk_clock.elapsed().as_secs_f64();
        (dumped, walked)
    });
    // Vectors grow by doubling: give back the unused half (an mremap, not a copy).
    connections.shrink_to_fit();
    timings.phases.push(watch.lap("dump"));
    let (holders, walked) = attribute(&mut connections, walk, &mut seen);
    timings.fd_walk = Some(walked);
    timings.phases.push(watch.lap("fd_walk"));
    let (mut processes, keys) = describe(&holders, &mut seen);
    timings.phases.push(watch.lap("describe"));
    let mut connections = Connections::from(connections);
    examine_threads(&mut connections, &mut processes, &mut seen);
    timings.phases.push(watch.lap("threads"));
    let namespaces = name_holders(targets, &mut processes, &keys, &mut seen);
    processes.sort_by_key(|p| p.pid);
    timings.phases.push(watch.lap("holders"));
    let partial_reason = (!seen.cut_short.is_empty()).then(|| {
        format!(
            "{}: the report is partial ({})",
            options.deadline.reason(),
            seen.cut_short.join("; ")
        )
    });
    Ok(Snapshot {
        partial: partial_reason.is_some(),
        partial_reason,
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
        warnings: seen.warnings,
        namespaces,
        tcp_limits: limits,
        names: Default::default(),
        names_by_netns: Default::default(),
        missing_capabilities: Some(caps::missing(&[caps::DAC_READ_SEARCH, caps::SYS_PTRACE]))
            .filter(|m| !m.is_empty()),
        mem_total_bytes: super::memory::mem_total_bytes(),
        timings,
    })
}

/// The host's name or kernel release (a host name is bytes: read lossily).
fn read_trimmed(path: &str) -> String {
    crate::procfile::read_text(path, 4096)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// One sock_diag dump per namespace (the own one in place, the others on a thread that
/// entered them), each socket labelled with its namespace; /proc/net/tcp{,6} when sock_diag
/// is unavailable in the own namespace.
fn dump_namespaces(
    targets: &[netns::Target],
    seen: &mut Seen,
    timed: &mut Vec<NamespaceDump>,
) -> (Vec<Connection>, Collector, BTreeMap<u64, Limits>) {
    let own = netns::own_inode();
    let mut dumps = Vec::new();
    let mut own_dump = None;
    let (mut vanished, mut skipped) = (0, 0);
    for target in targets {
        if target.file.is_none() {
            own_dump = Some(if seen.options.proc_net_only {
                Err(std::io::Error::other("disabled by STUCKCONN_PROC_NET"))
            } else {
                timed_dump(target, timed)
            });
            continue;
        }
        if seen.expired() {
            skipped += 1;
            continue;
        }
        match timed_dump(target, timed) {
            Ok(dump) => dumps.push((target.label.inode, dump)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => vanished += 1,
            Err(err) => seen.warnings.push(format!(
                "network namespace {} could not be scanned: {err}",
                target.label.short_label()
            )),
        }
    }
    if vanished > 0 {
        seen.warnings.push(format!(
            "{} disappeared while they were being scanned",
            count(vanished, "network namespace", "network namespaces")
        ));
    }
    if skipped > 0 {
        seen.cut_short.push(format!(
            "{} not scanned",
            count(skipped, "network namespace was", "network namespaces were")
        ));
    }
    match own_dump.unwrap_or_else(|| Ok(sockdiag::Dump::default())) {
        Ok(dump) => {
            if own_dump_wanted(targets) {
                dumps.insert(0, (own.unwrap_or(0), dump));
            }
            let limits = dumps
                .iter()
                .filter_map(|(inode, d)| Some((*inode, d.limits?)))
                .collect();
            (merged(dumps, seen), Collector::SockDiag, limits)
        }
        Err(err) => {
            seen.warnings.push(format!(
                "sock_diag unavailable ({err}); read /proc/net/tcp and /proc/net/tcp6 instead: \
                 without tcp_info, idle times and byte counts are unknown, so only CLOSE-WAIT, \
                 SYN-SENT and threads blocked on a socket can be judged"
            ));
            let mut connections = procnet::read(&mut seen.warnings);
            for c in &mut connections {
                // The kernel's namespace inodes are 32 bits wide; another would be unknown.
                let _ = c.set_netns(own);
            }
            let limits = own
                .map(|inode| (inode, sockdiag::limits_here()))
                .into_iter()
                .collect();
            (connections, Collector::ProcNet, limits)
        }
    }
}

/// One namespace's dump, its sockets and seconds noted in `timed`.
fn timed_dump(
    target: &netns::Target,
    timed: &mut Vec<NamespaceDump>,
) -> std::io::Result<sockdiag::Dump> {
    let clock = Instant::now();
    let dump = netns::dump(target)?;
    timed.push(NamespaceDump {
        netns: target.label.inode,
        sockets: dump.connections.len(),
        secs: clock.elapsed().as_secs_f64(),
    });
    Ok(dump)
}

fn own_dump_wanted(targets: &[netns::Target]) -> bool {
    targets.iter().any(|t| t.file.is_none())
}

/// Every namespace's sockets in one vector, each labelled with its namespace.
fn merged(mut dumps: Vec<(u64, sockdiag::Dump)>, seen: &mut Seen) -> Vec<Connection> {
    // The largest dump's vector is kept and the others moved into it: no copy of every
    // socket while the original is still alive.
    dumps.sort_by_key(|(_, d)| std::cmp::Reverse(d.connections.len()));
    let mut all = sockdiag::Dump::default();
    for (inode, mut dump) in dumps {
        for c in &mut dump.connections {
            let _ = c.set_netns(Some(inode));
        }
        all.absorb(dump);
    }
    seen.warnings.append(&mut all.warnings);
    if all.short_info > 0 {
        seen.warnings.push(format!(
            "{} had a short tcp_info (an older kernel): their byte and segment counters are unknown",
            count(all.short_info, "socket", "sockets")
        ));
    }
    all.connections
}

/// One pass over /proc/*/fd: every socket fd, what the pass could not read, its wall-clock
/// seconds and the CPU seconds of the threads that walked.
struct Walked {
    fds: fdwalk::SocketFds,
    pass: procs::PassStats,
    secs: f64,
    cpu_secs: f64,
}

impl Walked {
    fn absorb(&mut self, part: Walked) {
        self.fds.absorb(part.fds);
        self.pass.absorb(part.pass);
        self.cpu_secs += part.cpu_secs;
    }
}

/// This thread's part of the walk: processes not yet taken, until none is left.
fn walk_part(walk: &fdwalk::Walk, deadline: &crate::deadline::Deadline) -> Walked {
    let cpu = crate::timing::thread_cpu_time();
    let mut pass = procs::PassStats::default();
    let fds = walk.walk(&mut pass, deadline);
    Walked {
        fds,
        pass,
        secs: 0.0,
        cpu_secs: crate::timing::thread_cpu_time()
            .saturating_sub(cpu)
            .as_secs_f64(),
    }
}

/// Ties sockets to the processes the walk found holding them; returns the pids that hold
/// one, and what the walk read.
fn attribute(
    connections: &mut [Connection],
    walk: Walked,
    seen: &mut Seen,
) -> (Vec<u32>, WalkCounts) {
    let Walked {
        fds,
        pass,
        secs,
        cpu_secs,
    } = walk;
    let (holders, counts) = fds.assign(connections);
    if pass.cut_short {
        seen.cut_short.push(
            "the /proc pass stopped early: some sockets show without their process".to_string(),
        );
    }
    let unattributed = connections
        .iter()
        .filter(|c| c.inode != 0 && c.owners().is_empty())
        .count();
    if pass.denied > 0 || unattributed > 0 {
        let lacking = caps::missing(&[caps::DAC_READ_SEARCH, caps::SYS_PTRACE]);
        let how = if is_root() || lacking.is_empty() {
            "they belong to processes that exited or to the kernel, or were opened while the \
             scan read their process's fds"
                .to_string()
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
        seen.warnings.push(format!(
            "{unattributed} of {} sockets could not be tied to a process{denied}: {how}",
            connections.len(),
        ));
    }
    if pass.vanished > 0 {
        seen.warnings.push(format!(
            "{} exited while being read; their sockets are shown without a process",
            count(pass.vanished, "process", "processes")
        ));
    }
    let counts = WalkCounts {
        secs,
        cpu_secs,
        processes: counts.processes,
        fds: counts.fds,
        sockets: counts.sockets,
        matched: counts.matched,
    };
    (holders, counts)
}

/// What a report needs of each holding process (name, command line, unit, container), and
/// the keys of naming each one's container.
fn describe(holders: &[u32], seen: &mut Seen) -> (Vec<Process>, Vec<Holder>) {
    let boot_time = procfs::boot_time_secs().ok();
    let ticks = procfs::ticks_per_second();
    let (deadline, redact) = (seen.options.deadline, seen.options.redact);
    let described = shared::map(
        holders,
        SHARED_FROM,
        || deadline.passed(),
        |&pid| procs::describe(pid, boot_time, ticks, redact),
    );
    if described.iter().any(Option::is_none) {
        seen.cut_short
            .push("some processes were not described".to_string());
    }
    described.into_iter().flatten().flatten().unzip()
}

/// From this many processes on, two threads describe them and examine their threads.
const SHARED_FROM: usize = 16;

/// Container, pod and machine names of the processes and namespaces (from the runtimes'
/// state files); returns the namespaces.
fn name_holders(
    targets: Vec<netns::Target>,
    processes: &mut [Process],
    keys: &[Holder],
    seen: &mut Seen,
) -> Vec<crate::snapshot::Netns> {
    let mut named = holders::Named::default();
    let namespaces = holders::name(targets, processes, keys, &seen.options.deadline, &mut named);
    seen.warnings.append(&mut named.warnings);
    if named.cut_short {
        seen.cut_short
            .push("some holders were not named".to_string());
    }
    namespaces
}

/// Thread evidence, only for processes that hold a connection that may be stuck.
fn examine_threads(connections: &mut Connections, processes: &mut [Process], seen: &mut Seen) {
    let min_idle_ms = u64::try_from(seen.options.thread_min_idle.as_millis()).unwrap_or(u64::MAX);
    let mut wanted: HashMap<(u32, u32), usize> = HashMap::new();
    for (index, c) in connections.iter().enumerate() {
        let may_be_stuck = matches!(
            c.state,
            TcpState::Established | TcpState::CloseWait | TcpState::SynSent
        ) && c.idle_ms().is_none_or(|idle| idle >= min_idle_ms);
        if may_be_stuck {
            for owner in c.owners() {
                wanted.insert((owner.pid, owner.fd), index);
            }
        }
    }
    let pids: HashSet<u32> = wanted.keys().map(|&(pid, _)| pid).collect();
    let examine: Vec<usize> = (0..processes.len())
        .filter(|&i| pids.contains(&processes[i].pid))
        .collect();
    let deadline = seen.options.deadline;
    let examined = shared::map(
        &examine,
        SHARED_FROM,
        || deadline.passed(),
        |&i| {
            let mut found = Vec::new();
            let examined = waits::examine(processes[i].pid, &wanted, &mut found);
            (examined, found)
        },
    );
    let (mut not_examined, mut cut_short) = (0, false);
    // In the processes' order, as one thread would have found them.
    for (&i, done) in examine.iter().zip(examined) {
        let Some((examined, found)) = done else {
            cut_short = true;
            continue;
        };
        let process = &mut processes[i];
        process.thread_evidence = examined.evidence;
        process.resumed_threads = examined.resumed;
        if process.thread_evidence != ThreadEvidence::Read {
            not_examined += 1;
        }
        for (index, thread) in found {
            connections.add_blocked(index, thread);
        }
    }
    if cut_short {
        seen.cut_short
            .push("some processes' threads were not examined".to_string());
    }
    if not_examined > 0 {
        let why = match caps::missing(&[caps::DAC_READ_SEARCH, caps::SYS_PTRACE]) {
            lacking if is_root() || lacking.is_empty() => {
                "they exited, or their memory was not readable".to_string()
            }
            lacking => format!("needs {lacking}, or root"),
        };
        seen.warnings.push(format!(
            "the threads of {} could not all be examined ({why}): threads blocked on their \
             connections may be missing",
            count(not_examined, "process", "processes"),
        ));
    }
}

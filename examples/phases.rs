//! Where a live scan's time and memory go: the steps of `collect::live`, then the analysis and
//! the JSON report, each timed on its own, with the peak RSS after each. For bench/ (it
//! explains the figures of bench/scan-vs-ss.sh and bench/curve.sh); not a part of stuckconn.
//!
//!   phases [--walk procfs|fdwalk] [--min-idle SECS] [--netns self]   (one JSON line)
//!   phases --overlap ...       the fd walk on a thread of its own during the dump
//!   phases --walk-repeat N     only the fd walk, N times each way (procfs, fdwalk)
//!
//! The steps are the library's own functions, called in the order `collect::live` calls them;
//! what `live` does besides (warnings, partial-report bookkeeping) costs nothing measurable.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};
use stuckconn::collect::{fdwalk, netns, procs, waits};
use stuckconn::deadline::Deadline;
use stuckconn::snapshot::{Collector, Connection, Host, Snapshot, TcpState, ThreadEvidence};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let walk = arg("--walk").unwrap_or_else(|| "fdwalk".to_string());
    let min_idle = Duration::from_secs_f64(
        arg("--min-idle")
            .map(|s| s.parse().expect("--min-idle SECS"))
            .unwrap_or(60.0),
    );
    let selection = match arg("--netns").as_deref() {
        Some("self") => netns::Selection::Chosen(vec![netns::Choice::Own]),
        _ => netns::Selection::All,
    };
    let deadline = Deadline::none();
    let start = Instant::now();
    // (name, wall, user, system, peak KiB after)
    let mut phases: Vec<(&str, f64, f64, f64, u64)> = Vec::new();
    let mut clock = (Instant::now(), user_system());
    let mut lap = |name: &'static str, phases: &mut Vec<(&str, f64, f64, f64, u64)>| {
        let (user, system) = user_system();
        phases.push((
            name,
            clock.0.elapsed().as_secs_f64(),
            user - clock.1 .0,
            system - clock.1 .1,
            peak_kib(),
        ));
        clock = (Instant::now(), (user, system));
    };

    let mut warnings = Vec::new();
    let targets = netns::targets(&selection, &mut warnings).expect("namespaces");
    lap("namespaces", &mut phases);
    // --overlap: the fd walk on a thread of its own while the namespaces are dumped.
    let walker = (args.iter().any(|a| a == "--overlap") && walk == "fdwalk").then(|| {
        std::thread::spawn(move || {
            let mut pass = procs::PassStats::default();
            let fds = fdwalk::socket_fds(c"/proc", &mut pass, &deadline);
            (fds, pass)
        })
    });
    let mut connections: Vec<Connection> = Vec::new();
    let mut per_namespace = Vec::new();
    for target in &targets {
        let t = Instant::now();
        if let Ok(mut dump) = netns::dump(target) {
            per_namespace.push((dump.connections.len(), t.elapsed().as_secs_f64()));
            if connections.is_empty() {
                connections = dump.connections;
            } else {
                connections.append(&mut dump.connections);
            }
        }
    }
    connections.shrink_to_fit();
    lap("dump", &mut phases);

    if let Some(n) = arg("--walk-repeat") {
        // Only the fd walk, N times each way, alternating: min and median seconds.
        let n: usize = n.parse().expect("--walk-repeat N");
        let mut times: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..n {
            for (which, times) in times.iter_mut().enumerate() {
                let mut copy = connections.clone();
                let mut pass = procs::PassStats::default();
                let (t, cpu) = (Instant::now(), cpu_secs());
                if which == 0 {
                    procs::attribute_with_procfs(&mut copy, &mut pass, &deadline);
                } else {
                    fdwalk::attribute(&mut copy, &mut pass, &deadline);
                }
                times.push((t.elapsed().as_secs_f64(), cpu_secs() - cpu));
            }
        }
        for (name, t) in ["procfs", "fdwalk"].into_iter().zip(times) {
            let mut wall: Vec<f64> = t.iter().map(|x| x.0).collect();
            let mut cpu: Vec<f64> = t.iter().map(|x| x.1).collect();
            wall.sort_by(f64::total_cmp);
            cpu.sort_by(f64::total_cmp);
            println!(
                "{name}: wall min {:.4} s, median {:.4} s; cpu min {:.4} s, median {:.4} s",
                wall[0],
                wall[n / 2],
                cpu[0],
                cpu[n / 2]
            );
        }
        return;
    }
    let mut pass = procs::PassStats::default();
    let (holders, counts) = match walk.as_str() {
        _ if walker.is_some() => {
            let (fds, walked) = walker.unwrap().join().expect("the walk thread");
            pass = walked;
            fds.assign(&mut connections)
        }
        "procfs" => (
            procs::attribute_with_procfs(&mut connections, &mut pass, &deadline),
            fdwalk::Counts::default(),
        ),
        _ => fdwalk::attribute_counted(&mut connections, &mut pass, &deadline),
    };
    lap("fd_walk", &mut phases);

    let boot_time = procfs::boot_time_secs().ok();
    let ticks = procfs::ticks_per_second();
    let mut processes: Vec<_> = holders
        .iter()
        .filter_map(|&pid| procs::describe(pid, boot_time, ticks, true))
        .collect();
    lap("describe", &mut phases);

    let min_idle_ms = min_idle.as_millis() as u64;
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
    let mut examined = 0;
    for process in processes.iter_mut().filter(|p| pids.contains(&p.pid)) {
        process.thread_evidence = waits::examine(process.pid, &wanted, &mut found).evidence;
        examined += usize::from(process.thread_evidence == ThreadEvidence::Read);
    }
    for (index, thread) in found {
        connections[index].blocked_threads.push(thread);
    }
    drop(wanted);
    lap("threads", &mut phases);

    let mut named = stuckconn::collect::holders::Named::default();
    let namespaces =
        stuckconn::collect::holders::name(targets, &mut processes, &deadline, &mut named);
    lap("names", &mut phases);

    processes.sort_by_key(|p| p.pid);
    let sockets = connections.len();
    let snapshot = Snapshot {
        partial: false,
        snapshot_version: stuckconn::snapshot::SNAPSHOT_VERSION,
        host: Host {
            hostname: String::new(),
            kernel: String::new(),
        },
        taken_at: stuckconn::report::now_seconds(),
        collect_secs: start.elapsed().as_secs_f64(),
        collector: Collector::SockDiag,
        thread_evidence_min_idle_secs: min_idle.as_secs_f64(),
        connections,
        processes,
        warnings,
        namespaces,
        names: Default::default(),
        names_by_netns: Default::default(),
        partial_reason: None,
        tcp_limits: Default::default(),
        missing_capabilities: None,
        mem_total_bytes: None,
    };
    let options = stuckconn::analyze::AnalysisOptions {
        min_idle,
        all: false,
        filter: Default::default(),
    };
    let now = stuckconn::report::now_seconds();
    let report = stuckconn::enrich::offline(&snapshot, &options, "live", now);
    lap("analysis", &mut phases);

    let mut out = Counter(0);
    {
        let mut w = std::io::BufWriter::new(&mut out);
        stuckconn::render::json::write(&report, &mut w).expect("render");
        w.flush().expect("render");
    }
    lap("render", &mut phases);

    let fields: Vec<String> = phases
        .iter()
        .map(|(name, secs, _, _, _)| format!("\"{name}\":{secs:.4}"))
        .chain(
            phases
                .iter()
                .map(|(name, _, u, s, _)| format!("\"cpu_{name}\":{:.4}", u + s)),
        )
        .chain(
            phases
                .iter()
                .map(|(name, _, _, s, _)| format!("\"sys_{name}\":{s:.4}")),
        )
        .chain(
            phases
                .iter()
                .map(|(name, _, _, _, kib)| format!("\"peak_kib_after_{name}\":{kib}")),
        )
        .collect();
    println!(
        "{{\"walk\":\"{walk}\",\"cpu_total\":{:.4},\"sockets\":{sockets},\"report_connections\":{},\"json_bytes\":{},\
         \"holders\":{},\"threads_examined\":{examined},\"walk_counts\":{{\"processes\":{},\"fds\":{},\"sockets\":{},\"matched\":{}}},\
         \"denied\":{},\"vanished\":{},\"per_namespace\":[{}],\"connection_bytes\":{},{},\"total\":{:.4}}}",
        cpu_secs(),
        report.connections.len(),
        out.0,
        holders.len(),
        counts.processes,
        counts.fds,
        counts.sockets,
        counts.matched,
        pass.denied,
        pass.vanished,
        per_namespace
            .iter()
            .map(|(n, secs)| format!("{{\"sockets\":{n},\"secs\":{secs:.4}}}"))
            .collect::<Vec<_>>()
            .join(","),
        std::mem::size_of::<Connection>(),
        fields.join(","),
        start.elapsed().as_secs_f64()
    );
}

/// Counts what is written, keeps nothing.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// CPU time of the process so far (user + system, every thread), seconds.
fn cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which outlives the call.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// User and system CPU time of the process so far (every thread), seconds.
fn user_system() -> (f64, f64) {
    // SAFETY: an all-zero rusage is a valid value; getrusage fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage, which outlives the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// VmHWM: the peak resident set so far, KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

//! What the enrichers need of the sockets and processes behind problem findings, read once
//! the analysis has found them: each stuck socket's options (through `pidfd_getfd`), each
//! holder's memory (PSS) and the runtimes it runs. Written into the snapshot, so that a
//! recording holds them and a replay judges with the same facts. Only problem findings are
//! probed: a healthy host costs nothing more.

use super::{caps, memory, runtime, sockopts};
use crate::deadline::Deadline;
use crate::report::{Report, Severity};
use crate::snapshot::{OptionsRead, Snapshot, Unreadable};
use crate::text::count;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the probe could not do: warnings, and what the deadline cut short.
#[derive(Debug, Default)]
pub(crate) struct Probed {
    pub warnings: Vec<String>,
    pub cut_short: Option<String>,
}

/// Probes the sockets and processes behind `report`'s problem findings into `snapshot`.
pub(crate) fn probe(snapshot: &mut Snapshot, report: &Report, deadline: &Deadline) -> Probed {
    let mut probed = Probed::default();
    // The socket of each problem connection, by its holder: (snapshot index, fd).
    let mut sockets: BTreeMap<u32, Vec<(usize, u32)>> = BTreeMap::new();
    for c in report.connections.iter().filter(|c| c.kind.is_problem()) {
        if let (Some(pid), Some(fd)) = (c.pid, c.fd) {
            sockets.entry(pid).or_default().push((c.index, fd));
        }
    }
    let pids: BTreeSet<u32> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .flat_map(|f| f.processes.iter().flat_map(|p| p.pids.iter().copied()))
        .collect();
    if pids.is_empty() {
        return probed;
    }
    let denied = options(snapshot, &sockets, deadline, &mut probed);
    processes(snapshot, &pids, deadline, &mut probed);
    if denied > 0 {
        let lacking = caps::missing(&[caps::SYS_PTRACE]);
        let why = if lacking.is_empty() {
            "refused by a security module, such as Yama's ptrace_scope".to_string()
        } else {
            format!("needs {lacking}, or root")
        };
        probed.warnings.push(format!(
            "the socket options of {} could not be read ({why}): whether they time out shows \
             as unknown",
            count(denied, "stuck connection", "stuck connections")
        ));
    }
    probed
}

/// Reads the options of every socket in `sockets` (one pidfd per process). Returns how many
/// were denied.
fn options(
    snapshot: &mut Snapshot,
    sockets: &BTreeMap<u32, Vec<(usize, u32)>>,
    deadline: &Deadline,
    probed: &mut Probed,
) -> usize {
    let mut denied = 0;
    for (&pid, fds) in sockets {
        if deadline.passed() {
            probed.cut_short = Some("some stuck sockets' options were not read".to_string());
            break;
        }
        let reader = sockopts::Reader::open(pid);
        for &(index, fd) in fds {
            let read = match &reader {
                Ok(reader) => reader.read(fd),
                Err(why) => Err(why.clone()),
            };
            let probed = match read {
                Ok(options) => OptionsRead {
                    options: Some(options),
                    unreadable: None,
                },
                Err(why) => {
                    denied += usize::from(matches!(why, Unreadable::Denied { .. }));
                    OptionsRead {
                        options: None,
                        unreadable: Some(why),
                    }
                }
            };
            snapshot.connections.set_probed(index, probed);
        }
    }
    denied
}

/// Reads each process's memory, and the runtimes of one process per executable and parent
/// (forked workers share their parent's libraries: 111 apache2 workers are read once).
fn processes(
    snapshot: &mut Snapshot,
    pids: &BTreeSet<u32>,
    deadline: &Deadline,
    probed: &mut Probed,
) {
    let mut detected: HashMap<(Option<String>, Option<u32>), crate::snapshot::Detected> =
        HashMap::new();
    for process in snapshot
        .processes
        .iter_mut()
        .filter(|p| pids.contains(&p.pid))
    {
        if deadline.passed() {
            probed.cut_short = Some("some stuck processes' memory was not read".to_string());
            break;
        }
        process.memory = memory::usage(process.pid);
        let found = detected
            .entry((process.exe.clone(), process.ppid))
            .or_insert_with(|| runtime::detect(process.pid));
        process.runtimes = found.runtimes.clone();
        process.go_version = found.go_version.clone();
    }
}

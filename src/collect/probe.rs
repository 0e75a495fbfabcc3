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
    let mut reader: Option<Reader> = None;
    for process in snapshot
        .processes
        .iter_mut()
        .filter(|p| pids.contains(&p.pid))
    {
        if deadline.passed() {
            probed.cut_short = Some("some stuck processes' memory was not read".to_string());
            break;
        }
        let key = (process.exe.clone(), process.ppid);
        let known = detected.get(&key).cloned();
        let reader = reader.get_or_insert_with(Reader::start);
        let Some((memory, found)) = reader.read(process.pid, known.is_none(), deadline) else {
            // Given up: the deadline passed, or a read did not come back.
            probed.warnings.extend(reader.gave_up.take());
            if deadline.passed() {
                probed.cut_short = Some("some stuck processes' memory was not read".to_string());
            }
            break;
        };
        process.memory = memory;
        let found = match (known, found) {
            (Some(known), _) => known,
            (None, Some(found)) => detected.entry(key).or_insert(found).clone(),
            (None, None) => Default::default(),
        };
        process.runtimes = found.runtimes.clone();
        process.go_version = found.go_version.clone();
    }
}

/// How long the probe waits for one process's memory and runtimes. Reading them opens the
/// process's executable (`/proc/PID/exe`) and walks its memory map: on a hung file system
/// (a FUSE or NFS mount the executable runs from) that never comes back.
pub(crate) const PROCESS_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What the reading thread answers for one process: its memory, and its runtimes when asked.
type ReadBack = (
    Option<crate::snapshot::Usage>,
    Option<crate::snapshot::Detected>,
);

/// The thread that reads processes' memory and runtimes, so that a read that never comes
/// back costs the probe [`PROCESS_WAIT`] (never past the deadline), not the scan: then that
/// thread is left behind, and the other processes are not read.
struct Reader {
    ask: Option<std::sync::mpsc::Sender<(u32, bool)>>,
    answers: std::sync::mpsc::Receiver<(u32, ReadBack)>,
    /// Why the reading stopped, once (a warning).
    gave_up: Option<String>,
}

/// Reading threads still running. One of an earlier probe that is still there (it ends as
/// soon as its probe is done, unless a read did not come back) means that no other is started:
/// `serve` scans again and again, and would leave one more behind at every scan.
static ALIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Reader {
    fn start() -> Reader {
        use std::sync::atomic::Ordering;
        let (ask, questions) = std::sync::mpsc::channel::<(u32, bool)>();
        let (tell, answers) = std::sync::mpsc::channel();
        let mut reader = Reader {
            ask: Some(ask),
            answers,
            gave_up: None,
        };
        let began = std::time::Instant::now();
        while ALIVE.load(Ordering::SeqCst) > 0 && began.elapsed() < crate::deadline::TICK {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if ALIVE.load(Ordering::SeqCst) > 0 {
            reader.stop(
                "an earlier scan's reading of a stuck process's executable and memory map has \
                 not come back (a hung file system?): the stuck processes' memory and runtimes \
                 were not read"
                    .to_string(),
            );
            return reader;
        }
        ALIVE.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("stuckconn-probe".to_string())
            .spawn(move || {
                for (pid, detect) in questions {
                    let memory = memory::usage(pid);
                    let found = detect.then(|| runtime::detect(pid));
                    if tell.send((pid, (memory, found))).is_err() {
                        break;
                    }
                }
                ALIVE.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(err) = spawned {
            ALIVE.fetch_sub(1, Ordering::SeqCst);
            reader.stop(format!(
                "no thread to read the stuck processes' memory and runtimes ({err}): not read"
            ));
        }
        reader
    }

    fn stop(&mut self, why: String) {
        self.gave_up = Some(why);
        self.ask = None;
    }

    /// Process `pid`'s memory, and its runtimes when `detect`; `None` when the thread did not
    /// answer within [`PROCESS_WAIT`] or before `deadline` (then it is given up).
    fn read(&mut self, pid: u32, detect: bool, deadline: &Deadline) -> Option<ReadBack> {
        let sent = self
            .ask
            .as_ref()
            .is_some_and(|a| a.send((pid, detect)).is_ok());
        if !sent {
            if self.gave_up.is_none() {
                self.stop("the thread reading the stuck processes' memory ended early".into());
            }
            return None;
        }
        let began = std::time::Instant::now();
        loop {
            let wait = PROCESS_WAIT
                .saturating_sub(began.elapsed())
                .min(deadline.left())
                .min(crate::deadline::TICK);
            match self.answers.recv_timeout(wait) {
                Ok((answered, back)) if answered == pid => return Some(back),
                Ok(_) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    self.stop("the thread reading the stuck processes' memory ended early".into());
                    return None;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if deadline.passed() {
                // The caller says that the deadline cut the probe short.
                self.ask = None;
                return None;
            }
            if began.elapsed() >= PROCESS_WAIT {
                self.stop(format!(
                    "reading process {pid}'s executable and memory map did not finish within \
                     {} (a hung file system?): the memory and runtimes of the stuck processes \
                     from there on were not read",
                    humantime::format_duration(PROCESS_WAIT)
                ));
                return None;
            }
        }
    }
}

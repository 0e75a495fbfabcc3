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
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    let asked = ask_processes(snapshot, &pids);
    let denied = options(snapshot, &sockets, deadline, &mut probed);
    answer_processes(snapshot, asked, deadline, &mut probed);
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

/// Below this many stuck sockets, their options are read by this thread alone (a thread
/// costs more than it saves).
const OPTIONS_SHARED_FROM: usize = 256;

/// Reads the options of every socket in `sockets` (one pidfd per process), by this thread and,
/// for many sockets, a second one (`shared::map`: each takes the next process). Returns how
/// many were denied.
fn options(
    snapshot: &mut Snapshot,
    sockets: &BTreeMap<u32, Vec<(usize, u32)>>,
    deadline: &Deadline,
    probed: &mut Probed,
) -> usize {
    let sockets: Vec<(u32, &[(usize, u32)])> =
        sockets.iter().map(|(&pid, fds)| (pid, &fds[..])).collect();
    let many = sockets.iter().map(|(_, fds)| fds.len()).sum::<usize>() >= OPTIONS_SHARED_FROM;
    // Each process's sockets are written as soon as they are read: nothing is held twice.
    let connections = std::sync::Mutex::new(&mut snapshot.connections);
    let done = super::shared::map(
        &sockets,
        if many { 2 } else { usize::MAX },
        || deadline.passed(),
        |&(pid, fds)| options_of_process(pid, fds, &connections, deadline),
    );
    if done.iter().any(|d| d.is_none_or(|(_, all)| !all)) {
        probed.cut_short = Some("some stuck sockets' options were not read".to_string());
    }
    done.into_iter().flatten().map(|(denied, _)| denied).sum()
}

/// The deadline is asked every this many sockets of one process (a process holding 100,000
/// stuck sockets must not hold the probe past a signal).
const CHECK_EVERY_SOCKETS: usize = 1024;

/// Reads the options of `pid`'s sockets `fds` ((snapshot index, fd) each) and writes them into
/// `connections`; returns how many were denied, and whether all were read before the deadline.
fn options_of_process(
    pid: u32,
    fds: &[(usize, u32)],
    connections: &std::sync::Mutex<&mut crate::snapshot::Connections>,
    deadline: &Deadline,
) -> (usize, bool) {
    let reader = sockopts::Reader::open(pid);
    let mut denied = 0;
    let mut all = true;
    let read: Vec<(usize, OptionsRead)> = fds
        .iter()
        .enumerate()
        .take_while(|&(n, _)| {
            all = all && !(n > 0 && n.is_multiple_of(CHECK_EVERY_SOCKETS) && deadline.passed());
            all
        })
        .map(|(_, &(index, fd))| {
            let read = match &reader {
                Ok(reader) => reader.read(fd),
                Err(why) => Err(why.clone()),
            };
            let read = match read {
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
            (index, read)
        })
        .collect();
    // A panic of the other thread while it held the lock left nothing half-written.
    let mut connections = connections
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (index, read) in read {
        connections.set_probed(index, read);
    }
    (denied, all)
}

/// The stuck processes whose memory and runtimes were asked of the reading thread, in the
/// order it answers: each with whether its runtimes are to be detected (one process per
/// executable and parent: forked workers share their parent's libraries, and 111 apache2
/// workers are read once).
struct Asked {
    reader: Reader,
    pids: Vec<(u32, bool)>,
}

/// Asks the reading thread for each stuck process's memory and runtimes; it reads them while
/// the socket options are read here.
fn ask_processes(snapshot: &Snapshot, pids: &BTreeSet<u32>) -> Asked {
    let mut reader = Reader::start();
    let mut seen: HashSet<(Option<&str>, Option<u32>)> = HashSet::new();
    let mut asked = Vec::new();
    for process in snapshot.processes.iter().filter(|p| pids.contains(&p.pid)) {
        let detect = seen.insert((process.exe.as_deref(), process.ppid));
        if !reader.ask(process.pid, detect) {
            break;
        }
        asked.push((process.pid, detect));
    }
    Asked {
        reader,
        pids: asked,
    }
}

/// Writes the answers of the reading thread into the snapshot, each process's runtimes from
/// the one process of its executable and parent that was read.
fn answer_processes(
    snapshot: &mut Snapshot,
    mut asked: Asked,
    deadline: &Deadline,
    probed: &mut Probed,
) {
    let mut detected: HashMap<(Option<String>, Option<u32>), crate::snapshot::Detected> =
        HashMap::new();
    // The processes were asked in the snapshot's order: each is found after the last.
    let mut next = 0;
    for &(pid, _) in &asked.pids {
        if deadline.passed() {
            probed.cut_short = Some("some stuck processes' memory was not read".to_string());
            break;
        }
        let Some(at) = snapshot.processes[next..].iter().position(|p| p.pid == pid) else {
            continue;
        };
        let process = &mut snapshot.processes[next + at];
        next += at + 1;
        let Some((memory, found)) = asked.reader.answer(pid, deadline) else {
            // Given up: the deadline passed, or a read did not come back.
            probed.warnings.extend(asked.reader.gave_up.take());
            if deadline.passed() {
                probed.cut_short = Some("some stuck processes' memory was not read".to_string());
            }
            break;
        };
        process.memory = memory;
        let key = (process.exe.clone(), process.ppid);
        let found = match found {
            Some(found) => detected.entry(key).or_insert(found).clone(),
            None => detected.get(&key).cloned().unwrap_or_default(),
        };
        process.runtimes = found.runtimes;
        process.go_version = found.go_version;
    }
    // A thread that could not be started asked nothing: say why.
    probed.warnings.extend(asked.reader.gave_up.take());
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

    /// Asks for process `pid`'s memory, and its runtimes when `detect`; false when the
    /// thread is gone or given up (its reason in `gave_up`).
    fn ask(&mut self, pid: u32, detect: bool) -> bool {
        let sent = self
            .ask
            .as_ref()
            .is_some_and(|a| a.send((pid, detect)).is_ok());
        if !sent && self.gave_up.is_none() {
            self.stop("the thread reading the stuck processes' memory ended early".into());
        }
        sent
    }

    /// The answer for `pid`, asked earlier (answers come in the order asked); `None` when the
    /// thread did not answer within [`PROCESS_WAIT`] of this wait or before `deadline` (then
    /// it is given up).
    fn answer(&mut self, pid: u32, deadline: &Deadline) -> Option<ReadBack> {
        // Given up earlier: nothing more is asked or waited for.
        self.ask.as_ref()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Connection, Connections};

    /// One process's sockets are read with the deadline asked every 1,024: a signal during a
    /// process that holds 3,000 stuck sockets stops the reading there, and says it was cut.
    #[test]
    fn a_process_with_many_sockets_stops_at_the_deadline_within_it() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = u32::try_from(std::os::fd::AsRawFd::as_raw_fd(&socket)).unwrap();
        let mut connections = Connections::from(vec![Connection::example(); 3000]);
        let fds: Vec<(usize, u32)> = (0..3000).map(|i| (i, fd)).collect();
        let pid = std::process::id();
        let passed = Deadline::after(std::time::Duration::ZERO);
        let shared = std::sync::Mutex::new(&mut connections);
        let (_, all) = options_of_process(pid, &fds, &shared, &passed);
        assert!(!all, "cut short");
        let read = (0..3000)
            .filter(|&i| connections.probed(i).is_some())
            .count();
        assert_eq!(read, CHECK_EVERY_SOCKETS);
        // Without a deadline every one is read, each with this listener's options.
        let mut connections = Connections::from(vec![Connection::example(); 3000]);
        let shared = std::sync::Mutex::new(&mut connections);
        let (denied, all) = options_of_process(pid, &fds, &shared, &Deadline::none());
        assert!(all && denied == 0);
        let read = connections.probed(2999).expect("the last one read");
        assert_eq!(read.options.map(|o| o.keepalive), Some(false), "{read:?}");
    }
}

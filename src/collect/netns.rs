//! Network namespaces: which ones exist (the distinct /proc/PID/ns/net of all processes, and
//! the named ones under /run/netns), what they belong to, and a sock_diag dump inside each,
//! done on a short-lived thread that enters it with setns (the main thread never switches).

use super::sockdiag;
use crate::snapshot::Netns;
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Which namespaces to cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// Every namespace on the host when privileged (CAP_SYS_ADMIN); the own one otherwise.
    #[default]
    All,
    /// Only the namespace the tool runs in (`--netns self`).
    Own,
    /// These: `self`, a name under /run/netns, a pid, or a path to a namespace file.
    Chosen(Vec<String>),
}

impl Selection {
    pub fn from_args(args: &[String]) -> Selection {
        match args {
            [] => Selection::All,
            [only] if only == "self" => Selection::Own,
            many => Selection::Chosen(many.to_vec()),
        }
    }
}

/// A namespace to dump: how to enter it, and its label.
#[derive(Debug, Clone)]
pub struct Target {
    /// A file that refers to the namespace (None: the tool's own, dumped in place).
    pub path: Option<PathBuf>,
    pub label: Netns,
}

const RUN_NETNS: &str = "/run/netns";

fn inode_of(path: &Path) -> std::io::Result<u64> {
    std::fs::metadata(path).map(|m| m.ino())
}

/// The tool's own network namespace.
pub fn own_inode() -> Option<u64> {
    inode_of(Path::new("/proc/self/ns/net")).ok()
}

/// Whether the effective capabilities include CAP_SYS_ADMIN (needed for setns).
pub fn can_enter() -> bool {
    super::caps::has(super::caps::SYS_ADMIN)
}

/// The names under /run/netns, by namespace inode.
fn named() -> HashMap<u64, (String, PathBuf)> {
    let mut out = HashMap::new();
    if let Ok(dir) = std::fs::read_dir(RUN_NETNS) {
        for entry in dir.flatten() {
            let path = entry.path();
            if let Ok(inode) = inode_of(&path) {
                let name = entry.file_name().to_string_lossy().into_owned();
                out.entry(inode).or_insert((name, path));
            }
        }
    }
    out
}

/// The container a namespace belongs to, from the cgroup path of a process in it.
fn container_of(pid: u32) -> (Option<String>, Option<String>) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return (None, None);
    };
    let paths: Vec<String> = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .map(str::to_string)
        .collect();
    (
        super::cgroup::identify(&paths).1,
        super::cgroup::pod_uid(&paths),
    )
}

/// The namespaces to dump, the tool's own first. Fails only for a `--netns` that names
/// nothing (the user's mistake). What could not be seen goes to `warnings`.
pub fn targets(selection: &Selection, warnings: &mut Vec<String>) -> Result<Vec<Target>, String> {
    let own = own_inode().unwrap_or(0);
    let names = named();
    let label = |inode: u64, container: (Option<String>, Option<String>)| Netns {
        inode,
        name: names.get(&inode).map(|(n, _)| n.clone()),
        container: container.0,
        pod_uid: container.1,
        own: inode == own,
    };
    let own_target = || Target {
        path: None,
        label: label(own, container_of(std::process::id())),
    };
    match selection {
        Selection::Own => Ok(vec![own_target()]),
        Selection::All if !can_enter() => {
            warnings.push(
                "only this network namespace was scanned: entering the others (containers, \
                 `ip netns`) needs CAP_SYS_ADMIN; run as root to see them"
                    .to_string(),
            );
            Ok(vec![own_target()])
        }
        Selection::All => {
            let mut seen: HashMap<u64, Target> = HashMap::new();
            seen.insert(own, own_target());
            for (inode, (_, path)) in &names {
                seen.entry(*inode).or_insert_with(|| Target {
                    path: Some(path.clone()),
                    label: label(*inode, (None, None)),
                });
            }
            let mut unlabelled = Vec::new();
            if let Ok(proc_dir) = std::fs::read_dir("/proc") {
                for entry in proc_dir.flatten() {
                    let Some(pid) = entry
                        .file_name()
                        .to_str()
                        .and_then(|s| s.parse::<u32>().ok())
                    else {
                        continue;
                    };
                    let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
                    // Processes vanish and kernel threads deny: both are normal.
                    let Ok(inode) = inode_of(&path) else { continue };
                    match seen.get_mut(&inode) {
                        Some(t) if t.label.container.is_none() && !t.label.own => {
                            unlabelled.push((inode, pid));
                        }
                        Some(_) => {}
                        None => {
                            seen.insert(
                                inode,
                                Target {
                                    path: Some(path),
                                    label: label(inode, container_of(pid)),
                                },
                            );
                        }
                    }
                }
            }
            // A named namespace found first gets its container from a process inside it.
            for (inode, pid) in unlabelled {
                if let Some(t) = seen.get_mut(&inode).filter(|t| t.label.container.is_none()) {
                    let (container, pod) = container_of(pid);
                    t.label.container = container;
                    t.label.pod_uid = pod;
                }
            }
            let mut targets: Vec<Target> = seen.into_values().collect();
            targets.sort_by_key(|t| (!t.label.own, t.label.inode));
            Ok(targets)
        }
        Selection::Chosen(items) => {
            let mut targets: Vec<Target> = Vec::new();
            for item in items {
                let path = if item == "self" {
                    None
                } else if item.parse::<u32>().is_ok() {
                    Some(PathBuf::from(format!("/proc/{item}/ns/net")))
                } else if item.starts_with('/') {
                    Some(PathBuf::from(item))
                } else {
                    Some(Path::new(RUN_NETNS).join(item))
                };
                let inode = match &path {
                    None => own,
                    Some(p) => inode_of(p).map_err(|e| {
                        format!("no network namespace {item:?} ({}: {e})", p.display())
                    })?,
                };
                if targets.iter().any(|t| t.label.inode == inode) {
                    continue;
                }
                if inode != own && !can_enter() {
                    return Err(format!(
                        "--netns {item}: entering another network namespace needs CAP_SYS_ADMIN (run as root)"
                    ));
                }
                let pid = item.parse::<u32>().unwrap_or(std::process::id());
                targets.push(Target {
                    path: if inode == own { None } else { path },
                    label: label(inode, container_of(pid)),
                });
            }
            Ok(targets)
        }
    }
}

/// Dumps the namespace's TCP sockets, inside it when it is not the tool's own.
pub fn dump(target: &Target) -> std::io::Result<sockdiag::Dump> {
    let Some(path) = target.path.clone() else {
        return sockdiag::dump_here();
    };
    // A thread of its own enters the namespace, dumps, and ends: the main thread never moves.
    std::thread::Builder::new()
        .name("stuckconn-netns".to_string())
        .spawn(move || {
            let file = std::fs::File::open(&path)?;
            // SAFETY: setns with a valid namespace fd, affecting only this thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            sockdiag::dump_here()
        })?
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread failed")))
}

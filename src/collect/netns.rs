//! Network namespaces: which ones exist (the distinct /proc/PID/ns/net of all processes, and
//! the named ones under /run/netns), what they belong to, and a sock_diag dump inside each,
//! done on a short-lived thread that enters it with setns (the main thread never switches).

use super::sockdiag;
use crate::snapshot::Netns;
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One `--netns` argument, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `self`: the namespace stuckconn runs in.
    Own,
    /// A pid: the namespace of that process.
    Pid(u32),
    /// `net:[INODE]`: a namespace by its inode (as `ls -l /proc/PID/ns/net` shows it).
    Inode(u64),
    /// An absolute path to a namespace file (`/proc/PID/ns/net`, a bind mount).
    Path(PathBuf),
    /// A name under /run/netns (`ip netns`).
    Name(String),
}

impl Choice {
    /// Parses one `--netns` argument (a clap value parser).
    pub(crate) fn parse(text: &str) -> Result<Choice, String> {
        if text == "self" {
            Ok(Choice::Own)
        } else if let Ok(pid) = text.parse::<u32>() {
            Ok(Choice::Pid(pid))
        } else if let Some(inode) = text.strip_prefix("net:[").and_then(|t| t.strip_suffix(']')) {
            inode
                .parse()
                .map(Choice::Inode)
                .map_err(|_| format!("{text:?}: net:[INODE] needs a number"))
        } else if text.starts_with('/') {
            Ok(Choice::Path(PathBuf::from(text)))
        } else if text.is_empty() || text.contains('/') || text == "." || text == ".." {
            Err(format!(
                "{text:?} is not self, a pid, net:[INODE], an absolute path or an `ip netns` name"
            ))
        } else {
            Ok(Choice::Name(text.to_string()))
        }
    }
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Choice::Own => write!(f, "self"),
            Choice::Pid(pid) => write!(f, "{pid}"),
            Choice::Inode(inode) => write!(f, "net:[{inode}]"),
            Choice::Path(path) => write!(f, "{}", path.display()),
            Choice::Name(name) => write!(f, "{name}"),
        }
    }
}

/// Which namespaces to cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// Every namespace on the host when privileged (CAP_SYS_ADMIN); the own one otherwise.
    #[default]
    All,
    /// Only these.
    Chosen(Vec<Choice>),
}

impl Selection {
    pub(crate) fn from_args(args: &[Choice]) -> Selection {
        if args.is_empty() {
            Selection::All
        } else {
            Selection::Chosen(args.to_vec())
        }
    }
}

/// A namespace to dump: the open namespace file to enter, and its label.
#[derive(Debug, Clone)]
pub struct Target {
    /// The namespace file, checked to be a network namespace (None: the tool's own, dumped
    /// in place).
    pub(crate) file: Option<Arc<File>>,
    pub label: Netns,
    /// A process inside it (the one its container was read from), if any.
    pub(crate) member: Option<u32>,
}

const RUN_NETNS: &str = "/run/netns";

fn inode_of(path: &Path) -> std::io::Result<u64> {
    std::fs::metadata(path).map(|m| m.ino())
}

/// The filesystem of namespace files (`NSFS_MAGIC`).
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Opens a file that must be a network namespace. Nothing else is ever opened: the name is
/// looked at through an `O_PATH` descriptor first (`collect::regular`), so a FIFO, a device
/// (a watchdog arms when opened), a regular file or a directory is an error that says what it
/// is, and another kind of namespace says which.
pub(crate) fn open_netns(path: &Path) -> std::io::Result<(File, u64)> {
    let not = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is {what}, not a network namespace", path.display()),
        )
    };
    let named = rustix::fs::open(path, super::regular::PATH_FLAGS, rustix::fs::Mode::empty())?;
    let stat = rustix::fs::fstat(&named)?;
    #[allow(clippy::unnecessary_cast)]
    let magic = rustix::fs::fstatfs(&named)?.f_type as i64;
    if magic != NSFS_MAGIC {
        return Err(not(
            super::regular::not_regular(&stat).unwrap_or("a regular file")
        ));
    }
    let file = super::regular::reopen(&named)?;
    // NS_GET_NSTYPE (`_IO(0xb7, 0x3)`) says which kind of namespace the file refers to.
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // SAFETY: this ioctl takes no argument and only reads the descriptor, which is open.
    let kind = unsafe { libc::ioctl(file.as_fd().as_raw_fd(), NS_GET_NSTYPE as _) };
    if kind != libc::CLONE_NEWNET {
        let what = match kind {
            libc::CLONE_NEWNS => "a mount namespace",
            libc::CLONE_NEWPID => "a pid namespace",
            libc::CLONE_NEWUSER => "a user namespace",
            libc::CLONE_NEWUTS => "a uts namespace",
            libc::CLONE_NEWIPC => "an ipc namespace",
            libc::CLONE_NEWCGROUP => "a cgroup namespace",
            _ => "another kind of namespace",
        };
        return Err(not(what));
    }
    Ok((file, stat.st_ino))
}

/// The tool's own network namespace.
pub(crate) fn own_inode() -> Option<u64> {
    inode_of(Path::new("/proc/self/ns/net")).ok()
}

/// Whether the effective capabilities include CAP_SYS_ADMIN (needed for setns).
pub(crate) fn can_enter() -> bool {
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

/// The container and pod a namespace belongs to, from the cgroup of a process inside it.
fn container_of(pid: u32) -> (Option<String>, Option<String>) {
    let identity = super::cgroup::of_process(pid);
    (identity.container, identity.pod_uid)
}

/// One process per network namespace (the first found), by the namespace's inode.
fn processes_by_namespace() -> HashMap<u64, u32> {
    let mut out = HashMap::new();
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in proc_dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes vanish and kernel threads deny: both are normal.
        if let Ok(inode) = inode_of(Path::new(&format!("/proc/{pid}/ns/net"))) {
            out.entry(inode).or_insert(pid);
        }
    }
    out
}

/// Labels namespaces: names under /run/netns, containers from a process inside.
struct Labeler {
    own: u64,
    names: HashMap<u64, (String, PathBuf)>,
    /// A process in each namespace, read from every process's `ns/net` on first use (`--netns
    /// self` never needs it).
    members: std::cell::OnceCell<HashMap<u64, u32>>,
}

impl Labeler {
    fn new() -> Labeler {
        Labeler {
            own: own_inode().unwrap_or(0),
            names: named(),
            members: std::cell::OnceCell::new(),
        }
    }

    fn members(&self) -> &HashMap<u64, u32> {
        self.members.get_or_init(processes_by_namespace)
    }

    /// `pid`, or the first process found inside the namespace.
    fn member(&self, inode: u64, pid: Option<u32>) -> Option<u32> {
        pid.or_else(|| self.members().get(&inode).copied())
    }

    fn label(&self, inode: u64, pid: Option<u32>) -> Netns {
        let (container, pod_uid) = self.member(inode, pid).map_or((None, None), container_of);
        Netns {
            inode,
            name: self.names.get(&inode).map(|(n, _)| n.clone()),
            container,
            pod_uid,
            container_names: Default::default(),
            own: inode == self.own,
        }
    }

    fn own_target(&self) -> Target {
        Target {
            file: None,
            label: self.label(self.own, Some(std::process::id())),
            member: Some(std::process::id()),
        }
    }

    /// A namespace file by path (`/run/netns/NAME` or `/proc/PID/ns/net`), if it still is one.
    fn target_at(&self, path: &Path, pid: Option<u32>) -> std::io::Result<Target> {
        let (file, inode) = open_netns(path)?;
        Ok(Target {
            file: (inode != self.own).then(|| Arc::new(file)),
            label: self.label(inode, pid),
            member: self.member(inode, pid),
        })
    }

    /// Where a namespace of the host can be opened, by inode.
    fn path_of(&self, inode: u64) -> Option<PathBuf> {
        self.names
            .get(&inode)
            .map(|(_, path)| path.clone())
            .or_else(|| {
                self.members()
                    .get(&inode)
                    .map(|pid| PathBuf::from(format!("/proc/{pid}/ns/net")))
            })
    }
}

/// The namespaces to dump, the tool's own first. Fails for a `--netns` that names nothing or
/// something that is not a network namespace (the user's mistake). What could not be seen
/// goes to `warnings`.
pub fn targets(selection: &Selection, warnings: &mut Vec<String>) -> Result<Vec<Target>, String> {
    let labeler = Labeler::new();
    match selection {
        Selection::All if !can_enter() => {
            warnings.push(
                "only this network namespace was scanned: entering the others (containers, \
                 `ip netns`) needs CAP_SYS_ADMIN; run as root to see them"
                    .to_string(),
            );
            Ok(vec![labeler.own_target()])
        }
        Selection::All => Ok(every_target(&labeler)),
        Selection::Chosen(choices) => {
            let mut targets: Vec<Target> = Vec::new();
            for choice in choices {
                let target = chosen_target(&labeler, choice)?;
                if !targets.iter().any(|t| t.label.inode == target.label.inode) {
                    targets.push(target);
                }
            }
            Ok(targets)
        }
    }
}

/// Every namespace of the host: the own one, the named ones, and those of every process.
fn every_target(labeler: &Labeler) -> Vec<Target> {
    let mut targets = vec![labeler.own_target()];
    let mut inodes: Vec<u64> = labeler
        .names
        .keys()
        .chain(labeler.members().keys())
        .copied()
        .filter(|&inode| inode != labeler.own)
        .collect();
    inodes.sort_unstable();
    inodes.dedup();
    for inode in inodes {
        // A namespace whose last process exited meanwhile is simply gone.
        if let Some(target) = labeler
            .path_of(inode)
            .and_then(|path| labeler.target_at(&path, None).ok())
            .filter(|t| t.label.inode == inode)
        {
            targets.push(target);
        }
    }
    targets
}

fn chosen_target(labeler: &Labeler, choice: &Choice) -> Result<Target, String> {
    let (path, pid) = match choice {
        Choice::Own => return Ok(labeler.own_target()),
        Choice::Pid(pid) => (PathBuf::from(format!("/proc/{pid}/ns/net")), Some(*pid)),
        Choice::Path(path) => (path.clone(), None),
        Choice::Name(name) => (Path::new(RUN_NETNS).join(name), None),
        Choice::Inode(inode) if *inode == labeler.own => return Ok(labeler.own_target()),
        Choice::Inode(inode) => (
            labeler.path_of(*inode).ok_or_else(|| {
                format!("--netns {choice}: no network namespace with that inode on this host")
            })?,
            None,
        ),
    };
    let target = labeler
        .target_at(&path, pid)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => format!(
                "--netns {choice}: no network namespace there ({} does not exist)",
                path.display()
            ),
            std::io::ErrorKind::InvalidInput => format!("--netns {choice}: {err}"),
            _ => format!("--netns {choice}: cannot open {}: {err}", path.display()),
        })?;
    if target.file.is_some() && !can_enter() {
        return Err(format!(
            "--netns {choice}: entering another network namespace needs CAP_SYS_ADMIN (run as root)"
        ));
    }
    Ok(target)
}

/// Dumps the namespace's TCP sockets, inside it when it is not the tool's own.
pub fn dump(target: &Target) -> std::io::Result<sockdiag::Dump> {
    let Some(file) = target.file.clone() else {
        return sockdiag::dump_here();
    };
    // A thread of its own enters the namespace, dumps, and ends: the main thread never moves.
    std::thread::Builder::new()
        .name("stuckconn-netns".to_string())
        .spawn(move || {
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
            sockdiag::dump_here()
        })?
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread failed")))
}

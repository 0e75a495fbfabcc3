//! Names of the holders: container, pod, compose and machine names, read from the state files
//! the container runtimes keep on disk. Never from a runtime's socket or API: on a sick host
//! `docker ps` is the first thing to hang.
//!
//! What a process's cgroup path gives ([`Holder`]) and what is read for it:
//!
//! - a container id (64 hex digits), tried in this order:
//!   - Docker: `<data-root>/containers/<id>/config.v2.json` (`Name`, `Config.Image`,
//!     `Config.Labels`: compose's `com.docker.compose.project` / `.service`, and the kubelet's
//!     `io.kubernetes.*` labels for containers that cri-dockerd started). data-root comes from
//!     `/etc/docker/daemon.json` (default `/var/lib/docker`); rootless dockerd's
//!     `~/.local/share/docker` is read when the cgroup names the user (`user@UID.service`).
//!   - Kubernetes through containerd (and k3s): the OCI bundle containerd keeps while the task
//!     runs, `/run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json`, whose
//!     CRI annotations name the container, the pod, its namespace and the image.
//!   - Kubernetes through CRI-O: the bundle's `<runroot|graphroot>/overlay-containers/<id>/
//!     userdata/config.json`, with CRI-O's annotations (the kubelet's labels as JSON).
//!   - containers/storage (Podman, and CRI-O's own records): `<graphroot>/<driver>-containers/
//!     containers.json` and `volatile-containers.json`, rootful (graphroot from
//!     `/etc/containers/storage.conf`, default `/var/lib/containers/storage`), and rootless
//!     (`~/.local/share/containers/storage` of the user the cgroup names, or of every user in
//!     `/etc/passwd` and `/home` when it names none). The name is the entry's `names[0]`, the
//!     image libpod's `image-name` in the entry's `metadata`.
//!   - the kubelet's `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` symlinks,
//!     for any CRI runtime, when no bundle was found.
//! - a pod uid: the kubelet's `/var/log/pods/<namespace>_<pod>_<uid>/` directories.
//! - a machine's unit (`machine-<name>.scope`, `systemd-nspawn@<name>.service`): systemd-machined's
//!   `/run/systemd/machines/<name>` (`NAME`, `SCOPE`, `SERVICE`, `CLASS`, `LEADER`).
//! - an LXC / LXD payload cgroup (`lxc.payload.<name>`, or the older `/lxc/<name>`): the name
//!   itself; nothing is read.
//!
//! Bounded: every file is opened with `O_NONBLOCK|O_NOFOLLOW` (a FIFO, a device, a symbolic link
//! is refused, never waited on; only configuration files, /etc/passwd, daemon.json and
//! storage.conf, are followed through a link), must be a regular file, and is read up to a cap
//! (1 MiB for a container's config, 8 MiB for a containers.json, 64 KiB for small files);
//! directory listings stop at 10,000 entries. All reading happens on one thread of its own: a lookup waits for it
//! at most [`DEFAULT_TIMEOUT`] (and never past the caller's [`Deadline`]), and all lookups
//! together at most [`DEFAULT_BUDGET`]. When a read does not come back (a hung disk or NFS
//! mount), the resolver gives up for the rest of the run, says which file it was reading, and
//! that thread is left behind. What is read once is kept for the run: one containers.json read,
//! one listing of /var/log/pods, one answer per holder.
//!
//! Names are text chosen by others: they are kept exact (the renderers sanitize them), but a
//! name longer than [`NAME_MAX_CHARS`] (an image longer than [`IMAGE_MAX_CHARS`]) is refused,
//! and a malformed file is only "no name" and a warning.
//!
//! Tests point the resolver at a fake root: [`Containers::new`] takes it, and
//! [`Containers::from_env`] reads it from `STUCKCONN_TEST_ROOT`, an environment variable meant
//! for tests only (fixture trees under `fixtures/runtime/`); unset, the root is `/`.

use super::cgroup;
use crate::deadline::{Deadline, TICK};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The environment variable that points the resolver at a fake root. For tests only.
pub const TEST_ROOT_ENV: &str = "STUCKCONN_TEST_ROOT";
/// Longer container, pod, namespace, compose or machine names are refused (Kubernetes allows
/// 253 characters for a pod name, 63 for the others).
pub const NAME_MAX_CHARS: usize = 256;
/// Longer image references are refused (a registry path, a tag and a digest fit well below).
pub const IMAGE_MAX_CHARS: usize = 512;
/// How long one lookup waits for the reading thread.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long all lookups of a run wait for the reading thread, together.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(5);

/// A container's config, an OCI bundle's config.json, /etc/passwd.
const CONFIG_CAP: usize = 1 << 20;
/// A containers/storage containers.json (about 1 KiB per container).
const STORE_CAP: usize = 8 << 20;
/// A machines file, storage.conf, daemon.json, /proc/PID/cgroup.
const SMALL_CAP: usize = 64 << 10;
/// Entries read from one directory.
const DIR_ENTRIES: usize = 10_000;
/// Home directories searched for rootless containers.
const HOMES: usize = 256;
/// Warnings kept (the rest are counted).
const WARNINGS: usize = 16;

/// The runtime a name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    Docker,
    /// Podman (or another user of containers/storage, such as Buildah).
    Podman,
    /// A pod's container, whatever the CRI runtime (containerd, CRI-O, cri-dockerd).
    Kubernetes,
    /// A systemd-nspawn container registered with systemd-machined.
    Nspawn,
    /// A container registered with systemd-machined by another manager (libvirt-lxc).
    Machine,
    /// An LXC or LXD container.
    Lxc,
}

/// A Kubernetes pod.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
}

/// A docker compose project and service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Compose {
    pub project: String,
    pub service: String,
}

/// What the runtimes' state files say about a holder. Every field is null when unknown, so the
/// struct can be flattened into a namespace's or a process's JSON as is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// The container's name (`web-1`; a pod's container name `app`; a machine's name).
    pub container_name: Option<String>,
    /// The image as the user asked for it (`nginx:1.27`).
    pub image: Option<String>,
    pub pod: Option<Pod>,
    pub compose: Option<Compose>,
    pub container_runtime: Option<Runtime>,
}

impl ContainerInfo {
    /// The most human name: `namespace/pod` for a pod's container (the pod shares one network
    /// namespace), else the container's or machine's name, else compose's `project-service`.
    pub fn label(&self) -> Option<String> {
        if let Some(pod) = &self.pod {
            Some(format!("{}/{}", pod.namespace, pod.name))
        } else if let Some(name) = &self.container_name {
            Some(name.clone())
        } else {
            self.compose
                .as_ref()
                .map(|c| format!("{}-{}", c.project, c.service))
        }
    }

    /// No name of any kind is known.
    pub fn is_empty(&self) -> bool {
        self.container_name.is_none() && self.pod.is_none() && self.compose.is_none()
    }

    /// Fills what is unknown here from `other`.
    fn fill_from(&mut self, other: &ContainerInfo) {
        if self.container_name.is_none() {
            self.container_name.clone_from(&other.container_name);
        }
        if self.image.is_none() {
            self.image.clone_from(&other.image);
        }
        if self.pod.is_none() {
            self.pod.clone_from(&other.pod);
        }
        if self.compose.is_none() {
            self.compose.clone_from(&other.compose);
        }
        if self.container_runtime.is_none() {
            self.container_runtime = other.container_runtime;
        }
    }
}

/// What a process's cgroup path says about the container holding it: the keys of a lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Holder {
    /// The container id (64 hex digits).
    pub container_id: Option<String>,
    /// The Kubernetes pod uid.
    pub pod_uid: Option<String>,
    /// An LXC / LXD container's name (`lxc.payload.NAME`).
    pub lxc: Option<String>,
    /// A machine's unit as it appears in the path (`machine-web\x2d1.scope`,
    /// `systemd-nspawn@web.service`).
    pub machine_unit: Option<String>,
    /// The user whose systemd instance holds the cgroup (`user@1000.service`): where a
    /// rootless runtime keeps its state.
    pub user: Option<u32>,
}

impl Holder {
    /// Reads `/proc/PID/cgroup` (bounded). Empty when it cannot be read.
    pub fn of_process(pid: u32) -> Holder {
        match read_capped(Path::new(&format!("/proc/{pid}/cgroup")), SMALL_CAP) {
            Ok(Some(bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                let paths: Vec<String> = text
                    .lines()
                    .filter_map(|l| l.splitn(3, ':').nth(2))
                    .map(str::to_string)
                    .collect();
                Holder::from_cgroup(&paths)
            }
            _ => Holder::default(),
        }
    }

    /// From the paths of `/proc/PID/cgroup` (every hierarchy).
    pub fn from_cgroup(paths: &[String]) -> Holder {
        let (_, container_id) = cgroup::identify(paths);
        let mut holder = Holder {
            container_id,
            pod_uid: cgroup::pod_uid(paths),
            ..Holder::default()
        };
        for path in paths {
            let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
            for (i, component) in components.iter().enumerate() {
                if let Some(name) = component.strip_prefix("lxc.payload.") {
                    if !name.is_empty() && holder.lxc.is_none() {
                        holder.lxc = Some(name.to_string());
                    }
                } else if i == 0 && *component == "lxc" {
                    // LXC before 4.0: /lxc/NAME.
                    if let (Some(name), None) = (components.get(1), &holder.lxc) {
                        holder.lxc = Some(name.to_string());
                    }
                } else if is_machine_unit(component) {
                    holder
                        .machine_unit
                        .get_or_insert_with(|| component.to_string());
                } else if let Some(uid) = user_of(component) {
                    holder.user.get_or_insert(uid);
                }
            }
        }
        holder
    }

    /// From what a snapshot recorded (a namespace's or a process's container id and pod uid).
    /// Anything that is not a container id or a pod uid is ignored.
    pub fn from_ids(container_id: Option<&str>, pod_uid: Option<&str>) -> Holder {
        Holder {
            container_id: container_id
                .filter(|id| is_container_id(id))
                .map(str::to_string),
            pod_uid: pod_uid.filter(|uid| is_pod_uid(uid)).map(str::to_string),
            ..Holder::default()
        }
    }

    /// Nothing to look up (a process outside any container).
    pub fn is_empty(&self) -> bool {
        self.container_id.is_none()
            && self.pod_uid.is_none()
            && self.lxc.is_none()
            && self.machine_unit.is_none()
    }
}

fn is_machine_unit(component: &str) -> bool {
    let scope = component
        .strip_prefix("machine-")
        .and_then(|c| c.strip_suffix(".scope"));
    let nspawn = component
        .strip_prefix("systemd-nspawn@")
        .and_then(|c| c.strip_suffix(".service"));
    scope.or(nspawn).is_some_and(|name| !name.is_empty())
}

/// The uid in `user@UID.service` or `user-UID.slice`.
fn user_of(component: &str) -> Option<u32> {
    component
        .strip_prefix("user@")
        .and_then(|c| c.strip_suffix(".service"))
        .or_else(|| {
            component
                .strip_prefix("user-")
                .and_then(|c| c.strip_suffix(".slice"))
        })
        .and_then(|uid| uid.parse().ok())
}

fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_pod_uid(uid: &str) -> bool {
    uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The root to read the runtimes' state under: `/`, or `STUCKCONN_TEST_ROOT` when set (tests).
pub fn root_from_env() -> PathBuf {
    match std::env::var_os(TEST_ROOT_ENV) {
        Some(root) if !root.is_empty() => PathBuf::from(root),
        _ => PathBuf::from("/"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Request {
    Holder(Holder),
    Leader(u32),
}

/// What the caller and the reading thread share.
#[derive(Debug, Default)]
struct Shared {
    /// The file or directory being read now (named when a read does not come back).
    reading: Mutex<Option<PathBuf>>,
    /// The caller stopped waiting: the thread ends after what it is doing.
    cancel: AtomicBool,
    warnings: Mutex<Warnings>,
}

#[derive(Debug, Default)]
struct Warnings {
    kept: Vec<String>,
    keys: HashSet<String>,
    more: usize,
}

impl Shared {
    /// Records a warning once per `key`.
    fn warn(&self, key: &str, message: String) {
        let Ok(mut w) = self.warnings.lock() else {
            return;
        };
        if !w.keys.insert(key.to_string()) {
            return;
        }
        if w.kept.len() < WARNINGS {
            w.kept.push(format!("container names: {message}"));
        } else {
            w.more += 1;
        }
    }

    fn set_reading(&self, path: Option<&Path>) {
        if let Ok(mut r) = self.reading.lock() {
            *r = path.map(Path::to_path_buf);
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

struct Worker {
    requests: mpsc::Sender<(u64, Request)>,
    replies: mpsc::Receiver<(u64, Option<ContainerInfo>)>,
}

/// Looks up the names of holders in the runtimes' state files, on a thread of its own, with
/// every answer kept for the run. Create one per scan.
pub struct Containers {
    root: PathBuf,
    timeout: Duration,
    budget: Duration,
    waited: Duration,
    shared: Arc<Shared>,
    worker: Option<Worker>,
    started: bool,
    sequence: u64,
    cache: HashMap<Request, Option<ContainerInfo>>,
    gave_up: Option<String>,
    skipped: usize,
    skipped_why: Option<String>,
}

impl Containers {
    /// Reads under `root` (`/` on a live host, a fixture tree in tests). Nothing is read yet.
    pub fn new(root: &Path) -> Containers {
        Containers {
            root: root.to_path_buf(),
            timeout: DEFAULT_TIMEOUT,
            budget: DEFAULT_BUDGET,
            waited: Duration::ZERO,
            shared: Arc::new(Shared::default()),
            worker: None,
            started: false,
            sequence: 0,
            cache: HashMap::new(),
            gave_up: None,
            skipped: 0,
            skipped_why: None,
        }
    }

    /// Reads under `/`, or under `STUCKCONN_TEST_ROOT` when it is set (for tests only).
    pub fn from_env() -> Containers {
        Containers::new(&root_from_env())
    }

    /// How long one lookup, and all of them together, may wait for the reading thread.
    pub fn with_limits(mut self, per_lookup: Duration, in_all: Duration) -> Containers {
        self.timeout = per_lookup;
        self.budget = in_all;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The names of a holder, if its runtime's state files give any.
    pub fn lookup(&mut self, holder: &Holder, deadline: &Deadline) -> Option<ContainerInfo> {
        if holder.is_empty() {
            return None;
        }
        self.ask(Request::Holder(holder.clone()), deadline)
    }

    /// The machine (systemd-machined) whose leader is `pid`: what names a namespace when only
    /// its first process is known.
    pub fn by_leader(&mut self, pid: u32, deadline: &Deadline) -> Option<ContainerInfo> {
        self.ask(Request::Leader(pid), deadline)
    }

    /// What went wrong, for the report's warnings: files refused or malformed, a read that did
    /// not come back, holders left unnamed when time ran out. Each starts `container names:`.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(w) = self.shared.warnings.lock() {
            out.extend(w.kept.iter().cloned());
            if w.more > 0 {
                out.push(format!("container names: {} more warnings", w.more));
            }
        }
        out.extend(self.gave_up.iter().cloned());
        if self.skipped > 0 {
            out.push(format!(
                "container names: {} not looked up ({})",
                crate::text::count(self.skipped, "holder was", "holders were"),
                self.skipped_why.as_deref().unwrap_or("stopped")
            ));
        }
        out
    }

    fn ask(&mut self, request: Request, deadline: &Deadline) -> Option<ContainerInfo> {
        if let Some(known) = self.cache.get(&request) {
            return known.clone();
        }
        if self.gave_up.is_some() {
            return None;
        }
        if deadline.passed() || (self.started && self.worker.is_none()) {
            self.skip(deadline);
            return None;
        }
        if !self.started {
            self.start();
        }
        self.sequence += 1;
        let sequence = self.sequence;
        let sent = self
            .worker
            .as_ref()
            .map(|w| w.requests.send((sequence, request.clone())).is_ok());
        if sent != Some(true) {
            if self.gave_up.is_none() {
                self.stop("the reading thread is gone; holders show without names".to_string());
            }
            return None;
        }
        let began = Instant::now();
        let limit = self.timeout.min(self.budget.saturating_sub(self.waited));
        loop {
            let Some(worker) = &self.worker else {
                return None;
            };
            let wait = limit.saturating_sub(began.elapsed()).min(TICK);
            match worker.replies.recv_timeout(wait) {
                Ok((seq, answer)) if seq == sequence => {
                    self.waited += began.elapsed();
                    self.cache.insert(request, answer.clone());
                    return answer;
                }
                Ok(_) => continue, // an answer to a question given up on
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.stop(
                        "the reading thread ended early; holders show without names".to_string(),
                    );
                    return None;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if deadline.passed() {
                self.waited += began.elapsed();
                self.skip(deadline);
                self.cancel();
                return None;
            }
            if began.elapsed() >= limit {
                self.waited += began.elapsed();
                let why = if limit < self.timeout {
                    format!(
                        "reading the runtimes' state files took more than {} in all",
                        humantime::format_duration(self.budget)
                    )
                } else {
                    let reading = self.shared.reading.lock().ok().and_then(|r| r.clone());
                    match reading {
                        Some(path) => format!(
                            "reading {} did not finish within {}",
                            path.display(),
                            humantime::format_duration(self.timeout)
                        ),
                        None => format!(
                            "the state files did not answer within {}",
                            humantime::format_duration(self.timeout)
                        ),
                    }
                };
                self.stop(format!("{why}; the other holders show without names"));
                return None;
            }
        }
    }

    fn skip(&mut self, deadline: &Deadline) {
        self.skipped += 1;
        self.skipped_why.get_or_insert_with(|| deadline.reason());
    }

    fn start(&mut self) {
        self.started = true;
        let (requests, inbox) = mpsc::channel::<(u64, Request)>();
        let (outbox, replies) = mpsc::channel();
        let mut store = Store::new(self.root.clone(), self.shared.clone());
        let spawned = std::thread::Builder::new()
            .name("container-names".to_string())
            .spawn(move || {
                for (sequence, request) in inbox {
                    if store.shared.cancelled() {
                        break;
                    }
                    let answer = match &request {
                        Request::Holder(holder) => store.resolve(holder),
                        Request::Leader(pid) => store.by_leader(*pid),
                    };
                    store.shared.set_reading(None);
                    if outbox.send((sequence, answer)).is_err() {
                        break;
                    }
                }
            });
        match spawned {
            Ok(_) => self.worker = Some(Worker { requests, replies }),
            Err(err) => {
                self.gave_up = Some(format!(
                    "container names: no thread to read the state files ({err}); holders show without names"
                ))
            }
        }
    }

    fn cancel(&mut self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
        // Dropping the sender ends the thread's loop once it is free.
        self.worker = None;
    }

    fn stop(&mut self, why: String) {
        self.gave_up = Some(format!("container names: {why}"));
        self.cancel();
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// A user who may run rootless containers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct User {
    uid: u32,
    home: PathBuf,
}

/// A machine registered with systemd-machined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Machine {
    name: String,
    unit: Option<String>,
    service: Option<String>,
    class: Option<String>,
    leader: Option<u32>,
}

impl Machine {
    /// Its names; none for a virtual machine (its processes are the host's).
    fn info(&self) -> Option<ContainerInfo> {
        if self.class.as_deref() == Some("vm") {
            return None;
        }
        let runtime = match self.service.as_deref() {
            Some("nspawn") | None => Runtime::Nspawn,
            Some(_) => Runtime::Machine,
        };
        Some(ContainerInfo {
            container_name: Some(self.name.clone()),
            container_runtime: Some(runtime),
            ..ContainerInfo::default()
        })
    }
}

/// What the reading thread has read (each thing once per run).
struct Store {
    root: PathBuf,
    shared: Arc<Shared>,
    users: Option<Vec<User>>,
    docker_roots: Option<Vec<PathBuf>>,
    storage_system: Option<HashMap<String, ContainerInfo>>,
    storage_users: HashMap<u32, HashMap<String, ContainerInfo>>,
    kubelet_links: Option<HashMap<String, ContainerInfo>>,
    kubelet_pods: Option<HashMap<String, Pod>>,
    machines: Option<Vec<Machine>>,
}

const CONTAINERD_TASKS: [&str; 2] = [
    "/run/containerd/io.containerd.runtime.v2.task/k8s.io",
    "/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io",
];
const CRIO_CONTAINERS: [&str; 2] = [
    "/run/containers/storage/overlay-containers",
    "/var/lib/containers/storage/overlay-containers",
];

/// Why a bounded read failed.
#[derive(Debug)]
enum ReadError {
    Denied(String),
    Other(String),
}

impl Store {
    fn new(root: PathBuf, shared: Arc<Shared>) -> Store {
        Store {
            root,
            shared,
            users: None,
            docker_roots: None,
            storage_system: None,
            storage_users: HashMap::new(),
            kubelet_links: None,
            kubelet_pods: None,
            machines: None,
        }
    }

    /// An absolute host path under the root.
    fn at(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }

    fn resolve(&mut self, holder: &Holder) -> Option<ContainerInfo> {
        let mut info = match &holder.container_id {
            Some(id) if is_container_id(id) => {
                self.by_container_id(id, holder.user).unwrap_or_default()
            }
            _ => ContainerInfo::default(),
        };
        if let Some(uid) = holder.pod_uid.as_deref().filter(|u| is_pod_uid(u)) {
            if info.pod.is_none() {
                if let Some(pod) = self.kubelet_pods().get(uid) {
                    info.pod = Some(pod.clone());
                    info.container_runtime = Some(Runtime::Kubernetes);
                }
            }
        }
        if info.is_empty() {
            if let Some(unit) = &holder.machine_unit {
                info = self.by_machine_unit(unit).unwrap_or_default();
            }
        }
        if info.is_empty() {
            if let Some(name) = holder
                .lxc
                .as_deref()
                .and_then(|n| self.checked(n, NAME_MAX_CHARS, "an LXC cgroup"))
            {
                info = ContainerInfo {
                    container_name: Some(name),
                    container_runtime: Some(Runtime::Lxc),
                    ..ContainerInfo::default()
                };
            }
        }
        (!info.is_empty()).then_some(info)
    }

    fn by_container_id(&mut self, id: &str, user: Option<u32>) -> Option<ContainerInfo> {
        // A rootless runtime of the user the cgroup names.
        if let Some(uid) = user.filter(|&u| u != 0) {
            if let Some(home) = self.home_of(uid) {
                if let Some(info) = self.docker_at(&home.join(".local/share/docker"), id) {
                    return Some(info);
                }
            }
            if let Some(info) = self.storage_of_user(uid).get(id) {
                return Some(info.clone());
            }
        }
        for data_root in self.docker_roots() {
            if let Some(info) = self.docker_at(&data_root, id) {
                return Some(info);
            }
        }
        let mut found = self.kubernetes_bundle(id);
        if found.is_none() {
            found = self.storage_system().get(id).cloned();
        }
        let partial = found
            .as_ref()
            .is_none_or(|f| f.container_runtime == Some(Runtime::Kubernetes) && f.pod.is_none());
        if partial {
            if let Some(link) = self.kubelet_links().get(id).cloned() {
                let mut info = found.unwrap_or_default();
                info.fill_from(&link);
                found = Some(info);
            }
        }
        if found.is_none() && user.is_none() {
            // No user named: every user's rootless store.
            let uids: Vec<u32> = self.users().iter().map(|u| u.uid).collect();
            for uid in uids {
                if let Some(info) = self.storage_of_user(uid).get(id) {
                    return Some(info.clone());
                }
            }
        }
        found
    }

    // ---- Docker ----

    fn docker_roots(&mut self) -> Vec<PathBuf> {
        if let Some(roots) = &self.docker_roots {
            return roots.clone();
        }
        let mut roots = Vec::new();
        let conf = self.at("/etc/docker/daemon.json");
        if let Some(bytes) = self.read(&conf, SMALL_CAP, true, "docker") {
            match parse_daemon_json(&bytes) {
                Ok(Some(root)) => roots.push(self.at(root)),
                Ok(None) => {}
                Err(err) => self.shared.warn(
                    &conf.display().to_string(),
                    format!("{}: {err}", conf.display()),
                ),
            }
        }
        for default in ["/var/lib/docker", "/var/snap/docker/common/var-lib-docker"] {
            let path = self.at(default);
            if !roots.contains(&path) {
                roots.push(path);
            }
        }
        self.docker_roots = Some(roots.clone());
        roots
    }

    fn docker_at(&mut self, data_root: &Path, id: &str) -> Option<ContainerInfo> {
        let path = data_root.join("containers").join(id).join("config.v2.json");
        let bytes = self.read(&path, CONFIG_CAP, false, "docker")?;
        let mut notes = Vec::new();
        match parse_docker_config(&bytes, id, &mut notes) {
            Ok(info) => {
                self.notes(&path, notes);
                Some(info)
            }
            Err(err) => {
                self.shared.warn(
                    &path.display().to_string(),
                    format!("{}: {err}", path.display()),
                );
                None
            }
        }
    }

    // ---- Kubernetes: the OCI bundles of containerd and CRI-O, the kubelet's logs ----

    fn kubernetes_bundle(&mut self, id: &str) -> Option<ContainerInfo> {
        let containerd = CONTAINERD_TASKS
            .iter()
            .map(|dir| Path::new(dir).join(id).join("config.json"));
        let crio = CRIO_CONTAINERS
            .iter()
            .map(|dir| Path::new(dir).join(id).join("userdata/config.json"));
        for path in containerd.chain(crio).collect::<Vec<_>>() {
            let path = self.at(path);
            let Some(bytes) = self.read(&path, CONFIG_CAP, false, "kubernetes") else {
                continue;
            };
            let mut notes = Vec::new();
            match parse_oci_annotations(&bytes, &mut notes) {
                Ok(Some(info)) => {
                    self.notes(&path, notes);
                    return Some(info);
                }
                // A bundle without the CRI's annotations (a Podman container's).
                Ok(None) => {}
                Err(err) => self.shared.warn(
                    &path.display().to_string(),
                    format!("{}: {err}", path.display()),
                ),
            }
        }
        None
    }

    fn kubelet_links(&mut self) -> &HashMap<String, ContainerInfo> {
        if self.kubelet_links.is_none() {
            let dir = self.at("/var/log/containers");
            let mut links = HashMap::new();
            for (name, _) in self.list(&dir) {
                if let Some((id, info)) = parse_kubelet_link(&name) {
                    links.insert(id, info);
                }
            }
            self.kubelet_links = Some(links);
        }
        self.kubelet_links.get_or_insert_with(HashMap::new)
    }

    fn kubelet_pods(&mut self) -> &HashMap<String, Pod> {
        if self.kubelet_pods.is_none() {
            let dir = self.at("/var/log/pods");
            let mut pods = HashMap::new();
            for (name, _) in self.list(&dir) {
                if let Some((uid, pod)) = parse_pod_dir(&name) {
                    pods.insert(uid, pod);
                }
            }
            self.kubelet_pods = Some(pods);
        }
        self.kubelet_pods.get_or_insert_with(HashMap::new)
    }

    // ---- containers/storage: Podman, and CRI-O's records ----

    fn storage_system(&mut self) -> &HashMap<String, ContainerInfo> {
        if self.storage_system.is_none() {
            let mut graphroot = PathBuf::from("/var/lib/containers/storage");
            let mut runroot = PathBuf::from("/run/containers/storage");
            for conf in [
                "/etc/containers/storage.conf",
                "/usr/share/containers/storage.conf",
            ] {
                let conf = self.at(conf);
                if let Some(bytes) = self.read(&conf, SMALL_CAP, true, "podman") {
                    let conf = parse_storage_conf(&String::from_utf8_lossy(&bytes));
                    if let Some(g) = conf.graphroot.filter(|p| is_clean_absolute(p)) {
                        graphroot = g;
                    }
                    if let Some(r) = conf.runroot.filter(|p| is_clean_absolute(p)) {
                        runroot = r;
                    }
                    break;
                }
            }
            let (graphroot, runroot) = (self.at(graphroot), self.at(runroot));
            let entries = self.storage_at(&graphroot, Some(&runroot));
            self.storage_system = Some(entries);
        }
        self.storage_system.get_or_insert_with(HashMap::new)
    }

    fn storage_of_user(&mut self, uid: u32) -> &HashMap<String, ContainerInfo> {
        if !self.storage_users.contains_key(&uid) {
            let mut entries = HashMap::new();
            if let Some(home) = self.home_of(uid) {
                let mut graphroot = home.join(".local/share/containers/storage");
                let conf = home.join(".config/containers/storage.conf");
                if let Some(bytes) = self.read(&conf, SMALL_CAP, true, "podman") {
                    let conf = parse_storage_conf(&String::from_utf8_lossy(&bytes));
                    if let Some(g) = conf.graphroot {
                        let text = g.to_string_lossy();
                        let home_text = home_as_seen(&home, &self.root);
                        let g = PathBuf::from(text.replace("$HOME", &home_text));
                        if is_clean_absolute(&g) {
                            graphroot = self.at(g);
                        }
                    }
                }
                let runroot = self.at(format!("/run/user/{uid}/containers"));
                entries = self.storage_at(&graphroot, Some(&runroot));
            }
            self.storage_users.insert(uid, entries);
        }
        self.storage_users.entry(uid).or_default()
    }

    /// `<graphroot>/<driver>-containers/{containers,volatile-containers}.json`, and the
    /// volatile one under the runroot (a transient store).
    fn storage_at(
        &mut self,
        graphroot: &Path,
        runroot: Option<&Path>,
    ) -> HashMap<String, ContainerInfo> {
        let mut entries = HashMap::new();
        let drivers: Vec<String> = self
            .list(graphroot)
            .into_iter()
            .filter(|(name, kind)| {
                name.ends_with("-containers") && kind.is_some_and(|k| k.is_dir())
            })
            .map(|(name, _)| name)
            .take(16)
            .collect();
        for driver in drivers {
            let mut files = vec![
                graphroot.join(&driver).join("containers.json"),
                graphroot.join(&driver).join("volatile-containers.json"),
            ];
            if let Some(run) = runroot {
                files.push(run.join(&driver).join("volatile-containers.json"));
            }
            for file in files {
                let Some(bytes) = self.read(&file, STORE_CAP, false, "podman") else {
                    continue;
                };
                let mut notes = Vec::new();
                match parse_storage_containers(&bytes, &mut notes) {
                    Ok(found) => {
                        self.notes(&file, notes);
                        for (id, info) in found {
                            entries.entry(id).or_insert(info);
                        }
                    }
                    Err(err) => self.shared.warn(
                        &file.display().to_string(),
                        format!("{}: {err}", file.display()),
                    ),
                }
            }
        }
        entries
    }

    // ---- users ----

    fn users(&mut self) -> &[User] {
        if self.users.is_none() {
            let mut users = Vec::new();
            let passwd = self.at("/etc/passwd");
            if let Some(bytes) = self.read(&passwd, CONFIG_CAP, true, "passwd") {
                for (uid, home) in parse_passwd(&String::from_utf8_lossy(&bytes)) {
                    if users.len() < HOMES && !users.iter().any(|u: &User| u.uid == uid) {
                        users.push(User {
                            uid,
                            home: self.at(home),
                        });
                    }
                }
            }
            // Users not in /etc/passwd (a directory service): /home/NAME, by its owner.
            let home = self.at("/home");
            for (name, kind) in self.list(&home) {
                if users.len() >= HOMES || !kind.is_some_and(|k| k.is_dir()) {
                    continue;
                }
                let dir = home.join(&name);
                if let Ok(meta) = std::fs::symlink_metadata(&dir) {
                    use std::os::unix::fs::MetadataExt;
                    let uid = meta.uid();
                    if uid != 0 && !users.iter().any(|u| u.uid == uid) {
                        users.push(User { uid, home: dir });
                    }
                }
            }
            self.users = Some(users);
        }
        self.users.as_deref().unwrap_or_default()
    }

    fn home_of(&mut self, uid: u32) -> Option<PathBuf> {
        self.users()
            .iter()
            .find(|u| u.uid == uid)
            .map(|u| u.home.clone())
    }

    // ---- systemd-machined ----

    fn machines(&mut self) -> &[Machine] {
        if self.machines.is_none() {
            let dir = self.at("/run/systemd/machines");
            let mut machines = Vec::new();
            for (name, kind) in self.list(&dir) {
                if name.starts_with("unit:")
                    || name.starts_with('.')
                    || !kind.is_some_and(|k| k.is_file())
                {
                    continue;
                }
                let path = dir.join(&name);
                if let Some(bytes) = self.read(&path, SMALL_CAP, false, "machines") {
                    if let Some(machine) = parse_machine(&String::from_utf8_lossy(&bytes)) {
                        if machine.name.chars().count() <= NAME_MAX_CHARS {
                            machines.push(machine);
                        }
                    }
                }
            }
            self.machines = Some(machines);
        }
        self.machines.as_deref().unwrap_or_default()
    }

    fn by_machine_unit(&mut self, unit: &str) -> Option<ContainerInfo> {
        if let Some(machine) = self
            .machines()
            .iter()
            .find(|m| m.unit.as_deref() == Some(unit))
        {
            return machine.info();
        }
        // `machinectl start` runs systemd-nspawn@NAME.service: the unit says what it is.
        let instance = unit
            .strip_prefix("systemd-nspawn@")?
            .strip_suffix(".service")?;
        let name = unit_unescape(instance)?;
        let name = self.checked(&name, NAME_MAX_CHARS, "a machine's unit")?;
        Some(ContainerInfo {
            container_name: Some(name),
            container_runtime: Some(Runtime::Nspawn),
            ..ContainerInfo::default()
        })
    }

    fn by_leader(&mut self, pid: u32) -> Option<ContainerInfo> {
        self.machines()
            .iter()
            .find(|m| m.leader == Some(pid))
            .and_then(Machine::info)
    }

    // ---- bounded reading ----

    /// A regular file's bytes, capped; None when it does not exist or cannot be used (with a
    /// warning for the latter). `follow`: symbolic links are followed (configuration files).
    fn read(&self, path: &Path, cap: usize, follow: bool, what: &str) -> Option<Vec<u8>> {
        if self.shared.cancelled() {
            return None;
        }
        self.shared.set_reading(Some(path));
        let result = if follow {
            read_following(path, cap)
        } else {
            read_capped(path, cap)
        };
        match result {
            Ok(bytes) => bytes,
            Err(ReadError::Denied(err)) => {
                self.shared.warn(
                    &format!("denied {what}"),
                    format!("{err}: run as root to see these names"),
                );
                None
            }
            Err(ReadError::Other(err)) => {
                self.shared.warn(&path.display().to_string(), err);
                None
            }
        }
    }

    /// A directory's entries (names that are UTF-8), at most [`DIR_ENTRIES`].
    fn list(&self, dir: &Path) -> Vec<(String, Option<std::fs::FileType>)> {
        if self.shared.cancelled() {
            return Vec::new();
        }
        self.shared.set_reading(Some(dir));
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Vec::new()
            }
            Err(err) => {
                let key = if err.kind() == std::io::ErrorKind::PermissionDenied {
                    "denied listing".to_string()
                } else {
                    dir.display().to_string()
                };
                self.shared.warn(&key, format!("{}: {err}", dir.display()));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            if self.shared.cancelled() {
                break;
            }
            if out.len() == DIR_ENTRIES {
                self.shared.warn(
                    &dir.display().to_string(),
                    format!(
                        "{} has more than {DIR_ENTRIES} entries: only the first were read",
                        dir.display()
                    ),
                );
                break;
            }
            let Ok(entry) = entry else { continue };
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            out.push((name, entry.file_type().ok()));
        }
        out
    }

    fn notes(&self, path: &Path, notes: Vec<String>) {
        for note in notes {
            self.shared.warn(
                &format!("{} {note}", path.display()),
                format!("{}: {note}", path.display()),
            );
        }
    }

    fn checked(&self, text: &str, max: usize, what: &str) -> Option<String> {
        let mut notes = Vec::new();
        let out = checked(Some(text), max, &mut notes);
        for note in notes {
            self.shared
                .warn(&format!("{what} {note}"), format!("{what}: {note}"));
        }
        out
    }
}

/// The home as its files name it (`/home/alice`), from the path under the root.
fn home_as_seen(home: &Path, root: &Path) -> String {
    match home.strip_prefix(root) {
        Ok(rest) => format!("/{}", rest.display()),
        Err(_) => home.display().to_string(),
    }
}

/// Absolute, and no `..` to climb out of where it points.
fn is_clean_absolute(path: &Path) -> bool {
    path.is_absolute()
        && path.as_os_str().len() <= 4096
        && path
            .components()
            .all(|c| !matches!(c, Component::ParentDir))
}

/// Reads a regular file, up to `cap` bytes, without following a symbolic link and without
/// waiting: `O_NONBLOCK` makes opening a FIFO return at once, and anything that is not a
/// regular file is refused after `fstat`. `Ok(None)`: it does not exist.
fn read_capped(path: &Path, cap: usize) -> Result<Option<Vec<u8>>, ReadError> {
    read_with(path, cap, false)
}

/// The same, following symbolic links (configuration files such as /etc/docker/daemon.json
/// are links into /etc/static or a configuration manager's tree on some systems).
fn read_following(path: &Path, cap: usize) -> Result<Option<Vec<u8>>, ReadError> {
    read_with(path, cap, true)
}

fn read_with(path: &Path, cap: usize, follow: bool) -> Result<Option<Vec<u8>>, ReadError> {
    use rustix::fs::{FileType, Mode, OFlags};
    use rustix::io::Errno;
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
        Err(Errno::LOOP) if !follow => {
            return Err(ReadError::Other(format!(
                "{} is a symbolic link: not followed",
                path.display()
            )))
        }
        Err(err @ (Errno::ACCESS | Errno::PERM)) => {
            return Err(ReadError::Denied(format!(
                "{}: {}",
                path.display(),
                std::io::Error::from(err)
            )))
        }
        Err(err) => {
            return Err(ReadError::Other(format!(
                "{}: {}",
                path.display(),
                std::io::Error::from(err)
            )))
        }
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| {
        ReadError::Other(format!("{}: {}", path.display(), std::io::Error::from(e)))
    })?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        let what = match kind {
            FileType::Fifo => "a FIFO",
            FileType::Directory => "a directory",
            FileType::CharacterDevice => "a character device",
            FileType::BlockDevice => "a block device",
            FileType::Socket => "a socket",
            _ => "not a file",
        };
        return Err(ReadError::Other(format!(
            "{} is {what}, not a regular file: not read",
            path.display()
        )));
    }
    let too_large = |size: u64| {
        ReadError::Other(format!(
            "{} is {size} bytes, more than the {cap} read: not read",
            path.display()
        ))
    };
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > cap as u64 {
        return Err(too_large(size));
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(cap) + 1);
    std::fs::File::from(fd)
        .take(cap as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| ReadError::Other(format!("{}: {e}", path.display())))?;
    if data.len() > cap {
        return Err(too_large(data.len() as u64));
    }
    Ok(Some(data))
}

// ---- parsers: pure functions of the bytes read ----

/// A name kept exact, unless empty or longer than `max` characters (then refused, noted).
fn checked(text: Option<&str>, max: usize, notes: &mut Vec<String>) -> Option<String> {
    let text = text.filter(|t| !t.is_empty())?;
    let chars = text.chars().count();
    if chars > max {
        notes.push(format!(
            "a name of {chars} characters was ignored (more than {max})"
        ));
        return None;
    }
    Some(text.to_string())
}

fn str_of<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

fn parse_json_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("not a JSON object".to_string()),
        Err(err) => Err(format!("not valid JSON ({err})")),
    }
}

/// Docker's `config.v2.json` for container `id`.
fn parse_docker_config(
    bytes: &[u8],
    id: &str,
    notes: &mut Vec<String>,
) -> Result<ContainerInfo, String> {
    let top = parse_json_object(bytes)?;
    if let Some(found) = str_of(&top, "ID") {
        if !found.eq_ignore_ascii_case(id) {
            return Err("its ID is not its directory's: ignored".to_string());
        }
    }
    let empty = Map::new();
    let config = top
        .get("Config")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let labels = config
        .get("Labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let label = |key: &str| str_of(labels, key);
    let name = str_of(&top, "Name").map(|n| n.strip_prefix('/').unwrap_or(n));
    let mut info = ContainerInfo {
        container_name: checked(name, NAME_MAX_CHARS, notes),
        image: checked(str_of(config, "Image"), IMAGE_MAX_CHARS, notes),
        container_runtime: Some(Runtime::Docker),
        ..ContainerInfo::default()
    };
    let project = checked(label("com.docker.compose.project"), NAME_MAX_CHARS, notes);
    let service = checked(label("com.docker.compose.service"), NAME_MAX_CHARS, notes);
    if let (Some(project), Some(service)) = (project, service) {
        info.compose = Some(Compose { project, service });
    }
    // Started by the kubelet through cri-dockerd (or the old dockershim): its labels.
    let namespace = checked(label("io.kubernetes.pod.namespace"), NAME_MAX_CHARS, notes);
    let pod = checked(label("io.kubernetes.pod.name"), NAME_MAX_CHARS, notes);
    if let (Some(namespace), Some(name)) = (namespace, pod) {
        info.pod = Some(Pod { namespace, name });
        info.container_name = checked(label("io.kubernetes.container.name"), NAME_MAX_CHARS, notes);
        info.container_runtime = Some(Runtime::Kubernetes);
    }
    Ok(info)
}

/// One entry of containers/storage's containers.json; other fields are skipped unread.
#[derive(Deserialize)]
struct StorageEntry {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    names: Value,
    #[serde(default)]
    metadata: Value,
}

/// containers/storage's `containers.json` / `volatile-containers.json`: (id, names) of every
/// well-formed entry. Podman's metadata gives the image; CRI-O's (with `pod-id`) marks a
/// pod's container, named by its `metadata-name`.
fn parse_storage_containers(
    bytes: &[u8],
    notes: &mut Vec<String>,
) -> Result<Vec<(String, ContainerInfo)>, String> {
    let entries: Vec<StorageEntry> = match serde_json::from_slice(bytes) {
        Ok(entries) => entries,
        Err(_) => match serde_json::from_slice::<Value>(bytes) {
            // Keep the well-formed entries of a partly broken file.
            Ok(Value::Array(values)) => {
                notes.push("entries that are not objects were skipped".to_string());
                values
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect()
            }
            Ok(_) => return Err("not a JSON array".to_string()),
            Err(err) => return Err(format!("not valid JSON ({err})")),
        },
    };
    let mut out = Vec::new();
    for entry in entries {
        let Some(id) = entry.id.as_str().filter(|id| is_container_id(id)) else {
            continue;
        };
        let first_name = entry
            .names
            .as_array()
            .and_then(|n| n.first())
            .and_then(Value::as_str);
        let metadata = entry
            .metadata
            .as_str()
            .and_then(|m| serde_json::from_str::<Value>(m).ok());
        let meta = metadata.as_ref().and_then(Value::as_object);
        let meta_str = |key: &str| meta.and_then(|m| str_of(m, key));
        let image = checked(meta_str("image-name"), IMAGE_MAX_CHARS, notes);
        let crio = meta.is_some_and(|m| m.contains_key("pod-id"));
        let info = if crio {
            let sandbox = meta.and_then(|m| m.get("pod")).and_then(Value::as_bool) == Some(true);
            ContainerInfo {
                container_name: if sandbox {
                    None
                } else {
                    checked(meta_str("metadata-name"), NAME_MAX_CHARS, notes)
                },
                image,
                container_runtime: Some(Runtime::Kubernetes),
                ..ContainerInfo::default()
            }
        } else {
            ContainerInfo {
                container_name: checked(first_name, NAME_MAX_CHARS, notes),
                image,
                container_runtime: Some(Runtime::Podman),
                ..ContainerInfo::default()
            }
        };
        out.push((id.to_ascii_lowercase(), info));
    }
    Ok(out)
}

/// An OCI bundle's `config.json`: the annotations containerd's CRI plugin or CRI-O put there.
/// `Ok(None)`: a bundle without them (not a pod's).
fn parse_oci_annotations(
    bytes: &[u8],
    notes: &mut Vec<String>,
) -> Result<Option<ContainerInfo>, String> {
    let top = parse_json_object(bytes)?;
    let Some(annotations) = top.get("annotations").and_then(Value::as_object) else {
        return Ok(None);
    };
    let get = |key: &str| str_of(annotations, key);
    let (sandbox, namespace, pod, container, image) =
        if let Some(kind) = get("io.kubernetes.cri.container-type") {
            (
                kind == "sandbox",
                get("io.kubernetes.cri.sandbox-namespace").map(str::to_string),
                get("io.kubernetes.cri.sandbox-name").map(str::to_string),
                get("io.kubernetes.cri.container-name").map(str::to_string),
                get("io.kubernetes.cri.image-name").map(str::to_string),
            )
        } else if let Some(kind) = get("io.kubernetes.cri-o.ContainerType") {
            // The kubelet's labels, as JSON; the same keys as plain annotations as a fallback.
            let labels: Option<Map<String, Value>> =
                get("io.kubernetes.cri-o.Labels").and_then(|l| serde_json::from_str(l).ok());
            let label = |key: &str| {
                labels
                    .as_ref()
                    .and_then(|l| str_of(l, key))
                    .or_else(|| get(key))
                    .map(str::to_string)
            };
            let metadata_name = get("io.kubernetes.cri-o.Metadata")
                .and_then(|m| serde_json::from_str::<Map<String, Value>>(m).ok())
                .and_then(|m| str_of(&m, "name").map(str::to_string));
            (
                kind == "sandbox",
                label("io.kubernetes.pod.namespace")
                    .or_else(|| get("io.kubernetes.cri-o.Namespace").map(str::to_string)),
                label("io.kubernetes.pod.name")
                    .or_else(|| get("io.kubernetes.cri-o.KubeName").map(str::to_string)),
                label("io.kubernetes.container.name").or(metadata_name),
                get("io.kubernetes.cri-o.Image")
                    .or_else(|| get("io.kubernetes.cri-o.ImageName"))
                    .map(str::to_string),
            )
        } else {
            return Ok(None);
        };
    let namespace = checked(namespace.as_deref(), NAME_MAX_CHARS, notes);
    let pod = checked(pod.as_deref(), NAME_MAX_CHARS, notes);
    Ok(Some(ContainerInfo {
        container_name: if sandbox {
            None
        } else {
            checked(container.as_deref(), NAME_MAX_CHARS, notes)
        },
        image: checked(image.as_deref(), IMAGE_MAX_CHARS, notes),
        pod: namespace
            .zip(pod)
            .map(|(namespace, name)| Pod { namespace, name }),
        compose: None,
        container_runtime: Some(Runtime::Kubernetes),
    }))
}

/// A DNS label or subdomain as Kubernetes names pods, namespaces and containers: never `_`.
fn is_kube_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` (kubelet's legacy symlink;
/// names too long for 255 bytes were cut, losing the id: those are skipped).
fn parse_kubelet_link(file_name: &str) -> Option<(String, ContainerInfo)> {
    let stem = file_name.strip_suffix(".log")?;
    let (rest, id) = stem.rsplit_once('-')?;
    if !is_container_id(id) {
        return None;
    }
    let mut parts = rest.split('_');
    let (pod, namespace, container) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || ![pod, namespace, container].iter().all(|p| is_kube_name(p)) {
        return None;
    }
    Some((
        id.to_ascii_lowercase(),
        ContainerInfo {
            container_name: Some(container.to_string()),
            pod: Some(Pod {
                namespace: namespace.to_string(),
                name: pod.to_string(),
            }),
            container_runtime: Some(Runtime::Kubernetes),
            ..ContainerInfo::default()
        },
    ))
}

/// `/var/log/pods/<namespace>_<pod>_<uid>` (kubelet since 1.14).
fn parse_pod_dir(name: &str) -> Option<(String, Pod)> {
    let mut parts = name.split('_');
    let (namespace, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_pod_uid(uid) || !is_kube_name(namespace) || !is_kube_name(pod)
    {
        return None;
    }
    Some((
        uid.to_ascii_lowercase(),
        Pod {
            namespace: namespace.to_string(),
            name: pod.to_string(),
        },
    ))
}

/// A file of `/run/systemd/machines/`: `KEY=VALUE` lines, values C-escaped.
fn parse_machine(text: &str) -> Option<Machine> {
    let mut machine = Machine::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let Some(value) = c_unescape(value) else {
            continue;
        };
        match key {
            "NAME" => machine.name = value,
            "SCOPE" => machine.unit = Some(value),
            "SERVICE" => machine.service = Some(value),
            "CLASS" => machine.class = Some(value),
            "LEADER" => machine.leader = value.parse().ok().filter(|&p| p > 0),
            _ => {}
        }
    }
    (!machine.name.is_empty()).then_some(machine)
}

/// Undoes systemd's `cescape`: `\\`, `\"`, `\n` and friends, `\xHH`, `\NNN` (octal).
fn c_unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = *bytes.get(i + 1)?;
        i += 2;
        let byte = match next {
            b'\\' | b'"' | b'\'' => next,
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'x' => {
                let hex = std::str::from_utf8(bytes.get(i..i + 2)?).ok()?;
                i += 2;
                u8::from_str_radix(hex, 16).ok()?
            }
            b'0'..=b'7' => {
                let octal = std::str::from_utf8(bytes.get(i - 1..i + 2)?).ok()?;
                i += 2;
                u8::from_str_radix(octal, 8).ok()?
            }
            _ => return None,
        };
        out.push(byte);
    }
    String::from_utf8(out).ok()
}

/// Undoes systemd's unit-name escaping (`\x2d` for `-`) of a unit's instance.
fn unit_unescape(text: &str) -> Option<String> {
    if text.contains("\\") && !text.split('\\').skip(1).all(|p| p.starts_with('x')) {
        return None;
    }
    c_unescape(text).filter(|t| !t.is_empty() && !t.contains('/'))
}

/// `/etc/passwd`: (uid, home) of users other than root whose home can hold their containers.
fn parse_passwd(text: &str) -> Vec<(u32, PathBuf)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() != 7 {
                return None;
            }
            let uid: u32 = fields[2].parse().ok()?;
            let home = PathBuf::from(fields[5]);
            (uid != 0 && home != Path::new("/") && is_clean_absolute(&home)).then_some((uid, home))
        })
        .collect()
}

#[derive(Debug, Default, PartialEq, Eq)]
struct StorageConf {
    graphroot: Option<PathBuf>,
    runroot: Option<PathBuf>,
}

/// `graphroot` and `runroot` of containers-storage.conf (TOML; only these two keys are read).
fn parse_storage_conf(text: &str) -> StorageConf {
    let mut conf = StorageConf::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.split_once('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.split_once('\'')))
            .map(|(v, _)| PathBuf::from(v));
        match key.trim() {
            "graphroot" => conf.graphroot = value.filter(|v| !v.as_os_str().is_empty()),
            "runroot" => conf.runroot = value.filter(|v| !v.as_os_str().is_empty()),
            _ => {}
        }
    }
    conf
}

/// `/etc/docker/daemon.json`: `data-root` (or the older `graph`), when set and absolute.
fn parse_daemon_json(bytes: &[u8]) -> Result<Option<PathBuf>, String> {
    let top = parse_json_object(bytes)?;
    Ok(str_of(&top, "data-root")
        .or_else(|| str_of(&top, "graph"))
        .map(PathBuf::from)
        .filter(|p| is_clean_absolute(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "f31f384749f9115acf01fcf82f5a966b59dcc0a4cbd7c9740888c0bf32aa2bbb";
    const DB: &str = "aed4cebcaf364cb3d8e610e862b1e5ecdeae9c59aaab8913729ae5647465b7bc";
    const EVIL: &str = "c0b09787dbe0ae1d3133b21325f656140d31765591cc486637cfa296e0aa95fe";
    const DOCKER_K8S: &str = "89016fc1ebe735d5d6bfa8fa9b5c0431890483da9035da7f4031b4fd87aff831";
    const API: &str = "236afc24ae3e0fe15428343bd8b1f2c2cf3220c70f338d091f29166681157bcf";
    const ALICE: &str = "b8b5e66f50bcb8566378999a0ac85a9cdb4dd30b5cfd63273628d872c87b6673";
    const CRIO_APP: &str = "610713dca419d7deb83a1246d0c1ee0ac2e23b81cbb29bba37147e88e1848cda";
    const CRIO_SANDBOX: &str = "a18bfabd3cf1d74d0267b59ef276e9c1c94d4e31a9fb482340d884a4c4275b94";
    const CD_APP: &str = "71c206f4b1ff6f81c8a8ec2c517dc9a23052ae34725e0c35c49a1b1f559a56d4";
    const CD_SANDBOX: &str = "85b013213e803c7bc39ff8937f98c8b3b8ba3ee2cf22b5c7f08dfa7dd07f0fc4";
    const COREDNS: &str = "8a32e516d7415be524a7fcec482ad2918f2b6ef2a7f4cb8e2e232b361436b20b";
    const CHECKOUT_UID: &str = "450113c3-363f-4ee9-ab1e-9e56f29d4c36";
    const CART_UID: &str = "5e92f4ed-6339-4c94-8595-455a539ddcd2";
    const COREDNS_UID: &str = "9f832ab2-24eb-42f1-b146-8bf84cdcac07";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/runtime")
            .join(name)
    }

    fn host() -> Containers {
        Containers::new(&fixture("host"))
    }

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    fn lookup(c: &mut Containers, cgroup: &str) -> Option<ContainerInfo> {
        c.lookup(&Holder::from_cgroup(&paths(&[cgroup])), &Deadline::none())
    }

    fn pod(namespace: &str, name: &str) -> Option<Pod> {
        Some(Pod {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    #[test]
    fn docker_compose_container() {
        let mut c = host();
        let info = lookup(&mut c, &format!("/system.slice/docker-{WEB}.scope")).unwrap();
        assert_eq!(
            info,
            ContainerInfo {
                container_name: Some("web-1".to_string()),
                image: Some("nginx:1.27".to_string()),
                pod: None,
                compose: Some(Compose {
                    project: "shop".to_string(),
                    service: "web".to_string()
                }),
                container_runtime: Some(Runtime::Docker),
            }
        );
        assert_eq!(info.label().as_deref(), Some("web-1"));
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    }

    #[test]
    fn docker_plain_container_with_cgroupfs_driver() {
        let mut c = host();
        let info = lookup(&mut c, &format!("/docker/{DB}")).unwrap();
        assert_eq!(info.container_name.as_deref(), Some("db-1"));
        assert_eq!(info.image.as_deref(), Some("postgres:16"));
        assert_eq!(info.compose, None);
        assert_eq!(info.pod, None);
    }

    #[test]
    fn hostile_name_is_kept_exact() {
        let mut c = host();
        let info = lookup(&mut c, &format!("/system.slice/docker-{EVIL}.scope")).unwrap();
        assert_eq!(
            info.container_name.as_deref(),
            Some("evil\u{1b}[2J\u{1b}]0;pwned\u{7}")
        );
    }

    #[test]
    fn pod_started_by_cri_dockerd() {
        let mut c = host();
        let info = lookup(
            &mut c,
            &format!("/kubepods/besteffort/podcc64a81a-28ae-44b5-8501-dc11972fd757/{DOCKER_K8S}"),
        )
        .unwrap();
        assert_eq!(info.container_name.as_deref(), Some("worker"));
        assert_eq!(info.pod, pod("default", "legacy-0"));
        assert_eq!(info.container_runtime, Some(Runtime::Kubernetes));
        assert_eq!(
            info.image.as_deref(),
            Some("registry.example/batch/worker:7")
        );
        assert_eq!(info.label().as_deref(), Some("default/legacy-0"));
    }

    #[test]
    fn podman_rootful() {
        let mut c = host();
        let info = lookup(
            &mut c,
            &format!("/machine.slice/libpod-{API}.scope/container"),
        )
        .unwrap();
        assert_eq!(info.container_name.as_deref(), Some("api"));
        assert_eq!(info.image.as_deref(), Some("docker.io/library/python:3.12"));
        assert_eq!(info.container_runtime, Some(Runtime::Podman));
    }

    #[test]
    fn podman_rootless_of_the_user_in_the_cgroup() {
        let mut c = host();
        let cgroup = format!(
            "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ALICE}.scope/container"
        );
        let holder = Holder::from_cgroup(&paths(&[&cgroup]));
        assert_eq!(holder.user, Some(1000));
        let info = c.lookup(&holder, &Deadline::none()).unwrap();
        assert_eq!(info.container_name.as_deref(), Some("alice-cache"));
        assert_eq!(info.image.as_deref(), Some("docker.io/library/redis:7"));
        assert_eq!(info.container_runtime, Some(Runtime::Podman));
    }

    #[test]
    fn podman_rootless_without_a_user_searches_every_home() {
        let mut c = host();
        let info = c
            .lookup(&Holder::from_ids(Some(ALICE), None), &Deadline::none())
            .unwrap();
        assert_eq!(info.container_name.as_deref(), Some("alice-cache"));
    }

    #[test]
    fn kubernetes_containerd_container_and_sandbox() {
        let mut c = host();
        let slice = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice",
            CHECKOUT_UID.replace('-', "_")
        );
        let app = lookup(&mut c, &format!("{slice}/cri-containerd-{CD_APP}.scope")).unwrap();
        assert_eq!(
            app,
            ContainerInfo {
                container_name: Some("app".to_string()),
                image: Some("registry.example/shop/checkout:2.3".to_string()),
                pod: pod("shop", "checkout-7d9f"),
                compose: None,
                container_runtime: Some(Runtime::Kubernetes),
            }
        );
        assert_eq!(app.label().as_deref(), Some("shop/checkout-7d9f"));
        let sandbox = lookup(
            &mut c,
            &format!("{slice}/cri-containerd-{CD_SANDBOX}.scope"),
        )
        .unwrap();
        assert_eq!(sandbox.container_name, None);
        assert_eq!(sandbox.pod, pod("shop", "checkout-7d9f"));
        assert_eq!(sandbox.label().as_deref(), Some("shop/checkout-7d9f"));
    }

    #[test]
    fn kubernetes_crio_container_and_sandbox() {
        let mut c = host();
        let dir = format!("/kubepods/burstable/pod{CART_UID}");
        let app = lookup(&mut c, &format!("{dir}/crio-{CRIO_APP}")).unwrap();
        assert_eq!(app.container_name.as_deref(), Some("cart"));
        assert_eq!(app.pod, pod("shop", "cart-5c8b"));
        assert_eq!(app.image.as_deref(), Some("registry.example/shop/cart:1.4"));
        // The sandbox has no bundle in the fixture: the storage record (no name, a pause
        // image) and the pod from /var/log/pods.
        let sandbox = lookup(&mut c, &format!("{dir}/crio-{CRIO_SANDBOX}")).unwrap();
        assert_eq!(sandbox.container_name, None);
        assert_eq!(sandbox.pod, pod("shop", "cart-5c8b"));
        assert_eq!(sandbox.image.as_deref(), Some("registry.k8s.io/pause:3.10"));
    }

    #[test]
    fn kubernetes_by_the_kubelet_symlink_alone() {
        let mut c = host();
        let info = c
            .lookup(&Holder::from_ids(Some(COREDNS), None), &Deadline::none())
            .unwrap();
        assert_eq!(info.container_name.as_deref(), Some("coredns"));
        assert_eq!(info.pod, pod("kube-system", "coredns-5d78c9869d-x2x7q"));
        assert_eq!(info.image, None);
    }

    #[test]
    fn kubernetes_pod_uid_alone() {
        let mut c = host();
        let info = c
            .lookup(
                &Holder::from_ids(None, Some(COREDNS_UID)),
                &Deadline::none(),
            )
            .unwrap();
        assert_eq!(info.pod, pod("kube-system", "coredns-5d78c9869d-x2x7q"));
        assert_eq!(info.container_name, None);
        assert_eq!(info.container_runtime, Some(Runtime::Kubernetes));
        let unknown = "00000000-0000-4000-8000-000000000000";
        assert_eq!(
            c.lookup(&Holder::from_ids(None, Some(unknown)), &Deadline::none()),
            None
        );
    }

    #[test]
    fn nspawn_machine_by_scope_and_by_leader() {
        let mut c = host();
        let info = lookup(
            &mut c,
            "/machine.slice/machine-build\\x2dbox.scope/payload/system.slice/nginx.service",
        )
        .unwrap();
        assert_eq!(info.container_name.as_deref(), Some("build-box"));
        assert_eq!(info.container_runtime, Some(Runtime::Nspawn));
        assert_eq!(info.label().as_deref(), Some("build-box"));
        assert_eq!(
            c.by_leader(4242, &Deadline::none())
                .unwrap()
                .container_name
                .as_deref(),
            Some("build-box")
        );
        // A virtual machine's qemu is a host process: not named after the VM.
        assert_eq!(
            lookup(
                &mut c,
                "/machine.slice/machine-qemu\\x2d1\\x2dwin11.scope/libvirt/emulator"
            ),
            None
        );
        assert_eq!(c.by_leader(5151, &Deadline::none()), None);
        assert_eq!(c.by_leader(1, &Deadline::none()), None);
    }

    #[test]
    fn nspawn_service_unit_names_its_machine() {
        let mut c = host();
        let info = lookup(
            &mut c,
            "/machine.slice/systemd-nspawn@db\\x2dreplica.service/payload",
        )
        .unwrap();
        assert_eq!(info.container_name.as_deref(), Some("db-replica"));
        assert_eq!(info.container_runtime, Some(Runtime::Nspawn));
        // An unregistered machine scope could be anything (a VM, libvirt-lxc): no name.
        assert_eq!(lookup(&mut c, "/machine.slice/machine-ghost.scope"), None);
    }

    #[test]
    fn lxc_payload_and_legacy_cgroups() {
        let mut c = host();
        for cgroup in [
            "/lxc.payload.web01/system.slice/nginx.service",
            "/lxc/web01/init.scope",
        ] {
            let info = lookup(&mut c, cgroup).unwrap();
            assert_eq!(info.container_name.as_deref(), Some("web01"), "{cgroup}");
            assert_eq!(info.container_runtime, Some(Runtime::Lxc));
        }
        // The monitor runs on the host side.
        assert_eq!(lookup(&mut c, "/lxc.monitor.web01"), None);
    }

    #[test]
    fn host_processes_and_unknown_containers_have_no_names() {
        let mut c = host();
        assert_eq!(lookup(&mut c, "/system.slice/apache2.service"), None);
        assert_eq!(
            lookup(
                &mut c,
                &format!("/system.slice/docker-{}.scope", "0".repeat(64))
            ),
            None
        );
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    }

    #[test]
    fn answers_are_kept_for_the_run() {
        let mut c = host();
        let holder = Holder::from_ids(Some(WEB), None);
        let first = c.lookup(&holder, &Deadline::none());
        assert_eq!(c.cache.len(), 1);
        // A passed deadline would stop a new lookup: a kept answer still comes back.
        let passed = Deadline::after(Duration::ZERO);
        assert_eq!(c.lookup(&holder, &passed), first);
        assert_eq!(c.lookup(&Holder::from_ids(Some(DB), None), &passed), None);
        assert!(
            c.warnings()
                .iter()
                .any(|w| w.contains("1 holder was not looked up")),
            "{:?}",
            c.warnings()
        );
    }

    #[test]
    fn each_file_is_read_once_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir
            .path()
            .join("var/lib/containers/storage/overlay-containers");
        std::fs::create_dir_all(&store).unwrap();
        let entry = |id: &str, name: &str| {
            serde_json::json!({"id": id, "names": [name], "image": "0", "layer": "1",
                "metadata": format!(r#"{{"image-name":"img-{name}","name":"{name}"}}"#)})
        };
        let entries = serde_json::json!([entry(API, "api"), entry(ALICE, "second")]);
        std::fs::write(store.join("containers.json"), entries.to_string()).unwrap();
        for pod in [
            format!("shop_checkout-7d9f_{CHECKOUT_UID}"),
            format!("kube-system_coredns-0_{COREDNS_UID}"),
        ] {
            std::fs::create_dir_all(dir.path().join("var/log/pods").join(pod).join("c")).unwrap();
        }
        let mut c = Containers::new(dir.path());
        let none = Deadline::none();
        let api = c.lookup(&Holder::from_ids(Some(API), None), &none).unwrap();
        assert_eq!(api.image.as_deref(), Some("img-api"));
        let checkout = c
            .lookup(&Holder::from_ids(None, Some(CHECKOUT_UID)), &none)
            .unwrap();
        assert_eq!(checkout.pod, pod("shop", "checkout-7d9f"));
        // Everything on disk goes away: what was read once answers the other holders.
        std::fs::remove_dir_all(dir.path().join("var")).unwrap();
        let second = c
            .lookup(&Holder::from_ids(Some(ALICE), None), &none)
            .unwrap();
        assert_eq!(second.container_name.as_deref(), Some("second"));
        let coredns = c
            .lookup(&Holder::from_ids(None, Some(COREDNS_UID)), &none)
            .unwrap();
        assert_eq!(coredns.pod, pod("kube-system", "coredns-0"));
    }

    #[test]
    fn snapshot_ids_are_checked_before_use() {
        let holder = Holder::from_ids(Some("../../etc/passwd"), Some("not-a-uid"));
        assert!(holder.is_empty());
        assert_eq!(
            Holder::from_ids(Some(WEB), None).container_id.as_deref(),
            Some(WEB)
        );
    }

    #[test]
    fn malformed_files_are_no_name_and_a_warning() {
        let mut c = Containers::new(&fixture("malformed"));
        let none = Deadline::none();
        // Truncated JSON; wrong types; a 300-character name; an ID that is another's.
        assert_eq!(c.lookup(&Holder::from_ids(Some(WEB), None), &none), None);
        assert_eq!(c.lookup(&Holder::from_ids(Some(DB), None), &none), None);
        let evil = c.lookup(&Holder::from_ids(Some(EVIL), None), &none);
        assert_eq!(evil, None, "a name over 256 characters is refused");
        assert_eq!(
            c.lookup(&Holder::from_ids(Some(DOCKER_K8S), None), &none),
            None
        );
        // containers.json that is an object; entries of the wrong shape; a broken bundle.
        assert_eq!(c.lookup(&Holder::from_ids(Some(API), None), &none), None);
        assert_eq!(
            c.lookup(&Holder::from_ids(Some(CRIO_APP), None), &none),
            None
        );
        assert_eq!(c.lookup(&Holder::from_ids(Some(CD_APP), None), &none), None);
        // Pod directories of the wrong shape; a machines file of garbage.
        assert_eq!(
            c.lookup(&Holder::from_ids(None, Some(CHECKOUT_UID)), &none),
            None
        );
        assert_eq!(c.by_leader(5, &none), None);
        let warnings = c.warnings().join("\n");
        for expected in [
            "config.v2.json: not valid JSON",
            "a name of 300 characters was ignored",
            "its ID is not its directory's",
            "containers.json: not a JSON array",
            &format!("{CD_APP}/config.json: not valid JSON"),
        ] {
            assert!(
                warnings.contains(expected),
                "{expected:?} not in:\n{warnings}"
            );
        }
    }

    fn tree_with(id: &str, make: impl FnOnce(&Path)) -> (tempfile::TempDir, Containers) {
        let dir = tempfile::tempdir().unwrap();
        let container = dir.path().join("var/lib/docker/containers").join(id);
        std::fs::create_dir_all(&container).unwrap();
        make(&container.join("config.v2.json"));
        let c = Containers::new(dir.path())
            .with_limits(Duration::from_secs(5), Duration::from_secs(10));
        (dir, c)
    }

    #[test]
    fn a_fifo_is_refused_without_waiting() {
        let (_dir, mut c) = tree_with(WEB, |path| {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                path,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o600),
                0,
            )
            .unwrap();
        });
        let began = Instant::now();
        assert_eq!(
            c.lookup(&Holder::from_ids(Some(WEB), None), &Deadline::none()),
            None
        );
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "{:?}",
            began.elapsed()
        );
        let warnings = c.warnings().join("\n");
        assert!(
            warnings.contains("config.v2.json is a FIFO, not a regular file"),
            "{warnings}"
        );
        assert!(!warnings.contains("did not finish"), "{warnings}");
    }

    #[test]
    fn a_ten_megabyte_config_is_refused() {
        let (_dir, mut c) = tree_with(WEB, |path| {
            let mut big = br#"{"Name":"/big","Config":{"Env":[""#.to_vec();
            big.resize(10 << 20, b'x');
            big.extend_from_slice(br#""]}}"#);
            std::fs::write(path, big).unwrap();
        });
        assert_eq!(
            c.lookup(&Holder::from_ids(Some(WEB), None), &Deadline::none()),
            None
        );
        let warnings = c.warnings().join("\n");
        let expected = format!("is {} bytes, more than the 1048576 read", (10 << 20) + 4);
        assert!(warnings.contains(&expected), "{warnings}");
    }

    #[test]
    fn a_symbolic_link_is_not_followed() {
        let (_dir, mut c) = tree_with(WEB, |path| {
            std::os::unix::fs::symlink("/etc/hostname", path).unwrap();
        });
        assert_eq!(
            c.lookup(&Holder::from_ids(Some(WEB), None), &Deadline::none()),
            None
        );
        let warnings = c.warnings().join("\n");
        assert!(
            warnings.contains("is a symbolic link: not followed"),
            "{warnings}"
        );
    }

    #[test]
    fn data_root_from_daemon_json() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("etc/docker");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(
            conf.join("daemon.json"),
            r#"{"data-root": "/srv/docker", "log-driver": "local"}"#,
        )
        .unwrap();
        let container = dir.path().join("srv/docker/containers").join(DB);
        std::fs::create_dir_all(&container).unwrap();
        std::fs::write(
            container.join("config.v2.json"),
            format!(r#"{{"ID":"{DB}","Name":"/moved","Config":{{"Image":"alpine:3"}}}}"#),
        )
        .unwrap();
        let mut c = Containers::new(dir.path());
        let info = c
            .lookup(&Holder::from_ids(Some(DB), None), &Deadline::none())
            .unwrap();
        assert_eq!(info.container_name.as_deref(), Some("moved"));
        assert_eq!(info.image.as_deref(), Some("alpine:3"));
    }

    #[test]
    fn holders_from_cgroup_paths() {
        let h = Holder::from_cgroup(&paths(&[
            "/user.slice/user-1000.slice/user@1000.service/app.slice/podman.service",
        ]));
        assert_eq!(h.user, Some(1000));
        assert!(h.is_empty(), "a user's own service is no container");
        let h = Holder::from_cgroup(&paths(&["/lxc.payload.c1/system.slice/cron.service"]));
        assert_eq!(h.lxc.as_deref(), Some("c1"));
        let h = Holder::from_cgroup(&paths(&["/machine.slice/machine-a.scope/payload"]));
        assert_eq!(h.machine_unit.as_deref(), Some("machine-a.scope"));
        assert!(Holder::from_cgroup(&paths(&["/machine.slice/machine-.scope"])).is_empty());
        assert!(Holder::from_cgroup(&paths(&["/"])).is_empty());
    }

    #[test]
    fn own_process_reads_its_cgroup() {
        // Whatever the test runs in, reading it never fails loudly.
        let _ = Holder::of_process(std::process::id());
        assert!(Holder::of_process(u32::MAX).is_empty());
    }

    #[test]
    fn serialized_with_nulls_and_snake_case() {
        let info = ContainerInfo {
            container_name: Some("app".to_string()),
            pod: pod("shop", "checkout-7d9f"),
            container_runtime: Some(Runtime::Kubernetes),
            ..ContainerInfo::default()
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "container_name": "app",
                "image": null,
                "pod": {"namespace": "shop", "name": "checkout-7d9f"},
                "compose": null,
                "container_runtime": "kubernetes",
            })
        );
        assert_eq!(serde_json::from_value::<ContainerInfo>(json).unwrap(), info);
        assert_eq!(
            serde_json::from_str::<ContainerInfo>("{}").unwrap(),
            ContainerInfo::default()
        );
    }

    #[test]
    fn labels_prefer_the_most_human_name() {
        let compose_only = ContainerInfo {
            compose: Some(Compose {
                project: "shop".to_string(),
                service: "web".to_string(),
            }),
            ..ContainerInfo::default()
        };
        assert_eq!(compose_only.label().as_deref(), Some("shop-web"));
        assert_eq!(ContainerInfo::default().label(), None);
    }

    #[test]
    fn parsers_of_small_formats() {
        assert_eq!(
            c_unescape("machine-a\\\\x2db.scope").as_deref(),
            Some("machine-a\\x2db.scope")
        );
        assert_eq!(
            c_unescape("tab\\there\\101").as_deref(),
            Some("tab\there\u{41}")
        );
        assert_eq!(c_unescape("bad\\"), None);
        assert_eq!(
            unit_unescape("db\\x2dreplica").as_deref(),
            Some("db-replica")
        );
        assert_eq!(unit_unescape("a\\x2fb"), None, "a slash in a name");
        assert_eq!(
            parse_storage_conf("[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/storage\" # moved\nrunroot='/run/s'\n"),
            StorageConf {
                graphroot: Some(PathBuf::from("/srv/storage")),
                runroot: Some(PathBuf::from("/run/s")),
            }
        );
        assert_eq!(
            parse_passwd("root:x:0:0::/root:/bin/sh\na:x:1000:1000::/home/a:/bin/sh\nb:x:5:5::rel:/x\nc:x:6:6::/home/../etc:/x\n"),
            vec![(1000, PathBuf::from("/home/a"))]
        );
        assert_eq!(parse_kubelet_link("too_many_parts_here-0123.log"), None);
        assert_eq!(parse_pod_dir(CHECKOUT_UID), None);
        assert!(parse_daemon_json(br#"{"data-root":"relative"}"#)
            .unwrap()
            .is_none());
    }
}

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
//!     (`~/.local/share/containers/storage` of the user the cgroup names; when it names none,
//!     of the users in `/etc/passwd` and `/home` the process may belong to: its uid is theirs
//!     or one of their subordinate uids in `/etc/subuid`, never root's). The name is the entry's `names[0]`, the
//!     image libpod's `image-name` in the entry's `metadata`.
//!   - the kubelet's `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` symlinks,
//!     for any CRI runtime, when no bundle was found.
//! - a pod uid: the kubelet's `/var/log/pods/<namespace>_<pod>_<uid>/` directories.
//! - a machine's unit (`machine-<name>.scope`, `systemd-nspawn@<name>.service`): systemd-machined's
//!   `/run/systemd/machines/<name>` (`NAME`, `SCOPE`, `SERVICE`, `CLASS`, `LEADER`).
//! - an LXC / LXD payload cgroup (`lxc.payload.<name>`, or the older `/lxc/<name>`): the name
//!   itself; nothing is read.
//!
//! Bounded: every file's name is opened with `O_PATH|O_NOFOLLOW` and only a regular file is then
//! opened for reading (a FIFO, a device, a symbolic link is refused, never opened nor waited on; only configuration files, /etc/passwd, daemon.json and
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
//!
//! Where each part lives: the public types and [`Containers`] here; [`Holder`] (what a cgroup
//! path says) in `holder`; the reading thread and how a lookup waits for it in `worker`; the
//! order in which a holder's runtimes are tried in `store`; one file per runtime (`docker`,
//! `podman`, `kubernetes`, `machines` for systemd-machined and LXC) with the parsers of its
//! files; the users of rootless runtimes in `users`; bounded reading in `read`, and what every
//! parser shares in `parse`.

mod docker;
mod holder;
mod kubernetes;
mod machines;
mod parse;
mod podman;
mod read;
mod store;
#[cfg(test)]
mod tests;
mod users;
mod worker;

pub use holder::Holder;

use crate::deadline::Deadline;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use worker::{Request, Shared, Worker};

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

pub use crate::snapshot::{Compose, Pod};

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
        crate::snapshot::container_label(
            self.pod.as_ref(),
            self.container_name.as_deref(),
            self.compose.as_ref(),
        )
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

/// The root to read the runtimes' state under: `/`, or `STUCKCONN_TEST_ROOT` when set (tests).
pub fn root_from_env() -> PathBuf {
    match std::env::var_os(TEST_ROOT_ENV) {
        Some(root) if !root.is_empty() => PathBuf::from(root),
        _ => PathBuf::from("/"),
    }
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
        let mut out = self.shared.warnings();
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
}

impl Drop for Containers {
    fn drop(&mut self) {
        self.cancel();
    }
}

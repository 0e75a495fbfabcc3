//! The store of what the reading thread has read (each thing once per run), and the order in
//! which a holder's runtimes are tried.

use super::holder::{is_container_id, is_pod_uid};
use super::machines::Machine;
use super::users::User;
use super::worker::Shared;
use super::{ContainerInfo, Holder, Pod, Runtime};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the reading thread has read (each thing once per run).
pub(super) struct Store {
    pub(super) root: PathBuf,
    pub(super) shared: Arc<Shared>,
    pub(super) users: Option<Vec<User>>,
    pub(super) docker_roots: Option<Vec<PathBuf>>,
    pub(super) storage_system: Option<HashMap<String, ContainerInfo>>,
    pub(super) storage_users: HashMap<u32, HashMap<String, ContainerInfo>>,
    pub(super) kubelet_links: Option<HashMap<String, ContainerInfo>>,
    pub(super) kubelet_pods: Option<HashMap<String, Pod>>,
    pub(super) machines: Option<Vec<Machine>>,
}

impl Store {
    pub(super) fn new(root: PathBuf, shared: Arc<Shared>) -> Store {
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
    pub(super) fn at(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// The names of a holder: by its container id, its pod uid, its machine's unit, its LXC
    /// container's name, in this order.
    pub(super) fn resolve(&mut self, holder: &Holder) -> Option<ContainerInfo> {
        let mut info = match &holder.container_id {
            Some(id) if is_container_id(id) => self
                .by_container_id(id, holder.user, holder.owner)
                .unwrap_or_default(),
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
            if let Some(lxc) = holder.lxc.as_deref().and_then(|n| self.by_lxc_name(n)) {
                info = lxc;
            }
        }
        (!info.is_empty()).then_some(info)
    }

    /// Rootless runtimes of the user the cgroup names, Docker, the Kubernetes bundles,
    /// containers/storage, the kubelet's logs, then every user's rootless store.
    fn by_container_id(
        &mut self,
        id: &str,
        user: Option<u32>,
        owner: Option<u32>,
    ) -> Option<ContainerInfo> {
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
            // No user named: the rootless store of every user the process may belong to (its
            // uid is the user's or one of the user's subordinate uids). Any user can write any
            // id into his own store: never one for a process of root's or of another user's.
            let owner = owner.filter(|&uid| uid != 0)?;
            let uids: Vec<u32> = self
                .users()
                .iter()
                .filter(|u| u.may_run_as(owner))
                .map(|u| u.uid)
                .collect();
            for uid in uids {
                if let Some(info) = self.storage_of_user(uid).get(id) {
                    return Some(info.clone());
                }
            }
        }
        found
    }
}

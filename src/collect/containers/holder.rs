//! What a process's cgroup path says about the container holding it: a container id, a pod
//! uid, an LXC container's or a machine's unit, the user of a rootless runtime.

use crate::collect::cgroup;

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
    /// The uid the process runs as (the owner of /proc/PID): a user's rootless store may name
    /// only processes of that user or of its subordinate uids.
    pub owner: Option<u32>,
}

impl Holder {
    /// Reads `/proc/PID/cgroup` (bounded) and who owns `/proc/PID`. Empty when they cannot
    /// be read.
    pub fn of_process(pid: u32) -> Holder {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(format!("/proc/{pid}"))
            .ok()
            .map(|m| m.uid());
        Holder {
            owner,
            ..Holder::from_cgroup(&cgroup::paths_of(pid))
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

pub(super) fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) fn is_pod_uid(uid: &str) -> bool {
    uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

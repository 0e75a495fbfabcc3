//! The systemd unit and the container id, read from a process's cgroup paths.

/// What a process's cgroup says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The systemd unit (`apache2.service`).
    pub(crate) unit: Option<String>,
    /// The container id (64 hex digits).
    pub(crate) container: Option<String>,
    /// The Kubernetes pod uid.
    pub(crate) pod_uid: Option<String>,
}

/// The most of `/proc/PID/cgroup` read: a process nests its cgroups at most a few levels
/// deep in each hierarchy, far below this.
const PATHS_CAP: u64 = 64 << 10;

/// The cgroup paths of `pid` (every hierarchy), from `/proc/PID/cgroup` read once and at most
/// [`PATHS_CAP`] bytes (a line cut by the cap is left out). Bytes that are not UTF-8 (a cgroup
/// is named by whoever makes it) are read as U+FFFD. Empty when it cannot be read.
pub(crate) fn paths_of(pid: u32) -> Vec<String> {
    match crate::procfile::read_records(format!("/proc/{pid}/cgroup"), PATHS_CAP, b'\n') {
        Ok(bytes) => paths_in(&bytes),
        Err(_) => Vec::new(),
    }
}

/// The paths of a `/proc/PID/cgroup` text (`ID:CONTROLLERS:PATH` lines).
fn paths_in(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .map(str::to_string)
        .collect()
}

/// What the cgroup of `pid` says about it. Empty when it cannot be read.
pub(crate) fn of_process(pid: u32) -> Identity {
    let paths = paths_of(pid);
    let (unit, container) = identify(&paths);
    Identity {
        unit,
        container,
        pod_uid: pod_uid(&paths),
    }
}

/// Returns (systemd unit, container id) from the paths of `/proc/PID/cgroup`.
///
/// Recognises systemd units (`apache2.service`, `session-3.scope`) and the container id
/// (64 hex digits) of docker, containerd, cri-o, podman and kubepods cgroups.
pub fn identify(paths: &[String]) -> (Option<String>, Option<String>) {
    let mut unit = None;
    let mut container = None;
    for path in paths {
        for component in path.split('/').filter(|c| !c.is_empty()) {
            if let Some(id) = container_id(component) {
                container.get_or_insert(id);
            } else if is_unit(component) && unit.is_none() {
                unit = Some(component.to_string());
            }
        }
    }
    // A container scope (docker-<id>.scope) names the container, never the unit.
    (unit, container)
}

fn is_unit(component: &str) -> bool {
    const SUFFIXES: [&str; 3] = [".service", ".scope", ".socket"];
    SUFFIXES
        .iter()
        .any(|s| component.ends_with(s) && component.len() > s.len())
}

/// The Kubernetes pod uid in a cgroup path, from either cgroup driver:
/// `/kubepods/burstable/pod<uid>/...` or `.../kubepods-burstable-pod<uid_with_underscores>.slice`.
pub fn pod_uid(paths: &[String]) -> Option<String> {
    for path in paths {
        for component in path.split('/') {
            let candidate = if let Some(rest) = component.strip_prefix("pod") {
                rest.to_string()
            } else if let Some(slice) = component.strip_suffix(".slice") {
                match slice.rsplit_once("-pod") {
                    Some((_, uid)) => uid.replace('_', "-"),
                    None => continue,
                }
            } else {
                continue;
            };
            let looks_like_uid = candidate.len() == 36
                && candidate.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
            if looks_like_uid {
                return Some(candidate);
            }
        }
    }
    None
}

/// A 64-hex-digit container id inside one path component, with the runtimes' prefixes
/// (`docker-`, `cri-containerd-`, `crio-`, `libpod-`) and `.scope` suffix.
fn container_id(component: &str) -> Option<String> {
    let trimmed = component.strip_suffix(".scope").unwrap_or(component);
    let id = trimmed.rsplit(['-', ':']).next().unwrap_or(trimmed);
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::identify;

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn systemd_service() {
        let (unit, container) = identify(&paths(&["/system.slice/apache2.service"]));
        assert_eq!(unit.as_deref(), Some("apache2.service"));
        assert_eq!(container, None);
    }

    #[test]
    fn user_session_scope() {
        let (unit, _) = identify(&paths(&["/user.slice/user-1000.slice/session-3.scope"]));
        assert_eq!(unit.as_deref(), Some("session-3.scope"));
    }

    #[test]
    fn container_runtimes() {
        let id = "a".repeat(60) + "0123";
        for path in [
            format!("/system.slice/docker-{id}.scope"),
            format!("/docker/{id}"),
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{id}.scope"),
            format!("/machine.slice/libpod-{id}.scope"),
            format!("/kubepods/besteffort/pod1234/crio-{id}"),
        ] {
            let (unit, container) = identify(&paths(&[&path]));
            assert_eq!(container.as_deref(), Some(id.as_str()), "{path}");
            assert_eq!(unit, None, "{path}");
        }
    }

    #[test]
    fn kubernetes_pod_uid_from_both_drivers() {
        let uid = "0a1b2c3d-0000-4000-8000-123456789abc";
        let systemd = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{}.scope",
            uid.replace('-', "_"),
            "b".repeat(64)
        );
        assert_eq!(super::pod_uid(&paths(&[&systemd])).as_deref(), Some(uid));
        let cgroupfs = format!("/kubepods/besteffort/pod{uid}/{}", "c".repeat(64));
        assert_eq!(super::pod_uid(&paths(&[&cgroupfs])).as_deref(), Some(uid));
        assert_eq!(
            super::pod_uid(&paths(&["/system.slice/apache2.service"])),
            None
        );
    }

    #[test]
    fn paths_are_read_with_any_bytes() {
        let text = b"12:net_cls,net_prio:/tc/low\n0::/system.slice/caf\xe9.service\n0::/cut";
        assert_eq!(
            super::paths_in(text),
            ["/tc/low", "/system.slice/caf\u{fffd}.service", "/cut"]
        );
        // This process's own.
        assert!(!super::paths_of(std::process::id()).is_empty());
        assert!(super::paths_of(u32::MAX).is_empty());
    }

    #[test]
    fn root_cgroup_has_neither() {
        assert_eq!(identify(&paths(&["/"])), (None, None));
    }
}

//! Docker: `<data-root>/containers/<id>/config.v2.json`, data-root from
//! `/etc/docker/daemon.json` (and rootless dockerd's `~/.local/share/docker`).

use super::parse::{checked, is_clean_absolute, parse_json_object, str_of};
use super::read::{CONFIG_CAP, SMALL_CAP};
use super::store::Store;
use super::{Compose, ContainerInfo, Pod, Runtime, IMAGE_MAX_CHARS, NAME_MAX_CHARS};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

impl Store {
    /// daemon.json's data-root, then the default ones.
    pub(super) fn docker_roots(&mut self) -> Vec<PathBuf> {
        if let Some(roots) = &self.docker_roots {
            return roots.clone();
        }
        let mut roots = Vec::new();
        let conf = self.at("/etc/docker/daemon.json");
        if let Some(bytes) = self.read(&conf, SMALL_CAP, true, "docker") {
            match parse_daemon_json(&bytes) {
                Ok(Some(root)) => roots.push(self.at(root)),
                Ok(None) => {}
                Err(err) => self.shared.warn_file(&conf, err),
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

    /// The names in container `id`'s config under `data_root`.
    pub(super) fn docker_at(&mut self, data_root: &Path, id: &str) -> Option<ContainerInfo> {
        let path = data_root.join("containers").join(id).join("config.v2.json");
        let bytes = self.read(&path, CONFIG_CAP, false, "docker")?;
        let mut notes = Vec::new();
        match parse_docker_config(&bytes, id, &mut notes) {
            Ok(info) => {
                self.notes(&path, notes);
                Some(info)
            }
            Err(err) => {
                self.shared.warn_file(&path, err);
                None
            }
        }
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

/// `/etc/docker/daemon.json`: `data-root` (or the older `graph`), when set and absolute.
pub(super) fn parse_daemon_json(bytes: &[u8]) -> Result<Option<PathBuf>, String> {
    let top = parse_json_object(bytes)?;
    Ok(str_of(&top, "data-root")
        .or_else(|| str_of(&top, "graph"))
        .map(PathBuf::from)
        .filter(|p| is_clean_absolute(p)))
}

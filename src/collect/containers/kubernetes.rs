//! Kubernetes: the OCI bundles containerd (and k3s) and CRI-O keep while a pod's container
//! runs, whose CRI annotations name the container, the pod and the image; the kubelet's
//! `/var/log/containers` symlinks (any CRI runtime) and `/var/log/pods` directories.

use super::holder::{is_container_id, is_pod_uid};
use super::parse::{checked, parse_json_object, str_of};
use super::read::CONFIG_CAP;
use super::store::Store;
use super::{ContainerInfo, Pod, Runtime, IMAGE_MAX_CHARS, NAME_MAX_CHARS};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// containerd's bundles of the CRI's `k8s.io` namespace (containerd's own, k3s's).
const CONTAINERD_TASKS: [&str; 2] = [
    "/run/containerd/io.containerd.runtime.v2.task/k8s.io",
    "/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io",
];
/// CRI-O's containers (under its runroot and its graphroot).
const CRIO_CONTAINERS: [&str; 2] = [
    "/run/containers/storage/overlay-containers",
    "/var/lib/containers/storage/overlay-containers",
];

impl Store {
    /// The names in container `id`'s bundle, containerd's or CRI-O's.
    pub(super) fn kubernetes_bundle(&mut self, id: &str) -> Option<ContainerInfo> {
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
                Err(err) => self.shared.warn_file(&path, err),
            }
        }
        None
    }

    /// The kubelet's log symlinks: container id -> names.
    pub(super) fn kubelet_links(&mut self) -> &HashMap<String, ContainerInfo> {
        if self.kubelet_links.is_none() {
            let links = self.parsed_entries("/var/log/containers", parse_kubelet_link);
            self.kubelet_links = Some(links);
        }
        self.kubelet_links.get_or_insert_with(HashMap::new)
    }

    /// The kubelet's pod log directories: pod uid -> pod.
    pub(super) fn kubelet_pods(&mut self) -> &HashMap<String, Pod> {
        if self.kubelet_pods.is_none() {
            let pods = self.parsed_entries("/var/log/pods", parse_pod_dir);
            self.kubelet_pods = Some(pods);
        }
        self.kubelet_pods.get_or_insert_with(HashMap::new)
    }
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
pub(super) fn parse_kubelet_link(file_name: &str) -> Option<(String, ContainerInfo)> {
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
pub(super) fn parse_pod_dir(name: &str) -> Option<(String, Pod)> {
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

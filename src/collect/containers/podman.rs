//! containers/storage (Podman, Buildah, and CRI-O's own records): `<graphroot>/<driver>-
//! containers/containers.json` and `volatile-containers.json`, rootful (graphroot from
//! `/etc/containers/storage.conf`) and rootless (`~/.local/share/containers/storage`).

use super::holder::is_container_id;
use super::parse::{checked, is_clean_absolute, str_of};
use super::read::{SMALL_CAP, STORE_CAP};
use super::store::Store;
use super::{ContainerInfo, Runtime, IMAGE_MAX_CHARS, NAME_MAX_CHARS};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

impl Store {
    /// The rootful store's containers: id -> names.
    pub(super) fn storage_system(&mut self) -> &HashMap<String, ContainerInfo> {
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

    /// The rootless store's containers of user `uid`: id -> names.
    pub(super) fn storage_of_user(&mut self, uid: u32) -> &HashMap<String, ContainerInfo> {
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
                    Err(err) => self.shared.warn_file(&file, err),
                }
            }
        }
        entries
    }
}

fn home_as_seen(home: &Path, root: &Path) -> String {
    match home.strip_prefix(root) {
        Ok(rest) => format!("/{}", rest.display()),
        Err(_) => home.display().to_string(),
    }
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

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct StorageConf {
    pub(super) graphroot: Option<PathBuf>,
    pub(super) runroot: Option<PathBuf>,
}

/// `graphroot` and `runroot` of containers-storage.conf (TOML; only these two keys are read).
pub(super) fn parse_storage_conf(text: &str) -> StorageConf {
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

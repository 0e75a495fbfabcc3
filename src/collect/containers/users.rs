//! The users who may run rootless containers (Docker's and Podman's state in their homes):
//! those of /etc/passwd, and the owners of the directories under /home (a directory service).

use super::parse::is_clean_absolute;
use super::read::CONFIG_CAP;
use super::store::Store;
use std::path::{Path, PathBuf};

/// Home directories searched for rootless containers.
const HOMES: usize = 256;

/// A user who may run rootless containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct User {
    pub(super) uid: u32,
    pub(super) home: PathBuf,
}

impl Store {
    pub(super) fn users(&mut self) -> &[User] {
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

    pub(super) fn home_of(&mut self, uid: u32) -> Option<PathBuf> {
        self.users()
            .iter()
            .find(|u| u.uid == uid)
            .map(|u| u.home.clone())
    }
}

/// `/etc/passwd`: (uid, home) of users other than root whose home can hold their containers.
pub(super) fn parse_passwd(text: &str) -> Vec<(u32, PathBuf)> {
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

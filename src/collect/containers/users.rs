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
    /// The user's subordinate uids (/etc/subuid): those its rootless containers run as.
    pub(super) subuids: Vec<(u32, u32)>,
}

impl User {
    /// Whether a process running as `uid` can be one of this user's rootless containers.
    pub(super) fn may_run_as(&self, uid: u32) -> bool {
        uid == self.uid
            || self
                .subuids
                .iter()
                .any(|&(start, count)| uid >= start && uid - start < count)
    }
}

impl Store {
    pub(super) fn users(&mut self) -> &[User] {
        if self.users.is_none() {
            let mut users = Vec::new();
            let mut names: Vec<(String, u32)> = Vec::new();
            let passwd = self.at("/etc/passwd");
            if let Some(bytes) = self.read(&passwd, CONFIG_CAP, true, "passwd") {
                let text = String::from_utf8_lossy(&bytes);
                names = parse_names(&text);
                for (uid, home) in parse_passwd(&text) {
                    if users.len() < HOMES && !users.iter().any(|u: &User| u.uid == uid) {
                        users.push(User {
                            uid,
                            home: self.at(home),
                            subuids: Vec::new(),
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
                        users.push(User {
                            uid,
                            home: dir,
                            subuids: Vec::new(),
                        });
                    }
                }
            }
            let subuid = self.at("/etc/subuid");
            if let Some(bytes) = self.read(&subuid, CONFIG_CAP, false, "subuid") {
                for (who, start, count) in parse_subuid(&String::from_utf8_lossy(&bytes)) {
                    let uid = who
                        .parse::<u32>()
                        .ok()
                        .or_else(|| names.iter().find(|(n, _)| *n == who).map(|&(_, uid)| uid));
                    if let Some(user) = users.iter_mut().find(|u| Some(u.uid) == uid) {
                        user.subuids.push((start, count));
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
/// (name, uid) of every line of /etc/passwd.
fn parse_names(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse().ok()?;
            Some((name.to_string(), uid))
        })
        .collect()
}

/// (user name or uid, first subordinate uid, how many) of every line of /etc/subuid.
pub(super) fn parse_subuid(text: &str) -> Vec<(String, u32, u32)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.trim().split(':').collect();
            match fields.as_slice() {
                [who, start, count] if !who.is_empty() => {
                    Some((who.to_string(), start.parse().ok()?, count.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

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

//! Bounded reading: every file's name is opened with `O_PATH` (and `O_NOFOLLOW` but for
//! configuration files), must be a regular file, is only then opened for reading
//! (`collect::regular`: a link to a device opens no device), and is read up to a cap; a directory listing
//! stops at [`DIR_ENTRIES`]. What cannot be used is a warning, never an error.

use super::parse::checked;
use super::store::Store;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// A container's config, an OCI bundle's config.json, /etc/passwd.
pub(super) const CONFIG_CAP: usize = 1 << 20;
/// A containers/storage containers.json (about 1 KiB per container).
pub(super) const STORE_CAP: usize = 8 << 20;
/// A machines file, storage.conf, daemon.json.
pub(super) const SMALL_CAP: usize = 64 << 10;
/// Entries read from one directory.
pub(super) const DIR_ENTRIES: usize = 10_000;

/// Why a bounded read failed.
#[derive(Debug)]
pub(super) enum ReadError {
    Denied(String),
    Other(String),
}

impl Store {
    /// A regular file's bytes, capped; None when it does not exist or cannot be used (with a
    /// warning for the latter). `follow`: symbolic links are followed (configuration files).
    pub(super) fn read(
        &self,
        path: &Path,
        cap: usize,
        follow: bool,
        what: &str,
    ) -> Option<Vec<u8>> {
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
    pub(super) fn list(&self, dir: &Path) -> Vec<(String, Option<std::fs::FileType>)> {
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

    /// The entries of the directory `dir` (a host path) that `parse` reads, by the key it gives.
    pub(super) fn parsed_entries<T>(
        &self,
        dir: &str,
        parse: impl Fn(&str) -> Option<(String, T)>,
    ) -> HashMap<String, T> {
        self.list(&self.at(dir))
            .into_iter()
            .filter_map(|(name, _)| parse(&name))
            .collect()
    }

    /// Warnings about what a parser refused in `path`.
    pub(super) fn notes(&self, path: &Path, notes: Vec<String>) {
        for note in notes {
            self.shared.warn(
                &format!("{} {note}", path.display()),
                format!("{}: {note}", path.display()),
            );
        }
    }

    /// `text` kept as a name unless it is longer than `max` characters (then a warning).
    pub(super) fn checked(&self, text: &str, max: usize, what: &str) -> Option<String> {
        let mut notes = Vec::new();
        let out = checked(Some(text), max, &mut notes);
        for note in notes {
            self.shared
                .warn(&format!("{what} {note}"), format!("{what}: {note}"));
        }
        out
    }
}

/// Reads a regular file, up to `cap` bytes, without following a symbolic link and without
/// waiting: `O_NONBLOCK` makes opening a FIFO return at once, and anything that is not a
/// regular file is refused after `fstat`. `Ok(None)`: it does not exist.
pub(super) fn read_capped(path: &Path, cap: usize) -> Result<Option<Vec<u8>>, ReadError> {
    read_with(path, cap, false)
}

/// The same, following symbolic links (configuration files such as /etc/docker/daemon.json
/// are links into /etc/static or a configuration manager's tree on some systems).
fn read_following(path: &Path, cap: usize) -> Result<Option<Vec<u8>>, ReadError> {
    read_with(path, cap, true)
}

fn read_with(path: &Path, cap: usize, follow: bool) -> Result<Option<Vec<u8>>, ReadError> {
    use crate::collect::regular::{not_regular, reopen, PATH_FLAGS};
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;
    // The name alone (O_PATH): nothing is opened until it is known to be a regular file, so
    // a link to a device (a user's storage.conf to /dev/watchdog) opens no device.
    let mut flags = PATH_FLAGS;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let denied = |err: Errno| {
        ReadError::Denied(format!("{}: {}", path.display(), std::io::Error::from(err)))
    };
    let other = |err: std::io::Error| ReadError::Other(format!("{}: {err}", path.display()));
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
        Err(Errno::LOOP) if !follow => {
            return Err(ReadError::Other(format!(
                "{} is a symbolic link: not followed",
                path.display()
            )))
        }
        Err(err @ (Errno::ACCESS | Errno::PERM)) => return Err(denied(err)),
        Err(err) => return Err(other(err.into())),
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| other(e.into()))?;
    match not_regular(&stat) {
        None => {}
        Some("a symbolic link") => {
            return Err(ReadError::Other(format!(
                "{} is a symbolic link: not followed",
                path.display()
            )))
        }
        Some(what) => {
            return Err(ReadError::Other(format!(
                "{} is {what}, not a regular file: not read",
                path.display()
            )))
        }
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
    let file = match reopen(&fd) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(denied(Errno::ACCESS))
        }
        Err(err) => return Err(other(err)),
    };
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(cap) + 1);
    file.take(cap as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| ReadError::Other(format!("{}: {e}", path.display())))?;
    if data.len() > cap {
        return Err(too_large(data.len() as u64));
    }
    Ok(Some(data))
}

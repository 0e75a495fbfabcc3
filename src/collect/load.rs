//! Recorded snapshots: read from a regular file (or standard input), bounded in size, parsed
//! straight into the snapshot types (no intermediate JSON tree), and never blocking on a
//! FIFO or reading a device forever.

use super::netns::Choice;
use crate::error::Error;
use crate::snapshot::{Snapshot, SNAPSHOT_VERSION};
use rustix::fs::Mode;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// Snapshots larger than this are refused unless `--snapshot-limit` allows more. A snapshot
/// of 200,000 sockets is about 130 MB.
pub const SNAPSHOT_LIMIT: u64 = 512 << 20;

/// An input given by path: standard input (`-`), or a regular file opened without ever
/// blocking (a FIFO or a device is refused), no larger than `limit`.
pub(crate) enum Input {
    Stdin,
    File(File),
}

/// Opens `path` as an [`Input`]; `too_big(size)` is the error for a file over `limit`.
pub(crate) fn open_input(
    path: &Path,
    limit: u64,
    too_big: impl Fn(u64) -> Error,
) -> Result<Input, Error> {
    if path.as_os_str() == "-" {
        return Ok(Input::Stdin);
    }
    let read_error = |source: std::io::Error| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    // The name alone first (O_PATH): what is not a regular file is refused without being
    // opened (a device's open has effects of its own: a watchdog starts counting down).
    let fd = rustix::fs::open(path, super::regular::PATH_FLAGS, Mode::empty())
        .map_err(|e| read_error(e.into()))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| read_error(e.into()))?;
    if let Some(what) = super::regular::not_regular(&stat) {
        return Err(Error::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > limit {
        return Err(too_big(size));
    }
    Ok(Input::File(
        super::regular::reopen(&fd).map_err(read_error)?,
    ))
}

/// Reads all of an input, at most `limit` bytes.
pub(crate) fn read_all(
    path: &Path,
    input: Input,
    limit: u64,
    too_big: impl Fn(u64) -> Error,
) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    let read = match input {
        Input::Stdin => std::io::stdin()
            .lock()
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes),
        Input::File(file) => (&file)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes),
    };
    read.map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads a snapshot written by `stuckconn record`; `-` is standard input.
pub fn load(path: &Path, limit: u64) -> Result<Snapshot, Error> {
    let read_error = |source: std::io::Error| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let too_big = |size: u64| Error::Snapshot {
        path: path.to_path_buf(),
        reason: format!(
            "{size} bytes or more, over the limit of {limit} bytes (raise it with --snapshot-limit)"
        ),
    };
    let mut file = match open_input(path, limit, too_big)? {
        Input::Stdin => return parse(path, &read_all(path, Input::Stdin, limit, too_big)?),
        Input::File(file) => file,
    };
    let parsed = serde_json::from_reader::<_, Snapshot>(BufReader::with_capacity(
        64 << 10,
        (&file).take(limit),
    ));
    match parsed {
        Ok(snapshot) => checked(path, snapshot),
        Err(err) => {
            // Say "version 2" rather than the field it tripped on, when that is the reason.
            file.rewind().map_err(read_error)?;
            let probe =
                serde_json::from_reader::<_, VersionProbe>(BufReader::new((&file).take(limit)));
            Err(version_error(path, probe.ok()).unwrap_or_else(|| syntax_error(path, &err)))
        }
    }
}

/// Parses snapshot bytes; `path` only names the source in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Snapshot, Error> {
    match serde_json::from_slice::<Snapshot>(bytes) {
        Ok(snapshot) => checked(path, snapshot),
        Err(err) => Err(
            version_error(path, serde_json::from_slice::<VersionProbe>(bytes).ok())
                .unwrap_or_else(|| syntax_error(path, &err)),
        ),
    }
}

/// Only the version of a document, every other field skipped without being kept.
#[derive(serde::Deserialize)]
struct VersionProbe {
    snapshot_version: Option<serde_json::Value>,
}

fn version_error(path: &Path, probe: Option<VersionProbe>) -> Option<Error> {
    let probe = probe?;
    let Some(found) = probe.snapshot_version else {
        return Some(Error::Snapshot {
            path: path.to_path_buf(),
            reason: "no snapshot_version field".to_string(),
        });
    };
    (found.as_u64() != Some(u64::from(SNAPSHOT_VERSION))).then(|| Error::SnapshotVersion {
        path: path.to_path_buf(),
        found: found.to_string(),
        supported: SNAPSHOT_VERSION,
    })
}

fn syntax_error(path: &Path, err: &serde_json::Error) -> Error {
    Error::Snapshot {
        path: path.to_path_buf(),
        reason: err.to_string(),
    }
}

fn checked(path: &Path, snapshot: Snapshot) -> Result<Snapshot, Error> {
    if let Some(error) = version_error(
        path,
        Some(VersionProbe {
            snapshot_version: Some(snapshot.snapshot_version.into()),
        }),
    ) {
        return Err(error);
    }
    Ok(snapshot)
}

/// `--netns` with `--from`: keeps the recorded namespaces the choices name (by name, inode,
/// a pid that holds a socket there, or `self` for the one the recording ran in), and only
/// their sockets. A choice that names nothing in the snapshot is an error.
pub(crate) fn select_namespaces(snapshot: &mut Snapshot, choices: &[Choice]) -> Result<(), Error> {
    if choices.is_empty() {
        return Ok(());
    }
    let mut keep: BTreeSet<Option<u64>> = BTreeSet::new();
    for choice in choices {
        let found: Vec<Option<u64>> = match choice {
            // Snapshots that predate namespaces hold one: the recording's own.
            Choice::Own if snapshot.namespaces.is_empty() => vec![None],
            Choice::Own => own_matches(snapshot, |ns| ns.own),
            Choice::Name(name) => own_matches(snapshot, |ns| ns.name.as_deref() == Some(name)),
            Choice::Inode(inode) => own_matches(snapshot, |ns| ns.inode == *inode),
            Choice::Pid(pid) => snapshot
                .connections
                .iter()
                .filter(|c| c.owners().iter().any(|o| o.pid == *pid))
                .map(|c| c.netns())
                .collect(),
            Choice::Path(_) => {
                return Err(Error::Usage(format!(
                    "--netns {choice}: a path names a namespace of this host; with --from, give \
                     the recorded namespace's name, net:[INODE], a pid that held a socket in it, or self"
                )))
            }
        };
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "--netns {choice}: no such network namespace in the snapshot"
            )));
        }
        keep.extend(found);
    }
    snapshot.connections.retain(|c| keep.contains(&c.netns()));
    snapshot
        .namespaces
        .retain(|ns| keep.contains(&Some(ns.inode)));
    Ok(())
}

fn own_matches(
    snapshot: &Snapshot,
    matches: impl Fn(&crate::snapshot::Netns) -> bool,
) -> Vec<Option<u64>> {
    snapshot
        .namespaces
        .iter()
        .filter(|ns| matches(ns))
        .map(|ns| Some(ns.inode))
        .collect()
}

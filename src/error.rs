//! The errors that stop a command, and the exit codes. Everything else is a warning.

use std::path::PathBuf;

/// Exit status: no finding that needs attention.
pub const EXIT_OK: i32 = 0;
/// Exit status: at least one hung_call, close_wait, stalled_send or syn_sent finding.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit status: an error (bad flag, unreadable or malformed snapshot, cannot write output).
pub const EXIT_ERROR: i32 = 2;
/// Exit status: `--timeout` cut the scan short; the report is partial.
pub const EXIT_PARTIAL: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: it is {what}, not a regular file (a snapshot is a file written by `stuckconn record`, or - for standard input)")]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{path}: not a stuckconn snapshot: {reason}")]
    Snapshot { path: PathBuf, reason: String },
    #[error("{path}: snapshot version {found} is not supported (this stuckconn reads version {supported})")]
    SnapshotVersion {
        path: PathBuf,
        found: String,
        supported: u32,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error("cannot write the report: {0}")]
    Output(std::io::Error),
}

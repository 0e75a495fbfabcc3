//! The errors that stop a command, and the exit codes. Everything else is a warning.

use std::path::PathBuf;

/// The exit status of `scan`, `record` and `watch` (the man page's EXIT STATUS). `check`
/// speaks the monitoring plugins' language instead (`render::nagios::Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// No finding that needs attention.
    Clean = 0,
    /// At least one hung_call, close_wait, stalled_send or syn_sent finding.
    Findings = 1,
    /// An error: a bad flag, an unreadable or malformed snapshot, an output not writable.
    Error = 2,
    /// `--timeout` or a signal cut the command short: the report is partial.
    Partial = 3,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The status a report gives: partial, else findings, else clean.
    pub(crate) fn of(report: &crate::report::Report) -> ExitCode {
        if report.partial {
            ExitCode::Partial
        } else if report.summary.problems > 0 {
            ExitCode::Findings
        } else {
            ExitCode::Clean
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: it is {what}, not a regular file (give a file, or - for standard input)")]
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
    /// `serve` cannot start: its TLS files, the address to listen on.
    #[error("{0}")]
    Serve(String),
}

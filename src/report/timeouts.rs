//! Why a stuck connection will never end, or when it will: the verdicts `enrich::timeouts`
//! writes per connection and per finding.

use crate::snapshot::KernelTimer;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutVerdict {
    /// A receive timeout or the blocked call's own timeout will end it.
    Deadline,
    /// The kernel will end it (unanswered probes, retransmissions toward a limit).
    Kernel,
    /// Not allowed to look (or the call's timeout is not visible).
    Unknown,
    /// Nothing in the kernel or the blocked call will end it.
    Never,
}

/// Whether anything will end stuck connections, and when: a finding's `timeouts`, and the
/// heart of each connection's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Timeouts {
    /// Keepalive on: from the timer or the options; null when neither says.
    pub keepalive: Option<bool>,
    /// Keepalive probes sent and ACKed (true), sent and unanswered (false); null when none
    /// was due yet or keepalive is off.
    pub keepalive_answered: Option<bool>,
    /// `TCP_USER_TIMEOUT` (0: not set); null when the options could not be read.
    pub user_timeout_ms: Option<u64>,
    /// `SO_RCVTIMEO` (0: not set); null when the options could not be read.
    pub receive_timeout_ms: Option<u64>,
    /// The bound of the blocked call: its own timeout, or `SO_RCVTIMEO` for read/recv; -1 for
    /// none; null when unknown or no thread waits on it.
    pub wait_timeout_ms: Option<i64>,
    /// The wait's timeout is much shorter than the idle time: the call is re-issued in a loop.
    pub wait_loop: bool,
    pub verdict: TimeoutVerdict,
    /// Seconds until it ends, for `deadline` and `kernel` when it can be computed (from the
    /// last data: the earliest the wait can have begun; for a finding, until the last of its
    /// connections ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_in_secs: Option<u64>,
    /// One sentence. A finding's always; a connection's only in the finding's (the
    /// connections of `connections[]` carry the raw values, their words are the finding's).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub explanation: String,
    /// For the table's EVIDENCE column: `no timeout anywhere`, `RCVTIMEO 10m, ends in 4m`,
    /// `keepalive answered: never ends`.
    #[serde(skip)]
    pub phrase: String,
}

/// The verdict on one connection, with the raw values behind it (for `connections[]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ConnectionTimeouts {
    /// The verdict and what it rests on, as a finding has them.
    #[serde(flatten)]
    pub judged: Timeouts,
    pub timer: Option<KernelTimer>,
    pub keepidle_secs: Option<u32>,
    pub keepintvl_secs: Option<u32>,
    pub keepcnt: Option<u32>,
    /// `SO_SNDTIMEO` (0: not set); null when the options could not be read.
    pub send_timeout_ms: Option<u64>,
    /// Why the options are null, with the capability that would show them.
    pub options_unreadable: Option<String>,
    /// The blocked call (`poll`, `recvfrom`...), when a thread waits on it.
    pub wait_syscall: Option<String>,
}

/// A connection's timeouts read as a finding's: the verdict and its reasons.
impl std::ops::Deref for ConnectionTimeouts {
    type Target = Timeouts;

    fn deref(&self) -> &Timeouts {
        &self.judged
    }
}

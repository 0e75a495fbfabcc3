//! The threads of a process as the collection saw them: which wait on which socket, in which
//! call, with what timeout of its own.

use serde::{Deserialize, Serialize};

/// A thread seen blocked in a syscall that waits on one socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlockedThread {
    pub pid: u32,
    pub tid: u32,
    /// The fd it waits on.
    pub fd: u32,
    /// `read`, `readv`, `recvfrom`, `recvmsg`, `poll`, `ppoll`, `select`, `pselect6`. A
    /// call resumed after a stop or a signal shows its own name here and `restarted: true`.
    pub syscall: String,
    pub wchan: Option<String>,
    /// The call's own timeout in ms: -1 when it has none (read and recv calls never do: only
    /// the socket's SO_RCVTIMEO bounds them); null when it is not visible (a timespec that
    /// could not be read) or was not recorded (snapshots before it was).
    #[serde(default)]
    pub timeout_ms: Option<i64>,
    /// The thread shows `restart_syscall`: the call was interrupted (SIGSTOP, a debugger, a
    /// signal) and resumed, and is still blocked; the time left is not visible, only the
    /// timeout the call was first given.
    #[serde(default)]
    pub restarted: bool,
    /// The thread is stopped (state T or t): nothing moves until it is continued.
    #[serde(default)]
    pub stopped: bool,
}

impl BlockedThread {
    /// The call's own timeout.
    pub fn timeout(&self) -> WaitTimeout {
        match self.timeout_ms {
            None => WaitTimeout::Unknown,
            Some(ms) if ms < 0 => WaitTimeout::Forever,
            Some(ms) => WaitTimeout::Ms(ms.unsigned_abs()),
        }
    }

    /// Whether the socket's SO_RCVTIMEO ends the call (read and recv calls only; poll,
    /// select and epoll ignore it).
    pub fn honours_receive_timeout(&self) -> bool {
        receive_call(&self.syscall)
    }
}

#[cfg(test)]
impl BlockedThread {
    /// For unit tests: the main thread of `pid` blocked in `read` on `fd`, with no timeout.
    pub fn example(pid: u32, fd: u32) -> BlockedThread {
        BlockedThread {
            pid,
            tid: pid,
            fd,
            syscall: "read".into(),
            wchan: None,
            timeout_ms: Some(-1),
            restarted: false,
            stopped: false,
        }
    }
}

/// The calls that SO_RCVTIMEO bounds.
pub fn receive_call(syscall: &str) -> bool {
    matches!(syscall, "read" | "readv" | "recvfrom" | "recvmsg")
}

/// A thread in `restart_syscall` resuming a call other than the socket waits stuckconn
/// understands (a nanosleep, a futex): still blocked, on what and for how long not visible.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResumedThread {
    pub tid: u32,
    pub wchan: Option<String>,
}

/// Whether the threads of a process could be examined.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ThreadEvidence {
    /// Not needed: the process holds no connection that looked stuck.
    #[default]
    NotCollected,
    /// Every thread's syscall was read.
    Read,
    /// Some of the evidence could not be read (a thread's syscall, or the fd set of its poll
    /// in /proc/PID/mem): what was read is reported, nothing is guessed.
    Partial,
    /// The threads could not be examined (permission denied).
    Denied,
}

/// How long the blocked call itself may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ms", rename_all = "snake_case")]
pub enum WaitTimeout {
    /// No timeout of its own: it waits until the socket (or a signal) wakes it.
    Forever,
    /// It was given this many milliseconds.
    Ms(u64),
    /// Not visible: the timespec could not be read, or the call resumed as `restart_syscall`
    /// from something other than poll.
    Unknown,
}

impl WaitTimeout {
    /// The JSON value `wait_timeout_ms`: -1 for none, null when unknown.
    pub fn json_ms(self) -> Option<i64> {
        match self {
            WaitTimeout::Forever => Some(-1),
            WaitTimeout::Ms(ms) => Some(i64::try_from(ms).unwrap_or(i64::MAX)),
            WaitTimeout::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values() {
        assert_eq!(WaitTimeout::Forever.json_ms(), Some(-1));
        assert_eq!(WaitTimeout::Ms(1000).json_ms(), Some(1000));
        assert_eq!(WaitTimeout::Unknown.json_ms(), None);
    }
}

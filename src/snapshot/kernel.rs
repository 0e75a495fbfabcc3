//! What the kernel says of a socket beyond tcp_info: its TCP timer (sock_diag's
//! `idiag_timer`, `idiag_expires`, `idiag_retrans`), and the limits of its network namespace
//! that decide when the kernel gives up on it.

use serde::{Deserialize, Serialize};

/// The kernel's TCP timer of a socket, as sock_diag reports it (`idiag_timer`,
/// `idiag_expires`, `idiag_retrans`; /proc/net/tcp's `tr tm->when retrnsmt` say the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KernelTimer {
    pub kind: TimerKind,
    /// Milliseconds until it fires (0 for `off`).
    pub expires_ms: u32,
    /// Retransmissions so far (`retransmit`), or probes sent and unanswered (`keepalive`,
    /// `zero_window_probe`: the kernel's `icsk_probes_out`).
    pub retrans: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// No timer runs (idiag_timer 0): on an ESTABLISHED socket, keepalive is off.
    Off,
    /// Unacknowledged data or a SYN is being retransmitted (1).
    Retransmit,
    /// The keepalive timer (2).
    Keepalive,
    /// TIME-WAIT (3).
    TimeWait,
    /// The peer's receive window is closed and is probed (4).
    ZeroWindowProbe,
}

impl KernelTimer {
    /// From sock_diag's raw fields. Unknown timer numbers are `None`.
    pub fn from_raw(timer: u8, expires_ms: u32, retrans: u8) -> Option<KernelTimer> {
        let kind = match timer {
            0 => TimerKind::Off,
            1 => TimerKind::Retransmit,
            2 => TimerKind::Keepalive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::ZeroWindowProbe,
            _ => return None,
        };
        Some(KernelTimer {
            kind,
            expires_ms: if kind == TimerKind::Off {
                0
            } else {
                expires_ms
            },
            retrans,
        })
    }
}

/// The TCP limits of a network namespace (its sysctls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// `net.ipv4.tcp_retries2`: retransmissions of data before giving up.
    pub tcp_retries2: u32,
    /// `net.ipv4.tcp_syn_retries`.
    pub tcp_syn_retries: u32,
}

impl Default for Limits {
    /// The kernel's defaults.
    fn default() -> Limits {
        Limits {
            tcp_retries2: 15,
            tcp_syn_retries: 6,
        }
    }
}

impl Limits {
    /// How long the kernel retransmits data before giving up, from the first retransmission:
    /// `tcp_model_timeout` with the 200 ms minimum RTO and the 120 s maximum.
    pub fn retries2_ms(&self) -> u64 {
        model_timeout_ms(self.tcp_retries2, 200, 120_000)
    }

    /// How long a connect's SYNs are retransmitted: 1 s doubling, `tcp_syn_retries` times,
    /// plus the last wait.
    pub fn syn_ms(&self) -> u64 {
        model_timeout_ms(self.tcp_syn_retries, 1000, 120_000)
    }
}

/// The kernel's `tcp_model_timeout`: `boundary` retransmissions from `rto_base`, doubling up
/// to `rto_max`.
pub fn model_timeout_ms(boundary: u32, rto_base: u64, rto_max: u64) -> u64 {
    let thresh = (rto_max / rto_base).max(1).ilog2();
    if boundary <= thresh {
        ((2u64 << boundary) - 1) * rto_base
    } else {
        ((2u64 << thresh) - 1) * rto_base + u64::from(boundary - thresh) * rto_max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_timeouts() {
        assert_eq!(Limits::default().retries2_ms(), 924_600);
        assert_eq!(Limits::default().syn_ms(), 127_000);
        assert_eq!(model_timeout_ms(3, 200, 120_000), 3000);
    }
}

//! What a connection is (its kind), which way it goes, and whether it is a problem.

use serde::Serialize;

/// What a connection is, judged from its evidence.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Outbound, idle, we sent last and no reply came: the incident.
    HungCall,
    /// Unacknowledged data being retransmitted: the peer or the path is dead.
    StalledSend,
    /// The peer closed; the process never closed its end.
    CloseWait,
    /// A connect whose SYN was never answered.
    SynSent,
    /// Outbound, idle after a complete exchange: a keep-alive pool.
    IdlePool,
    /// Anything else: data moving, just opened, inbound, closing.
    Active,
    /// A listening socket (only with `--all`).
    Listening,
}

impl Kind {
    /// Kinds that make the exit status 1.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Kind::HungCall | Kind::StalledSend | Kind::CloseWait | Kind::SynSent
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::HungCall => "hung call",
            Kind::StalledSend => "stalled send",
            Kind::CloseWait => "close wait",
            Kind::SynSent => "syn sent",
            Kind::IdlePool => "idle pool",
            Kind::Active => "active",
            Kind::Listening => "listening",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Kind::HungCall => "hung_call",
            Kind::StalledSend => "stalled_send",
            Kind::CloseWait => "close_wait",
            Kind::SynSent => "syn_sent",
            Kind::IdlePool => "idle_pool",
            Kind::Active => "active",
            Kind::Listening => "listening",
        }
    }

    pub const ALL: [Kind; 7] = [
        Kind::HungCall,
        Kind::StalledSend,
        Kind::CloseWait,
        Kind::SynSent,
        Kind::IdlePool,
        Kind::Active,
        Kind::Listening,
    ];
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    Listening,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Counts towards exit status 1.
    Problem,
    /// Worth knowing, not a problem by itself.
    Info,
}

//! The one key findings are grouped by.

use super::{ConnectionReport, Direction, Kind};
use crate::snapshot::Endpoint;

/// What a finding's connections have in common besides their kind and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Outbound connections: the remote endpoint they call.
    Remote(Endpoint),
    /// Inbound (accepted) connections: the local port they were accepted on, per name of
    /// the process counted for them (`None`: no readable process holds them).
    Service { port: u16, process: Option<String> },
}

/// The one key findings are grouped by: kind, network namespace and target. `analyze`
/// builds the groups with it, `capture::apply` finds a finding's connections with it, and
/// `watch` groups per process within it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingKey {
    pub kind: Kind,
    /// The network namespace's inode (null in snapshots without namespaces).
    pub netns: Option<u64>,
    pub target: Target,
}

impl FindingKey {
    /// The key of one connection. `process` is the name of the process it is counted for
    /// (its holder): inbound connections are grouped per process and local port.
    pub fn new(
        kind: Kind,
        netns: Option<u64>,
        direction: Direction,
        local: Endpoint,
        remote: Endpoint,
        process: Option<&str>,
    ) -> FindingKey {
        let target = match direction {
            Direction::Inbound => Target::Service {
                port: local.port,
                process: process.map(str::to_string),
            },
            Direction::Outbound | Direction::Listening => Target::Remote(remote),
        };
        FindingKey {
            kind,
            netns,
            target,
        }
    }

    /// The key of a connection of the report (the same as `analyze` gave its finding).
    pub fn of(c: &ConnectionReport) -> FindingKey {
        FindingKey::new(
            c.kind,
            c.netns.as_ref().map(|ns| ns.inode),
            c.direction,
            c.local,
            c.remote,
            c.process.as_deref(),
        )
    }

    /// The finding's `id`: `KIND/NETNS/TARGET`, with `-` for an unknown namespace and
    /// `:PORT/PROCESS` for a local service (`close_wait/4026531840/:8080/app`; `:PORT` when no
    /// readable process holds it).
    pub fn id(&self) -> String {
        let netns = self.netns.map_or("-".to_string(), |ns| ns.to_string());
        let target = match &self.target {
            Target::Remote(endpoint) => endpoint.to_string(),
            Target::Service {
                port,
                process: Some(name),
            } => format!(":{port}/{name}"),
            Target::Service {
                port,
                process: None,
            } => format!(":{port}"),
        };
        format!("{}/{netns}/{target}", self.kind.key())
    }

    pub fn direction(&self) -> Direction {
        match self.target {
            Target::Remote(_) => Direction::Outbound,
            Target::Service { .. } => Direction::Inbound,
        }
    }
}

//! Addresses of other network namespaces on this host: a remote that is itself a container
//! here (`db-1`), or an `ip netns`, is named by that namespace's name without asking any
//! resolver.
//!
//! A namespace's addresses are learnt from its sockets in the snapshot (no other read): the
//! local address of every connection (the address an accepted or outgoing connection uses is
//! one of the namespace's own) and of every listener bound to one address. Loopback,
//! link-local, multicast and unspecified addresses exist in every namespace and name nothing;
//! an address seen in two namespaces (isolated networks that reuse addresses) names neither.
//! The namespace a connection is seen from is never its own remote's name.

use crate::resolve::source;
use crate::snapshot::{DnsStatus, HostName, Snapshot, TcpState};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::IpAddr;

/// The namespaces' addresses and the names they give.
#[derive(Debug, Default)]
pub(crate) struct Local {
    /// The one namespace an address belongs to, and its name.
    owners: HashMap<IpAddr, (u64, HostName)>,
}

impl Local {
    pub(crate) fn of(snapshot: &Snapshot) -> Local {
        let names: HashMap<u64, HostName> = snapshot
            .namespaces
            .iter()
            .filter(|ns| !ns.own)
            .filter_map(|ns| {
                let label = ns.human_label()?;
                let from = if ns.container_names.label().is_some() {
                    source::CONTAINER
                } else {
                    source::NETNS
                };
                Some((ns.inode, named(label, from)))
            })
            .collect();
        if names.is_empty() {
            return Local::default();
        }
        // Every namespace's addresses, `None` when an address is in more than one.
        let mut seen: HashMap<IpAddr, Option<u64>> = HashMap::new();
        for c in &snapshot.connections {
            let Some(inode) = c.netns() else { continue };
            let ip = c.local().ip;
            if (c.state == TcpState::Listen && ip.is_unspecified()) || !names_something(ip) {
                continue;
            }
            match seen.entry(ip) {
                Entry::Vacant(e) => {
                    e.insert(Some(inode));
                }
                Entry::Occupied(mut e) if *e.get() != Some(inode) => {
                    e.insert(None);
                }
                Entry::Occupied(_) => {}
            }
        }
        let owners = seen
            .into_iter()
            .filter_map(|(ip, inode)| {
                let inode = inode?;
                Some((ip, (inode, names.get(&inode)?.clone())))
            })
            .collect();
        Local { owners }
    }

    /// The name of `ip` seen from the namespace `viewer`, when it is another namespace's.
    pub(crate) fn name(&self, viewer: Option<u64>, ip: IpAddr) -> Option<&HostName> {
        let (inode, name) = self.owners.get(&ip)?;
        (viewer != Some(*inode)).then_some(name)
    }
}

fn named(label: String, from: &str) -> HostName {
    HostName {
        hostname: Some(label),
        dns: DnsStatus::Ok,
        // Certain: the address is the namespace's own.
        dns_verified: true,
        dns_source: Some(from.to_string()),
    }
}

/// Whether an address belongs to one namespace only (loopback and link-local addresses are in
/// every one).
fn names_something(ip: IpAddr) -> bool {
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || link_local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Connection, Endpoint, Netns};

    fn ns(inode: u64, name: Option<&str>, own: bool) -> Netns {
        Netns {
            inode,
            name: name.map(str::to_string),
            own,
            ..Netns::default()
        }
    }

    fn conn(netns: u64, state: TcpState, local: &str) -> Connection {
        let mut c = Connection::example();
        c.state = state;
        let remote = c.remote();
        c.set_endpoints(Endpoint::normalized(local.parse().unwrap(), 80), remote);
        c.set_netns(Some(netns)).unwrap();
        c
    }

    fn snapshot(namespaces: Vec<Netns>, connections: Vec<Connection>) -> Snapshot {
        let mut s: Snapshot = serde_json::from_str(
            r#"{"snapshot_version":1,"host":{"hostname":"h","kernel":"k"},
                "taken_at":"2012-11-06T17:15:11Z","collect_secs":0,"collector":"sock_diag",
                "thread_evidence_min_idle_secs":60,"connections":[],"processes":[],
                "warnings":[]}"#,
        )
        .unwrap();
        s.namespaces = namespaces;
        s.connections = connections.into();
        s
    }

    #[test]
    fn an_address_of_another_namespace_is_named_by_it() {
        let s = snapshot(
            vec![
                ns(1, None, true),
                ns(2, Some("db"), false),
                ns(3, None, false),
            ],
            vec![
                conn(2, TcpState::Established, "198.51.100.2"),
                conn(2, TcpState::Listen, "0.0.0.0"),
                conn(2, TcpState::Listen, "198.51.100.3"),
                conn(2, TcpState::Established, "127.0.0.1"),
                conn(3, TcpState::Established, "198.51.100.9"),
            ],
        );
        let local = Local::of(&s);
        let db = local
            .name(Some(1), "198.51.100.2".parse().unwrap())
            .unwrap();
        assert_eq!(db.hostname.as_deref(), Some("db"));
        assert_eq!(db.dns_source.as_deref(), Some("netns"));
        assert!(db.dns_verified);
        assert!(local.name(None, "198.51.100.3".parse().unwrap()).is_some());
        // Never its own name, loopback names nothing, a namespace without a name neither.
        assert!(local
            .name(Some(2), "198.51.100.2".parse().unwrap())
            .is_none());
        assert!(local.name(Some(1), "127.0.0.1".parse().unwrap()).is_none());
        assert!(local
            .name(Some(1), "198.51.100.9".parse().unwrap())
            .is_none());
    }

    #[test]
    fn an_address_in_two_namespaces_names_neither() {
        let s = snapshot(
            vec![ns(2, Some("a"), false), ns(3, Some("b"), false)],
            vec![
                conn(2, TcpState::Established, "192.0.2.10"),
                conn(3, TcpState::TimeWait, "192.0.2.10"),
            ],
        );
        assert!(Local::of(&s)
            .name(Some(1), "192.0.2.10".parse().unwrap())
            .is_none());
    }
}

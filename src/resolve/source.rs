//! The values of `dns_source`: which resolver named an address.

/// The host's resolver (`/etc/resolv.conf`), asked from stuckconn's own namespace.
pub const HOST: &str = "host";
/// The servers of `--dns-server`.
pub const OVERRIDE: &str = "override";
/// No resolver: the address belongs to another network namespace on this host, a
/// container's (the name is the container's or the pod's).
pub const CONTAINER: &str = "container";
/// No resolver: the address belongs to another network namespace on this host, named by
/// `ip netns`.
pub const NETNS: &str = "netns";

/// A namespace's own resolver: `netns:NAME` (its `ip netns` name, or `net:[INODE]`).
pub fn netns(label: &str) -> String {
    format!("netns:{label}")
}

/// A container's own resolver: `container:ID` (its id, or its name when it has no id).
pub fn container(id: &str) -> String {
    format!("container:{id}")
}

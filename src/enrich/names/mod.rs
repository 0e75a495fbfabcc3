//! Names for the addresses of a report: the remote and clients of every finding and the
//! clients of every process row. An address is named as it is seen from the finding's network
//! namespace, the first of these that gives a name:
//!
//! 1. the address belongs to another namespace scanned on this host: that namespace's
//!    container or pod name, or its `ip netns` name (`local`; no resolver asked, so even
//!    with `--no-dns`);
//! 2. a name already known: recorded in the snapshot (with the namespace whose resolver gave
//!    it), or found for an earlier watch sample;
//! 3. loopback and link-local addresses, named without a resolver;
//! 4. bounded reverse DNS (`crate::resolve`): the servers of `--dns-server` when given; else,
//!    on the live host, the namespace's own resolver (`crate::resolve::inside`: its
//!    `ip netns` resolv.conf, or its container's /etc/resolv.conf, asked from inside it); else
//!    the host's. All namespaces are asked at once, within one deadline (`--dns-deadline`).
//!
//! Each name says which resolver gave it (`dns_source`). A snapshot replayed (`--from`) asks
//! the host's resolver (or `--dns-server`) for what it did not record: its namespaces may be
//! gone, or on another host.

mod local;

use crate::deadline::Deadline;
use crate::report::{Report, Warning};
use crate::resolve::inside::{self, Scope, DECIDE_WITHIN};
use crate::resolve::{local_label, Resolver, ResolverOptions};
use crate::snapshot::{DnsStatus, HostName, Names, Netns, Snapshot};
use local::Local;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::time::Instant;

/// Names reports, one after the other, keeping what it learns (and the host's resolver: its
/// cache) from one to the next.
pub(crate) struct Namer {
    /// Reverse DNS; `None` with `--no-dns` (known names are still used).
    options: Option<ResolverOptions>,
    resolver: Option<Resolver>,
    /// Names from the host's resolver or `--dns-server`, and recorded ones.
    known: Names,
    /// Names from a namespace's own resolver, by the namespace's inode.
    known_in: BTreeMap<u64, Names>,
    /// Namespaces found to have no resolver of their own: the host's names them.
    host_named: HashSet<u64>,
}

impl Namer {
    /// `known`: names to reuse without asking (a snapshot's).
    pub(crate) fn new(options: Option<ResolverOptions>, known: Names) -> Namer {
        Namer {
            options,
            resolver: None,
            known,
            known_in: BTreeMap::new(),
            host_named: HashSet::new(),
        }
    }

    /// Also reuses the names a snapshot recorded from its namespaces' own resolvers.
    pub(crate) fn with_namespaces(mut self, known_in: BTreeMap<u64, Names>) -> Namer {
        self.known_in = known_in;
        self
    }

    /// Keeps in `snapshot` every name looked up (or labelled), with its source, so that
    /// `scan --from` shows them.
    pub(crate) fn record(&self, snapshot: &mut Snapshot) {
        let looked_up = |names: &Names| -> Names {
            names
                .iter()
                .filter(|(_, name)| name.dns != DnsStatus::Skipped)
                .map(|(ip, name)| (*ip, name.clone()))
                .collect()
        };
        snapshot.names = looked_up(&self.known);
        snapshot.names_by_netns = self
            .known_in
            .iter()
            .map(|(inode, names)| (*inode, looked_up(names)))
            .filter(|(_, names)| !names.is_empty())
            .collect();
    }

    /// Looks up what is not known yet (within `deadline`), then fills in every name.
    pub(crate) fn name(&mut self, report: &mut Report, snapshot: &Snapshot, deadline: &Deadline) {
        let local = Local::of(snapshot);
        if let Some(options) = self.options.clone() {
            self.look_up(report, snapshot, &local, &options, deadline);
            report.options.dns_timeout_secs = Some(options.timeout.as_secs_f64());
            report.options.dns_servers = options.servers.iter().map(|s| s.to_string()).collect();
        }
        apply_names(
            report,
            &Book {
                local: &local,
                host: &self.known,
                by_netns: &self.known_in,
            },
        );
    }

    fn look_up(
        &mut self,
        report: &mut Report,
        snapshot: &Snapshot,
        local: &Local,
        options: &ResolverOptions,
        deadline: &Deadline,
    ) {
        let own_resolvers = report.source == "live" && options.servers.is_empty();
        let wanted = self.wanted(report, local, own_resolvers);
        if wanted.is_empty() {
            return;
        }
        let started = Instant::now();
        let cut_short = deadline.left() < options.deadline;
        let limit = deadline.cap(options.deadline);
        let mut host: BTreeSet<IpAddr> = BTreeSet::new();
        let mut scopes = Vec::new();
        for (netns, ips) in wanted {
            match netns.filter(|ns| own_resolvers && !ns.own) {
                Some(ns) => scopes.push(Scope {
                    pids: pids_in(snapshot, ns.inode),
                    netns: ns,
                    addresses: ips.into_iter().collect(),
                }),
                None => host.extend(ips),
            }
        }
        let mut batch = inside::start(scopes, options, limit);
        for scope in batch.host_named(limit.cap(DECIDE_WITHIN)) {
            self.host_named.insert(scope.netns.inode);
            host.extend(scope.addresses);
        }
        host.retain(|ip| !self.known.contains_key(ip));
        let mut warnings = std::mem::take(&mut batch.warnings);
        let mut timed_out = false;
        if !host.is_empty() {
            let resolver = self
                .resolver
                .get_or_insert_with(|| Resolver::new(options.clone()));
            let found = resolver.resolve(host, &limit);
            timed_out |= found.names.values().any(|n| n.dns == DnsStatus::Timeout);
            self.known.extend(found.names);
            warnings.extend(found.warnings);
        }
        for (inode, found) in batch.found(limit) {
            timed_out |= found.names.values().any(|n| n.dns == DnsStatus::Timeout);
            self.known_in.entry(inode).or_default().extend(found.names);
            warnings.extend(found.warnings);
        }
        report.timings.dns_secs = started.elapsed().as_secs_f64();
        report
            .warnings
            .extend(warnings.into_iter().map(Warning::Names));
        if timed_out && (cut_short || deadline.passed()) {
            report.partial = true;
            report.warnings.push(Warning::Partial(format!(
                "{} during reverse DNS: the report is partial",
                deadline.reason()
            )));
        }
    }

    /// The addresses still to look up, by the namespace they are seen from (loopback and
    /// link-local ones are named here, without a resolver).
    fn wanted(
        &mut self,
        report: &Report,
        local: &Local,
        own_resolvers: bool,
    ) -> Vec<(Option<Netns>, BTreeSet<IpAddr>)> {
        let mut wanted: BTreeMap<Option<u64>, (Option<Netns>, BTreeSet<IpAddr>)> = BTreeMap::new();
        for f in &report.findings {
            let netns = f.netns.as_ref();
            let inode = netns.map(|ns| ns.inode);
            // A namespace that may have a resolver of its own does not take the host's names.
            let host_names = !own_resolvers
                || netns.is_none_or(|ns| ns.own || self.host_named.contains(&ns.inode));
            let addresses = f
                .remote
                .iter()
                .map(|r| r.ip)
                .chain(f.clients.iter().map(|c| c.ip));
            for ip in addresses {
                let known = inode
                    .and_then(|i| self.known_in.get(&i)?.get(&ip))
                    .is_some()
                    || (host_names && self.known.contains_key(&ip));
                if known || local.name(inode, ip).is_some() {
                    continue;
                }
                if let Some(name) = local_label(ip) {
                    self.known.insert(ip, name);
                    continue;
                }
                wanted
                    .entry(inode)
                    .or_insert_with(|| (netns.cloned(), BTreeSet::new()))
                    .1
                    .insert(ip);
            }
        }
        wanted.into_values().collect()
    }
}

/// Processes that hold sockets in a namespace (a few: one of them in it is enough).
fn pids_in(snapshot: &Snapshot, inode: u64) -> Vec<u32> {
    let mut pids: Vec<u32> = snapshot
        .connections
        .iter()
        .filter(|c| c.netns() == Some(inode))
        .flat_map(|c| c.owners().iter().map(|o| o.pid))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids.truncate(8);
    pids
}

/// Where names are looked up, in order.
struct Book<'a> {
    local: &'a Local,
    host: &'a Names,
    by_netns: &'a BTreeMap<u64, Names>,
}

impl Book<'_> {
    fn name(&self, inode: Option<u64>, ip: IpAddr) -> HostName {
        self.local
            .name(inode, ip)
            .or_else(|| inode.and_then(|i| self.by_netns.get(&i)?.get(&ip)))
            .or_else(|| self.host.get(&ip))
            .cloned()
            .unwrap_or_default()
    }
}

/// Fills in the names a snapshot recorded (and the addresses of its namespaces), asking
/// nobody: what `scan --from FILE --no-dns` shows.
pub(crate) fn apply(report: &mut Report, snapshot: &Snapshot) {
    let local = Local::of(snapshot);
    let book = Book {
        local: &local,
        host: &snapshot.names,
        by_netns: &snapshot.names_by_netns,
    };
    apply_names(report, &book);
}

/// Fills in the names of every remote and client (others stay unnamed). A process row's
/// clients are named as the first finding that has them names them.
fn apply_names(report: &mut Report, book: &Book) {
    let mut given: HashMap<IpAddr, HostName> = HashMap::new();
    for f in &mut report.findings {
        let inode = f.netns.as_ref().map(|ns| ns.inode);
        if let Some(remote) = &mut f.remote {
            remote.name = book.name(inode, remote.ip);
        }
        for c in &mut f.clients {
            c.name = book.name(inode, c.ip);
            given.entry(c.ip).or_insert_with(|| c.name.clone());
        }
    }
    for p in &mut report.processes {
        for c in &mut p.clients {
            c.name = given
                .get(&c.ip)
                .cloned()
                .unwrap_or_else(|| book.name(None, c.ip));
        }
    }
}

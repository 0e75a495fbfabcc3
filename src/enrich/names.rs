//! Names for the addresses of a report: the remote and clients of every finding and the
//! clients of every process row. Names already known (a snapshot's recorded names, those
//! found for an earlier watch sample) are reused; loopback and link-local addresses are
//! named without a resolver; the rest by bounded reverse DNS (`crate::resolve`).

use crate::deadline::Deadline;
use crate::report::{Report, Warning};
use crate::resolve::{local_label, Resolver, ResolverOptions};
use crate::snapshot::{DnsStatus, HostName, Names};
use std::net::IpAddr;

/// Names reports, one after the other, keeping what it learns (and its resolver: its cache)
/// from one to the next.
pub(crate) struct Namer {
    /// Reverse DNS; `None` with `--no-dns` (known names are still used).
    options: Option<ResolverOptions>,
    resolver: Option<Resolver>,
    known: Names,
}

impl Namer {
    /// `known`: names to reuse without asking (a snapshot's).
    pub(crate) fn new(options: Option<ResolverOptions>, known: Names) -> Namer {
        Namer {
            options,
            resolver: None,
            known,
        }
    }

    /// Every name known so far, looked up or recorded.
    pub(crate) fn known(&self) -> &Names {
        &self.known
    }

    /// Looks up what is not known yet (within `deadline`), then fills in every name.
    pub(crate) fn name(&mut self, report: &mut Report, deadline: &Deadline) {
        if let Some(options) = self.options.clone() {
            self.look_up(report, &options, deadline);
            report.options.dns_timeout_secs = Some(options.timeout.as_secs_f64());
            report.options.dns_servers = options.servers.iter().map(|s| s.to_string()).collect();
        }
        apply(report, &self.known);
    }

    fn look_up(&mut self, report: &mut Report, options: &ResolverOptions, deadline: &Deadline) {
        let mut wanted: Vec<IpAddr> = addresses(report)
            .into_iter()
            .filter(|ip| !self.known.contains_key(ip))
            .collect();
        // Loopback and link-local addresses are named without a resolver (or its runtime).
        wanted.retain(|&ip| match local_label(ip) {
            Some(name) => {
                self.known.insert(ip, name);
                false
            }
            None => true,
        });
        if wanted.is_empty() {
            return;
        }
        let left = deadline.left();
        let resolver = self
            .resolver
            .get_or_insert_with(|| Resolver::new(options.clone()));
        let found = resolver.resolve(wanted, deadline);
        let cut = (left < options.deadline || deadline.passed())
            && found.names.values().any(|n| n.dns == DnsStatus::Timeout);
        self.known.extend(found.names);
        report.timings.dns_secs = found.secs;
        report
            .warnings
            .extend(found.warnings.into_iter().map(Warning::Names));
        if cut {
            report.partial = true;
            report.warnings.push(Warning::Partial(format!(
                "{} during reverse DNS: the report is partial",
                deadline.reason()
            )));
        }
    }
}

/// The addresses a reader wants named: every finding's remote and clients (the process
/// rows' clients are among them).
fn addresses(report: &Report) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = report
        .findings
        .iter()
        .flat_map(|f| {
            f.remote
                .iter()
                .map(|r| r.ip)
                .chain(f.clients.iter().map(|c| c.ip))
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Fills in the names of every remote and client from `names` (others stay unnamed).
pub(crate) fn apply(report: &mut Report, names: &Names) {
    let name = |ip: &IpAddr| -> HostName { names.get(ip).cloned().unwrap_or_default() };
    for f in &mut report.findings {
        if let Some(remote) = &mut f.remote {
            remote.name = name(&remote.ip);
        }
        for c in &mut f.clients {
            c.name = name(&c.ip);
        }
    }
    for p in &mut report.processes {
        for c in &mut p.clients {
            c.name = name(&c.ip);
        }
    }
}

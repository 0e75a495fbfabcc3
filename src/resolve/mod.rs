//! Reverse DNS that can never hang the scan: hickory-resolver on a current-thread tokio
//! runtime, each lookup bounded by a hard timeout, the whole batch by one deadline, with
//! bounded concurrency. Every name is forward-confirmed; PTR text is treated as hostile.
//!
//! A resolver is the host's (`/etc/resolv.conf`, asked from the tool's own namespace), the
//! servers of `--dns-server`, or a network namespace's own (`inside`: its resolv.conf, asked
//! from a thread that entered the namespace); every name it gives carries its `dns_source`.

pub(crate) mod inside;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::snapshot::{DnsStatus, HostName, Names};

pub mod source;

/// A name with no hostname and this status.
fn status(dns: DnsStatus) -> HostName {
    HostName {
        hostname: None,
        dns,
        dns_verified: false,
        dns_source: None,
    }
}

/// How reverse DNS is done.
#[derive(Debug, Clone)]
pub struct ResolverOptions {
    /// Ask these servers; empty means the system's configuration (/etc/resolv.conf, /etc/hosts).
    pub servers: Vec<SocketAddr>,
    /// Hard bound on each lookup.
    pub timeout: Duration,
    /// Hard bound on the whole batch.
    pub deadline: Duration,
    /// Lookups in flight at once.
    pub concurrency: usize,
}

/// The longest host name DNS can carry in text form (RFC 1035: 255 octets on the wire).
const MAX_NAME_LEN: usize = 253;

/// What one batch of lookups found.
#[derive(Debug, Default)]
pub struct Lookups {
    pub names: Names,
    pub warnings: Vec<String>,
    pub secs: f64,
}

/// A resolver and the runtime it runs on; reuse it to benefit from its cache.
pub struct Resolver {
    runtime: Option<tokio::runtime::Runtime>,
    resolver: Result<Arc<TokioResolver>, String>,
    options: ResolverOptions,
    /// The `dns_source` of its names.
    source: String,
}

impl Resolver {
    /// The servers of `options`, or the host's configuration when it names none.
    pub fn new(options: ResolverOptions) -> Resolver {
        let source = if options.servers.is_empty() {
            source::HOST
        } else {
            source::OVERRIDE
        };
        Resolver::build_with(options, None, source.to_string())
    }

    /// The servers of a resolv.conf (a namespace's own), its names marked `source`. Only the
    /// servers: not the host's /etc/hosts.
    pub(crate) fn from_resolv_conf(
        options: ResolverOptions,
        resolv_conf: &[u8],
        source: String,
    ) -> Resolver {
        Resolver::build_with(options, Some(resolv_conf), source)
    }

    fn build_with(options: ResolverOptions, conf: Option<&[u8]>, source: String) -> Resolver {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let (runtime, resolver) = match runtime {
            Ok(rt) => {
                let resolver = {
                    let _guard = rt.enter();
                    build(&options, conf).map(Arc::new)
                };
                (Some(rt), resolver)
            }
            Err(err) => (None, Err(format!("cannot start the DNS runtime: {err}"))),
        };
        Resolver {
            runtime,
            resolver,
            options,
            source,
        }
    }

    /// `reverse DNS`, and whose resolver when it is not the host's.
    fn what(&self) -> String {
        match self.source.as_str() {
            source::HOST | source::OVERRIDE => "reverse DNS".to_string(),
            other => format!("reverse DNS ({other})"),
        }
    }

    /// Names every address once. Never takes longer than the deadline, or `limit` when that
    /// is shorter (plus scheduling).
    pub fn resolve(
        &self,
        addresses: impl IntoIterator<Item = IpAddr>,
        limit: &crate::deadline::Deadline,
    ) -> Lookups {
        let started = Instant::now();
        let mut outcome = Lookups::default();
        let mut wanted = Vec::new();
        for ip in addresses.into_iter().collect::<BTreeSet<_>>() {
            match local_label(ip) {
                Some(name) => {
                    outcome.names.insert(ip, name);
                }
                None => wanted.push(ip),
            }
        }
        if wanted.is_empty() {
            return outcome;
        }
        let (runtime, resolver) = match (&self.runtime, &self.resolver) {
            (Some(rt), Ok(resolver)) => (rt, resolver.clone()),
            (_, Err(err)) => {
                outcome
                    .warnings
                    .push(format!("{} unavailable: {err}", self.what()));
                for ip in wanted {
                    outcome
                        .names
                        .insert(ip, self.stamped(status(DnsStatus::Error)));
                }
                return outcome;
            }
            (None, Ok(_)) => unreachable!("a resolver is only built on a runtime"),
        };
        let mut options = self.options.clone();
        options.deadline = options.deadline.min(limit.left());
        let results = runtime.block_on(batch(resolver, wanted.clone(), options, limit));
        let mut rejected = 0;
        let mut timed_out = 0;
        for ip in wanted {
            let name = self.stamped(
                results
                    .get(&ip)
                    .cloned()
                    .unwrap_or_else(|| status(DnsStatus::Timeout)),
            );
            match name.dns {
                DnsStatus::Timeout => timed_out += 1,
                DnsStatus::Error if name.hostname.is_none() => rejected += 1,
                _ => {}
            }
            outcome.names.insert(ip, name);
        }
        if timed_out > 0 {
            outcome.warnings.push(format!(
                "{}: {timed_out} addresses got no answer within {} (deadline {}); shown by address",
                self.what(),
                humantime::format_duration(self.options.timeout),
                humantime::format_duration(self.options.deadline)
            ));
        }
        if rejected > 0 {
            outcome.warnings.push(format!(
                "{}: {rejected} lookups failed or returned a name that is not a usable host name",
                self.what()
            ));
        }
        outcome.secs = started.elapsed().as_secs_f64();
        outcome
    }

    /// A name this resolver gave (or failed to give), marked with its source.
    fn stamped(&self, mut name: HostName) -> HostName {
        name.dns_source = Some(self.source.clone());
        name
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        // Never wait for background work of the resolver: the report must not hang on it.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn build(options: &ResolverOptions, conf: Option<&[u8]>) -> Result<TokioResolver, String> {
    let mut builder = if let (Some(conf), true) = (conf, options.servers.is_empty()) {
        let (config, _) = hickory_resolver::system_conf::parse_resolv_conf(conf)
            .map_err(|e| format!("cannot use its resolv.conf: {e}"))?;
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        builder.options_mut().use_hosts_file = ResolveHosts::Never;
        builder
    } else if options.servers.is_empty() {
        TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system's resolver configuration: {e}"))?
    } else {
        let servers = options
            .servers
            .iter()
            .map(|server| {
                let mut config = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut config.connections {
                    connection.port = server.port();
                }
                config
            })
            .collect();
        let config = ResolverConfig::from_parts(None, Vec::new(), servers);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        // Only the servers asked for: names the host itself knows come from its own config.
        builder.options_mut().use_hosts_file = ResolveHosts::Never;
        builder
    };
    let opts = builder.options_mut();
    opts.timeout = options.timeout;
    opts.attempts = 1;
    opts.positive_min_ttl = Some(Duration::from_secs(60));
    opts.negative_min_ttl = Some(Duration::from_secs(60));
    builder
        .build()
        .map_err(|e| format!("cannot build the resolver: {e}"))
}

/// Addresses that are named without asking anyone.
pub(crate) fn local_label(ip: IpAddr) -> Option<HostName> {
    if ip.is_loopback() {
        return Some(HostName {
            hostname: Some("localhost".to_string()),
            dns: DnsStatus::Ok,
            dns_verified: true,
            dns_source: None,
        });
    }
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    (link_local || ip.is_unspecified() || ip.is_multicast()).then(|| status(DnsStatus::Skipped))
}

async fn batch(
    resolver: Arc<TokioResolver>,
    addresses: Vec<IpAddr>,
    options: ResolverOptions,
    stop: &crate::deadline::Deadline,
) -> BTreeMap<IpAddr, HostName> {
    let deadline = tokio::time::Instant::now() + options.deadline;
    let mut results = BTreeMap::new();
    let mut pending = addresses.into_iter();
    let mut running = tokio::task::JoinSet::new();
    let spawn_next = |running: &mut tokio::task::JoinSet<(IpAddr, HostName)>,
                      pending: &mut std::vec::IntoIter<IpAddr>| {
        if let Some(ip) = pending.next() {
            let resolver = resolver.clone();
            let timeout = options.timeout;
            running.spawn(async move { (ip, lookup(&resolver, ip, timeout, deadline).await) });
        }
    };
    for _ in 0..options.concurrency.max(1) {
        spawn_next(&mut running, &mut pending);
    }
    loop {
        // Wake at least every tick to notice a signal.
        let wake = deadline.min(tokio::time::Instant::now() + crate::deadline::TICK);
        match tokio::time::timeout_at(wake, running.join_next()).await {
            Ok(Some(Ok((ip, name)))) => {
                results.insert(ip, name);
                spawn_next(&mut running, &mut pending);
            }
            Ok(Some(Err(_))) => spawn_next(&mut running, &mut pending),
            Ok(None) => break,
            Err(_) if tokio::time::Instant::now() < deadline && !stop.passed() => {}
            Err(_) => {
                running.abort_all();
                break;
            }
        }
    }
    results
}

/// One address: PTR, then forward-confirm the name. Each step is bounded by `timeout` and
/// by the batch `deadline`.
async fn lookup(
    resolver: &TokioResolver,
    ip: IpAddr,
    timeout: Duration,
    deadline: tokio::time::Instant,
) -> HostName {
    let bound = |now: tokio::time::Instant| (now + timeout).min(deadline);
    let answer = match tokio::time::timeout_at(
        bound(tokio::time::Instant::now()),
        resolver.reverse_lookup(ip),
    )
    .await
    {
        Err(_) => return status(DnsStatus::Timeout),
        Ok(Err(err)) if err.is_nx_domain() || err.is_no_records_found() => {
            return status(DnsStatus::Nxdomain)
        }
        Ok(Err(_)) => return status(DnsStatus::Error),
        Ok(Ok(answer)) => answer,
    };
    // The first PTR name, in sorted order so that several names give a stable answer.
    let mut names: Vec<String> = answer
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::PTR(ptr) => Some(ptr.0.to_utf8()),
            _ => None,
        })
        .collect();
    names.sort();
    let Some(name) = names.into_iter().next().and_then(|n| clean_name(&n)) else {
        return status(DnsStatus::Error);
    };
    let verified = match tokio::time::timeout_at(
        bound(tokio::time::Instant::now()),
        resolver.lookup_ip(format!("{name}.")),
    )
    .await
    {
        Ok(Ok(addresses)) => addresses.iter().any(|a| a == ip),
        _ => false,
    };
    HostName {
        hostname: Some(name),
        dns: DnsStatus::Ok,
        dns_verified: verified,
        dns_source: None,
    }
}

/// A PTR name as a host name: trailing dot stripped; `None` when it is empty, longer than
/// DNS allows in text, or holds characters a host name never has (controls, spaces, escapes,
/// bidi and zero-width characters).
pub fn clean_name(raw: &str) -> Option<String> {
    let name = raw.strip_suffix('.').unwrap_or(raw);
    let usable = !name.is_empty()
        && name.chars().count() <= MAX_NAME_LEN
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '\\' || crate::text::is_unsafe(c));
    usable.then(|| name.to_string())
}

/// Parses `IP`, `IP:PORT`, `[IPv6]:PORT` (port 53 when none is given).
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{text:?} is not IP, IP:PORT or [IPv6]:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_or_refused() {
        assert_eq!(
            clean_name("crl.example.com.").as_deref(),
            Some("crl.example.com")
        );
        assert_eq!(clean_name("."), None);
        assert_eq!(clean_name("evil\u{1b}[2J.example."), None);
        assert_eq!(
            clean_name("a\\027b.example."),
            None,
            "escaped binary labels"
        );
        assert_eq!(clean_name("gpj.\u{202e}exe.example."), None);
        assert_eq!(clean_name(&format!("{}.example.", "a".repeat(300))), None);
        assert_eq!(
            clean_name("bücher.example.").as_deref(),
            Some("bücher.example")
        );
    }

    #[test]
    fn local_addresses_are_named_without_asking() {
        let lo = local_label("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(lo.hostname.as_deref(), Some("localhost"));
        assert!(lo.dns_verified);
        assert_eq!(
            local_label("::1".parse().unwrap()).unwrap().dns,
            DnsStatus::Ok
        );
        assert_eq!(
            local_label("fe80::1".parse().unwrap()).unwrap().dns,
            DnsStatus::Skipped
        );
        assert_eq!(
            local_label("169.254.1.1".parse().unwrap()).unwrap().dns,
            DnsStatus::Skipped
        );
        assert_eq!(local_label("192.0.2.1".parse().unwrap()), None);
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            parse_server("127.0.0.1").unwrap().to_string(),
            "127.0.0.1:53"
        );
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap().to_string(),
            "127.0.0.1:5353"
        );
        assert_eq!(
            parse_server("[2001:db8::53]:5353").unwrap().to_string(),
            "[2001:db8::53]:5353"
        );
        assert_eq!(
            parse_server("2001:db8::53").unwrap().to_string(),
            "[2001:db8::53]:53"
        );
        assert!(parse_server("dns.example").is_err());
    }
}

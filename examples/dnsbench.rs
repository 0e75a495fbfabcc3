//! Reverse DNS benchmark (bench/dns.sh): names N distinct addresses (2001:db8::1 ...) against
//! one DNS server twice with the same resolver: cold, then warm (from the resolver's cache).
//!
//!   dnsbench IP:PORT [N=500]

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;
use stuckconn::resolve::{DnsStatus, Resolver, ResolverOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server =
        stuckconn::resolve::parse_server(args.first().expect("dnsbench IP:PORT [N]")).unwrap();
    let n: u32 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(500);
    let addresses: Vec<IpAddr> = (1..=n)
        .map(|i| {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                (i >> 16) as u16,
                i as u16,
            ))
        })
        .collect();
    let resolver = Resolver::new(ResolverOptions {
        servers: vec![server],
        timeout: Duration::from_secs(1),
        deadline: Duration::from_secs(2),
        concurrency: 64,
    });
    for pass in ["cold", "warm"] {
        let outcome = resolver.resolve(
            addresses.iter().copied(),
            &stuckconn::deadline::Deadline::none(),
        );
        let ok = outcome
            .names
            .values()
            .filter(|h| h.dns == DnsStatus::Ok)
            .count();
        let verified = outcome.names.values().filter(|h| h.dns_verified).count();
        println!(
            "{pass}: {n} addresses in {:.3} s ({ok} named, {verified} forward-confirmed)",
            outcome.secs
        );
    }
}

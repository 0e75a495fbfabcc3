//! `--format prometheus`: the Prometheus text exposition format (0.0.4), for the
//! node_exporter textfile collector. Encoded by prometheus-client (labels escaped there).

use crate::report::{Kind, Report};
use crate::text::sanitize;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

/// At most this many (kind, process, remote) series; the rest are summed per kind under
/// process="other", remote="other". Each connection is counted once, for the process that
/// holds it (its holder), so the series of a kind sum to `stuckconn_connections` of that
/// kind. Inbound findings have no remote endpoint: their `remote` label names the local
/// service, `:PORT (inbound)`.
pub const MAX_SERIES: usize = 50;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

fn family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, FloatGauge> {
    let family = Family::<Labels, FloatGauge>::default();
    registry.register(name, help, family.clone());
    family
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let gauge = FloatGauge::default();
    gauge.set(value);
    registry.register(name, help, gauge);
}

pub fn render(report: &Report) -> String {
    let mut registry = Registry::default();

    // Stuck connections by kind, process and remote, with bounded cardinality.
    let stuck = family(
        &mut registry,
        "stuckconn_stuck_connections",
        "Stuck connections by kind, process, remote endpoint and network namespace",
    );
    let mut series: BTreeMap<(Kind, String, String, String), usize> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| f.kind.is_problem()) {
        let netns = f
            .netns
            .as_ref()
            .map_or("host".to_string(), |ns| ns.short_label());
        let remote = match (&f.remote, f.local) {
            (Some(remote), _) => remote.endpoint().to_string(),
            (None, Some(local)) => format!(":{} (inbound)", local.port),
            (None, None) => "unknown".to_string(),
        };
        // Processes that only share the connections (counted for another) add nothing.
        for p in f.processes.iter().filter(|p| p.connections > 0) {
            *series
                .entry((f.kind, p.name.clone(), remote.clone(), netns.clone()))
                .or_default() += p.connections;
        }
    }
    let mut ranked: Vec<_> = series.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut other: BTreeMap<Kind, usize> = BTreeMap::new();
    for (i, ((kind, process, remote, netns), n)) in ranked.into_iter().enumerate() {
        if i < MAX_SERIES {
            let labels = vec![
                ("kind".to_string(), kind.key().to_string()),
                // Label values are text chosen by others: escaped like every other
                // output (prometheus-client escapes only backslash, quote and newline).
                ("process".to_string(), sanitize(&process).into_owned()),
                ("remote".to_string(), sanitize(&remote).into_owned()),
                ("netns".to_string(), sanitize(&netns).into_owned()),
            ];
            stuck.get_or_create(&labels).set(n as f64);
        } else {
            *other.entry(kind).or_default() += n;
        }
    }
    for (kind, n) in other {
        let labels = vec![
            ("kind".to_string(), kind.key().to_string()),
            ("process".to_string(), "other".to_string()),
            ("remote".to_string(), "other".to_string()),
            ("netns".to_string(), "other".to_string()),
        ];
        stuck.get_or_create(&labels).set(n as f64);
    }

    let connections = family(
        &mut registry,
        "stuckconn_connections",
        "Sockets by kind (after filters; listeners included)",
    );
    for (kind, n) in &report.summary.by_kind {
        connections
            .get_or_create(&vec![("kind".to_string(), kind.to_string())])
            .set(*n as f64);
    }
    let findings = family(
        &mut registry,
        "stuckconn_findings",
        "Finding groups by kind",
    );
    let oldest = family(
        &mut registry,
        "stuckconn_oldest_idle_seconds",
        "The longest idle time among the connections of each problem kind",
    );
    for kind in Kind::ALL
        .iter()
        .filter(|k| k.is_problem() || **k == Kind::IdlePool)
    {
        let of_kind: Vec<_> = report.findings.iter().filter(|f| f.kind == *kind).collect();
        let labels = vec![("kind".to_string(), kind.key().to_string())];
        findings.get_or_create(&labels).set(of_kind.len() as f64);
        if kind.is_problem() {
            let max = of_kind
                .iter()
                .filter_map(|f| f.idle_secs.map(|s| s.max))
                .fold(0.0, f64::max);
            oldest.get_or_create(&labels).set(max);
        }
    }

    let blocked: usize = report
        .findings
        .iter()
        .filter(|f| f.kind.is_problem())
        .map(|f| f.threads_blocked)
        .sum();
    gauge(
        &mut registry,
        "stuckconn_threads_blocked",
        "Threads blocked on stuck connections",
        blocked as f64,
    );
    gauge(
        &mut registry,
        "stuckconn_sockets",
        "TCP sockets seen",
        report.summary.sockets as f64,
    );
    gauge(
        &mut registry,
        "stuckconn_unattributed_sockets",
        "Sockets no readable process holds",
        report.summary.unattributed_sockets as f64,
    );
    gauge(
        &mut registry,
        "stuckconn_scan_duration_seconds",
        "How long the scan took (collection and reverse DNS)",
        report.timings.collect_secs + report.timings.dns_secs,
    );
    gauge(
        &mut registry,
        "stuckconn_warnings",
        "Warnings of the scan (what it could not see)",
        report.warnings.len() as f64,
    );
    gauge(
        &mut registry,
        "stuckconn_scan_timestamp_seconds",
        "When the scan collected its sockets (Unix time)",
        report.taken_at.as_millisecond() as f64 / 1000.0,
    );

    let mut text = String::new();
    prometheus_text::encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

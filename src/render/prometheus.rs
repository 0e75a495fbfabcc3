//! `--format prometheus`: the Prometheus text exposition format (0.0.4), for the
//! node_exporter textfile collector (and `serve`, which also speaks OpenMetrics 1.0.0). The
//! metrics of a report are plain data ([`Metrics`]: families of labelled values, in a fixed
//! order, series sorted), encoded by prometheus-client, so that the same report always gives
//! the same bytes.

use crate::report::{Kind, Report};
use crate::text::sanitize;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, text, DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;

/// At most this many (kind, process, remote) series; the rest are summed per kind under
/// process="other", remote="other". Each connection is counted once, for the process that
/// holds it (its holder), so the series of a kind sum to `stuckconn_connections` of that
/// kind. Inbound findings have no remote endpoint: their `remote` label names the local
/// service, `:PORT (inbound)`.
pub(crate) const MAX_SERIES: usize = 50;

type Labels = Vec<(String, String)>;

/// One metric family: a name, its help, and its series (no labels: one unlabelled value).
#[derive(Debug, Clone)]
pub(crate) struct Family {
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) counter: bool,
    pub(crate) series: Vec<(Labels, f64)>,
}

impl Family {
    pub(crate) fn gauge(name: &'static str, help: &'static str, value: f64) -> Family {
        Family {
            name,
            help,
            counter: false,
            series: vec![(Vec::new(), value)],
        }
    }

    fn labelled(name: &'static str, help: &'static str, series: Vec<(Labels, f64)>) -> Family {
        Family {
            name,
            help,
            counter: false,
            series,
        }
    }
}

/// The metrics of one report, in the order they are printed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics(pub Vec<Family>);

impl Collector for Metrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            let kind = if family.counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let mut metric = encoder.encode_descriptor(family.name, family.help, None, kind)?;
            match family.series.as_slice() {
                [(labels, value)] if labels.is_empty() => value_of(family, *value, metric)?,
                series => {
                    for (labels, value) in series {
                        value_of(family, *value, metric.encode_family(labels)?)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn value_of(
    family: &Family,
    value: f64,
    encoder: prometheus_client::encoding::MetricEncoder,
) -> Result<(), std::fmt::Error> {
    if family.counter {
        prometheus_client::metrics::counter::ConstCounter::new(value as u64).encode(encoder)
    } else {
        ConstGauge::new(value).encode(encoder)
    }
}

fn kind_label(kind: Kind) -> Labels {
    vec![("kind".to_string(), kind.key().to_string())]
}

/// Stuck connections by kind, process, remote and namespace, with bounded cardinality.
fn stuck_series(report: &Report) -> Vec<(Labels, f64)> {
    let mut series: BTreeMap<(Kind, String, String, String), usize> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| f.kind.is_problem()) {
        // Label values are text chosen by others: escaped like every other output
        // (prometheus-client escapes only backslash, quote and newline). Counted by the
        // escaped text: two names that read the same (`a\n` with a newline, and with a
        // backslash and an n) are one series, never two series of the same labels, which
        // Prometheus and the textfile collector refuse.
        let netns = sanitize(
            &f.netns
                .as_ref()
                .map_or("host".to_string(), |ns| ns.short_label()),
        )
        .into_owned();
        let remote = match (&f.remote, f.local) {
            (Some(remote), _) => sanitize(&remote.endpoint().to_string()).into_owned(),
            (None, Some(local)) => format!(":{} (inbound)", local.port),
            (None, None) => "unknown".to_string(),
        };
        // Processes that only share the connections (counted for another) add nothing.
        for p in f.processes.iter().filter(|p| p.connections > 0) {
            *series
                .entry((
                    f.kind,
                    sanitize(&p.name).into_owned(),
                    remote.clone(),
                    netns.clone(),
                ))
                .or_default() += p.connections;
        }
    }
    let mut ranked: Vec<_> = series.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out = Vec::new();
    let mut other: BTreeMap<Kind, usize> = BTreeMap::new();
    for (i, ((kind, process, remote, netns), n)) in ranked.into_iter().enumerate() {
        if i >= MAX_SERIES {
            *other.entry(kind).or_default() += n;
            continue;
        }
        let mut labels = kind_label(kind);
        labels.push(("process".to_string(), process));
        labels.push(("remote".to_string(), remote));
        labels.push(("netns".to_string(), netns));
        out.push((labels, n as f64));
    }
    for (kind, n) in other {
        let mut labels = kind_label(kind);
        for name in ["process", "remote", "netns"] {
            labels.push((name.to_string(), "other".to_string()));
        }
        out.push((labels, n as f64));
    }
    out
}

/// The metrics of a report.
pub(crate) fn metrics(report: &Report) -> Metrics {
    let blocked: usize = report
        .findings
        .iter()
        .filter(|f| f.kind.is_problem())
        .map(|f| f.threads_blocked)
        .sum();
    let mut families = vec![Family::labelled(
        "stuckconn_stuck_connections",
        "Stuck connections by kind, process, remote endpoint and network namespace.",
        stuck_series(report),
    )];
    families.extend(per_kind(report));
    families.extend(memory(report));
    families.extend([
        Family::gauge(
            "stuckconn_root_causes",
            "Problem findings nothing on this host explains (the others wait on them).",
            report.summary.root_causes as f64,
        ),
        Family::gauge(
            "stuckconn_threads_blocked",
            "Threads blocked on stuck connections.",
            blocked as f64,
        ),
        Family::gauge(
            "stuckconn_sockets",
            "TCP sockets seen.",
            report.summary.sockets as f64,
        ),
        Family::gauge(
            "stuckconn_unattributed_sockets",
            "Sockets no readable process holds.",
            report.summary.unattributed_sockets as f64,
        ),
        Family::gauge(
            "stuckconn_scan_duration_seconds",
            "How long the scan took (collection and reverse DNS).",
            report.timings.collect_secs + report.timings.dns_secs,
        ),
        Family::gauge(
            "stuckconn_warnings",
            "Warnings of the scan (what it could not see).",
            report.warnings.len() as f64,
        ),
        Family::gauge(
            "stuckconn_scan_timestamp_seconds",
            "When the scan collected its sockets (Unix time).",
            report.taken_at.as_millisecond() as f64 / 1000.0,
        ),
    ]);
    Metrics(families)
}

/// The memory and swap of the processes that hold stuck connections, per process name (at
/// most `MAX_SERIES` names, the largest first); no series when their memory was not read.
fn memory(report: &Report) -> [Family; 2] {
    let mut by_name: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for p in &report.processes {
        if let (Some(memory), swap) = (p.memory_bytes, p.swap_bytes.unwrap_or(0)) {
            // By the name as it is shown: two that read the same are one series.
            let entry = by_name.entry(sanitize(&p.name).into_owned()).or_default();
            entry.0 += memory;
            entry.1 += swap;
        }
    }
    let mut ranked: Vec<(String, (u64, u64))> = by_name.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(MAX_SERIES);
    let series = |pick: fn(&(u64, u64)) -> u64| -> Vec<(Labels, f64)> {
        ranked
            .iter()
            .map(|(name, values)| {
                let labels = vec![("process".to_string(), name.clone())];
                (labels, pick(values) as f64)
            })
            .collect()
    };
    [
        Family::labelled(
            "stuckconn_stuck_memory_bytes",
            "Memory (proportional set size) of the processes that hold stuck connections.",
            series(|v| v.0),
        ),
        Family::labelled(
            "stuckconn_stuck_swap_bytes",
            "Swap (SwapPss) of the processes that hold stuck connections.",
            series(|v| v.1),
        ),
    ]
}

/// Connections, findings and the oldest idle time, by kind.
fn per_kind(report: &Report) -> [Family; 3] {
    let reported: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.is_problem() || *k == Kind::IdlePool)
        .collect();
    let findings_of = |kind: Kind| report.findings.iter().filter(move |f| f.kind == kind);
    [
        Family::labelled(
            "stuckconn_connections",
            "Sockets by kind (after filters; listeners included).",
            Kind::ALL
                .iter()
                .map(|&k| (kind_label(k), report.summary.count(k) as f64))
                .collect(),
        ),
        Family::labelled(
            "stuckconn_findings",
            "Finding groups by kind.",
            reported
                .iter()
                .map(|&k| (kind_label(k), findings_of(k).count() as f64))
                .collect(),
        ),
        Family::labelled(
            "stuckconn_oldest_idle_seconds",
            "The longest idle time among the connections of each problem kind.",
            reported
                .iter()
                .filter(|k| k.is_problem())
                .map(|&k| {
                    let max = findings_of(k)
                        .filter_map(|f| f.idle_secs.map(|s| s.max))
                        .fold(0.0, f64::max);
                    (kind_label(k), max)
                })
                .collect(),
        ),
    ]
}

/// Metrics in the Prometheus text format (0.0.4).
pub(crate) fn encode(metrics: Metrics) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(metrics));
    let mut text = String::new();
    prometheus_text::encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

/// Metrics in the OpenMetrics text format (1.0.0, ending with `# EOF`), for scrapers that
/// ask for it (`serve`).
pub(crate) fn encode_openmetrics(metrics: Metrics) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(metrics));
    let mut out = String::new();
    text::encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

pub fn render(report: &Report) -> String {
    encode(metrics(report))
}

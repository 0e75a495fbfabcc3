//! The footer of a scan's page: how it was collected, what counted, who wrote the report.

use super::page::footer;
use super::{plural, utc, HtmlMeta};
use crate::report::{human_duration, Report, WireRun};
use crate::snapshot::Collector;

/// The footer: where and how the scan was collected, what it counted as stuck, who wrote the
/// report, and the wire checks when there were any.
pub(super) fn collected(report: &Report, meta: &HtmlMeta) -> String {
    let mut rows = how_collected(report);
    rows.extend(what_counted(report));
    rows.push(("Report written", utc(report.generated_at)));
    rows.push((
        "By",
        format!(
            "stuckconn {} (JSON schema {})",
            meta.version, report.schema_version
        ),
    ));
    if let Some(command) = &meta.command {
        rows.push(("Command", command.clone()));
    }
    if let Some(w) = &report.wire {
        rows.push(("Wire checks", wire_checks(w)));
    }
    footer(&rows)
}

/// The host, the source, when and with what it was collected, and whether completely.
fn how_collected(report: &Report) -> Vec<(&'static str, String)> {
    let collector = match report.collector {
        Collector::SockDiag => "sock_diag (netlink), with tcp_info",
        Collector::ProcNet => "/proc/net/tcp (no tcp_info)",
    };
    vec![
        ("Host", report.host.hostname.clone()),
        ("Kernel", report.host.kernel.clone()),
        (
            "Source",
            if report.source == "live" {
                "a live scan".to_string()
            } else {
                format!("the snapshot {}", report.source)
            },
        ),
        ("Collected at", utc(report.taken_at)),
        (
            "Collected with",
            format!(
                "{collector}, in {:.3} s; {}",
                report.timings.collect_secs,
                plural(
                    report.summary.namespaces,
                    "network namespace",
                    "network namespaces"
                )
            ),
        ),
        (
            "Complete",
            if report.partial {
                "no: --timeout cut the scan short; what is shown is right, but not everything was seen".to_string()
            } else {
                "yes".to_string()
            },
        ),
    ]
}

/// The options that decided what counted (idle time, filters, DNS), and the sockets seen.
fn what_counted(report: &Report) -> Vec<(&'static str, String)> {
    let o = &report.options;
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "any".to_string()
        } else {
            items.join(", ")
        }
    };
    let dns = match o.dns_timeout_secs {
        None => "not asked (--no-dns)".to_string(),
        Some(t) => format!(
            "reverse lookups, {} per lookup, servers: {}",
            human_duration(t),
            if o.dns_servers.is_empty() {
                "the system's".to_string()
            } else {
                o.dns_servers.join(", ")
            }
        ),
    };
    vec![
        (
            "Counted as stuck",
            format!(
                "idle at least {}{}",
                human_duration(o.min_idle_secs),
                if o.all {
                    "; every socket listed (--all)"
                } else {
                    ""
                }
            ),
        ),
        (
            "Filters",
            format!(
                "pids: {}; processes: {}; remotes: {}; ports: {}",
                list(o.pids.iter().map(u32::to_string).collect()),
                list(o.process_names.clone()),
                list(o.remotes.clone()),
                list(o.ports.iter().map(u16::to_string).collect())
            ),
        ),
        ("DNS", dns),
        (
            "Sockets",
            format!(
                "{} TCP sockets seen, {} listening, {} not tied to a process",
                report.summary.sockets,
                report.summary.listening,
                report.summary.unattributed_sockets
            ),
        ),
    ]
}

/// What the wire checks did: `capture 10s; on eth0` and what failed.
fn wire_checks(w: &WireRun) -> String {
    let mut parts = Vec::new();
    if let Some(c) = w.capture_secs {
        parts.push(format!("capture {}", human_duration(c)));
    }
    if let Some(c) = w.confirm_secs {
        parts.push(format!("counters re-read after {}", human_duration(c)));
    }
    if !w.interfaces.is_empty() {
        parts.push(format!("on {}", w.interfaces.join(", ")));
    }
    if let Some(e) = &w.capture_error {
        parts.push(format!("capture failed: {e}"));
    }
    if let Some(e) = &w.confirm_error {
        parts.push(format!("re-read failed: {e}"));
    }
    parts.join("; ")
}

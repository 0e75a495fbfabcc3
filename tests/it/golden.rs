//! Golden tests of what people read: the analysis of every fixture through every renderer
//! (table at three widths, JSON, Prometheus, the plugin line, watch's screen and ndjson), as
//! insta snapshots under tests/it/snapshots/. A change to wording or layout is a reviewed diff
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test --test it golden`), never an
//! accident.

use crate::common::fixture;
use stuckconn::analyze::track::Tracker;
use stuckconn::render::{self, Style};
use stuckconn::report::Report;

const FIXTURES: [&str; 9] = [
    "incident",
    "mixed",
    "names",
    "many-remotes",
    "shared",
    "close-wait-server",
    "namespaces",
    "chain",
    "containers",
];

/// When the golden reports were "generated": fixed, so that the output is too.
fn now() -> jiff::Timestamp {
    "2012-11-06T17:20:00Z".parse().unwrap()
}

fn snapshot(name: &str) -> stuckconn::snapshot::Snapshot {
    let path = fixture(&format!("{name}.json"));
    let mut snapshot = stuckconn::collect::load(
        std::path::Path::new(&path),
        stuckconn::collect::SNAPSHOT_LIMIT,
    )
    .unwrap();
    if name == "incident" {
        // Names as `record` would have stored them: the named path of every renderer.
        let named = |host: &str, verified: bool| stuckconn::snapshot::HostName {
            hostname: Some(host.to_string()),
            dns: stuckconn::snapshot::DnsStatus::Ok,
            dns_verified: verified,
            dns_source: Some("host".to_string()),
        };
        snapshot.names.insert(
            "2001:db8:bad::100".parse().unwrap(),
            named("crl.randomcertauthority.com", true),
        );
        snapshot.names.insert(
            "198.51.100.7".parse().unwrap(),
            named("bot.crawler.example", false),
        );
    }
    snapshot
}

/// The report a scan of the fixture gives (`all`: with `--all`).
fn report(name: &str, all: bool) -> Report {
    let snapshot = snapshot(name);
    stuckconn::enrich::offline(
        &snapshot,
        &stuckconn::analyze::AnalysisOptions {
            min_idle: std::time::Duration::from_secs(60),
            all,
            filter: Default::default(),
        },
        &format!("fixtures/{name}.json"),
        now(),
    )
}

#[test]
fn every_fixture_through_every_renderer() {
    for name in FIXTURES {
        let plain = report(name, false);
        let all = report(name, true);
        insta::assert_snapshot!(format!("{name}.json"), render::json::render(&plain));
        insta::assert_snapshot!(format!("{name}.all.json"), render::json::render(&all));
        for (label, width) in [("wide", None), ("120", Some(120)), ("80", Some(80))] {
            let style = Style {
                color: false,
                width,
            };
            insta::assert_snapshot!(
                format!("{name}.table.{label}"),
                render::table::render(&plain, style)
            );
        }
        insta::assert_snapshot!(
            format!("{name}.all.table"),
            render::table::render(&all, Style::default())
        );
        insta::assert_snapshot!(format!("{name}.prom"), render::prometheus::render(&plain));
        for (label, per_process) in [("total", false), ("per-process", true)] {
            let thresholds = render::nagios::Thresholds {
                warning: 1,
                critical: 20,
                per_process,
            };
            let (status, text) = render::nagios::check(&plain, &thresholds);
            insta::assert_snapshot!(
                format!("{name}.check.{label}"),
                format!("status {}\n{text}", status.code())
            );
        }
        // Watch: the same scan seen twice, a minute apart.
        let mut tracker = Tracker::new();
        let t0 = now();
        let first = tracker.observe(&plain, t0);
        let second = tracker.observe(&plain, t0 + jiff::SignedDuration::from_secs(60));
        let groups = tracker.groups();
        insta::assert_snapshot!(
            format!("{name}.watch"),
            render::watch::screen("HEADER", &groups, Style::default(), false)
        );
        let time = "2012-11-06T17:21:00Z";
        let ndjson = render::ndjson::events(&first, time)
            + &render::ndjson::events(&second, time)
            + &render::ndjson::sample(2, time, &plain.summary, &groups, &plain.warnings)
            + &render::ndjson::summary(2, time, &groups, "count");
        insta::assert_snapshot!(format!("{name}.ndjson"), ndjson);
    }
}

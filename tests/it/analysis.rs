//! The analysis: what is counted, once, and for whom. Sockets shared by several processes,
//! servers leaking accepted connections, the first sample of `watch`, and every number said
//! twice (table, JSON, Prometheus, the plugin). Fixtures make it deterministic; live tests in
//! network namespaces of their own check the same on real sockets.

use crate::common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use stuckconn::analyze::{self, track::Tracker, Filter};
use stuckconn::render;

/// The fixtures the analysis is checked on.
const FIXTURES: [&str; 6] = [
    "incident.json",
    "mixed.json",
    "names.json",
    "shared.json",
    "close-wait-server.json",
    "namespaces.json",
];

fn scan_fixture(name: &str, format: &str, extra: &[&str]) -> (i32, String) {
    let (status, out, err) = run(stuckconn()
        .args(["scan", "--no-dns", "--color", "never", "--format", format])
        .args(["--from", &fixture(name)])
        .args(extra));
    assert!(
        status == 0 || status == 1,
        "{name} {format}: status {status}: {err}"
    );
    (status, out)
}

fn replay(name: &str, extra: &[&str]) -> Value {
    let (_, out) = scan_fixture(name, "json", extra);
    let report = json(&out);
    assert_matches_schema(&report);
    report
}

fn array(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn finding_to<'a>(report: &'a Value, ip: &str) -> &'a Value {
    array(&report["findings"])
        .iter()
        .find(|f| f["remote"]["ip"] == ip)
        .unwrap_or_else(|| panic!("no finding to {ip}: {:#}", report["findings"]))
}

fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    array(rows)
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}: {rows:#}"))
}

/// The samples of a Prometheus exposition: (metric, labels, value).
fn prometheus_samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (head, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match head.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once("=\"").unwrap();
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels, value.parse().unwrap())
        })
        .collect()
}

/// The plugin's perfdata as label -> value.
fn perfdata(line: &str) -> BTreeMap<String, f64> {
    let (_, perf) = line.trim_end().split_once(" | ").expect("perfdata");
    perf.split(' ')
        .map(|item| {
            let (label, rest) = item.split_once('=').unwrap();
            (
                label.to_string(),
                rest.split(';').next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// When the fixtures were taken (their `taken_at`).
fn taken_at() -> Timestamp {
    Timestamp::from_second(1_352_222_111).unwrap()
}

fn load(name: &str) -> stuckconn::snapshot::Snapshot {
    stuckconn::collect::load(
        std::path::Path::new(&fixture(name)),
        stuckconn::collect::SNAPSHOT_LIMIT,
    )
    .unwrap()
}

fn options(filter: Filter) -> analyze::AnalysisOptions {
    analyze::AnalysisOptions {
        min_idle: Duration::from_secs(60),
        all: false,
        filter,
    }
}

fn analyze_fixture(name: &str, filter: Filter) -> stuckconn::report::Report {
    stuckconn::enrich::offline(&load(name), &options(filter), name, taken_at())
}

fn groups_json(tracker: &Tracker) -> Vec<Value> {
    array(&serde_json::to_value(tracker.groups()).unwrap()).clone()
}

fn event_types(events: &[stuckconn::analyze::track::Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

// ---- #14: a socket held by several processes is one connection ----

#[test]
fn a_shared_socket_is_one_connection_counted_for_the_process_blocked_on_it() {
    let report = replay("shared.json", &[]);
    assert_eq!(report["summary"]["by_kind"]["hung_call"], 2);
    assert_eq!(report["summary"]["by_kind"]["close_wait"], 1);

    // Forked by php-fpm: parent and child have the same name: one row, both pids, one
    // connection, the child's thread.
    let same = finding_to(&report, "192.0.2.80");
    assert_eq!(same["connections"], 1);
    assert_eq!(same["threads_blocked"], 1);
    let rows = array(&same["processes"]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["pids"], serde_json::json!([6000, 6001]));
    assert_eq!(rows[0]["connections"], 1);
    assert_eq!(rows[0]["shared_connections"], 0);
    assert_eq!(rows[0]["threads_blocked"], 1);

    // Forked by a supervisor whose child renamed itself: counted for the child, whose thread
    // is blocked on it; the parent is listed as sharing it.
    let renamed = finding_to(&report, "192.0.2.81");
    assert_eq!(renamed["connections"], 1);
    let child = row(&renamed["processes"], "fetcher");
    assert_eq!(child["pids"], serde_json::json!([6101]));
    assert_eq!(child["connections"], 1);
    assert_eq!(child["threads_blocked"], 1);
    assert_eq!(child["shared_connections"], 0);
    let parent = row(&renamed["processes"], "supervisor");
    assert_eq!(parent["pids"], serde_json::json!([6100]));
    assert_eq!(parent["connections"], 0);
    assert_eq!(parent["shared_connections"], 1);
    assert_eq!(parent["threads_blocked"], 0);
    assert!(
        renamed["explanation"]
            .as_str()
            .unwrap()
            .starts_with("fetcher sent requests"),
        "{}",
        renamed["explanation"]
    );

    // Passed over a Unix socket, no thread on it: counted for the lowest pid.
    let passed = finding_to(&report, "198.51.100.30");
    assert_eq!(row(&passed["processes"], "pgbouncer")["connections"], 1);
    assert_eq!(
        row(&passed["processes"], "pgworker")["shared_connections"],
        1
    );

    // Every finding's rows sum to its connections.
    for f in array(&report["findings"]) {
        let sum: u64 = array(&f["processes"])
            .iter()
            .map(|p| n(&p["connections"]))
            .sum();
        assert_eq!(sum, n(&f["connections"]), "{f:#}");
    }

    // The connection names its holder and lists every owner.
    let conn = |ip: &str| {
        array(&report["connections"])
            .iter()
            .find(|c| c["remote"]["ip"] == ip)
            .unwrap()
            .clone()
    };
    let c = conn("192.0.2.81");
    assert_eq!((n(&c["pid"]), n(&c["fd"])), (6101, 7));
    assert_eq!(c["process"], "fetcher");
    assert_eq!(
        c["owners"],
        serde_json::json!([
            {"pid": 6100, "fd": 7, "process": "supervisor"},
            {"pid": 6101, "fd": 7, "process": "fetcher"}
        ])
    );
    assert_eq!(c["blocked_threads"][0]["pid"], c["pid"]);
    let c = conn("198.51.100.30");
    assert_eq!((n(&c["pid"]), n(&c["fd"])), (6200, 9), "the lowest pid");
    assert_eq!(array(&c["owners"]).len(), 2);

    // Which process leaks: counted by holder; a process that only shares is not a leaker.
    let procs = &report["processes"];
    assert_eq!(array(procs).len(), 3, "{procs:#}");
    assert_eq!(row(procs, "fetcher")["hung_call"], 1);
    assert_eq!(row(procs, "fetcher")["threads_blocked"], 1);
    assert_eq!(row(procs, "php-fpm8.2")["hung_call"], 1);
    assert_eq!(row(procs, "php-fpm8.2")["pids"], serde_json::json!([6001]));
    assert_eq!(row(procs, "pgbouncer")["close_wait"], 1);
    assert!(array(procs).iter().all(|p| p["name"] != "supervisor"));
}

#[test]
fn a_shared_socket_counts_once_in_every_output() {
    // Prometheus: one series per connection, for its holder.
    let (_, text) = scan_fixture("shared.json", "prometheus", &[]);
    let stuck: Vec<_> = prometheus_samples(&text)
        .into_iter()
        .filter(|(name, _, _)| name == "stuckconn_stuck_connections")
        .collect();
    assert_eq!(stuck.iter().map(|s| s.2).sum::<f64>(), 3.0, "{text}");
    assert!(stuck.iter().all(|s| s.2 == 1.0), "{text}");
    let processes: Vec<&str> = stuck.iter().map(|s| s.1["process"].as_str()).collect();
    assert!(
        !processes.contains(&"supervisor") && !processes.contains(&"pgworker"),
        "{text}"
    );

    // The plugin: no process has more than one.
    let (_, out, _) = run(stuckconn().args([
        "check",
        "--per-process",
        "--no-dns",
        "--from",
        &fixture("shared.json"),
    ]));
    let perf = perfdata(&out);
    assert_eq!(perf["stuck"], 3.0, "{out}");
    assert_eq!(perf["max_per_process"], 1.0, "{out}");

    // The table: CONNS 1 for the shared call, HUNG 1 for the child, the parent as "also".
    let (_, table) = scan_fixture("shared.json", "table", &[]);
    let line = table
        .lines()
        .find(|l| l.contains("192.0.2.81:443"))
        .unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[3], "1", "CONNS: {line}");
    assert!(
        line.contains("fetcher (pid 6101), also supervisor (pid 6100)"),
        "{line}"
    );
    let fetcher = table
        .lines()
        .find(|l| l.trim_start().starts_with("fetcher"))
        .unwrap();
    assert_eq!(
        fetcher.split_whitespace().nth(3),
        Some("1"),
        "HUNG: {fetcher}"
    );
}

/// A guard that kills a pid the test did not spawn itself (a testbed's child).
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill with a pid this test learned from its own testbed.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

const SETTLE: Duration = Duration::from_millis(2600);

fn scan_netns(ns: &Netns, format: &str, extra: &[&str]) -> (i32, String) {
    let (status, out, err) = run(stuckconn()
        .args(["scan", "--no-dns", "--min-idle", "2s", "--color", "never"])
        .args(["--format", format, "--netns", &ns.name])
        .args(extra));
    assert!(status == 0 || status == 1, "status {status}: {err}");
    (status, out)
}

#[test]
fn live_forked_socket_is_one_connection_of_the_child_blocked_on_it() {
    if !can_make_netns() {
        skip(
            "live_forked_socket_is_one_connection_of_the_child_blocked_on_it",
            "needs root and ip(8) to make a network namespace",
        );
        return;
    }
    let ns = Netns::new("fork", &["192.0.2.5/32"]);
    let env = [("TESTBED_ADDR", "192.0.2.5"), ("TESTBED_PORT", "8081")];
    let _server = ns.testbed(&["blackhole"], &env);
    let parent = ns.testbed(&["fork-reader", "8081", "sc-child"], &env);
    let child: u32 = parent
        .line
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected `ready PID`, got {:?}", parent.line));
    let _child = KillOnDrop(child as i32);
    std::thread::sleep(SETTLE);

    let (status, out) = scan_netns(&ns, "json", &["--port", "8081"]);
    assert_eq!(status, 1);
    let report = json(&out);
    assert_matches_schema(&report);
    let findings = array(&report["findings"]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["kind"], "hung_call");
    assert_eq!(f["connections"], 1);
    assert_eq!(f["threads_blocked"], 1);
    let child_row = row(&f["processes"], "sc-child");
    assert_eq!(child_row["pids"], serde_json::json!([child]));
    assert_eq!(child_row["connections"], 1);
    assert_eq!(child_row["threads_blocked"], 1);
    let parent_row = row(&f["processes"], "testbed");
    assert_eq!(parent_row["pids"], serde_json::json!([parent.pid()]));
    assert_eq!(parent_row["connections"], 0);
    assert_eq!(parent_row["shared_connections"], 1);

    let c = &array(&report["connections"])[0];
    assert_eq!(n(&c["pid"]), u64::from(child), "the holder is the child");
    assert_eq!(c["process"], "sc-child");
    let mut owners: Vec<u64> = array(&c["owners"]).iter().map(|o| n(&o["pid"])).collect();
    owners.sort_unstable();
    let mut expected = vec![u64::from(parent.pid()), u64::from(child)];
    expected.sort_unstable();
    assert_eq!(owners, expected);
    let threads = array(&c["blocked_threads"]);
    assert_eq!(threads.len(), 1, "{threads:#?}");
    assert_eq!(n(&threads[0]["pid"]), u64::from(child));

    // HUNG 1 = CONNS 1, for the child only.
    let procs = array(&report["processes"]);
    assert_eq!(procs.len(), 1, "{procs:#?}");
    assert_eq!(procs[0]["name"], "sc-child");
    assert_eq!(procs[0]["hung_call"], 1);

    let (_, text) = scan_netns(&ns, "prometheus", &["--port", "8081"]);
    let stuck: Vec<_> = prometheus_samples(&text)
        .into_iter()
        .filter(|(name, _, _)| name == "stuckconn_stuck_connections")
        .collect();
    assert_eq!(stuck.len(), 1, "{text}");
    assert_eq!(stuck[0].1["process"], "sc-child");
    assert_eq!(stuck[0].2, 1.0);
}

// ---- #15: a server's accepted connections group by process and local port ----

#[test]
fn a_server_leaking_accepted_sockets_is_one_inbound_finding() {
    let report = replay("close-wait-server.json", &[]);
    let findings = array(&report["findings"]);
    assert_eq!(findings.len(), 1, "one finding, not one per client port");
    assert_eq!(report["summary"]["findings"], 1);
    let f = &findings[0];
    assert_eq!(f["kind"], "close_wait");
    assert_eq!(f["direction"], "inbound");
    assert_eq!(f["remote"], Value::Null);
    assert_eq!(
        f["local"],
        serde_json::json!({"ip": "192.0.2.10", "port": 18080})
    );
    assert_eq!(f["connections"], 287);
    let clients: Vec<(&str, u64)> = array(&f["clients"])
        .iter()
        .map(|c| (c["ip"].as_str().unwrap(), n(&c["connections"])))
        .collect();
    assert_eq!(
        clients,
        vec![
            ("198.51.100.10", 150),
            ("198.51.100.11", 100),
            ("198.51.100.12", 37)
        ]
    );
    assert_eq!(f["processes"][0]["name"], "python3");
    assert_eq!(f["processes"][0]["connections"], 287);
    let text = f["explanation"].as_str().unwrap();
    assert!(
        text.starts_with("python3 accepted 287 connections on port 18080"),
        "{text}"
    );
    assert_eq!(report["processes"][0]["close_wait"], 287);

    // The table: one row, the answer near the top.
    let (_, table) = scan_fixture("close-wait-server.json", "table", &[]);
    // The answer near the top: the table, then one block of a few lines.
    assert!(table.lines().count() < 20, "{table}");
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.trim_start().starts_with("close wait"))
        .collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].contains("3 clients → :18080"), "{}", rows[0]);
    assert!(rows[0].contains("287"), "{}", rows[0]);
    assert!(
        table.contains("stuckconn scan --from ") && table.contains(" --pid 7000 --all"),
        "{table}"
    );
}

#[test]
fn inbound_findings_read_in_every_format() {
    let (_, text) = scan_fixture("close-wait-server.json", "prometheus", &[]);
    let stuck: Vec<_> = prometheus_samples(&text)
        .into_iter()
        .filter(|(name, _, _)| name == "stuckconn_stuck_connections")
        .collect();
    assert_eq!(stuck.len(), 1, "{text}");
    assert_eq!(stuck[0].1["remote"], ":18080 (inbound)");
    assert_eq!(stuck[0].1["process"], "python3");
    assert_eq!(stuck[0].2, 287.0);

    let (status, out, _) = run(stuckconn().args([
        "check",
        "--no-dns",
        "--from",
        &fixture("close-wait-server.json"),
    ]));
    assert_eq!(status, 2, "{out}");
    assert!(
        out.contains("287 close waits: python3 <- 3 clients on port 18080 (287)"),
        "{out}"
    );

    // watch: one group for the service, not one per client port.
    let report = analyze_fixture("close-wait-server.json", Filter::default());
    let mut tracker = Tracker::new();
    tracker.observe(&report, taken_at());
    let groups = groups_json(&tracker);
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0]["connections"], 287);
    assert_eq!(groups[0]["direction"], "inbound");
    assert_eq!(groups[0]["remote"], Value::Null);
    assert_eq!(groups[0]["local"]["port"], 18080);
    let screen =
        render::watch::screen("header", &tracker.groups(), render::Style::default(), false);
    assert!(screen.contains("3 clients → :18080"), "{screen}");
}

#[test]
fn live_server_leaking_accepted_sockets_is_one_inbound_finding() {
    if !can_make_netns() {
        skip(
            "live_server_leaking_accepted_sockets_is_one_inbound_finding",
            "needs root and ip(8) to make a network namespace",
        );
        return;
    }
    let ns = Netns::new("inbound", &["192.0.2.5/32", "192.0.2.6/32"]);
    let env = [("TESTBED_ADDR", "192.0.2.5"), ("TESTBED_PORT", "18080")];
    let server = ns.testbed(&["leaky-server", "leaky-srv"], &env);
    // Two clients, from two addresses: they connect and close at once.
    let _a = ns.testbed(&["connect-close", "18080", "5", "192.0.2.5"], &env);
    let _b = ns.testbed(&["connect-close", "18080", "3", "192.0.2.6"], &env);
    std::thread::sleep(SETTLE);

    let (status, out) = scan_netns(&ns, "json", &[]);
    assert_eq!(status, 1);
    let report = json(&out);
    assert_matches_schema(&report);
    let findings = array(&report["findings"]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["kind"], "close_wait");
    assert_eq!(f["direction"], "inbound");
    assert_eq!(f["remote"], Value::Null);
    assert_eq!(
        f["local"],
        serde_json::json!({"ip": "192.0.2.5", "port": 18080})
    );
    assert_eq!(f["connections"], 8);
    let clients: Vec<(&str, u64)> = array(&f["clients"])
        .iter()
        .map(|c| (c["ip"].as_str().unwrap(), n(&c["connections"])))
        .collect();
    assert_eq!(clients, vec![("192.0.2.5", 5), ("192.0.2.6", 3)]);
    assert_eq!(f["processes"][0]["name"], "leaky-srv");
    assert_eq!(f["processes"][0]["pids"], serde_json::json!([server.pid()]));
    assert_eq!(f["netns"]["name"], ns.name.as_str());

    let (_, table) = scan_netns(&ns, "table", &[]);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.trim_start().starts_with("close wait"))
        .collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].contains("2 clients → :18080"), "{table}");
}

// ---- #16: watch: the first sample is the baseline ----

#[test]
fn watch_counts_nothing_opened_at_the_first_sample() {
    let report = analyze_fixture("incident.json", Filter::default());
    let t0 = taken_at();
    let mut tracker = Tracker::new();
    let first = tracker.observe(&report, t0);
    assert!(
        !event_types(&first).contains(&"opened".to_string()),
        "connections there before watching began are not opened"
    );
    let second = tracker.observe(&report, t0 + SignedDuration::from_secs(60));
    assert!(event_types(&second).is_empty(), "nothing changed");
    let groups = tracker.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].connections, 111);
    assert_eq!(groups[0].opened, 0);
    assert_eq!(groups[0].opened_per_min, 0.0);
    assert_eq!(groups[0].closed, 0);
    assert_eq!(groups[0].closed_per_min, 0.0);
    assert_eq!(groups_json(&tracker)[0]["baseline"], 111);
}

#[test]
fn watch_rates_count_from_the_second_sample() {
    // Sample 1: 50 of the 111 workers' calls; sample 2 (1 min later): all 111; sample 3
    // (2 min): the 50 again.
    let some = Filter {
        pids: (9000..9050).collect(),
        ..Filter::default()
    };
    let fewer = analyze_fixture("incident.json", some);
    let all = analyze_fixture("incident.json", Filter::default());
    let t0 = taken_at();
    let minute = SignedDuration::from_secs(60);
    let mut tracker = Tracker::new();
    assert!(event_types(&tracker.observe(&fewer, t0)).is_empty());
    let events = event_types(&tracker.observe(&all, t0 + minute));
    assert_eq!(events.len(), 61);
    assert!(events.iter().all(|e| e == "opened"), "{events:?}");
    let g = &tracker.groups()[0];
    assert_eq!((g.connections, g.opened, g.closed), (111, 61, 0));
    assert_eq!(g.opened_per_min, 61.0);
    let events = event_types(&tracker.observe(&fewer, t0 + 2 * minute));
    assert_eq!(events.len(), 61);
    assert!(events.iter().all(|e| e == "closed"), "{events:?}");
    let g = &tracker.groups()[0];
    assert_eq!((g.connections, g.opened, g.closed), (50, 61, 61));
    assert_eq!(g.opened_per_min, 30.5);
    assert_eq!(g.closed_per_min, 30.5);
    assert_eq!(groups_json(&tracker)[0]["baseline"], 50);
}

#[test]
fn watch_screen_brackets_ipv6_and_shows_namespaces_like_scan() {
    let report = analyze_fixture("namespaces.json", Filter::default());
    let mut tracker = Tracker::new();
    tracker.observe(&report, taken_at());
    let screen =
        render::watch::screen("header", &tracker.groups(), render::Style::default(), false);
    let header = screen
        .lines()
        .find(|l| l.contains("GROUP"))
        .expect("a header");
    assert!(header.contains("NETNS"), "{screen}");
    // The labels of scan's findings table, each on the row of its namespace.
    for (label, count) in [("3f4e5d6c7b8a", "3"), ("blue", "2"), ("host", "1")] {
        let line = screen
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(label))
            .unwrap_or_else(|| panic!("no row for {label}:\n{screen}"));
        assert!(line.contains("[2001:db8::1]:80"), "{line}");
        assert_eq!(line.split_whitespace().nth(5), Some(count), "{line}");
    }
    let (_, table) = scan_fixture("namespaces.json", "table", &[]);
    for label in ["3f4e5d6c7b8a", "blue", "host"] {
        assert!(
            table
                .lines()
                .any(|l| l.contains(label) && l.contains("[2001:db8::1]:80")),
            "{table}"
        );
    }

    // One namespace: no column, in watch as in scan.
    let report = analyze_fixture("incident.json", Filter::default());
    let mut tracker = Tracker::new();
    tracker.observe(&report, taken_at());
    let screen =
        render::watch::screen("header", &tracker.groups(), render::Style::default(), false);
    assert!(!screen.contains("NETNS"), "{screen}");
    assert!(screen.contains("[2001:db8:bad::100]:80"), "{screen}");
}

// ---- #17: one source for each number, and words that agree with it ----

#[test]
fn table_header_counts_the_rows_it_shows() {
    for name in FIXTURES {
        let report = replay(name, &[]);
        let (_, table) = scan_fixture(name, "table", &[]);
        let header = table.lines().next().unwrap();
        // The findings table: from its column header to the next blank line.
        let rows = table
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("FINDING"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .count();
        let findings = n(&report["summary"]["findings"]);
        let problems = n(&report["summary"]["problems"]);
        assert_eq!(rows as u64, findings, "{name}:\n{table}");
        let plural = |n: u64, noun: &str| format!("{n} {noun}{}", if n == 1 { "" } else { "s" });
        assert!(
            header.contains(&format!(" · {} ", plural(findings, "finding")))
                || header.contains(&format!(" · {}:", plural(findings, "finding"))),
            "{name}: {header}"
        );
        if problems != findings {
            assert!(
                header.contains(&plural(problems, "problem")),
                "{name}: {header}"
            );
        }
    }
    let (_, table) = scan_fixture("mixed.json", "table", &[]);
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .contains("5 findings: 4 problems, 1 idle pool"),
        "{table}"
    );
}

#[test]
fn every_count_has_one_source() {
    let problem_kinds = ["hung_call", "stalled_send", "close_wait", "syn_sent"];
    for name in FIXTURES {
        for extra in [&[][..], &["--all"][..]] {
            let report = replay(name, extra);
            let summary = &report["summary"];
            let by_kind = summary["by_kind"].as_object().unwrap();
            let kind = |k: &str| n(&by_kind[k]);
            assert_eq!(
                n(&summary["listening"]),
                kind("listening"),
                "{name} {extra:?}"
            );
            let all: u64 = by_kind.values().map(n).sum();
            assert_eq!(
                n(&summary["connections"]),
                all - kind("listening"),
                "{name} {extra:?}"
            );
            let findings = array(&report["findings"]);
            assert_eq!(n(&summary["findings"]), findings.len() as u64);
            let problems = findings.iter().filter(|f| f["severity"] == "problem");
            assert_eq!(n(&summary["problems"]), problems.count() as u64);
            for k in problem_kinds.iter().chain(&["idle_pool"]) {
                let of_kind: u64 = findings
                    .iter()
                    .filter(|f| f["kind"] == *k)
                    .map(|f| n(&f["connections"]))
                    .sum();
                assert_eq!(of_kind, kind(k), "{name} {extra:?}: findings of {k}");
            }
            for f in findings {
                let rows: u64 = array(&f["processes"])
                    .iter()
                    .map(|p| n(&p["connections"]))
                    .sum();
                assert_eq!(rows, n(&f["connections"]), "{name}: {f:#}");
            }
            for k in problem_kinds {
                let per_process: u64 = array(&report["processes"]).iter().map(|p| n(&p[k])).sum();
                assert_eq!(per_process, kind(k), "{name} {extra:?}: processes' {k}");
            }
        }

        // Prometheus and the plugin say the same numbers as the JSON report.
        let report = replay(name, &[]);
        let by_kind = report["summary"]["by_kind"].as_object().unwrap();
        let (_, text) = scan_fixture(name, "prometheus", &[]);
        let samples = prometheus_samples(&text);
        for k in problem_kinds {
            let stuck: f64 = samples
                .iter()
                .filter(|(m, l, _)| m == "stuckconn_stuck_connections" && l["kind"] == k)
                .map(|s| s.2)
                .sum();
            assert_eq!(stuck, n(&by_kind[k]) as f64, "{name}: {k}\n{text}");
        }
        for (k, v) in by_kind {
            let connections = samples
                .iter()
                .find(|(m, l, _)| m == "stuckconn_connections" && l["kind"] == *k)
                .unwrap()
                .2;
            assert_eq!(connections, n(v) as f64, "{name}: {k}");
        }
        let (_, out, _) = run(stuckconn().args([
            "check",
            "--per-process",
            "--no-dns",
            "--from",
            &fixture(name),
        ]));
        let perf = perfdata(&out);
        let stuck: u64 = problem_kinds.iter().map(|k| n(&by_kind[*k])).sum();
        assert_eq!(perf["stuck"], stuck as f64, "{name}: {out}");
        for k in problem_kinds {
            assert_eq!(perf[k], n(&by_kind[k]) as f64, "{name}: {out}");
        }
        let most = array(&report["processes"])
            .iter()
            .map(|p| problem_kinds.iter().map(|k| n(&p[*k])).sum::<u64>())
            .max()
            .unwrap_or(0);
        assert_eq!(perf["max_per_process"], most as f64, "{name}: {out}");
    }
}

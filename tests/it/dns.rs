//! Reverse DNS against real DNS servers on loopback (testbed `dns`: real UDP, real wire
//! format), a resolver that never answers (testbed `dns-blackhole`), and live hung calls in a
//! test namespace (to its loopback, and to a documentation address), scanned there only.

use crate::common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A DNS server serving `records` (the testbed `dns` file format); returns it and its port.
fn dns_server(records: &str) -> (Proc, tempfile::TempDir, u16) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("records");
    std::fs::write(&file, records).unwrap();
    let server = testbed(&["dns", file.to_str().unwrap()]);
    let port = server.port();
    (server, dir, port)
}

const RECORDS: &str = "\
PTR 192.0.2.1 crl.example.com.
A crl.example.com. 192.0.2.1
PTR 192.0.2.2 liar.example.net.
A liar.example.net. 192.0.2.99
PTR 198.51.100.7 bot.crawler.example.
A bot.crawler.example. 198.51.100.7
";

fn remote<'a>(report: &'a Value, ip: &str) -> &'a Value {
    &report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["remote"]["ip"] == ip)
        .unwrap_or_else(|| panic!("no finding for {ip}"))["remote"]
}

#[test]
fn names_come_from_the_dns_server_and_are_forward_confirmed() {
    let (_server, _dir, port) = dns_server(RECORDS);
    let server = format!("127.0.0.1:{port}");
    let (status, out, err) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--from",
        &fixture("names.json"),
        "--dns-server",
        &server,
    ]));
    assert_eq!(status, 1, "the findings' status: {err}");
    let report = json(&out);
    assert_matches_schema(&report);
    assert_eq!(
        report["options"]["dns_servers"],
        serde_json::json!([server])
    );

    let ok = remote(&report, "192.0.2.1");
    assert_eq!(ok["hostname"], "crl.example.com", "trailing dot stripped");
    assert_eq!(ok["dns"], "ok");
    assert_eq!(ok["dns_verified"], true);

    let liar = remote(&report, "192.0.2.2");
    assert_eq!(liar["hostname"], "liar.example.net");
    assert_eq!(liar["dns"], "ok");
    assert_eq!(liar["dns_verified"], false, "its A record points elsewhere");

    let none = remote(&report, "192.0.2.3");
    assert_eq!(none["hostname"], Value::Null);
    assert_eq!(none["dns"], "nxdomain");
    assert_eq!(none["dns_verified"], false);

    let client = &report["findings"][0]["clients"][0];
    assert_eq!(client["ip"], "198.51.100.7");
    assert_eq!(client["hostname"], "bot.crawler.example");
    assert_eq!(client["dns_verified"], true);

    let text = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["remote"]["ip"] == "192.0.2.1")
        .unwrap()["explanation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("crl.example.com (192.0.2.1:80)"), "{text}");

    // The table: the name beside the address; an unconfirmed name marked with `?`.
    let (_, table, _) = run(stuckconn().args([
        "--from",
        &fixture("names.json"),
        "--dns-server",
        &server,
        "--color",
        "never",
    ]));
    assert!(table.contains("crl.example.com  192.0.2.1:80"), "{table}");
    assert!(table.contains("liar.example.net?  192.0.2.2:80"), "{table}");
    assert!(
        table.contains("198.51.100.7 (bot.crawler.example) ×5"),
        "{table}"
    );
}

#[test]
fn hostile_ptr_names_never_reach_the_terminal() {
    // An escape sequence in a label, and a name of 4 x 60 bytes of binary that reads as
    // several hundred characters of text.
    let binary = "\\x01".repeat(60);
    let records = format!(
        "PTR-LABELS 192.0.2.4 \\x1b[2J\\x1b]0;pwn\\x07 example com\n\
         PTR-LABELS 192.0.2.5 {binary} {binary} {binary} {binary}\n"
    );
    let (_server, _dir, port) = dns_server(&records);
    let server = format!("127.0.0.1:{port}");
    let (status, table, err) = run(stuckconn().args([
        "--from",
        &fixture("names.json"),
        "--dns-server",
        &server,
        "--color",
        "never",
    ]));
    assert_eq!(status, 1);
    assert!(
        !table.contains('\x1b') && !table.contains('\x07') && !table.contains('\x01'),
        "{table:?}"
    );
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    assert!(
        table.lines().all(|l| l.chars().count() < 200),
        "no absurd line: {table}"
    );

    let (_, out, _) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--from",
        &fixture("names.json"),
        "--dns-server",
        &server,
    ]));
    let report = json(&out); // valid JSON whatever the server said
    for ip in ["192.0.2.4", "192.0.2.5"] {
        let r = remote(&report, ip);
        assert_eq!(
            r["hostname"],
            Value::Null,
            "{ip}: the hostile name is refused"
        );
        assert_eq!(r["dns"], "error", "{ip}");
    }
}

#[test]
fn a_dead_resolver_cannot_stretch_the_scan() {
    let blackhole = testbed(&["dns-blackhole"]);
    let server = format!("127.0.0.1:{}", blackhole.port());
    let started = Instant::now();
    let (status, out, err) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--from",
        &fixture("many-remotes.json"),
        "--dns-server",
        &server,
        "--dns-timeout",
        "1s",
    ]));
    let wall = started.elapsed();
    assert_eq!(status, 1, "the findings' status, not an error: {err}");
    let report = json(&out);
    assert_matches_schema(&report);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 200);
    assert!(
        findings.iter().all(|f| f["remote"]["dns"] == "timeout"),
        "every remote reported as timeout"
    );
    let dns_secs = report["timings"]["dns_secs"].as_f64().unwrap();
    assert!(
        dns_secs <= 2.2,
        "DNS took {dns_secs} s, over the 2 s deadline"
    );
    assert!(wall < Duration::from_millis(3000), "the scan took {wall:?}");
    assert!(
        report["warnings"].to_string().contains("no answer within"),
        "{}",
        report["warnings"]
    );
}

#[test]
fn no_dns_asks_nobody() {
    let blackhole = testbed(&["dns-blackhole"]);
    let server = format!("127.0.0.1:{}", blackhole.port());
    let started = Instant::now();
    let (status, out, _) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--from",
        &fixture("names.json"),
        "--dns-server",
        &server,
        "--no-dns",
    ]));
    assert_eq!(status, 1);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "no lookup waited on the dead server"
    );
    let report = json(&out);
    assert_eq!(report["options"]["dns_timeout_secs"], Value::Null);
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["remote"]["dns"], "skipped");
        assert_eq!(f["remote"]["hostname"], Value::Null);
    }
}

#[test]
fn loopback_is_named_without_a_lookup() {
    let Some(bed) = Bed::new("loopback", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let _hung = bed.testbed(&["hung-recv", &blackhole.port().to_string()]);
    let dead = bed.testbed(&["dns-blackhole"]);
    std::thread::sleep(Duration::from_millis(2600));
    // Inside the bed: the dead resolver is on its loopback.
    let (_, out, _) = run(bed.inside("scan").args([
        "--format",
        "json",
        "--min-idle",
        "2s",
        "--port",
        &blackhole.port().to_string(),
        "--dns-server",
        &format!("127.0.0.1:{}", dead.port()),
    ]));
    let report = json(&out);
    let r = &report["findings"][0]["remote"];
    assert_eq!(r["hostname"], "localhost");
    assert_eq!(r["dns_verified"], true);
    assert!(
        report["timings"]["dns_secs"].as_f64().unwrap() < 0.1,
        "no lookup was made"
    );
}

#[test]
fn live_hung_call_in_a_namespace_is_named_and_the_name_is_recorded() {
    let Some(ns) = Bed::new("dns", &["192.0.2.100/32"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::write(
        &records,
        "PTR 192.0.2.100 crl.example.com.\nA crl.example.com. 192.0.2.100\n",
    )
    .unwrap();
    let env = [("TESTBED_ADDR", "192.0.2.100")];
    let dns = ns.testbed(&["dns", records.to_str().unwrap()]);
    let crl = ns.testbed_env(&["blackhole"], &env);
    let hung = ns.testbed_env(&["hung-recv", &crl.port().to_string()], &env);
    std::thread::sleep(Duration::from_millis(2600));

    // Inside the namespace (the DNS server is on its loopback), and scanning only that one.
    let server = format!("127.0.0.1:{}", dns.port());
    let (status, out, err) = run(ns.inside("scan").args([
        "--format",
        "json",
        "--min-idle",
        "2s",
        "--dns-server",
        &server,
    ]));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        1,
        "the namespace's one hung call: {:#}",
        report["findings"]
    );
    let f = &report["findings"][0];
    assert_eq!(f["remote"]["ip"], "192.0.2.100");
    assert_eq!(f["remote"]["hostname"], "crl.example.com");
    assert_eq!(f["remote"]["dns_verified"], true);
    assert_eq!(f["processes"][0]["pids"][0], hung.pid());

    let (_, table, _) = run(ns.inside("").args([
        "--min-idle",
        "2s",
        "--dns-server",
        &server,
        "--color",
        "never",
    ]));
    assert!(
        table.contains(&format!("crl.example.com  192.0.2.100:{}", crl.port())),
        "{table}"
    );

    // Recorded with its names, the snapshot shows them later without any lookup.
    let file = dir.path().join("snap.json");
    let (status, _, err) = run(ns
        .inside("record")
        .args(["--min-idle", "2s", "--dns-server", &server, "-o"])
        .arg(&file));
    assert_eq!(status, 0, "{err}");
    drop(dns);
    let (_, out, _) = run(stuckconn()
        .args([
            "scan",
            "--format",
            "json",
            "--no-dns",
            "--min-idle",
            "2s",
            "--from",
        ])
        .arg(&file));
    let report = json(&out);
    assert_eq!(
        report["findings"][0]["remote"]["hostname"],
        "crl.example.com"
    );
}

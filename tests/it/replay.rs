//! Recorded snapshots replayed with `scan --from`: the analysis, deterministic. Also bad input:
//! malformed snapshots and bad flags give one clear error line and exit status 2.

use crate::common::*;
use serde_json::Value;

fn replay(name: &str, extra: &[&str]) -> (i32, Value) {
    let mut cmd = stuckconn();
    // The analysis is the subject here; DNS has its own tests (tests/dns.rs).
    cmd.args([
        "scan",
        "--format",
        "json",
        "--no-dns",
        "--from",
        &fixture(name),
    ]);
    cmd.args(extra);
    let (status, out, err) = run(&mut cmd);
    assert!(err.is_empty(), "JSON mode keeps stderr quiet: {err}");
    let report = json(&out);
    assert_matches_schema(&report);
    (status, report)
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

#[test]
fn incident_names_apache2_the_crl_server_and_the_bot() {
    let (status, report) = replay("incident.json", &[]);
    assert_eq!(status, 1);
    assert_eq!(report["source"], fixture("incident.json"));
    assert_eq!(report["summary"]["problems"], 1);
    assert_eq!(report["summary"]["by_kind"]["hung_call"], 111);

    let f = &findings(&report)[0];
    assert_eq!(f["kind"], "hung_call");
    assert_eq!(f["severity"], "problem");
    assert_eq!(f["remote"]["ip"], "2001:db8:bad::100");
    assert_eq!(f["remote"]["port"], 80);
    assert_eq!(f["remote"]["hostname"], Value::Null);
    assert_eq!(f["connections"], 111);
    assert_eq!(f["idle_secs"]["min"], 300.0);
    assert_eq!(f["idle_secs"]["max"], 18720.0);
    assert_eq!(
        f["since"], "2012-11-06T12:03:11Z",
        "taken_at minus the longest idle"
    );
    assert_eq!(f["bytes_sent"], 111 * 73, "the SYN is not a byte sent");
    assert_eq!(f["bytes_received"], 0);
    assert_eq!(f["threads_blocked"], 111);
    assert_eq!(f["capture"], Value::Null);

    let procs = f["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 1);
    assert_eq!(procs[0]["name"], "apache2");
    assert_eq!(procs[0]["unit"], "apache2.service");
    assert_eq!(procs[0]["exe"], "/usr/sbin/apache2");
    assert_eq!(procs[0]["pids"].as_array().unwrap().len(), 111);
    assert_eq!(procs[0]["connections"], 111);
    assert_eq!(procs[0]["thread_evidence"], "read");

    // What the stuck workers were serving: the bot.
    assert_eq!(
        f["clients"],
        serde_json::json!([{"ip": "198.51.100.7", "hostname": null, "dns": "skipped",
                            "dns_verified": false, "dns_source": null, "connections": 111}])
    );
    assert_eq!(f["remote"]["dns"], "skipped", "--no-dns");
    let text = f["explanation"].as_str().unwrap();
    assert!(text.starts_with("apache2 sent requests to"), "{text}");
    // Why it never ends, from the recorded evidence: libcurl's 1 s poll, no options set.
    let t = &f["timeouts"];
    assert_eq!(t["verdict"], "never", "{t}");
    assert_eq!(t["wait_loop"], true, "{t}");
    assert_eq!(t["wait_timeout_ms"], 1000, "{t}");
    assert_eq!(t["keepalive"], false, "{t}");
    assert_eq!(t["receive_timeout_ms"], 0, "{t}");
    assert_eq!(f["impact"]["processes"], 111, "{f}");
    assert_eq!(f["hints"][0]["runtime"], "PHP + libcurl", "{f}");
    assert_eq!(f["role"], "root", "{f}");

    // Which process leaks.
    let leak = &report["processes"][0];
    assert_eq!(leak["name"], "apache2");
    assert_eq!(leak["hung_call"], 111);
    assert_eq!(leak["oldest_idle_secs"], 18720.0);
    assert_eq!(leak["clients"][0]["ip"], "198.51.100.7");

    // The ssh session and the hours-old RTMP stream are not findings.
    assert_eq!(findings(&report).len(), 1);
    assert_eq!(report["summary"]["by_kind"]["active"], 113);
}

#[test]
fn incident_table_reads_at_a_glance() {
    let (status, table, _) = run(stuckconn().args([
        "--from",
        &fixture("incident.json"),
        "--color",
        "never",
        "--no-dns",
    ]));
    assert_eq!(status, 1);
    let first = table.lines().next().unwrap();
    assert!(
        first.starts_with("web1 · 226 TCP sockets · 1 finding (idle ≥ 1m)"),
        "{first}"
    );
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with("hung call"))
        .expect("a hung call row");
    for part in [
        "[2001:db8:bad::100]:80",
        "111",
        "apache2 ×111 pids",
        "5m – 5h 12m",
        "~12:03",
        "0 B back",
    ] {
        assert!(row.contains(part), "{part:?} missing from {row:?}");
    }
    assert!(table.contains("198.51.100.7 ×111"), "{table}");
    assert!(
        table.lines().all(|l| !l.ends_with(' ')),
        "no trailing blanks"
    );
    assert!(!table.contains('\x1b'), "--color never");
}

#[test]
fn mixed_snapshot_gives_every_kind() {
    let (status, report) = replay("mixed.json", &[]);
    assert_eq!(status, 1);
    let kinds: Vec<(&str, &str, u64)> = findings(&report)
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap(),
                f["remote"]["ip"].as_str().unwrap(),
                f["connections"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("hung_call", "192.0.2.77", 1),
            ("stalled_send", "198.51.100.20", 1),
            ("close_wait", "192.0.2.150", 5),
            ("syn_sent", "192.0.2.99", 1),
            ("idle_pool", "192.0.2.53", 3),
        ],
        "sorted by severity, problems first"
    );
    let pool = &findings(&report)[4];
    assert_eq!(pool["severity"], "info");
    let stalled = &findings(&report)[1];
    assert_eq!(
        stalled["idle_secs"]["max"], 121.0,
        "a stalled send is idle since its last ACK"
    );
    // The hung call with no process and a short tcp_info: still reported, unattributed.
    let hung = &findings(&report)[0];
    assert_eq!(hung["processes"][0]["name"], "(no process)");
    assert_eq!(hung["processes"][0]["pids"], serde_json::json!([]));
    assert_eq!(hung["processes"][0]["thread_evidence"], "not_collected");
    assert!(
        hung["evidence"]
            .to_string()
            .contains("threads not examined"),
        "no blocked thread is claimed or denied without looking: {}",
        hung["evidence"]
    );
    assert_eq!(report["summary"]["unattributed_sockets"], 1);
    assert_eq!(report["warnings"].as_array().unwrap().len(), 1);
    // The leaky client is first in "which process leaks".
    assert_eq!(report["processes"][0]["name"], "leaky-client");
    assert_eq!(report["processes"][0]["close_wait"], 5);
}

#[test]
fn only_an_idle_pool_is_not_a_problem() {
    let (status, report) = replay("mixed.json", &["--remote", "192.0.2.53"]);
    assert_eq!(status, 0, "an idle pool alone exits 0");
    assert_eq!(report["summary"]["problems"], 0);
    assert_eq!(findings(&report).len(), 1);
}

#[test]
fn filters_narrow_the_report() {
    // By remote network: nothing of the incident is in 192.0.2.0/24.
    let (status, report) = replay("incident.json", &["--remote", "192.0.2.0/24"]);
    assert_eq!(status, 0);
    assert!(findings(&report).is_empty());
    // By remote address, IPv6.
    let (status, report) = replay("incident.json", &["--remote", "2001:db8:bad::/48"]);
    assert_eq!(status, 1);
    assert_eq!(findings(&report)[0]["connections"], 111);
    // By pid: one worker.
    let (_, report) = replay("incident.json", &["--pid", "9005"]);
    assert_eq!(findings(&report)[0]["connections"], 1);
    assert_eq!(
        findings(&report)[0]["processes"][0]["pids"],
        serde_json::json!([9005])
    );
    // By process name and by port.
    let (_, report) = replay("mixed.json", &["--process", "rsync"]);
    assert_eq!(findings(&report).len(), 1);
    assert_eq!(findings(&report)[0]["kind"], "stalled_send");
    let (_, report) = replay("mixed.json", &["--port", "81"]);
    assert_eq!(findings(&report).len(), 1);
    assert_eq!(findings(&report)[0]["kind"], "close_wait");
    // --min-idle moves the line: at 10 min only the close-wait leak is old enough.
    let (_, report) = replay("mixed.json", &["--min-idle", "10m"]);
    let kinds: Vec<&str> = findings(&report)
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["close_wait", "syn_sent"]);
}

#[test]
fn all_lists_every_socket() {
    let (_, report) = replay("incident.json", &["--all"]);
    assert_eq!(report["connections"].as_array().unwrap().len(), 226);
    let (_, report) = replay("incident.json", &[]);
    let conns = report["connections"].as_array().unwrap();
    assert_eq!(
        conns.len(),
        111,
        "without --all: the sockets behind the findings"
    );
    assert!(conns
        .iter()
        .all(|c| c["kind"] == "hung_call" && c["direction"] == "outbound"));
    assert!(conns
        .iter()
        .all(|c| c["blocked_threads"][0]["syscall"] == "poll"));
}

#[test]
fn malformed_snapshots_give_one_clear_line_and_exit_2() {
    let dir = format!("{}/fixtures/malformed", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let (status, out, err) = run(stuckconn().arg("--from").arg(&path));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(status, 2, "{name}: {err}");
        assert!(out.is_empty(), "{name}: no report on stdout");
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
        assert!(err.starts_with("stuckconn: error: "), "{name}: {err}");
        assert!(
            err.contains(&name),
            "{name}: the line names the file: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        if name == "version-2.json" {
            assert!(err.contains("version 2 is not supported"), "{err}");
        }
        seen += 1;
    }
    assert!(seen >= 7);
}

#[test]
fn bad_input_exits_2() {
    let cases: &[&[&str]] = &[
        &["--from", "/nonexistent/snapshot.json"],
        &["--min-idle", "soon"],
        &["--remote", "crl.example.com"],
        &["--format", "xml"],
        &["--no-such-flag"],
        &["scan", "--port", "99999"],
        &["record"],
    ];
    for args in cases {
        let (status, out, err) = run(stuckconn().args(*args));
        assert_eq!(status, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("stuckconn: error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn broken_pipe_exits_quietly() {
    use std::process::Stdio;
    let mut child = stuckconn()
        .args([
            "--from",
            &fixture("incident.json"),
            "--format",
            "json",
            "--all",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once, like `| head -0`
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "nothing on stderr: {err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the findings' status, not an error"
    );
}

#[test]
fn help_and_version_work() {
    let (status, out, _) = run(stuckconn().arg("--help"));
    assert_eq!(status, 0);
    assert!(out.contains("--min-idle") && out.contains("Exit status"));
    let (status, out, _) = run(stuckconn().arg("--version"));
    assert_eq!(status, 0);
    assert!(out.starts_with("stuckconn "));
}

#[test]
fn table_fits_a_narrow_terminal_without_splitting_addresses() {
    use stuckconn::{analyze, collect, render};
    let path = std::path::PathBuf::from(fixture("mixed.json"));
    let snapshot = collect::load(&path, collect::SNAPSHOT_LIMIT).unwrap();
    let options = analyze::AnalysisOptions {
        min_idle: std::time::Duration::from_secs(60),
        all: false,
        filter: analyze::Filter::default(),
    };
    let report =
        stuckconn::enrich::offline(&snapshot, &options, "mixed.json", jiff::Timestamp::now());
    let style = render::Style {
        color: false,
        width: Some(80),
    };
    let table = render::table::render(&report, style);
    for line in table.lines() {
        assert!(
            line.chars().count() <= 80,
            "line wider than 80 columns: {line:?}"
        );
    }
    for remote in [
        "192.0.2.77:443",
        "198.51.100.20:873",
        "192.0.2.150:81",
        "192.0.2.99:5432",
        "192.0.2.53:6379",
    ] {
        assert!(
            table.lines().any(|l| l.contains(remote)),
            "{remote} split or missing:\n{table}"
        );
    }
}

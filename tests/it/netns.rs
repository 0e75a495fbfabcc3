//! Every network namespace: two test namespaces with the same addresses, each with a blackhole
//! server and hung clients, seen from the root namespace; namespaces that come and go during a
//! scan; an unprivileged scan that can only see its own; `--netns` that keeps out everything
//! else. Scans of every namespace also see what the host and its containers hold: the tests
//! judge only their own namespaces' findings there.

use crate::common::*;
use serde_json::Value;
use std::time::Duration;

const PORT: &str = "8080";
const SETTLE: Duration = Duration::from_millis(2600);

fn findings_to(report: &Value, ip: &str) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["remote"]["ip"] == ip && f["remote"]["port"] == 8080)
        .cloned()
        .collect()
}

/// The findings to `ip`:8080 in the given test namespaces (a scan of every namespace also
/// holds other namespaces' findings, which may use the same address).
fn findings_in(report: &Value, ip: &str, beds: &[&Bed]) -> Vec<Value> {
    findings_to(report, ip)
        .into_iter()
        .filter(|f| beds.iter().any(|b| f["netns"]["name"] == b.name()))
        .collect()
}

fn pids(f: &Value) -> Vec<u64> {
    let mut pids: Vec<u64> = f["processes"][0]["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    pids.sort_unstable();
    pids
}

#[test]
fn every_namespace_is_scanned_labelled_and_never_merged() {
    // Two namespaces with the same address and the same server port, and an empty one.
    let Some(a) = Bed::new("a", &["192.0.2.5/32"]) else {
        return;
    };
    let b = Bed::new("b", &["192.0.2.5/32"]).unwrap();
    let empty = Bed::new("empty", &[]).unwrap();
    let env = [("TESTBED_ADDR", "192.0.2.5"), ("TESTBED_PORT", PORT)];
    let _server_a = a.testbed_env(&["blackhole"], &env);
    let _server_b = b.testbed_env(&["blackhole"], &env);
    let a1 = a.testbed_env(&["hung-recv", PORT], &env);
    let a2 = a.testbed_env(&["hung-recv", PORT], &env);
    let b1 = b.testbed_env(&["hung-recv", PORT], &env);
    std::thread::sleep(SETTLE);

    // One scan of every namespace, from the root namespace (deliberately not scoped).
    let (status, out, err) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--no-dns",
        "--min-idle",
        "2s",
        "--port",
        PORT,
    ]));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_matches_schema(&report);
    assert!(report["summary"]["namespaces"].as_u64().unwrap() >= 4);
    let found = findings_in(&report, "192.0.2.5", &[&a, &b]);
    assert_eq!(
        found.len(),
        2,
        "one finding per namespace, not merged: {found:#?}"
    );
    let in_a = found
        .iter()
        .find(|f| f["netns"]["name"] == a.name())
        .expect("A's finding");
    let in_b = found
        .iter()
        .find(|f| f["netns"]["name"] == b.name())
        .expect("B's finding");
    assert_eq!(in_a["connections"], 2);
    assert_eq!(pids(in_a), {
        let mut p = vec![a1.pid() as u64, a2.pid() as u64];
        p.sort_unstable();
        p
    });
    assert_eq!(in_b["connections"], 1);
    assert_eq!(pids(in_b), vec![b1.pid() as u64]);
    assert_ne!(in_a["netns"]["inode"], in_b["netns"]["inode"]);
    assert_eq!(in_a["netns"]["own"], false);
    assert!(in_a["explanation"]
        .as_str()
        .unwrap()
        .starts_with(&format!("In network namespace {}", a.name())));
    // Connections carry their namespace too.
    let conn_of = |pid: u32| connections_of(&report, pid)[0]["netns"]["name"].clone();
    assert_eq!(conn_of(a1.pid()), a.name());
    assert_eq!(conn_of(b1.pid()), b.name());
    // The servers' sides are inbound in their own namespace (listeners are per namespace).
    let ours: Vec<&Value> = report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["netns"]["name"] == a.name() || c["netns"]["name"] == b.name())
        .collect();
    assert_eq!(
        ours.iter().filter(|c| c["kind"] == "hung_call").count(),
        3,
        "{ours:#?}"
    );
    assert!(ours
        .iter()
        .all(|c| c["kind"] != "hung_call" || c["direction"] == "outbound"));

    // The table shows which namespace.
    let (_, table, _) = run(stuckconn().args([
        "--no-dns",
        "--min-idle",
        "2s",
        "--port",
        PORT,
        "--color",
        "never",
    ]));
    assert!(table.contains("NETNS"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains(a.name()) && l.contains("192.0.2.5:8080")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains(b.name()) && l.contains("192.0.2.5:8080")),
        "{table}"
    );

    // --netns chooses; --netns self sees neither.
    let scan = |mut cmd: std::process::Command| {
        let (status, out, err) = run(cmd.args([
            "--format",
            "json",
            "--no-dns",
            "--min-idle",
            "2s",
            "--port",
            PORT,
        ]));
        (status, json(&out), err)
    };
    let (_, only_a, _) = scan(a.stuckconn("scan"));
    assert_eq!(findings_to(&only_a, "192.0.2.5").len(), 1);
    assert_eq!(
        findings_to(&only_a, "192.0.2.5")[0]["netns"]["name"],
        a.name()
    );
    assert_eq!(only_a["summary"]["namespaces"], 1);
    let mut own = stuckconn();
    own.args(["scan", "--netns", "self"]);
    let (_, from_root, _) = scan(own);
    assert_eq!(from_root["summary"]["namespaces"], 1);
    assert!(findings_in(&from_root, "192.0.2.5", &[&a, &b]).is_empty());
    // From a namespace that holds nothing: nothing at all, exit status 0.
    let (status, from_empty, err) = scan(empty.inside("scan"));
    assert_eq!(status, 0, "{err}");
    assert_eq!(from_empty["summary"]["namespaces"], 1);
    assert_eq!(from_empty["findings"], serde_json::json!([]));

    // A snapshot keeps the namespaces and replays with their labels.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ns.json");
    let (status, _, err) = run(stuckconn()
        .args(["record", "--no-dns", "--min-idle", "2s"])
        .args(["--netns", a.name(), "--netns", b.name(), "-o"])
        .arg(&file));
    assert_eq!(status, 0, "{err}");
    let (_, out, _) = run(stuckconn()
        .args([
            "scan",
            "--format",
            "json",
            "--no-dns",
            "--min-idle",
            "2s",
            "--port",
            PORT,
            "--from",
        ])
        .arg(&file));
    let replayed = json(&out);
    assert_eq!(replayed["summary"]["namespaces"], 2);
    let replayed = findings_to(&replayed, "192.0.2.5");
    assert_eq!(replayed.len(), 2);
    assert!(replayed.iter().any(|f| f["netns"]["name"] == a.name()));
    assert!(replayed.iter().any(|f| f["netns"]["name"] == b.name()));
}

#[test]
fn namespaces_that_come_and_go_do_not_break_the_scan() {
    if !can_make_netns() || which("unshare").is_none() {
        skip(
            "namespaces_that_come_and_go_do_not_break_the_scan",
            "needs root, ip(8) and unshare(1)",
        );
        return;
    }
    // Its subject is the scan of every namespace while some vanish: not scoped, and it judges
    // no totals (the exit status is 0 or 1 depending on what the host holds).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut made = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // A process in a namespace of its own, living 20 ms.
                let _ = std::process::Command::new("unshare")
                    .args(["--net", "sleep", "0.02"])
                    .status();
                made += 1;
            }
            made
        })
    };
    let started = std::time::Instant::now();
    let mut scans = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        scans += 1;
        let (status, out, err) = run(stuckconn().args(["scan", "--format", "json", "--no-dns"]));
        assert!(status == 0 || status == 1, "status {status}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        json(&out);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let made = churn.join().unwrap();
    assert!(
        made >= 10,
        "namespaces were made during the {scans} scans ({made})"
    );
}

#[test]
fn unprivileged_scan_covers_its_own_namespace_and_says_so() {
    // Root makes the namespaces and switches to nobody in one of them.
    let Some(a) = Bed::new("u", &["192.0.2.5/32"]) else {
        return;
    };
    let own = Bed::new("u-own", &[]).unwrap();
    let env = [("TESTBED_ADDR", "192.0.2.5"), ("TESTBED_PORT", PORT)];
    let _server = a.testbed_env(&["blackhole"], &env);
    let _hung = a.testbed_env(&["hung-recv", PORT], &env);
    let own_server = own.testbed(&["blackhole"]);
    let _own_hung = own.testbed(&["hung-recv", &own_server.port().to_string()]);
    std::thread::sleep(SETTLE);
    let nobody = Nobody::new();
    // Deliberately without --netns: the default is the subject. Nobody cannot leave the
    // namespace it runs in, so what it reports is that namespace's alone.
    let mut cmd = own.command("setpriv");
    cmd.args(Nobody::setpriv_args(&[]))
        .arg(nobody.binary())
        .args(["scan", "--format", "json", "--no-dns", "--min-idle", "2s"]);
    let (status, out, err) = run(&mut cmd);
    let report = json(&out);
    assert_eq!(report["summary"]["namespaces"], 1, "{err}");
    assert!(
        findings_to(&report, "192.0.2.5").is_empty(),
        "another namespace's sockets are not seen"
    );
    // Its own namespace is covered: the hung call there is found (if not tied to root's pid).
    assert_eq!(status, 1, "{err}");
    let found: Vec<&Value> = report["findings"].as_array().unwrap().iter().collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["kind"], "hung_call");
    assert_eq!(found[0]["remote"]["port"], own_server.port());
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("CAP_SYS_ADMIN") && warnings.contains("network namespace"),
        "{warnings}"
    );
}

/// `check`'s perfdata value for `label`.
fn perfdata(out: &str, label: &str) -> u64 {
    let perf = out.split_once(" | ").map_or("", |(_, p)| p);
    perf.split(' ')
        .find_map(|item| item.strip_prefix(&format!("{label}=")))
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {label} in {out}"))
}

#[test]
fn scan_check_and_record_with_netns_see_only_that_namespace() {
    // A busy namespace (3 hung calls, 2 CLOSE-WAIT) and a quiet one (1 hung call), with the
    // same address, port and process name.
    let Some(busy) = Bed::new("busy", &["192.0.2.5/32"]) else {
        return;
    };
    let quiet = Bed::new("quiet", &["192.0.2.5/32"]).unwrap();
    let env = [("TESTBED_ADDR", "192.0.2.5"), ("TESTBED_PORT", PORT)];
    let _busy_server = busy.testbed_env(&["blackhole"], &env);
    let busy_hung: Vec<Proc> = (0..3)
        .map(|_| busy.testbed_env(&["hung-recv", PORT], &env))
        .collect();
    let closer = busy.testbed_env(&["closer"], &[("TESTBED_ADDR", "192.0.2.5")]);
    let closer_port = closer.port().to_string();
    let _busy_close_wait: Vec<Proc> = (0..2)
        .map(|_| busy.testbed_env(&["close-wait", &closer_port], &env))
        .collect();
    let _quiet_server = quiet.testbed_env(&["blackhole"], &env);
    let quiet_hung = quiet.testbed_env(&["hung-recv", PORT], &env);
    std::thread::sleep(SETTLE);

    // What is kept out is there: a scan of every namespace sees the busy one's findings.
    let (_, out, _) = run(stuckconn()
        .args(["scan", "--format", "json", "--no-dns"])
        .args(["--min-idle", "2s"]));
    let all = json(&out);
    let busy_kinds = |report: &Value| -> Vec<(String, u64)> {
        let mut kinds: Vec<(String, u64)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["netns"]["name"] == busy.name())
            .map(|f| {
                (
                    f["kind"].as_str().unwrap().to_string(),
                    f["connections"].as_u64().unwrap(),
                )
            })
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(
        busy_kinds(&all),
        vec![("close_wait".to_string(), 2), ("hung_call".to_string(), 3)]
    );

    // scan --netns QUIET: its one hung call, nothing of the busy namespace.
    let only_quiet = |report: &Value, what: &str| {
        let summary = &report["summary"];
        assert_eq!(summary["namespaces"], 1, "{what}");
        // The listener, the server's side and the client's: the quiet namespace's sockets.
        assert_eq!(summary["sockets"], 3, "{what}: {summary:#}");
        assert_eq!(summary["by_kind"]["hung_call"], 1, "{what}: {summary:#}");
        assert_eq!(summary["by_kind"]["close_wait"], 0, "{what}: {summary:#}");
        assert_eq!(summary["problems"], 1, "{what}: {summary:#}");
        let findings = report["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{what}: {findings:#?}");
        let f = &findings[0];
        assert_eq!(f["kind"], "hung_call", "{what}");
        assert_eq!(f["netns"]["name"], quiet.name(), "{what}");
        assert_eq!(f["connections"], 1, "{what}");
        assert_eq!(pids(f), vec![u64::from(quiet_hung.pid())], "{what}");
        let conns = report["connections"].as_array().unwrap();
        assert!(
            conns.iter().all(|c| c["netns"]["name"] == quiet.name()),
            "{what}: {conns:#?}"
        );
        for p in &busy_hung {
            assert!(connections_of(report, p.pid()).is_empty(), "{what}");
        }
    };
    let (status, out, err) =
        run(quiet
            .stuckconn("scan")
            .args(["--format", "json", "--no-dns", "--min-idle", "2s"]));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_matches_schema(&report);
    only_quiet(&report, "scan --netns");

    // check --netns QUIET: one hung call (WARNING at 1, CRITICAL at 2), no close wait.
    let (status, out, _) =
        run(quiet
            .stuckconn("check")
            .args(["--no-dns", "--min-idle", "2s", "-w", "1", "-c", "2"]));
    assert_eq!(status, 1, "{out}");
    assert!(
        out.starts_with("STUCKCONN WARNING - 1 hung call: testbed -> 192.0.2.5:8080 (1)"),
        "{out}"
    );
    assert_eq!(perfdata(&out, "hung_call"), 1, "{out}");
    assert_eq!(perfdata(&out, "close_wait"), 0, "{out}");
    assert_eq!(perfdata(&out, "stuck"), 1, "{out}");

    // record --netns QUIET: the snapshot holds that namespace alone, and replays the same.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quiet.json");
    let (status, _, err) = run(quiet
        .stuckconn("record")
        .args(["--no-dns", "--min-idle", "2s", "-o"])
        .arg(&file));
    assert_eq!(status, 0, "{err}");
    let snapshot = json(&std::fs::read_to_string(&file).unwrap());
    let namespaces = snapshot["namespaces"].as_array().unwrap();
    assert_eq!(namespaces.len(), 1, "{namespaces:#?}");
    assert_eq!(namespaces[0]["name"], quiet.name());
    let (status, out, err) = run(stuckconn()
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
    assert_eq!(status, 1, "{err}");
    only_quiet(&json(&out), "record --netns, replayed");
}

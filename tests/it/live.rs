//! Live scans of real processes on loopback: a blackhole server and real clients blocked in
//! real syscalls. Each test starts its own processes in a network namespace of its own (a
//! `Bed`), scans only that namespace, and kills them by pid when it ends.

use crate::common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// Connections count as stuck after this; the tests wait a little longer before scanning.
const MIN_IDLE: &str = "2s";
const SETTLE: Duration = Duration::from_millis(2600);

/// `scan --format json --all --min-idle 2s` with `extra`, on `cmd` (the bed's scan, or a
/// replay).
fn scan_json(mut cmd: Command, extra: &[&str]) -> (i32, Value, String) {
    cmd.args(["--format", "json", "--all", "--min-idle", MIN_IDLE]);
    cmd.args(extra);
    let (status, out, err) = run(&mut cmd);
    (status, json(&out), err)
}

fn blocked_syscalls(report: &Value, pid: u32) -> Vec<String> {
    connections_of(report, pid)
        .iter()
        .flat_map(|c| c["blocked_threads"].as_array().unwrap().iter())
        .map(|t| t["syscall"].as_str().unwrap().to_string())
        .collect()
}

fn finding<'a>(report: &'a Value, kind: &str, port: u16) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["remote"]["port"] == port)
        .unwrap_or_else(|| {
            panic!(
                "no {kind} finding for port {port}: {:#}",
                report["findings"]
            )
        })
}

fn finding_pids(f: &Value) -> Vec<u32> {
    let mut pids: Vec<u32> = f["processes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["pids"].as_array().unwrap().iter())
        .map(|p| p.as_u64().unwrap() as u32)
        .collect();
    pids.sort_unstable();
    pids
}

#[test]
fn scan_flags_exactly_the_stuck_connections() {
    let Some(bed) = Bed::new("flags", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let responder = bed.testbed(&["responder"]);
    let closer = bed.testbed(&["closer"]);
    let streamer = bed.testbed(&["streamer"]);
    let (bh, rp, cl, st) = (
        blackhole.port().to_string(),
        responder.port().to_string(),
        closer.port().to_string(),
        streamer.port().to_string(),
    );
    let hung_recv = bed.testbed(&["hung-recv", &bh]);
    let hung_poll = bed.testbed(&["hung-poll", &bh]);
    let pool = bed.testbed(&["pool", &rp]);
    let close_wait = bed.testbed(&["close-wait", &cl]);
    let stream = bed.testbed(&["stream-client", &st]);
    // A real curl with no timeout, as PHP's curl_exec was in the incident: it polls.
    let curl = which("curl").map(|curl| {
        let url = format!("http://127.0.0.1:{bh}/crl/ca.crl");
        bed.spawn(curl, &["-s", "-o", "/dev/null", &url])
    });
    if curl.is_none() {
        skip(
            "curl part of scan_flags_exactly_the_stuck_connections",
            "curl is not installed",
        );
    }
    std::thread::sleep(SETTLE);

    let (status, report, stderr) = scan_json(bed.stuckconn("scan"), &[]);
    assert_eq!(status, 1, "findings give exit status 1; stderr: {stderr}");
    assert_matches_schema(&report);

    // The stuck ones, attributed to the right pids, with their blocked threads.
    assert_eq!(kind_of(&report, hung_recv.pid()), "hung_call");
    let calls = blocked_syscalls(&report, hung_recv.pid());
    assert!(
        calls.iter().any(|c| c == "read" || c == "recvfrom"),
        "the thread blocked in read() is marked: {calls:?}"
    );
    assert_eq!(kind_of(&report, hung_poll.pid()), "hung_call");
    let calls = blocked_syscalls(&report, hung_poll.pid());
    assert!(
        calls.iter().any(|c| c == "poll" || c == "ppoll"),
        "the thread blocked in poll() is marked: {calls:?}"
    );
    assert_eq!(kind_of(&report, close_wait.pid()), "close_wait");

    // The healthy ones.
    assert_eq!(kind_of(&report, pool.pid()), "idle_pool");
    assert_eq!(kind_of(&report, stream.pid()), "active");
    for server in [&blackhole, &responder, &closer, &streamer] {
        for c in connections_of(&report, server.pid()) {
            let kind = c["kind"].as_str().unwrap();
            assert!(
                kind == "active" || kind == "listening",
                "server pid {} has a {kind} connection: {c:#}",
                server.pid()
            );
        }
    }

    // The group: one hung_call finding to the blackhole, held by exactly the hung clients.
    let hung = finding(&report, "hung_call", blackhole.port());
    let mut expected = vec![hung_recv.pid(), hung_poll.pid()];
    if let Some(curl) = &curl {
        expected.push(curl.pid());
        assert_eq!(kind_of(&report, curl.pid()), "hung_call");
        let calls = blocked_syscalls(&report, curl.pid());
        assert!(
            calls.iter().any(|c| c == "poll" || c == "ppoll"),
            "curl's thread blocked in poll() on the socket is marked: {calls:?}"
        );
    }
    expected.sort_unstable();
    assert_eq!(finding_pids(hung), expected);
    assert_eq!(
        hung["connections"].as_u64().unwrap() as usize,
        expected.len()
    );
    assert_eq!(
        hung["threads_blocked"].as_u64().unwrap() as usize,
        expected.len()
    );
    assert_eq!(hung["bytes_received"], 0);
    assert!(hung["idle_secs"]["min"].as_f64().unwrap() >= 2.0);
    // Why it never ends, from the evidence: no keepalive, no receive timeout, infinite waits.
    assert_eq!(hung["timeouts"]["verdict"], "never", "{hung}");
    assert_eq!(hung["timeouts"]["receive_timeout_ms"], 0, "{hung}");
    assert_eq!(hung["role"], "root", "{hung}");
    let cw = finding(&report, "close_wait", closer.port());
    assert_eq!(finding_pids(cw), vec![close_wait.pid()]);

    // The table says the same at a glance.
    let (status, table, _) =
        run(bed
            .stuckconn("")
            .args(["--min-idle", MIN_IDLE, "--color", "never"]));
    assert_eq!(status, 1);
    assert!(table.contains("hung call"), "{table}");
    assert!(table.contains(&format!("127.0.0.1:{bh}")), "{table}");
    assert!(table.contains("WHICH PROCESS LEAKS"), "{table}");
    assert!(table.contains("blocked in"), "{table}");
}

#[test]
fn recorded_snapshot_replays_to_the_same_verdicts() {
    let Some(bed) = Bed::new("replay", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let responder = bed.testbed(&["responder"]);
    let hung = bed.testbed(&["hung-recv", &blackhole.port().to_string()]);
    let pool = bed.testbed(&["pool", &responder.port().to_string()]);
    std::thread::sleep(SETTLE);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("host.json");
    let (status, _, stderr) = run(bed
        .stuckconn("record")
        .args(["--min-idle", MIN_IDLE, "-o"])
        .arg(&file));
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.contains("recorded"), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "snapshots may hold command lines: owner-only");

    let mut replay = stuckconn();
    replay.arg("scan");
    let (status, report, _) = scan_json(replay, &["--from", file.to_str().unwrap()]);
    assert_eq!(status, 1);
    assert_matches_schema(&report);
    assert_eq!(report["source"], file.to_str().unwrap());
    assert_eq!(kind_of(&report, hung.pid()), "hung_call");
    assert!(!blocked_syscalls(&report, hung.pid()).is_empty());
    assert_eq!(kind_of(&report, pool.pid()), "idle_pool");
}

#[test]
fn unprivileged_scan_still_reports_and_says_what_it_missed() {
    // Root makes the namespace and switches to nobody inside it.
    let Some(bed) = Bed::new("nobody", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let hung = bed.testbed(&["hung-recv", &blackhole.port().to_string()]);
    std::thread::sleep(SETTLE);

    let nobody = Nobody::new();
    let mut cmd = bed.nobody(&nobody, &[], "scan");
    cmd.args(["--format", "json", "--all", "--min-idle", MIN_IDLE]);
    let (status, out, stderr) = run(&mut cmd);
    assert_eq!(status, 1, "the hung call is still found; stderr: {stderr}");
    let report = json(&out);
    assert_matches_schema(&report);

    // The socket is seen (with tcp_info) but cannot be tied to root's process.
    let port = blackhole.port();
    let hung_conn = report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["remote"]["port"] == port && c["kind"] == "hung_call")
        .unwrap_or_else(|| panic!("hung connection not reported: {report:#}"));
    assert_eq!(
        hung_conn["pid"],
        Value::Null,
        "nobody cannot see root's fds"
    );
    assert!(report["summary"]["unattributed_sockets"].as_u64().unwrap() >= 1);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("could not be tied to a process") && warnings.contains("root"),
        "the warning names what is missing and how to see it: {warnings}"
    );
    drop(hung);
}

#[test]
fn hostile_process_name_does_not_reach_the_terminal_raw() {
    let Some(bed) = Bed::new("hostile", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let evil = "\x1b[2J\x1b]0;pwn\x07x";
    let hung = bed.testbed(&["hung-recv", &blackhole.port().to_string(), evil]);
    std::thread::sleep(SETTLE);

    let port = blackhole.port().to_string();
    let (status, table, _) = run(bed.stuckconn("").args([
        "--min-idle",
        MIN_IDLE,
        "--port",
        &port,
        "--all",
        "--color",
        "always",
    ]));
    assert_eq!(status, 1);
    // Colour codes are ours; the name's own ESC and BEL must come out escaped.
    assert!(
        !table.contains("\x1b[2J") && !table.contains('\x07'),
        "raw control text: {table:?}"
    );
    assert!(
        table.contains("\\x1b[2J\\x1b]0;pwn\\x07x"),
        "escaped name shown: {table}"
    );

    let (_, report, _) = scan_json(bed.stuckconn("scan"), &["--port", &port]);
    assert_eq!(
        report["findings"][0]["processes"][0]["name"], evil,
        "JSON keeps the exact name"
    );
    assert_eq!(kind_of(&report, hung.pid()), "hung_call");
}

/// argv is bytes, not text: a command line that is not UTF-8 is shown (read lossily, escaped
/// where it reaches a terminal), with its secrets masked. (It was dropped: the procfs crate
/// read it as a string or not at all.)
#[test]
fn a_command_line_that_is_not_utf8_is_shown_with_its_secrets_masked() {
    let Some(bed) = Bed::new("notutf8", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    // sh gives testbed the bytes printf makes: 0xE9 and 0xFF are not UTF-8 on their own.
    let script = format!(
        "exec '{}' hung-recv {} \"$(printf 'caf\\351')\" \"--password=s3cret$(printf '\\377')\"",
        testbed_path().display(),
        blackhole.port()
    );
    let hung = start("ip", &["netns", "exec", bed.name(), "sh", "-c", &script]);
    std::thread::sleep(SETTLE);

    let port = blackhole.port().to_string();
    let (_, report, _) = scan_json(bed.stuckconn("scan"), &["--port", &port]);
    assert_eq!(kind_of(&report, hung.pid()), "hung_call");
    let process = &report["findings"][0]["processes"][0];
    let cmdline = process["cmdline"]
        .as_str()
        .unwrap_or_else(|| panic!("{process}"));
    assert!(
        cmdline.ends_with(&format!("hung-recv {port} caf\u{fffd} --password=***")),
        "{cmdline}"
    );
    assert!(!cmdline.contains("s3cret"), "{cmdline}");
    let (_, html, _) =
        run(bed
            .stuckconn("")
            .args(["--min-idle", MIN_IDLE, "--port", &port, "--format", "html"]));
    assert!(html.contains("caf\u{fffd} --password=***"), "{html}");
    assert!(!html.contains("s3cret"), "{html}");
}

#[test]
fn without_sock_diag_the_scan_degrades_with_a_warning() {
    let Some(bed) = Bed::new("procnet", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let closer = bed.testbed(&["closer"]);
    let hung = bed.testbed(&["hung-recv", &blackhole.port().to_string()]);
    let close_wait = bed.testbed(&["close-wait", &closer.port().to_string()]);
    std::thread::sleep(SETTLE);

    let (_, report, _) = scan_json(bed.inside("scan"), &[]);
    assert_eq!(report["collector"], "sock_diag");

    // The fallback reads /proc/net/tcp of stuckconn's own namespace: it runs inside the bed.
    let mut cmd = bed.inside("scan");
    cmd.env("STUCKCONN_PROC_NET", "1")
        .args(["--format", "json", "--all", "--min-idle", MIN_IDLE]);
    let (status, out, _) = run(&mut cmd);
    let report = json(&out);
    assert_matches_schema(&report);
    assert_eq!(status, 1);
    assert_eq!(report["collector"], "proc_net");
    assert!(report["warnings"]
        .to_string()
        .contains("sock_diag unavailable"));
    // Without tcp_info: CLOSE-WAIT by its state, the hung call by its blocked thread.
    assert_eq!(kind_of(&report, close_wait.pid()), "close_wait");
    assert_eq!(kind_of(&report, hung.pid()), "hung_call");
}

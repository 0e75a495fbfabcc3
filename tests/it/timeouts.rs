//! Why a stuck connection never ends, what it costs, what to change: `stuckconn scan` on real
//! clients blocked in real calls, each in a bed of its own, read from the JSON report as a
//! script would (`connections[].timeouts`, `findings[].timeouts`, `impact`, `hints`).

use crate::common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// `stuckconn scan --netns BED --format json --min-idle 1s`: every call idle a second is stuck.
fn scan(bed: &Bed) -> Value {
    scan_with(bed.stuckconn("scan"))
}

fn scan_with(mut cmd: Command) -> Value {
    let (status, out, err) = run(cmd.args(["--format", "json", "--no-dns", "--min-idle", "1s"]));
    assert!(status == 0 || status == 1, "scan failed ({status}): {err}");
    let report = json(&out);
    assert_matches_schema(&report);
    report
}

/// The report's row of the connection `pid` holds.
fn connection(report: &Value, pid: u32) -> &Value {
    let rows = connections_of(report, pid);
    assert_eq!(rows.len(), 1, "pid {pid} holds one connection: {report}");
    rows[0]
}

/// The finding whose processes include `pid`.
fn finding(report: &Value, pid: u32) -> &Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["processes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["pids"].as_array().unwrap().contains(&pid.into()))
        })
        .unwrap_or_else(|| panic!("no finding holds pid {pid}: {report}"))
}

/// The first thread blocked on a connection.
fn call(row: &Value) -> &Value {
    &row["blocked_threads"][0]
}

fn evidence(f: &Value) -> Vec<&str> {
    f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect()
}

fn started(bed: &Bed, role: &[&str]) -> Proc {
    let p = bed.testbed(role);
    assert_eq!(p.line, "ready", "{role:?}");
    p
}

fn blackhole(bed: &Bed) -> (Proc, String) {
    let server = bed.testbed(&["blackhole"]);
    let port = server.port().to_string();
    (server, port)
}

#[test]
fn receive_timeout_is_read_and_is_a_deadline() {
    let Some(bed) = Bed::new("tmo-rcvtimeo", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    let client = started(&bed, &["rcvtimeo", &port, "600000"]);
    sleep_ms(1200);
    let report = scan(&bed);
    let row = connection(&report, client.pid());
    assert_eq!(call(row)["syscall"], "recvfrom", "{row}");
    assert_eq!(
        call(row)["timeout_ms"],
        -1,
        "recv has no timeout of its own: {row}"
    );
    let t = &row["timeouts"];
    assert_eq!(t["verdict"], "deadline", "{row}");
    assert_eq!(t["receive_timeout_ms"], 600_000);
    assert_eq!(t["wait_timeout_ms"], 600_000);
    let ends = t["ends_in_secs"].as_u64().unwrap();
    assert!((590..=599).contains(&ends), "{row}");
    let f = finding(&report, client.pid());
    assert_eq!(f["timeouts"]["verdict"], "deadline", "{f}");
    assert!(
        evidence(f)
            .iter()
            .any(|e| e.starts_with("RCVTIMEO 10m, ends in 9m")),
        "{f}"
    );
}

#[test]
fn keepalive_answered_by_a_live_peer_never_ends() {
    let Some(bed) = Bed::new("tmo-keepalive", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    // Probes after 1 s idle, every 1 s, 3 unanswered ones would end it: within 4 s.
    let client = started(&bed, &["keepalive", &port, "1", "1", "3"]);
    sleep_ms(6000);
    let report = scan(&bed);
    let row = connection(&report, client.pid());
    assert_eq!(row["state"], "established", "still there after 6 s: {row}");
    let t = &row["timeouts"];
    assert_eq!(t["timer"]["kind"], "keepalive", "{row}");
    assert_eq!(t["keepcnt"], 3, "{row}");
    let f = finding(&report, client.pid());
    let s = &f["timeouts"];
    assert_eq!(s["keepalive"], true);
    assert_eq!(s["keepalive_answered"], true, "{f}");
    assert_eq!(s["verdict"], "never");
    assert!(
        evidence(f).contains(&"keepalive answered: never ends"),
        "{f}"
    );
}

#[test]
fn unanswered_keepalive_is_ended_by_the_kernel_when_it_says() {
    let Some(bed) = Bed::new("tmo-kernel", &["192.0.2.1/32"]) else {
        return;
    };
    let env = [("TESTBED_ADDR", "192.0.2.1")];
    let server = bed.testbed_env(&["blackhole"], &env);
    let port = server.port().to_string();
    let client = bed.testbed_env(&["keepalive", &port, "1", "1", "4"], &env);
    sleep_ms(500);
    // The peer's host disappears: nothing answers the probes any more.
    let status = Command::new("ip")
        .args(["-n", bed.name(), "addr", "del", "192.0.2.1/32", "dev", "lo"])
        .status()
        .unwrap();
    assert!(status.success());
    sleep_ms(2600);
    let report = scan(&bed);
    let row = connection(&report, client.pid());
    let t = &row["timeouts"];
    assert_eq!(t["verdict"], "kernel", "{row}");
    assert_eq!(t["keepalive_answered"], false, "{row}");
    assert!(t["timer"]["retrans"].as_u64().unwrap() > 0, "{row}");
    let ends = t["ends_in_secs"].as_u64().unwrap();
    assert!(ends <= 4, "{row}");
    // The kernel keeps its word: the socket is gone within that time (and a second).
    let inode = row["inode"].as_u64().unwrap();
    sleep_ms((ends + 1) * 1000);
    let (_, out, _) = run(bed.command("ss").args(["-tanHe"]));
    assert!(
        !out.contains(&format!("ino:{inode} ")),
        "still there after the predicted {ends}s:\n{out}"
    );
}

#[test]
fn user_timeout_does_not_end_a_silent_peer() {
    let Some(bed) = Bed::new("tmo-user", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    let client = started(&bed, &["user-timeout", &port, "1000"]);
    sleep_ms(2500);
    let report = scan(&bed);
    let row = connection(&report, client.pid());
    assert_eq!(
        row["state"], "established",
        "TCP_USER_TIMEOUT 1s passed: {row}"
    );
    let t = &row["timeouts"];
    assert_eq!(t["user_timeout_ms"], 1000);
    assert_eq!(t["verdict"], "never", "{row}");
    // The words live once, on the finding; each socket carries the verdict and the values.
    assert_eq!(t.get("explanation"), None, "{row}");
    let f = finding(&report, client.pid());
    assert!(
        f["timeouts"]["explanation"]
            .as_str()
            .unwrap()
            .contains("TCP_USER_TIMEOUT is set but acts only on unacknowledged data"),
        "{f}"
    );
}

#[test]
fn infinite_poll_and_a_polling_loop() {
    let Some(bed) = Bed::new("tmo-poll", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    let forever = started(&bed, &["hung-poll", &port]);
    let looping = started(&bed, &["poll-loop", &port, "1000"]);
    let long = started(&bed, &["poll-loop", &port, "30000"]);
    sleep_ms(2600);
    let report = scan(&bed);

    let row = connection(&report, forever.pid());
    assert_eq!(call(row)["syscall"], "poll", "{row}");
    assert_eq!(call(row)["timeout_ms"], -1, "{row}");
    let t = &row["timeouts"];
    assert_eq!(t["wait_timeout_ms"], -1);
    assert_eq!(t["wait_loop"], false);
    assert_eq!(t["verdict"], "never");

    let row = connection(&report, looping.pid());
    assert_eq!(call(row)["timeout_ms"], 1000, "{row}");
    let t = &row["timeouts"];
    assert_eq!(t["wait_timeout_ms"], 1000);
    assert_eq!(t["wait_loop"], true, "idle 2.6 s on a 1 s poll: {row}");
    assert_eq!(t["verdict"], "never");

    // The same loop with 30 s: idle 2.6 s says nothing of a loop yet, only of a deadline.
    let row = connection(&report, long.pid());
    let t = &row["timeouts"];
    assert_eq!(t["wait_loop"], false, "{row}");
    assert_eq!(t["verdict"], "deadline");
    let ends = t["ends_in_secs"].as_u64().unwrap();
    assert!((26..=28).contains(&ends), "{row}");

    // One finding for the three (same remote): most never end; it says how many do.
    let f = finding(&report, forever.pid());
    assert_eq!(f["timeouts"]["verdict"], "never", "{f}");
    assert!(
        f["timeouts"]["explanation"]
            .as_str()
            .unwrap()
            .contains("(2 of 3 connections; 1 end at a deadline)"),
        "{f}"
    );
}

#[test]
fn stopped_and_resumed_threads_are_still_blocked() {
    let Some(bed) = Bed::new("tmo-stop", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    let reader = started(&bed, &["hung-recv", &port]);
    let poller = started(&bed, &["poll-loop", &port, "600000"]);
    sleep_ms(1100);

    // Stopped in read(): the call still shows, the thread is stopped.
    signal(reader.pid(), libc::SIGSTOP);
    sleep_ms(200);
    let report = scan(&bed);
    let row = connection(&report, reader.pid());
    assert_eq!(call(row)["syscall"], "recvfrom", "{row}");
    assert_eq!(call(row)["stopped"], true, "{row}");
    assert_eq!(row["timeouts"]["verdict"], "never", "{row}");
    assert!(
        evidence(finding(&report, reader.pid())).contains(&"thread stopped: never ends"),
        "{report}"
    );
    // Continued: read() resumes as itself.
    signal(reader.pid(), libc::SIGCONT);
    sleep_ms(200);
    let report = scan(&bed);
    let row = connection(&report, reader.pid());
    assert_eq!(call(row)["syscall"], "recvfrom", "{row}");
    assert_eq!(call(row)["stopped"], false, "{row}");
    assert_eq!(call(row)["restarted"], false, "{row}");

    // A poll stopped and continued resumes as restart_syscall.
    signal(poller.pid(), libc::SIGSTOP);
    sleep_ms(200);
    signal(poller.pid(), libc::SIGCONT);
    sleep_ms(200);
    let line = std::fs::read_to_string(format!("/proc/{}/syscall", poller.pid())).unwrap();
    let restart = if cfg!(target_arch = "x86_64") {
        "219 "
    } else {
        "128 "
    };
    if !line.starts_with(restart) {
        // aarch64 has no poll: libc's poll() is ppoll, which resumes as itself.
        skip(
            &current_test(),
            &format!("this architecture resumed the poll as {line:?}"),
        );
        return;
    }
    let report = scan(&bed);
    let row = connection(&report, poller.pid());
    let thread = call(row);
    assert_eq!(thread["syscall"], "poll", "{row}");
    assert_eq!(thread["restarted"], true, "{row}");
    assert_eq!(thread["fd"], row["fd"], "{row}");
    assert_eq!(thread["timeout_ms"], 600_000, "{row}");
    assert_eq!(row["timeouts"]["verdict"], "deadline", "{row}");
}

/// A Python program (the machine's python3) that sends a request and waits in recv with
/// `timeout` given to settimeout (None: no timeout, as by default).
fn python(bed: &Bed, port: &str, timeout: &str) -> Option<Proc> {
    let python = which("python3")?;
    let code = "import socket, sys\n\
                s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
                s.settimeout(eval(sys.argv[2]))\n\
                s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n\
                print('ready', flush=True)\n\
                s.recv(10)\n";
    Some(start(
        "ip",
        &[
            "netns",
            "exec",
            bed.name(),
            python.to_str().unwrap(),
            "-c",
            code,
            port,
            timeout,
        ],
    ))
}

#[test]
fn python_without_a_timeout_gets_the_timeout_hint() {
    let Some(bed) = Bed::new("tmo-python", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    let Some(plain) = python(&bed, &port, "None") else {
        skip(&current_test(), "needs python3");
        return;
    };
    let timed = python(&bed, &port, "30").unwrap();
    sleep_ms(1500);
    let report = scan(&bed);

    let f = finding(&report, plain.pid());
    assert_eq!(f["hints"][0]["runtime"], "Python", "{f}");
    assert!(
        f["hints"][0]["advice"]
            .as_str()
            .unwrap()
            .contains("timeout="),
        "{f}"
    );
    let row = connection(&report, plain.pid());
    assert_eq!(call(row)["syscall"], "recvfrom", "{row}");
    assert_eq!(row["timeouts"]["verdict"], "never", "{row}");

    // settimeout(30) turns the wait into a poll with 30 s: a deadline.
    let row = connection(&report, timed.pid());
    assert_eq!(call(row)["syscall"], "poll", "{row}");
    assert_eq!(call(row)["timeout_ms"], 30_000, "{row}");
    assert_eq!(row["timeouts"]["verdict"], "deadline", "{row}");
    assert!(
        row["timeouts"]["ends_in_secs"].as_u64().unwrap() <= 29,
        "{row}"
    );
}

#[test]
fn php_curl_exec_gets_the_curl_hint_and_is_a_loop() {
    let Some(bed) = Bed::new("tmo-php", &[]) else {
        return;
    };
    let Some(php) = which("php") else {
        skip(
            &current_test(),
            "needs php and php-curl (apt-get install php-cli php-curl)",
        );
        return;
    };
    let modules = Command::new(&php).arg("-m").output().unwrap();
    if !String::from_utf8_lossy(&modules.stdout)
        .lines()
        .any(|l| l == "curl")
    {
        skip(&current_test(), "needs php-curl (apt-get install php-curl)");
        return;
    }
    let (_server, port) = blackhole(&bed);
    let code =
        format!("echo \"ready\\n\"; $c = curl_init('http://127.0.0.1:{port}/crl'); curl_exec($c);");
    let client = start(
        "ip",
        &[
            "netns",
            "exec",
            bed.name(),
            php.to_str().unwrap(),
            "-r",
            &code,
        ],
    );
    assert_eq!(client.line, "ready");
    sleep_ms(3000);
    let report = scan(&bed);
    let f = finding(&report, client.pid());
    assert_eq!(f["hints"][0]["runtime"], "PHP + libcurl", "{f}");
    let advice = f["hints"][0]["advice"].as_str().unwrap();
    assert!(advice.contains("CURLOPT_TIMEOUT") && advice.contains("max_execution_time"));
    let row = connection(&report, client.pid());
    assert_eq!(call(row)["syscall"], "poll", "{row}");
    let t = &f["timeouts"];
    assert_eq!(t["wait_timeout_ms"], 1000, "libcurl's 1 s poll: {f}");
    assert_eq!(t["wait_loop"], true, "{f}");
    assert_eq!(t["verdict"], "never", "{f}");
    assert!(
        evidence(f).contains(&"poll loop every 1s: never ends"),
        "{f}"
    );
}

#[test]
fn node_event_loop_has_no_thread_on_the_socket() {
    let Some(bed) = Bed::new("tmo-node", &[]) else {
        return;
    };
    let Some(node) = which("node") else {
        skip(&current_test(), "needs node");
        return;
    };
    let (_server, port) = blackhole(&bed);
    let code = format!(
        "require('net').connect({port}, '127.0.0.1', function () {{ \
         this.write('GET / HTTP/1.0\\r\\n\\r\\n'); console.log('ready'); }})"
    );
    let client = start(
        "ip",
        &[
            "netns",
            "exec",
            bed.name(),
            node.to_str().unwrap(),
            "-e",
            &code,
        ],
    );
    assert_eq!(client.line, "ready");
    sleep_ms(1200);
    let report = scan(&bed);
    let f = finding(&report, client.pid());
    assert_eq!(f["hints"][0]["runtime"], "Node.js", "{f}");
    assert_eq!(f["timeouts"]["verdict"], "never", "{f}");
    assert!(
        f["timeouts"]["explanation"]
            .as_str()
            .unwrap()
            .contains("no thread is blocked on it"),
        "{f}"
    );
}

#[test]
fn forked_workers_are_counted_once() {
    let Some(bed) = Bed::new("tmo-fork", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    // 9 processes share 64 MiB of touched anonymous memory (copy on write), each with a call.
    let parent = bed.testbed(&["fork-share", "64", "8", &port]);
    let children: Vec<u32> = parent
        .line
        .strip_prefix("ready ")
        .unwrap()
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(children.len(), 8);
    sleep_ms(1500);
    let report = scan(&bed);
    let f = finding(&report, parent.pid());
    assert_eq!(f["connections"], 9, "{f}");
    let mib = 1u64 << 20;
    let rss: u64 = std::iter::once(parent.pid())
        .chain(children)
        .map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            let kb: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap();
            kb * 1024
        })
        .sum();
    assert!(rss >= 9 * 64 * mib, "RSS counts the pages 9 times: {rss}");
    let impact = &f["impact"];
    assert_eq!(impact["processes"], 9, "{f}");
    assert_eq!(impact["proportional"], true, "root reads smaps_rollup: {f}");
    let memory = impact["memory_bytes"].as_u64().unwrap();
    assert!(
        (64 * mib..80 * mib).contains(&memory),
        "PSS counts them once: {} MiB",
        memory / mib
    );
    assert!(impact["memory_share"].as_f64().unwrap() > 0.0, "{f}");
    // The same figure per process row.
    let row = &report["processes"][0];
    assert_eq!(row["memory_bytes"], impact["memory_bytes"], "{report}");
    // And in the table.
    let (_, table, _) =
        run(bed
            .stuckconn("scan")
            .args(["--no-dns", "--min-idle", "1s", "--color", "never"]));
    assert!(table.contains("costs: testbed ×9 hold 6"), "{table}");
}

#[test]
fn unprivileged_scans_say_unknown_and_name_the_capability() {
    let Some(bed) = Bed::new("tmo-nobody", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    // Root's client, with keepalive.
    let client = started(&bed, &["keepalive", &port, "1", "1", "5"]);
    sleep_ms(2500);
    let nobody = Nobody::new();

    // Without capabilities, root's process is not visible: nothing needing it is guessed.
    let report = scan_with(bed.nobody(&nobody, &[], "scan"));
    let f = &report["findings"][0];
    assert_eq!(f["kind"], "hung_call", "{report}");
    let t = &f["timeouts"];
    assert_eq!(t["verdict"], "unknown", "{f}");
    assert!(
        t["explanation"]
            .as_str()
            .unwrap()
            .contains("needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE"),
        "{f}"
    );
    assert_eq!(t["receive_timeout_ms"], Value::Null);
    assert_eq!(t["user_timeout_ms"], Value::Null);
    assert_eq!(t["wait_timeout_ms"], Value::Null);
    // What the kernel tells anyone is there: the keepalive timer, answered.
    assert_eq!(t["keepalive"], true, "the kernel's timer says it: {f}");
    assert_eq!(t["keepalive_answered"], true, "{f}");
    assert_eq!(f["impact"], Value::Null, "no holder, no memory: {f}");

    // With both capabilities, what root sees.
    let caps = scan_with(bed.nobody(&nobody, &["dac_read_search", "sys_ptrace"], "scan"));
    let root = scan(&bed);
    let (a, b) = (finding(&caps, client.pid()), finding(&root, client.pid()));
    assert_eq!(a["timeouts"], b["timeouts"], "{caps}\n{root}");
    assert_eq!(a["timeouts"]["verdict"], "never");
    assert_eq!(a["hints"], b["hints"]);
}

#[test]
fn a_real_go_binary_shows_its_build_information() {
    let Some(go) = ["promtool", "prometheus", "kubectl", "docker"]
        .into_iter()
        .find_map(which)
    else {
        skip(
            &current_test(),
            "no Go program installed (promtool, kubectl...)",
        );
        return;
    };
    let file = std::fs::File::open(&go).unwrap();
    let version = stuckconn::collect::runtime::go_version(&file)
        .unwrap_or_else(|| panic!("{} has no Go build information", go.display()));
    assert!(version.starts_with("go1."), "{version}");
    // And a program that is not Go.
    let ip = which("ip").unwrap();
    assert_eq!(
        stuckconn::collect::runtime::go_version(&std::fs::File::open(ip).unwrap()),
        None
    );
}

#[test]
fn a_recording_keeps_the_answers_for_a_replay() {
    let Some(bed) = Bed::new("tmo-record", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    let client = started(&bed, &["rcvtimeo", &port, "600000"]);
    std::thread::sleep(Duration::from_millis(1200));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("host.json");
    let (status, _, err) = run(bed.stuckconn("record").args([
        "-o",
        file.to_str().unwrap(),
        "--no-dns",
        "--min-idle",
        "1s",
    ]));
    assert_eq!(status, 0, "{err}");
    let live = scan(&bed);
    // The client is gone: only the recording knows its options and memory now.
    drop(client);
    let replay = scan_with({
        let mut cmd = stuckconn();
        cmd.args(["scan", "--from", file.to_str().unwrap()]);
        cmd
    });
    let (a, b) = (&live["findings"][0], &replay["findings"][0]);
    assert_eq!(b["timeouts"]["verdict"], "deadline", "{b}");
    assert_eq!(b["timeouts"]["receive_timeout_ms"], 600_000, "{b}");
    assert_eq!(
        a["timeouts"]["receive_timeout_ms"],
        b["timeouts"]["receive_timeout_ms"]
    );
    assert_eq!(a["hints"], b["hints"]);
    assert_eq!(a["impact"]["processes"], b["impact"]["processes"]);
    assert!(b["impact"]["memory_bytes"].as_u64().unwrap() > 0, "{b}");
}

/// 300 stuck sockets over three processes: their options are read by two threads at once
/// (from 256 stuck sockets on), and each socket keeps its own, never another process's.
#[test]
fn many_stuck_sockets_each_get_their_own_options() {
    let Some(bed) = Bed::new("tmo-many", &[]) else {
        return;
    };
    let sink = bed.testbed(&["sink"]);
    let port = sink.port().to_string();
    let holds: Vec<Proc> = (0..2)
        .map(|_| bed.testbed(&["hold", &port, "150"]))
        .collect();
    let (_server, blackhole_port) = blackhole(&bed);
    let client = started(&bed, &["rcvtimeo", &blackhole_port, "600000"]);
    sleep_ms(1200);
    let report = scan(&bed);
    for hold in &holds {
        let rows = connections_of(&report, hold.pid());
        assert_eq!(rows.len(), 150, "hold {} holds 150", hold.pid());
        for row in rows {
            let t = &row["timeouts"];
            assert_eq!(t["options_unreadable"], Value::Null, "{row}");
            assert_eq!(t["receive_timeout_ms"], 0, "read, and unset: {row}");
            assert_eq!(t["keepalive"], false, "{row}");
        }
    }
    let row = connection(&report, client.pid());
    assert_eq!(row["timeouts"]["receive_timeout_ms"], 600_000, "{row}");
}

/// Twenty blocked clients: from sixteen processes on, two threads describe the holders and
/// examine their threads; each process is still described once, with its own blocked call.
#[test]
fn twenty_blocked_clients_are_each_described_with_their_own_call() {
    let Some(bed) = Bed::new("tmo-twenty", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    let clients: Vec<Proc> = (0..20)
        .map(|_| bed.testbed(&["hung-recv", &port]))
        .collect();
    sleep_ms(1200);
    let report = scan(&bed);
    for client in &clients {
        let row = connection(&report, client.pid());
        assert_eq!(row["process"], "testbed", "{row}");
        let threads = row["blocked_threads"].as_array().unwrap();
        assert_eq!(threads.len(), 1, "{row}");
        assert_eq!(threads[0]["syscall"], "recvfrom", "{row}");
        assert_eq!(threads[0]["tid"], client.pid(), "its own thread: {row}");
    }
    let described: Vec<u64> = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["pids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_u64().unwrap())
        })
        .collect();
    for client in &clients {
        let n = described
            .iter()
            .filter(|&&p| p == u64::from(client.pid()))
            .count();
        assert_eq!(n, 1, "pid {} described once: {described:?}", client.pid());
    }
}

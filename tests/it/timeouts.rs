//! Why a stuck connection never ends, what it costs, what to change: the readers
//! (`collect::sockopts`, `collect::waits`, `collect::memory`) and the enrichers
//! (`enrich::timeouts`, `enrich::hints`, `enrich::impact`) on real clients blocked in real
//! calls, each in a bed of its own. `testbed judge PID FD` runs inside the bed (as root, or as
//! nobody) and reports, as JSON, what the library reads and concludes about that socket.

use crate::common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// The one TCP socket a client process holds: (fd, inode). Other sockets (libcurl's wakeup
/// pair, Node's pipes) are Unix sockets: the TCP one is the one whose inode is in the
/// process's /proc/PID/net/tcp.
fn socket_of(pid: u32) -> (u32, u32) {
    let tcp = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap();
    let inodes: Vec<u32> = tcp
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(9)?.parse().ok())
        .collect();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let link = std::fs::read_link(entry.path()).unwrap_or_default();
        let inode = link
            .to_str()
            .and_then(|l| l.strip_prefix("socket:["))
            .and_then(|l| l.strip_suffix(']'))
            .and_then(|i| i.parse().ok());
        if let Some(inode) = inode.filter(|i| inodes.contains(i)) {
            found.push((entry.file_name().to_str().unwrap().parse().unwrap(), inode));
        }
    }
    assert_eq!(
        found.len(),
        1,
        "pid {pid} should hold one TCP socket: {found:?}"
    );
    found[0]
}

/// `testbed judge PID FD` inside the bed, as root.
fn judge(bed: &Bed, pid: u32) -> Value {
    let (fd, _) = socket_of(pid);
    let (status, out, err) =
        run(bed
            .command(testbed_path())
            .args(["judge", &pid.to_string(), &fd.to_string()]));
    assert_eq!(status, 0, "judge failed: {err}");
    json(&out)
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
    let j = judge(&bed, client.pid());
    assert_eq!(j["options"]["Ok"]["receive_timeout_ms"], 600_000, "{j}");
    assert_eq!(j["calls"][0]["syscall"], "recvfrom", "{j}");
    let t = &j["timeouts"];
    assert_eq!(t["verdict"], "deadline", "{j}");
    assert_eq!(t["receive_timeout_ms"], 600_000);
    assert_eq!(t["wait_timeout_ms"], 600_000);
    let ends = t["ends_in_secs"].as_u64().unwrap();
    assert!((590..=599).contains(&ends), "{j}");
    assert!(
        j["phrase"]
            .as_str()
            .unwrap()
            .starts_with("RCVTIMEO 10m, ends in 9m"),
        "{j}"
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
    let j = judge(&bed, client.pid());
    assert_eq!(j["state"], "established", "still there after 6 s: {j}");
    assert_eq!(j["timeouts"]["timer"]["kind"], "keepalive", "{j}");
    assert_eq!(j["tcp_info"]["probes"], 0, "{j}");
    let ack = j["tcp_info"]["last_ack_recv_ms"].as_u64().unwrap();
    let recv = j["tcp_info"]["last_data_recv_ms"].as_u64().unwrap();
    assert!(ack + 1000 < recv, "the peer's kernel ACKs the probes: {j}");
    let s = &j["summary"];
    assert_eq!(s["keepalive"], true);
    assert_eq!(s["keepalive_answered"], true);
    assert_eq!(s["verdict"], "never");
    assert_eq!(j["phrase"], "keepalive answered: never ends");
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
    let (_, inode) = socket_of(client.pid());
    sleep_ms(500);
    // The peer's host disappears: nothing answers the probes any more.
    let status = Command::new("ip")
        .args(["-n", bed.name(), "addr", "del", "192.0.2.1/32", "dev", "lo"])
        .status()
        .unwrap();
    assert!(status.success());
    sleep_ms(2600);
    let j = judge(&bed, client.pid());
    let t = &j["timeouts"];
    assert_eq!(t["verdict"], "kernel", "{j}");
    assert_eq!(t["keepalive_answered"], false, "{j}");
    assert!(j["tcp_info"]["probes"].as_u64().unwrap() > 0, "{j}");
    let ends = t["ends_in_secs"].as_u64().unwrap();
    assert!(ends <= 4, "{j}");
    // The kernel keeps its word: the socket is gone within that time (and a second).
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
    let j = judge(&bed, client.pid());
    assert_eq!(j["state"], "established", "TCP_USER_TIMEOUT 1s passed: {j}");
    let t = &j["timeouts"];
    assert_eq!(t["user_timeout_ms"], 1000);
    assert_eq!(t["verdict"], "never", "{j}");
    assert!(
        t["explanation"]
            .as_str()
            .unwrap()
            .contains("TCP_USER_TIMEOUT is set but acts only on unacknowledged data"),
        "{j}"
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

    let j = judge(&bed, forever.pid());
    assert_eq!(j["calls"][0]["syscall"], "poll", "{j}");
    assert_eq!(j["calls"][0]["timeout"]["kind"], "forever");
    let s = &j["summary"];
    assert_eq!(s["wait_timeout_ms"], -1);
    assert_eq!(s["wait_loop"], false);
    assert_eq!(s["verdict"], "never");
    assert_eq!(j["phrase"], "no timeout anywhere");

    let j = judge(&bed, looping.pid());
    assert_eq!(j["calls"][0]["timeout"]["ms"], 1000, "{j}");
    let s = &j["summary"];
    assert_eq!(s["wait_timeout_ms"], 1000);
    assert_eq!(s["wait_loop"], true, "idle 2.6 s on a 1 s poll: {j}");
    assert_eq!(s["verdict"], "never");
    assert_eq!(j["phrase"], "poll loop every 1s: never ends");

    // The same loop with 30 s: idle 2.6 s says nothing of a loop yet, only of a deadline.
    let j = judge(&bed, long.pid());
    let s = &j["summary"];
    assert_eq!(s["wait_loop"], false, "{j}");
    assert_eq!(s["verdict"], "deadline");
    let ends = s["ends_in_secs"].as_u64().unwrap();
    assert!((26..=28).contains(&ends), "{j}");
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a process this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, sig) }, 0);
}

#[test]
fn stopped_and_resumed_threads_are_still_blocked() {
    let Some(bed) = Bed::new("tmo-stop", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    let reader = started(&bed, &["hung-recv", &port]);
    let poller = started(&bed, &["poll-loop", &port, "600000"]);
    sleep_ms(300);

    // Stopped in read(): the call still shows, the thread is stopped.
    signal(reader.pid(), libc::SIGSTOP);
    sleep_ms(200);
    let j = judge(&bed, reader.pid());
    assert_eq!(j["calls"][0]["syscall"], "recvfrom", "{j}");
    assert_eq!(j["calls"][0]["stopped"], true, "{j}");
    assert_eq!(j["phrase"], "thread stopped: never ends", "{j}");
    // Continued: read() resumes as itself.
    signal(reader.pid(), libc::SIGCONT);
    sleep_ms(200);
    let j = judge(&bed, reader.pid());
    assert_eq!(j["calls"][0]["syscall"], "recvfrom", "{j}");
    assert_eq!(j["calls"][0]["stopped"], false, "{j}");
    assert_eq!(j["calls"][0]["restarted"], false, "{j}");

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
    let (fd, _) = socket_of(poller.pid());
    let j = judge(&bed, poller.pid());
    let call = &j["calls"][0];
    assert_eq!(call["syscall"], "poll", "{j}");
    assert_eq!(call["restarted"], true, "{j}");
    assert_eq!(call["fds"], serde_json::json!([fd]), "{j}");
    assert_eq!(call["timeout"]["ms"], 600_000, "{j}");
    assert_eq!(j["summary"]["verdict"], "deadline", "{j}");
}

/// A Python program (the machine's python3) that sends a request and waits in recv with
/// `timeout` given to settimeout (None: no timeout, as by default).
fn python(bed: &Bed, port: &str, timeout: &str) -> Option<Proc> {
    let python = ["/usr/bin/python3"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| which("python3"))?;
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

    let j = judge(&bed, plain.pid());
    assert_eq!(j["runtimes"], serde_json::json!(["python"]), "{j}");
    assert_eq!(j["hints"][0]["runtime"], "Python", "{j}");
    assert!(
        j["hints"][0]["advice"]
            .as_str()
            .unwrap()
            .contains("timeout="),
        "{j}"
    );
    assert_eq!(j["calls"][0]["syscall"], "recvfrom", "{j}");
    assert_eq!(j["summary"]["verdict"], "never", "{j}");

    // settimeout(30) turns the wait into a poll with 30 s: a deadline.
    let j = judge(&bed, timed.pid());
    assert_eq!(j["calls"][0]["syscall"], "poll", "{j}");
    assert_eq!(j["calls"][0]["timeout"]["ms"], 30_000, "{j}");
    assert_eq!(j["summary"]["verdict"], "deadline", "{j}");
    assert!(j["summary"]["ends_in_secs"].as_u64().unwrap() <= 29, "{j}");
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
    let j = judge(&bed, client.pid());
    assert_eq!(j["runtimes"], serde_json::json!(["php", "curl"]), "{j}");
    assert_eq!(j["hints"][0]["runtime"], "PHP + libcurl", "{j}");
    let advice = j["hints"][0]["advice"].as_str().unwrap();
    assert!(advice.contains("CURLOPT_TIMEOUT") && advice.contains("max_execution_time"));
    assert_eq!(j["calls"][0]["syscall"], "poll", "{j}");
    assert_eq!(
        j["summary"]["wait_timeout_ms"], 1000,
        "libcurl's 1 s poll: {j}"
    );
    assert_eq!(j["summary"]["wait_loop"], true, "{j}");
    assert_eq!(j["summary"]["verdict"], "never", "{j}");
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
    let j = judge(&bed, client.pid());
    assert_eq!(j["runtimes"], serde_json::json!(["node"]), "{j}");
    assert_eq!(j["hints"][0]["runtime"], "Node.js", "{j}");
    let s = &j["summary"];
    assert_eq!(s["verdict"], "never", "{j}");
    assert!(
        s["explanation"]
            .as_str()
            .unwrap()
            .contains("no thread is blocked on it"),
        "{j}"
    );
}

#[test]
fn forked_workers_are_counted_once() {
    // 9 processes share 64 MiB of touched anonymous memory (copy on write).
    let parent = testbed(&["fork-share", "64", "8"]);
    let children: Vec<u32> = parent
        .line
        .strip_prefix("ready ")
        .unwrap()
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(children.len(), 8);
    let pids: Vec<u32> = std::iter::once(parent.pid()).chain(children).collect();
    let usages: Vec<_> = pids
        .iter()
        .map(|&p| (stuckconn::collect::memory::usage(p), 1))
        .collect();
    let mib = 1u64 << 20;
    let rss: u64 = usages.iter().map(|(u, _)| u.unwrap().rss_bytes).sum();
    assert!(rss >= 9 * 64 * mib, "RSS counts the pages 9 times: {rss}");
    let impact =
        stuckconn::enrich::impact::impact(&usages, stuckconn::collect::memory::mem_total_bytes());
    assert!(impact.proportional, "root reads smaps_rollup");
    assert_eq!(impact.processes, 9);
    assert!(
        impact.memory_bytes >= 64 * mib && impact.memory_bytes < 80 * mib,
        "PSS counts them once: {} MiB",
        impact.memory_bytes / mib
    );
    assert!(stuckconn::enrich::impact::phrase("testbed", &impact).starts_with("testbed ×9 hold 6"));
}

/// A copy of the testbed binary that nobody may run.
fn testbed_for_nobody() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(testbed_path(), dir.path().join("testbed")).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn unprivileged_readers_say_unknown_and_name_the_capability() {
    let Some(bed) = Bed::new("tmo-nobody", &[]) else {
        return;
    };
    let (_server, port) = blackhole(&bed);
    // Root's client, with keepalive.
    let client = started(&bed, &["keepalive", &port, "1", "1", "5"]);
    sleep_ms(2500);
    let (fd, inode) = socket_of(client.pid());
    let dir = testbed_for_nobody();
    let judge_as = |caps: &[&str]| {
        let mut cmd = bed.command("setpriv");
        cmd.args(Nobody::setpriv_args(caps))
            .arg(dir.path().join("testbed"))
            .args(["judge", &client.pid().to_string(), &fd.to_string()])
            .arg(inode.to_string());
        let (status, out, err) = run(&mut cmd);
        assert_eq!(status, 0, "{caps:?}: {err}");
        json(&out)
    };

    let none = judge_as(&[]);
    assert_eq!(
        none["options"]["Err"],
        serde_json::json!({"reason": "denied", "missing": "CAP_SYS_PTRACE"}),
        "{none}"
    );
    assert_eq!(none["thread_evidence"], "denied", "{none}");
    let t = &none["timeouts"];
    assert_eq!(t["verdict"], "unknown", "{none}");
    assert_eq!(none["phrase"], "timeouts unknown: needs CAP_SYS_PTRACE");
    // Never a wrong value: what needs privilege is null, what sock_diag says is there.
    assert_eq!(t["receive_timeout_ms"], Value::Null);
    assert_eq!(t["user_timeout_ms"], Value::Null);
    assert_eq!(t["wait_timeout_ms"], Value::Null);
    assert_eq!(t["keepalive"], true, "the kernel's timer says it: {none}");
    assert_eq!(t["keepalive_answered"], true, "{none}");
    // Memory falls back to RSS, and says so.
    assert_eq!(none["memory"]["proportional"], false, "{none}");
    assert!(none["memory"]["memory_bytes"].as_u64().unwrap() > 0);

    // CAP_SYS_PTRACE alone reads the options, right; the threads still need
    // CAP_DAC_READ_SEARCH.
    let ptrace = judge_as(&["sys_ptrace"]);
    assert_eq!(ptrace["options"]["Ok"]["keepalive"], true, "{ptrace}");
    assert_eq!(ptrace["options"]["Ok"]["keepcnt"], 5, "{ptrace}");
    assert_eq!(ptrace["timeouts"]["verdict"], "unknown", "{ptrace}");
    assert!(
        ptrace["timeouts"]["explanation"]
            .as_str()
            .unwrap()
            .contains("CAP_DAC_READ_SEARCH"),
        "{ptrace}"
    );

    // Both: what root sees.
    let both = judge_as(&["sys_ptrace", "dac_read_search"]);
    let root = judge(&bed, client.pid());
    assert_eq!(both["summary"]["verdict"], "never", "{both}");
    assert_eq!(both["summary"]["verdict"], root["summary"]["verdict"]);
    assert_eq!(both["calls"], root["calls"]);
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
    let version = stuckconn::enrich::hints::go_version(&file)
        .unwrap_or_else(|| panic!("{} has no Go build information", go.display()));
    assert!(version.starts_with("go1."), "{version}");
    // And a program that is not Go.
    let ip = which("ip").unwrap();
    assert_eq!(
        stuckconn::enrich::hints::go_version(&std::fs::File::open(ip).unwrap()),
        None
    );
}

//! Trust on the worst day: every defect found by trying to break stuckconn (as an attacker, a
//! careless admin and a new user would), each with the test that proves it is gone. Live
//! parts run in network namespaces the tests make, and scan only those.

use crate::common::*;
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SETTLE: Duration = Duration::from_millis(2600);

fn mknod_null(path: &Path) {
    let status = Command::new("mknod")
        .arg(path)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(status.success(), "mknod {}", path.display());
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
}

fn assert_still_null_device(path: &Path) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(
        meta.file_type().is_char_device(),
        "{} is no longer a character device: {:?}",
        path.display(),
        meta.file_type()
    );
    assert_eq!(meta.rdev(), libc::makedev(1, 3), "the same device");
}

fn incident() -> String {
    fixture("incident.json")
}

/// stuckconn run inside a test namespace (what `--capture` needs: it sees its own namespace
/// only), scanning just that namespace.
fn stuckconn_in(ns: &Bed) -> Command {
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_stuckconn"));
    cmd.env_remove("NO_COLOR").env_remove("COLUMNS");
    cmd
}

/// Item 1: an existing path that is not a regular file is written in place, never replaced.
#[test]
fn devices_fifos_and_links_to_them_are_written_in_place_never_replaced() {
    if !is_root() {
        skip(
            "devices_fifos_and_links_to_them_are_written_in_place_never_replaced",
            "mknod needs root",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("null");
    mknod_null(&dev);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&dev, &link).unwrap();
    for target in [&dev, &link] {
        let t = target.to_str().unwrap();
        for args in [
            vec![
                "scan",
                "--from",
                &incident(),
                "--format",
                "json",
                "--output",
                t,
            ],
            vec![
                "scan",
                "--from",
                &incident(),
                "--format",
                "prometheus",
                "-o",
                t,
            ],
            vec!["record", "--netns", "self", "--no-dns", "-o", t],
        ] {
            let (status, _, err) = run(stuckconn().args(&args));
            assert!(status == 0 || status == 1, "{args:?}: {status} {err}");
            assert_still_null_device(&dev);
            assert!(std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
        }
    }

    // A FIFO with a reader gets the report; the FIFO stays a FIFO.
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    std::thread::sleep(Duration::from_millis(200));
    let (status, _, err) = run(stuckconn()
        .args([
            "scan",
            "--from",
            &incident(),
            "--format",
            "json",
            "--output",
        ])
        .arg(&fifo));
    assert_eq!(status, 1, "{err}");
    let got = reader.join().unwrap();
    assert_eq!(json(&got)["summary"]["problems"], 1);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    // A FIFO nobody reads is an error at once, not a hang.
    let started = Instant::now();
    let (status, _, err) = run(stuckconn()
        .args(["scan", "--from", &incident(), "--output"])
        .arg(&fifo));
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("no process is reading"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    // /dev/stdout is standard output, still a symlink afterwards.
    let (status, out, err) = run(stuckconn().args([
        "scan",
        "--from",
        &incident(),
        "--format",
        "json",
        "--output",
        "/dev/stdout",
    ]));
    assert_eq!(status, 1, "{err}");
    assert_eq!(json(&out)["summary"]["problems"], 1);
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());

    // A link to a device planted by another user is not followed (and not replaced).
    let planted = dir.path().join("planted");
    std::os::unix::fs::symlink(&dev, &planted).unwrap();
    assert!(Command::new("chown")
        .args(["-h", "65534:65534"])
        .arg(&planted)
        .status()
        .unwrap()
        .success());
    let (status, _, err) = run(stuckconn()
        .args(["scan", "--from", &incident(), "--output"])
        .arg(&planted));
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("refusing to follow"), "{err}");
    assert!(std::fs::symlink_metadata(&planted)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_still_null_device(&dev);

    // A regular file and a link to one are replaced by a rename; nothing else is left.
    let regular = dir.path().join("report.json");
    std::fs::write(&regular, "old").unwrap();
    let (status, _, _) = run(stuckconn()
        .args(["scan", "--from", &incident(), "--format", "json", "-o"])
        .arg(&regular));
    assert_eq!(status, 1);
    assert_eq!(
        json(&std::fs::read_to_string(&regular).unwrap())["summary"]["problems"],
        1
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".stuckconn")),
        "{names:?}"
    );
}

/// Item 8: files that may carry command lines are private; metrics are not.
#[test]
fn reports_with_command_lines_are_created_private_metrics_readable() {
    let dir = tempfile::tempdir().unwrap();
    for (format, mode) in [("json", 0o600), ("table", 0o600), ("prometheus", 0o644)] {
        let path = dir.path().join(format!("out.{format}"));
        let (status, _, err) = run(stuckconn()
            .args([
                "scan",
                "--from",
                &incident(),
                "--no-redact",
                "--format",
                format,
                "--output",
            ])
            .arg(&path));
        assert_eq!(status, 1, "{err}");
        let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "--format {format} --output is {got:o}");
    }
}

/// A namespace with a blackhole on 192.0.2.5 and a request-sender in it.
struct Stuck {
    ns: Bed,
    _server: Proc,
    client: Proc,
    port: String,
}

fn stuck(tag: &str, server_role: &str, client_role: &str) -> Option<Stuck> {
    let ns = Bed::new(tag, &["192.0.2.5/32"])?;
    let env = [("TESTBED_ADDR", "192.0.2.5")];
    let server = ns.testbed_env(&[server_role], &env);
    let port = server.port().to_string();
    let client = ns.testbed_env(&[client_role, &port], &env);
    Some(Stuck {
        ns,
        _server: server,
        client,
        port,
    })
}

/// Items 1 and 2: `--pcap-out` on a device is written in place; on a path in a directory
/// anyone may write, there is never a name to swap, and an attacker swapping every name he
/// sees cannot redirect root's write.
#[test]
fn pcap_out_is_written_through_its_own_descriptor() {
    let Some(bed) = stuck("pcap", "blackhole", "hung-recv") else {
        return;
    };
    std::thread::sleep(SETTLE);
    let capture = |out: &Path| {
        stuckconn_in(&bed.ns)
            .args([
                "scan",
                "--netns",
                "self",
                "--no-dns",
                "--min-idle",
                "2s",
                "--capture",
                "2s",
            ])
            .args(["--port", &bed.port, "--pcap-out"])
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    let dev_dir = tempfile::tempdir().unwrap();
    let dev = dev_dir.path().join("null");
    mknod_null(&dev);
    let out = capture(&dev).wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_still_null_device(&dev);

    // A world-writable, non-sticky directory, and a victim file of root's.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("shadow");
    std::fs::write(&victim, "root's data\n").unwrap();
    let script = format!(
        "while :; do for f in {dir}/.stuckconn*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; \
         ln -sf {victim} {dir}/.swap && mv -f {dir}/.swap \"$f\"; done; done",
        dir = shared.path().display(),
        victim = victim.display()
    );
    let mut attacker = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .spawn()
        .unwrap();
    let target = shared.path().join("flows.pcap");
    let mut child = capture(&target);
    let mut names_seen = std::collections::BTreeSet::new();
    while child.try_wait().unwrap().is_none() {
        for entry in std::fs::read_dir(shared.path()).unwrap().flatten() {
            names_seen.insert(entry.file_name().to_string_lossy().into_owned());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = attacker.kill();
    let _ = attacker.wait();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root's data\n",
        "the victim is intact"
    );
    names_seen.remove(".swap");
    names_seen.remove("flows.pcap");
    assert!(
        names_seen.is_empty(),
        "during the capture the directory showed names that could be swapped: {names_seen:?}"
    );
    let meta = std::fs::symlink_metadata(&target).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), 0);
}

/// The records of a pcap file: (captured bytes, length on the wire), via libpcap.
fn pcap_records(path: &Path) -> Vec<(Vec<u8>, u32)> {
    let mut capture = pcap::Capture::from_file(path).unwrap();
    let mut out = Vec::new();
    while let Ok(packet) = capture.next_packet() {
        out.push((packet.data.to_vec(), packet.header.len));
    }
    out
}

/// Item 3: `--pcap-out` keeps only the headers, and only packets of the findings' flows, even
/// when the capture filter has to be coarse (hundreds of flows: one clause per remote).
#[test]
fn pcap_out_holds_headers_of_finding_flows_only() {
    let Some(ns) = Bed::new("snap", &["192.0.2.6/32"]) else {
        return;
    };
    let env = [("TESTBED_ADDR", "192.0.2.6")];
    let server = ns.testbed_env(&["selective"], &env);
    let port = server.port().to_string();
    // 300 hung calls: the exact filter (one clause a flow) is too long, so it is per remote.
    let _hung = ns.testbed_env(&["hold", &port, "300"], &env);
    std::thread::sleep(SETTLE);
    // A live stream to the same remote endpoint, started after the hung ones went idle.
    let _stream = ns.testbed_env(&["stream-ask", &port], &env);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("flows.pcap");
    let (status, out, err) = run(stuckconn_in(&ns)
        .args([
            "scan",
            "--netns",
            "self",
            "--no-dns",
            "--format",
            "json",
            "--min-idle",
            "2s",
        ])
        .args(["--capture", "2s", "--interface", "lo", "--pcap-out"])
        .arg(&pcap));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    let filter = report["wire"]["filter"].as_str().unwrap();
    assert_eq!(
        filter,
        format!("tcp and ((host 192.0.2.6 and port {port}))"),
        "the coarse filter"
    );
    assert!(
        report["wire"]["packets_unmatched"].as_u64().unwrap() >= 10,
        "the stream's packets passed the filter: {:#}",
        report["wire"]
    );
    // The stream's packets carried payload ('z' x 100); none of them, and no payload at all,
    // is in the file.
    let records = pcap_records(&pcap);
    let bytes = std::fs::read(&pcap).unwrap();
    assert!(
        !bytes.windows(20).any(|w| w.iter().all(|&b| b == b'z')),
        "payload in the file"
    );
    for (data, _) in &records {
        let segment = stuckconn::capture::packet::parse(1, data).expect("a TCP frame");
        assert_eq!(segment.headers_len as usize, data.len(), "headers only");
        assert_ne!(segment.src.port, 0);
    }
}

/// Item 3: a binary given CAP_NET_RAW with setcap captures, for an ordinary user, only that
/// user's own sockets.
#[test]
fn a_setcap_binary_captures_only_its_users_own_sockets() {
    if which("setcap").is_none() {
        skip(
            "a_setcap_binary_captures_only_its_users_own_sockets",
            "needs root, ip(8) and setcap(8) (libcap2-bin)",
        );
        return;
    }
    let Some(ns) = Bed::new("setcap", &["192.0.2.7/32"]) else {
        return;
    };
    let env = [("TESTBED_ADDR", "192.0.2.7")];
    let server = ns.testbed_env(&["blackhole"], &env);
    let port = server.port().to_string();
    let roots = ns.testbed_env(&["hung-recv", &port], &env);
    // The same client, run as nobody from a copy nobody may execute.
    let nobody = Nobody::new();
    let testbed_copy = nobody.binary().with_file_name("testbed");
    std::fs::copy(testbed_path(), &testbed_copy).unwrap();
    let mut args = vec![
        "netns",
        "exec",
        ns.name(),
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    let copy = testbed_copy.to_str().unwrap().to_string();
    args.push(&copy);
    args.extend(["hung-recv", port.as_str()]);
    let nobodys = start_with_env("ip", &args, &env);
    let stuckconn_copy = nobody.binary();
    let status = Command::new("setcap")
        .arg("cap_net_raw=eip")
        .arg(&stuckconn_copy)
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(SETTLE);

    let out_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(out_dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let pcap = out_dir.path().join("x.pcap");
    let output = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ])
        .arg(&stuckconn_copy)
        .args([
            "scan",
            "--netns",
            "self",
            "--no-dns",
            "--format",
            "json",
            "--min-idle",
            "2s",
        ])
        .args([
            "--capture",
            "2s",
            "--interface",
            "lo",
            "--port",
            &port,
            "--pcap-out",
        ])
        .arg(&pcap)
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(1), "{err}");
    let report = json(&out);
    assert!(
        report["wire"]["capture_error"].is_null(),
        "{:#}",
        report["wire"]
    );
    let conns = report["connections"].as_array().unwrap();
    let of = |uid: u64| {
        conns
            .iter()
            .find(|c| c["uid"] == uid && c["kind"] == "hung_call")
            .unwrap_or_else(|| panic!("no hung call of uid {uid}: {conns:#?}"))
    };
    assert!(
        of(65534)["capture"].is_object(),
        "nobody's own flow is captured"
    );
    assert!(
        of(0)["capture"].is_null(),
        "root's flow is not captured: {:#}",
        of(0)
    );
    assert!(
        report["warnings"]
            .to_string()
            .contains("captures only the sockets of uid 65534"),
        "{}",
        report["warnings"]
    );
    let _ = (roots.pid(), nobodys.pid());
}

/// Items 9 and 10: values that once wrapped or panicked are refused with one line and exit 2.
#[test]
fn huge_durations_and_zero_counts_are_refused_in_one_line() {
    for args in [
        vec!["scan", "--timeout", "18446744073709551615s"],
        vec!["scan", "--dns-timeout", "99999999999999999999s"],
        vec!["scan", "--min-idle", "18446744073709552s"],
        vec!["watch", "--interval", "0s"],
        vec!["watch", "--interval", "18446744073709551615s"],
        vec!["watch", "--duration", "1000000d"],
        vec!["watch", "--count", "0"],
        vec!["check", "--dns-deadline", "40d"],
    ] {
        let (status, out, err) = run(stuckconn().args(&args));
        if args[0] == "check" {
            assert_eq!(status, 3, "{args:?}: a plugin says UNKNOWN");
            assert!(out.starts_with("STUCKCONN UNKNOWN"), "{out}");
            continue;
        }
        assert_eq!(status, 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(&format!("stuckconn {} --help", args[0])),
            "{err}"
        );
    }
}

/// Item 9: snapshots with odd but valid values, and a standard error that cannot be written.
#[test]
fn odd_snapshots_and_a_broken_stderr_never_panic() {
    let mut snapshot: Value = json(&std::fs::read_to_string(incident()).unwrap());
    snapshot["taken_at"] = "1970-01-01T00:00:00Z".into();
    for p in snapshot["processes"].as_array_mut().unwrap() {
        p["container"] = "xéééééééééééééééé".into();
        p["unit"] = Value::Null;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.json");
    std::fs::write(&path, snapshot.to_string()).unwrap();
    for format in ["table", "json", "prometheus"] {
        let (status, out, err) = run(stuckconn()
            .args(["scan", "--format", format, "--all", "--from"])
            .arg(&path));
        assert_eq!(status, 1, "--format {format}: {err}");
        assert!(!out.is_empty());
    }
    let (status, out, _) = run(stuckconn().args(["check", "--from"]).arg(&path));
    assert_eq!(status, 2, "{out}");
    assert!(out.starts_with("STUCKCONN CRITICAL"), "{out}");

    // Warnings to a full disk or a closed pipe are dropped, never a panic.
    let dev_full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let status = stuckconn()
        .args(["scan", "--netns", "self", "--no-dns", "--timeout", "1ns"])
        .stdout(Stdio::null())
        .stderr(dev_full)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3), "partial, not a panic (101)");
    let mut child = stuckconn()
        .args([
            "record",
            "--netns",
            "self",
            "--no-dns",
            "--timeout",
            "1ns",
            "-o",
        ])
        .arg(dir.path().join("r.json"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "recorded, not a panic (101)"
    );
}

/// Item 11: `--from` and `--netns` never block on a FIFO or read a device forever; snapshots
/// are bounded in size.
#[test]
fn from_and_netns_refuse_what_is_not_theirs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fifo = fifo.to_str().unwrap();
    for (args, says) in [
        (
            vec!["scan", "--from", fifo],
            "it is a FIFO, not a regular file",
        ),
        (
            vec!["scan", "--from", "/dev/zero"],
            "it is a character device",
        ),
        (vec!["scan", "--from", "/"], "it is a directory"),
        (
            vec!["scan", "--netns", fifo],
            "is a FIFO, not a network namespace",
        ),
        (
            vec!["scan", "--netns", "/etc/passwd"],
            "is a regular file, not a network namespace",
        ),
        (
            vec!["scan", "--netns", "/proc/self/ns/mnt"],
            "is a mount namespace",
        ),
        (
            vec!["record", "-o", "-", "--netns", "/etc/passwd"],
            "not a network namespace",
        ),
        (
            vec!["watch", "--count", "1", "--netns", "/etc/passwd"],
            "not a network namespace",
        ),
        (
            vec!["scan", "--snapshot-limit", "64K", "--from", &incident()],
            "over the limit of 65536 bytes",
        ),
    ] {
        let started = Instant::now();
        let (status, _, err) = run(stuckconn().args(&args));
        assert_eq!(status, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
    let (status, out, _) = run(stuckconn().args(["check", "--netns", "/etc/passwd"]));
    assert_eq!(status, 3, "a plugin that cannot see says UNKNOWN: {out}");
    assert!(
        out.starts_with("STUCKCONN UNKNOWN") && out.contains("not a network namespace"),
        "{out}"
    );

    // Standard input still works.
    let mut child = stuckconn()
        .args(["scan", "--format", "json", "--from", "-"])
        .stdin(std::fs::File::open(incident()).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut text).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert_eq!(json(&text)["summary"]["problems"], 1);
}

/// The pid and exit status of a command that got `signal` after `delay`, and how long it
/// took to end after the signal.
fn interrupt(mut cmd: Command, delay: Duration, signal: i32) -> (std::process::Output, Duration) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    // SAFETY: kill with the pid of our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let sent = Instant::now();
    let output = child.wait_with_output().unwrap();
    (output, sent.elapsed())
}

/// Item 12: SIGINT and SIGTERM end the command within 200 ms at any point (here: during
/// slow reverse DNS in watch, during a capture), and no temporary file survives.
#[test]
fn signals_end_every_step_at_once_and_leave_nothing_behind() {
    let Some(bed) = stuck("signal", "blackhole", "hung-recv") else {
        return;
    };
    // A resolver that never answers: each lookup waits its full --dns-timeout.
    let dns = testbed(&["dns-blackhole"]);
    std::thread::sleep(SETTLE);
    let mut watch = stuckconn();
    watch
        .args([
            "watch",
            "--netns",
            bed.ns.name(),
            "--min-idle",
            "2s",
            "--format",
            "ndjson",
        ])
        .args(["--dns-server", &format!("127.0.0.1:{}", dns.port())])
        .args(["--dns-timeout", "20s", "--dns-deadline", "20s"]);
    let (output, took) = interrupt(watch, Duration::from_millis(1500), libc::SIGINT);
    assert!(
        took < Duration::from_millis(400),
        "watch ended {took:?} after SIGINT during DNS"
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().last().map(json).unwrap_or(Value::Null);
    assert_eq!(last["type"], "summary", "{text}");
    assert_eq!(last["ended_by"], "signal");

    let dir = tempfile::tempdir().unwrap();
    let mut scan = stuckconn_in(&bed.ns);
    scan.args([
        "scan",
        "--netns",
        "self",
        "--no-dns",
        "--format",
        "json",
        "--min-idle",
        "2s",
    ])
    .args(["--port", &bed.port, "--capture", "10s", "--pcap-out"])
    .arg(dir.path().join("flows.pcap"));
    let (output, took) = interrupt(scan, Duration::from_millis(1500), libc::SIGTERM);
    assert!(
        took < Duration::from_millis(400),
        "scan ended {took:?} after SIGTERM in --capture"
    );
    assert_eq!(output.status.code(), Some(3), "a partial report");
    let report = json(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(report["partial"], true);
    assert!(
        report["warnings"]
            .to_string()
            .contains("interrupted by SIGTERM"),
        "{}",
        report["warnings"]
    );
    let names: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        names,
        vec![dir.path().join("flows.pcap")],
        "only the finished file"
    );
    let _ = bed.client.pid();
}

/// Item 18: the command line says what it means.
#[test]
fn usage_errors_point_at_the_right_help_and_help_names_every_status() {
    let (status, _, err) = run(stuckconn().args(["scan", "--bogus"]));
    assert_eq!(status, 2);
    assert!(err.contains("see stuckconn scan --help"), "{err}");
    let (_, help, _) = run(stuckconn().arg("--help"));
    assert!(help.contains("3 partial report"), "{help}");
    // The next step suggested after a replay replays the same file.
    let (_, table, _) = run(stuckconn().args(["scan", "--from", &incident()]));
    assert!(
        table.contains(&format!("stuckconn scan --from {} --remote", incident())),
        "{table}"
    );
    // An IPv4-mapped address filters the IPv4 remote the report shows.
    let (_, mapped, _) = run(stuckconn().args([
        "scan",
        "--from",
        &incident(),
        "--format",
        "json",
        "--remote",
        "::ffff:198.51.100.7",
    ]));
    let (_, plain, _) = run(stuckconn().args([
        "scan",
        "--from",
        &incident(),
        "--format",
        "json",
        "--remote",
        "198.51.100.7",
    ]));
    assert_eq!(json(&mapped)["summary"], json(&plain)["summary"]);
    assert_eq!(json(&mapped)["options"]["remotes"][0], "198.51.100.7/32");
}

/// Item 18: `--netns` with `--from` keeps the recorded namespaces it names, by name, inode,
/// a pid that held a socket there, or self; a name the snapshot lacks is an error.
#[test]
fn netns_with_from_selects_recorded_namespaces() {
    let ns = fixture("namespaces.json");
    let sockets = |args: &[&str]| -> (u64, Vec<u64>) {
        let (status, out, err) = run(stuckconn()
            .args(["scan", "--format", "json", "--all", "--from", &ns])
            .args(args));
        assert!(status == 0 || status == 1, "{args:?}: {err}");
        let report = json(&out);
        let mut inodes: Vec<u64> = report["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["netns"]["inode"].as_u64().unwrap())
            .collect();
        inodes.sort_unstable();
        inodes.dedup();
        (report["summary"]["sockets"].as_u64().unwrap(), inodes)
    };
    let (all, every) = sockets(&[]);
    assert_eq!(every.len(), 3);
    assert_eq!(sockets(&["--netns", "blue"]), (2, vec![4026532001]));
    assert_eq!(
        sockets(&["--netns", "net:[4026532002]"]),
        (3, vec![4026532002])
    );
    assert_eq!(sockets(&["--netns", "self"]), (1, vec![4026531840]));
    assert_eq!(
        sockets(&["--netns", "blue", "--netns", "self"]),
        (3, vec![4026531840, 4026532001])
    );
    assert_eq!(all, 6);
    let (status, _, err) = run(stuckconn().args(["scan", "--from", &ns, "--netns", "green"]));
    assert_eq!(status, 2);
    assert!(
        err.contains("no such network namespace in the snapshot"),
        "{err}"
    );
    let (status, _, err) =
        run(stuckconn().args(["scan", "--from", &ns, "--netns", "/proc/self/ns/net"]));
    assert_eq!(status, 2);
    assert!(err.contains("with --from"), "{err}");
}

/// Characters that would change a terminal beyond themselves (newlines aside), once the
/// tool's own colour codes (SGR: ESC [ digits ; m) are taken out.
fn raw_unsafe(text: &str) -> Vec<char> {
    let mut plain = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        plain.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let len = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        if after[len..].starts_with('m') {
            rest = &after[len + 1..];
        } else {
            plain.push('\u{1b}');
            rest = &rest[at + 1..];
        }
    }
    plain.push_str(rest);
    plain
        .chars()
        .filter(|&c| c != '\n' && stuckconn::text::is_unsafe(c))
        .collect()
}

const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{9b}31m\u{202e}gpj.exe\u{200b}";

/// A snapshot whose every text field is hostile.
fn hostile_snapshot(dir: &Path) -> PathBuf {
    let mut s: Value = json(&std::fs::read_to_string(fixture("namespaces.json")).unwrap());
    s["host"]["hostname"] = HOSTILE.into();
    s["host"]["kernel"] = HOSTILE.into();
    s["warnings"] = vec![HOSTILE].into();
    for p in s["processes"].as_array_mut().unwrap() {
        for field in ["name", "exe", "cmdline", "unit", "container"] {
            p[field] = HOSTILE.into();
        }
    }
    for ns in s["namespaces"].as_array_mut().unwrap() {
        ns["name"] = HOSTILE.into();
        ns["container"] = HOSTILE.into();
        ns["pod_uid"] = HOSTILE.into();
    }
    for c in s["connections"].as_array_mut().unwrap() {
        for t in c["blocked_threads"].as_array_mut().unwrap() {
            t["syscall"] = HOSTILE.into();
            t["wchan"] = HOSTILE.into();
        }
    }
    let names: serde_json::Map<String, Value> = s["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = serde_json::json!({"hostname": HOSTILE, "dns": "ok", "dns_verified": false});
            (c["remote"]["ip"].as_str().unwrap().to_string(), name)
        })
        .collect();
    s["names"] = names.into();
    let path = dir.join("hostile.json");
    std::fs::write(&path, s.to_string()).unwrap();
    path
}

/// Item 13: one hostile string through every output format and every error message: no
/// terminal control, bidi or zero-width character comes out raw; JSON reads back exactly.
#[test]
fn hostile_text_is_inert_in_every_format_and_error() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = hostile_snapshot(dir.path());
    let snapshot = snapshot.to_str().unwrap();
    for args in [
        vec!["scan", "--from", snapshot, "--all"],
        vec!["scan", "--from", snapshot, "--all", "--color", "always"],
        vec!["scan", "--from", snapshot, "--format", "json", "--all"],
        vec!["scan", "--from", snapshot, "--format", "prometheus"],
        vec!["scan", "--from", snapshot, "--format", "html", "--all"],
        vec!["check", "--from", snapshot],
        vec!["check", "--from", snapshot, "--per-process"],
    ] {
        let (status, out, err) = run(stuckconn().args(&args));
        assert!(status == 1 || status == 2, "{args:?}: {status} {err}");
        assert!(!out.is_empty(), "{args:?}");
        assert_eq!(
            raw_unsafe(&out),
            Vec::<char>::new(),
            "{args:?} stdout: {out}"
        );
        assert_eq!(
            raw_unsafe(&err),
            Vec::<char>::new(),
            "{args:?} stderr: {err}"
        );
        if args.contains(&"json") {
            let report = json(&out);
            assert_eq!(
                report["host"]["hostname"], HOSTILE,
                "JSON keeps the exact text"
            );
            assert!(out.contains("\\u202e"), "as an escape");
        }
        if args.contains(&"prometheus") {
            assert!(out.contains("process=\"\\\\x1b[2J"), "{out}");
        }
    }

    // Error messages quote what they were given: escaped there too, on one line.
    let mut bad: Value = json(&std::fs::read_to_string(snapshot).unwrap());
    bad["collector"] = HOSTILE.into();
    let bad_path = dir.path().join(format!("bad{HOSTILE}.json"));
    std::fs::write(&bad_path, bad.to_string()).unwrap();
    let bad_path = bad_path.to_str().unwrap();
    let not_json = dir.path().join(format!("{HOSTILE}.txt"));
    std::fs::write(&not_json, HOSTILE).unwrap();
    let not_json = not_json.to_str().unwrap();
    for args in [
        vec!["scan", "--from", bad_path],
        vec!["scan", "--from", not_json],
        vec!["scan", "--netns", HOSTILE],
        vec!["scan", "--netns", &format!("/{HOSTILE}")],
        vec!["scan", "--min-idle", HOSTILE],
        vec!["scan", "--remote", HOSTILE],
        vec!["scan", HOSTILE],
        vec!["check", "--from", bad_path],
        vec!["check", "--min-idle", HOSTILE],
        vec!["record", "-o", &format!("/nonexistent/{HOSTILE}")],
        vec![
            "scan",
            "--from",
            &incident(),
            "-o",
            &format!("/nonexistent/{HOSTILE}"),
        ],
    ] {
        let (status, out, err) = run(stuckconn().args(&args));
        let expected = if args[0] == "check" { 3 } else { 2 };
        assert_eq!(status, expected, "{args:?}: {out} {err}");
        assert_eq!(
            raw_unsafe(&out),
            Vec::<char>::new(),
            "{args:?} stdout: {out}"
        );
        assert_eq!(
            raw_unsafe(&err),
            Vec::<char>::new(),
            "{args:?} stderr: {err}"
        );
        let said = if args[0] == "check" { &out } else { &err };
        assert_eq!(said.lines().count(), 1, "{args:?}: {said}");
        assert!(
            said.contains("\\x1b") || said.contains("\\x9b"),
            "the hostile text is shown escaped: {said}"
        );
    }
}

/// Item 13, live: a process that names itself with escapes, in every format a live command
/// prints (table, JSON, Prometheus, the plugin line, watch's table and ndjson).
#[test]
fn a_hostile_process_name_is_inert_in_every_live_format() {
    let Some(bed) = Bed::new("hostile-all", &[]) else {
        return;
    };
    let server = bed.testbed(&["blackhole"]);
    let port = server.port().to_string();
    let _client = bed.testbed(&["hung-recv", &port, "\u{1b}[2J\u{202e}x"]);
    std::thread::sleep(SETTLE);
    for (sub, args) in [
        ("scan", vec!["--all", "--color", "always"]),
        ("scan", vec!["--format", "json"]),
        ("scan", vec!["--format", "prometheus"]),
        ("check", vec![]),
        ("watch", vec!["--count", "1", "--format", "ndjson"]),
        ("watch", vec!["--count", "1", "--format", "table"]),
    ] {
        let (status, out, err) = run(bed
            .stuckconn(sub)
            .args(["--min-idle", "2s", "--no-dns"])
            .args(&args));
        assert!(status == 1, "{sub} {args:?}: {status} {err}");
        assert!(
            out.contains("\\x1b[2J") || out.contains("\\u001b[2J"),
            "{sub} {args:?}: the name is there, escaped: {out}"
        );
        assert_eq!(
            raw_unsafe(&out),
            Vec::<char>::new(),
            "{sub} {args:?}: {out}"
        );
        assert_eq!(
            raw_unsafe(&err),
            Vec::<char>::new(),
            "{sub} {args:?}: {err}"
        );
    }
}

/// Item 4: a plugin that could not see everything does not say OK.
#[test]
fn check_on_a_partial_scan_is_unknown_unless_already_critical() {
    // Live, in a namespace of its own (nothing stuck there): cut short, it is UNKNOWN.
    if let Some(bed) = Bed::new("partial-check", &[]) {
        let (status, out, _) = run(bed.stuckconn("check").args(["--no-dns", "--timeout", "0s"]));
        assert_eq!(status, 3, "{out}");
        assert!(out.starts_with("STUCKCONN UNKNOWN - partial scan"), "{out}");
    }
    let mut partial: Value = json(&std::fs::read_to_string(incident()).unwrap());
    partial["partial"] = true.into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("partial.json");
    std::fs::write(&path, partial.to_string()).unwrap();
    let path = path.to_str().unwrap();
    let (status, out, _) =
        run(stuckconn().args(["check", "--from", path, "-w", "20", "-c", "100"]));
    assert_eq!(
        status, 2,
        "111 hung calls seen are critical, partial or not: {out}"
    );
    assert!(
        out.starts_with("STUCKCONN CRITICAL") && out.contains("partial"),
        "{out}"
    );
    let (status, out, _) =
        run(stuckconn().args(["check", "--from", path, "-w", "200", "-c", "300"]));
    assert_eq!(
        status, 3,
        "below the thresholds, but not everything was seen: {out}"
    );
    assert!(out.starts_with("STUCKCONN UNKNOWN - partial scan"), "{out}");
}

/// A synthetic snapshot of `n` hung calls over 200 processes (the replay benchmark's shape).
fn big_snapshot(path: &Path, n: usize) {
    let connections: Vec<Value> = (0..n)
        .map(|i| {
            let pid = 10000 + i % 200;
            serde_json::json!({
                "state": "established",
                "local": {"ip": "2001:db8:f00::1", "port": 20000 + i % 40000},
                "remote": {"ip": format!("2001:db8:bad::{:x}", 1 + i % 50), "port": 80},
                "inode": 100000 + i, "uid": 33, "cookie": 7919 * (i + 1), "recv_q": 0,
                "send_q": 0, "owners": [{"pid": pid, "fd": 10 + i / 200}],
                "tcp_info": {"info_len": 232, "retransmits": 0, "probes": 0, "backoff": 0,
                    "rto_us": 204000, "unacked": 0, "lost": 0, "retrans": 0,
                    "last_data_sent_ms": 300000 + i, "last_data_recv_ms": 300004 + i,
                    "last_ack_recv_ms": 300000 + i, "rtt_us": 1200, "total_retrans": 0},
                "netns": 4026531840u64
            })
        })
        .collect();
    let processes: Vec<Value> = (0..200)
        .map(|p| {
            serde_json::json!({"pid": 10000 + p, "ppid": 1, "name": "apache2",
                "exe": "/usr/sbin/apache2", "cmdline": "/usr/sbin/apache2 -k start", "uid": 33,
                "unit": null, "container": null, "started_at": "2012-11-06T08:00:00Z",
                "threads": 1, "thread_evidence": "read"})
        })
        .collect();
    let snapshot = serde_json::json!({
        "snapshot_version": 1, "host": {"hostname": "web1", "kernel": "6.18"},
        "taken_at": "2012-11-06T17:15:11.000Z", "collect_secs": 1.5, "collector": "sock_diag",
        "partial": false, "thread_evidence_min_idle_secs": 60.0, "connections": connections,
        "processes": processes, "warnings": [],
        "namespaces": [{"inode": 4026531840u64, "name": null, "container": null,
            "pod_uid": null, "own": true}]
    });
    std::fs::write(path, serde_json::to_vec(&snapshot).unwrap()).unwrap();
}

/// A second SIGINT or SIGTERM ends the command at once, in the steps that do not look at the
/// first one's flag (parsing, analysing and rendering a large snapshot: 20,000 hung calls
/// take this debug build about 2 s).
#[test]
fn a_second_signal_ends_any_step_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("big.json");
    big_snapshot(&snapshot, 20_000);
    for (signal, status) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let child = stuckconn()
            .args(["scan", "--format", "json", "--min-idle", "0s", "--from"])
            .arg(&snapshot)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill with the pid of our own child, twice.
        unsafe { libc::kill(child.id() as i32, signal) };
        std::thread::sleep(Duration::from_millis(50));
        unsafe { libc::kill(child.id() as i32, signal) };
        let sent = Instant::now();
        let output = child.wait_with_output().unwrap();
        let took = sent.elapsed();
        assert_eq!(
            output.status.code(),
            Some(status),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }
}

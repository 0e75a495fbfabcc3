//! Names chosen by others that try to break what they are shown in: series that would
//! collide once escaped, and the like. Fixtures edited in a temporary directory.

use crate::common::*;
use serde_json::Value;
use std::collections::HashSet;

/// `namespaces.json` with `edit` applied, written to `dir`.
fn edited(dir: &std::path::Path, edit: impl FnOnce(&mut Value)) -> String {
    let mut s: Value = json(&std::fs::read_to_string(fixture("namespaces.json")).unwrap());
    edit(&mut s);
    let path = dir.join("edited.json");
    std::fs::write(&path, s.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// Two processes whose names read the same once escaped (`curl` and a newline; `curl`, a
/// backslash and an n) hold hung calls to the same remote in the same namespace: one series
/// of the summed count, never two series of the same labels, which Prometheus and the
/// textfile collector refuse (the count behind them is lost).
#[test]
fn names_that_read_the_same_once_escaped_are_one_prometheus_series() {
    let dir = tempfile::tempdir().unwrap();
    let usage = serde_json::json!({
        "memory_bytes": 1000, "swap_bytes": 10, "rss_bytes": 1000, "proportional": true
    });
    let snapshot = edited(dir.path(), |s| {
        for p in s["processes"].as_array_mut().unwrap() {
            let name = match p["pid"].as_u64() {
                Some(8010) => "curl\n",
                Some(8011) => "curl\\n",
                _ => continue,
            };
            p["name"] = name.into();
            p["memory"] = usage.clone();
        }
    });
    let (status, out, err) =
        run(stuckconn().args(["scan", "--from", &snapshot, "--format", "prometheus"]));
    assert_eq!(status, 1, "{err}");
    let mut seen = HashSet::new();
    for line in out.lines().filter(|l| !l.starts_with('#')) {
        let (series, _) = line.rsplit_once(' ').unwrap();
        assert!(seen.insert(series.to_string()), "twice: {series}\n{out}");
    }
    assert!(
        out.contains(
            "stuckconn_stuck_connections{kind=\"hung_call\",process=\"curl\\\\n\",remote=\"[2001:db8::1]:80\",netns=\"blue\"} 2.0"
        ),
        "{out}"
    );
    assert!(
        out.contains("stuckconn_stuck_memory_bytes{process=\"curl\\\\n\"} 2000"),
        "{out}"
    );
}

/// A stuck process whose executable lies on a FUSE mount (sshfs, a user's) that stopped
/// answering: the probe used to open /proc/PID/exe for Go's build information, and that open
/// waits for the file system in a state no signal ends. The scan (and `serve`'s, for ever
/// after) hung past --timeout, unkillable, until the mount came back. Now the executable's
/// file system is known from procfs (its mapping's device in /proc/PID/maps, that device's
/// file system in /proc/PID/mountinfo) and a FUSE one is not opened; the rest of the probe
/// runs on a thread of its own, waited for at most a bound.
#[test]
fn a_stuck_process_run_from_a_hung_fuse_mount_does_not_hang_the_scan() {
    use std::path::Path;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let test = current_test();
    if !is_root() || !Path::new("/dev/fuse").exists() || which("python3").is_none() {
        skip(
            &test,
            "a FUSE mount of its own needs root, /dev/fuse and python3",
        );
        return;
    }
    let Some(bed) = Bed::new("hung-exe", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fuse_one_file.py");
    let fuse = start(
        "python3",
        &[
            script,
            mount.to_str().unwrap(),
            testbed_path().to_str().unwrap(),
        ],
    );
    assert_eq!(fuse.line, "ready");
    let unmount = || {
        let at = std::ffi::CString::new(mount.to_str().unwrap()).unwrap();
        // SAFETY: `at` is a valid C string; a lazy unmount of the test's own mount.
        unsafe { libc::umount2(at.as_ptr(), libc::MNT_DETACH) };
    };
    let server = bed.testbed(&["blackhole"]);
    let port = server.port().to_string();
    let exe = mount.join("exe");
    let client = start(
        "ip",
        &[
            "netns",
            "exec",
            bed.name(),
            exe.to_str().unwrap(),
            "hung-recv",
            &port,
        ],
    );
    // The mount stops answering, as a hung sshfs does.
    // SAFETY: kill(2) of the test's own child, by its pid.
    unsafe { libc::kill(fuse.child.id() as libc::pid_t, libc::SIGUSR1) };
    std::thread::sleep(Duration::from_millis(1500));

    let began = Instant::now();
    let mut scan = bed
        .stuckconn("")
        .args(["--min-idle", "1s", "--timeout", "10s", "--no-dns"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while began.elapsed() < Duration::from_secs(30) && scan.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = began.elapsed();
    // Ended or not, the mount goes (its server killed, its waiting requests fail), so that
    // a scan still waiting ends and nothing is left behind.
    drop(fuse);
    let out = scan.wait_with_output().unwrap();
    drop(client);
    unmount();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        took < Duration::from_secs(15),
        "the scan took {took:?} (--timeout 10s):\n{stdout}\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("hung call"), "{stdout}");
    drop(server);
}

/// `--from` and `--from-watch` name a file to read: what is not a regular file is refused,
/// and never opened first (a device's open has effects of its own: /dev/watchdog starts a
/// countdown to reboot). A FIFO with a writer waiting in open shows whether it was opened.
#[test]
fn a_fifo_or_device_given_as_input_is_refused_unopened() {
    // Every path root reads that a user names: snapshots, recordings, namespaces, TLS files.
    use std::sync::mpsc;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    for (n, args) in [
        vec!["scan", "--from"],
        vec!["check", "--from"],
        vec!["report", "--from-watch"],
        vec!["scan", "--netns"],
        vec!["check", "--netns"],
        vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-key",
            "/nonexistent",
            "--tls-cert",
        ],
    ]
    .into_iter()
    .enumerate()
    {
        let fifo = dir.path().join(format!("fifo{n}"));
        let path = fifo.to_str().unwrap().to_string();
        let made = std::ffi::CString::new(path.clone()).unwrap();
        // SAFETY: `made` is a valid C string; a FIFO in the test's own directory.
        assert_eq!(unsafe { libc::mkfifo(made.as_ptr(), 0o600) }, 0);
        let (opened, heard) = mpsc::channel();
        let at = fifo.clone();
        let writer = std::thread::spawn(move || {
            // Blocks until someone opens the FIFO for reading.
            let _w = std::fs::OpenOptions::new().write(true).open(&at);
            let _ = opened.send(());
        });
        std::thread::sleep(Duration::from_millis(100));
        let (status, out, err) = run(stuckconn().args(&args).arg(&path));
        let was_opened = heard.recv_timeout(Duration::from_millis(300)).is_ok();
        // Ends the writer.
        {
            use std::os::unix::fs::OpenOptionsExt;
            let _r = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo);
        }
        writer.join().unwrap();
        let expected = if args[0] == "check" { 3 } else { 2 };
        assert_eq!(status, expected, "{args:?}: {err}");
        assert!(!was_opened, "{args:?}: the FIFO was opened");
        assert!(
            err.contains("is a FIFO") || out.contains("is a FIFO"),
            "{args:?}: {out} {err}"
        );
    }
}

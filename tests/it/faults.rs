//! Faults during a scan: a storm of short-lived processes, a full disk, an overall deadline.
//! The report stays right for what could be seen; what could not is a warning. Live scans
//! cover only the namespace their test made.

use crate::common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// The forks the storm has made so far (testbed `fork-churn PORT FILE` keeps them in FILE):
/// the storm's own, not the busy host's.
fn forks(file: &std::path::Path) -> u64 {
    let bytes = std::fs::read(file).unwrap();
    u64::from_ne_bytes(bytes[..8].try_into().unwrap())
}

#[test]
fn a_storm_of_short_lived_processes_does_not_break_the_scan() {
    let Some(bed) = Bed::new("storm", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let hung = bed.testbed(&["hung-recv", &port]);
    std::thread::sleep(Duration::from_millis(1200));
    // Children that fork, connect, send and exit as fast as they can, during every scan.
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("forks");
    let storm_target = bed.testbed(&["blackhole"]);
    let storm = bed.testbed(&[
        "fork-churn",
        &storm_target.port().to_string(),
        counter.to_str().unwrap(),
    ]);
    let forks_before = forks(&counter);
    let started = Instant::now();
    let scans = 5;
    for scan in 1..=scans {
        let (status, out, err) = run(bed.stuckconn("scan").args([
            "--format",
            "json",
            "--no-dns",
            "--all",
            "--min-idle",
            "1s",
            "--port",
            &port,
        ]));
        assert_eq!(status, 1, "scan {scan}: {err}");
        let report = json(&out);
        assert_matches_schema(&report);
        // The stable hung call is right in every scan, whatever else came and went.
        assert_eq!(kind_of(&report, hung.pid()), "hung_call", "scan {scan}");
        let f = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "hung_call")
            .expect("the hung call's finding");
        assert!(f["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pids"].as_array().unwrap().contains(&hung.pid().into())));
    }
    let forks_after = forks(&counter);
    drop(storm);
    let rate = (forks_after - forks_before) as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "churn: {scans} scans in {:?} while {rate:.0} processes a second were forked",
        started.elapsed()
    );
    assert!(
        rate >= 1000.0,
        "the storm forked only {rate:.0} processes a second"
    );
}

/// A tmpfs of 64 KiB, filled to the brim; unmounted when dropped.
struct FullDisk {
    dir: tempfile::TempDir,
}

impl FullDisk {
    fn new() -> Option<FullDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let disk = FullDisk { dir };
        let filler = disk.dir.path().join("filler");
        let _ = std::fs::write(&filler, vec![0u8; 1 << 20]); // ENOSPC after 64 KiB
        Some(disk)
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn names(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_gives_a_clean_error_and_leaves_nothing_half_written() {
    if !is_root() {
        skip(
            "a_full_disk_gives_a_clean_error_and_leaves_nothing_half_written",
            "needs root to mount a tmpfs",
        );
        return;
    }
    let Some(disk) = FullDisk::new() else {
        skip(
            "a_full_disk_gives_a_clean_error_and_leaves_nothing_half_written",
            "mount -t tmpfs failed",
        );
        return;
    };
    let Some(bed) = Bed::new("full-disk", &[]) else {
        return;
    };
    let fixture = format!("{}/fixtures/incident.json", env!("CARGO_MANIFEST_DIR"));
    for args in [
        vec![
            "record".to_string(),
            "--no-dns".into(),
            "--netns".into(),
            bed.name().to_string(),
            "-o".into(),
            disk.path("snap.json").display().to_string(),
        ],
        vec![
            "--from".into(),
            fixture.clone(),
            "--no-dns".into(),
            "--format".into(),
            "json".into(),
            "--output".into(),
            disk.path("report.json").display().to_string(),
        ],
    ] {
        let (status, out, err) = run(stuckconn().args(&args));
        assert_eq!(status, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("No space left"), "{err}");
        assert_eq!(
            disk.names(),
            vec!["filler".to_string()],
            "nothing half-written, no temporary file"
        );
    }

    // --pcap-out on a full disk: the verdicts survive, the file does not half-exist. (Capture
    // watches stuckconn's own namespace: it runs inside the bed.)
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let _hung = bed.testbed(&["hung-recv", &port]);
    std::thread::sleep(Duration::from_millis(1200));
    let pcap = disk.path("flows.pcap");
    let (status, out, err) = run(bed
        .inside("scan")
        .args([
            "--format",
            "json",
            "--no-dns",
            "--min-idle",
            "1s",
            "--port",
            &port,
            "--capture",
            "1s",
            "--pcap-out",
        ])
        .arg(&pcap));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_eq!(report["findings"][0]["capture"]["verdict"], "idle");
    assert!(
        report["warnings"].to_string().contains("flows.pcap"),
        "{}",
        report["warnings"]
    );
    assert_eq!(disk.names(), vec!["filler".to_string()]);
}

#[test]
fn timeout_reports_what_it_has_and_says_it_is_partial() {
    let Some(bed) = Bed::new("timeout", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let _hung = bed.testbed(&["hung-recv", &port]);
    std::thread::sleep(Duration::from_millis(1200));

    // Inside the bed: its own namespace is dumped before the deadline is looked at (other
    // namespaces are skipped once it has passed), then the /proc pass stops at once.
    let (status, out, _) =
        run(bed
            .inside("scan")
            .args(["--format", "json", "--no-dns", "--timeout", "1ns"]));
    assert_eq!(status, 3, "exit status 3: the report is partial");
    let report = json(&out);
    assert_matches_schema(&report);
    assert_eq!(report["partial"], true);
    assert_eq!(
        report["summary"]["sockets"], 3,
        "what was collected is reported: the listener, the server's side and the client's"
    );
    assert!(report["warnings"].to_string().contains("--timeout reached"));

    // A capture longer than the deadline is cut to it.
    let started = Instant::now();
    let (status, out, _) = run(bed.inside("scan").args([
        "--format",
        "json",
        "--no-dns",
        "--min-idle",
        "1s",
        "--port",
        &port,
        "--confirm",
        "10s",
        "--timeout",
        "2s",
    ]));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 3);
    let report = json(&out);
    assert_eq!(report["partial"], true);
    assert_eq!(
        report["findings"][0]["confirm"]["verdict"], "idle",
        "the shortened window still decides"
    );
}

#[test]
fn a_poll_array_that_cannot_be_read_is_said_not_guessed() {
    if !is_root() {
        skip(
            "a_poll_array_that_cannot_be_read_is_said_not_guessed",
            "reading another process's memory needs root",
        );
        return;
    }
    let Some(bed) = Bed::new("unmapped", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    // Blocked in poll() on a pollfd array whose page is gone: /proc/PID/mem fails there.
    let client = bed.testbed(&["poll-unmapped", &port]);
    std::thread::sleep(Duration::from_millis(1200));
    let (status, out, err) = run(bed.stuckconn("scan").args([
        "--format",
        "json",
        "--no-dns",
        "--min-idle",
        "1s",
        "--port",
        &port,
    ]));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    let f = &report["findings"][0];
    assert_eq!(
        f["kind"], "hung_call",
        "still a hung call: nothing came back"
    );
    assert_eq!(f["processes"][0]["pids"][0], client.pid());
    assert_eq!(
        f["threads_blocked"], 0,
        "no blocked thread is claimed without seeing it"
    );
    assert_eq!(f["processes"][0]["thread_evidence"], "partial");
    assert!(
        f["evidence"].to_string().contains("threads not examined"),
        "{}",
        f["evidence"]
    );
    assert!(
        report["warnings"]
            .to_string()
            .contains("threads of 1 process could not all be examined"),
        "{}",
        report["warnings"]
    );
}

#[test]
fn processes_that_vanish_between_passes_are_skipped() {
    use stuckconn::collect::{procs, waits};
    use stuckconn::snapshot::ThreadEvidence;
    // A real process, gone (killed and reaped) before it is looked at.
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        procs::describe(pid, None, 100, true).is_none(),
        "a vanished process is not described"
    );
    let mut found = Vec::new();
    let evidence = waits::examine(pid, &std::collections::HashMap::new(), &mut found).evidence;
    assert_ne!(
        evidence,
        ThreadEvidence::Read,
        "and its threads are not claimed to be read"
    );
    assert!(found.is_empty());
}

/// A pids cgroup that lets nothing more be started: pids.max 1, on cgroup v2 or v1. Removed
/// when dropped (it is empty once the process in it has exited).
struct NoMoreThreads {
    dir: std::path::PathBuf,
}

impl NoMoreThreads {
    fn new() -> Result<NoMoreThreads, String> {
        let name = format!("stuckconn-it-{}", std::process::id());
        let v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"));
        let dir = if v2 {
            std::path::Path::new("/sys/fs/cgroup").join(&name)
        } else if std::path::Path::new("/sys/fs/cgroup/pids/pids.max").exists()
            || std::path::Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists()
        {
            std::path::Path::new("/sys/fs/cgroup/pids").join(&name)
        } else {
            return Err("no pids cgroup controller here".to_string());
        };
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let limits = NoMoreThreads { dir };
        std::fs::write(limits.dir.join("pids.max"), "1")
            .map_err(|e| format!("{}: pids.max: {e}", limits.dir.display()))?;
        Ok(limits)
    }

    /// `cmd`, started inside the cgroup: a shell writes its own pid into it, then execs `cmd`.
    fn run(&self, cmd: &Command) -> (i32, String, String) {
        let procs = self.dir.join("cgroup.procs");
        let mut sh = Command::new("sh");
        sh.args(["-c", "echo $$ > \"$0\" && exec \"$@\""])
            .arg(procs)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        run(&mut sh)
    }
}

impl Drop for NoMoreThreads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A host out of processes (the pid limit reached: no thread can be started) is a host in
/// trouble: the scan still runs on its one thread (the fd walk after the dump, the holders
/// described and their threads examined, the options read here) and finds the hung call with
/// its process and its blocked thread; what needed a thread of its own is a warning.
#[test]
fn a_host_that_can_start_no_thread_still_scans() {
    let Some(bed) = Bed::new("nothreads", &[]) else {
        return;
    };
    let limits = match NoMoreThreads::new() {
        Ok(limits) => limits,
        Err(why) => return skip("a_host_that_can_start_no_thread_still_scans", &why),
    };
    let server = bed.testbed(&["blackhole"]);
    let port = server.port().to_string();
    // Twenty, so that the steps shared by two threads from 16 processes on try to share.
    let hung: Vec<Proc> = (0..20)
        .map(|_| bed.testbed(&["hung-recv", &port]))
        .collect();
    std::thread::sleep(Duration::from_millis(1200));
    let mut scan = bed.inside("scan");
    scan.args(["--format", "json", "--min-idle", "1s"]);
    let (status, out, err) = limits.run(&scan);
    assert_eq!(status, 1, "the hung calls are found: {err}");
    let report = json(&out);
    assert_matches_schema(&report);
    for h in &hung {
        let rows = connections_of(&report, h.pid());
        assert_eq!(rows.len(), 1, "{err}");
        assert_eq!(rows[0]["kind"], "hung_call");
        assert_eq!(rows[0]["process"], "testbed");
        assert_eq!(rows[0]["blocked_threads"][0]["syscall"], "recvfrom");
        assert_eq!(rows[0]["timeouts"]["receive_timeout_ms"], 0, "options read");
    }
    // The reading of memory and runtimes needs a thread: not done, and said.
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("no thread to read"), "{warnings}");
    // The same scan with threads to spare finds the same.
    let (status, out, _) = run(&mut scan);
    assert_eq!(status, 1);
    assert_eq!(json(&out)["summary"], report["summary"]);
}

/// The exit status and standard error of `child` (started with its standard error piped), once
/// it ends within `within`; killed by its pid, and the test failed, when it is still blocked
/// on a reader that does not read.
fn ended_within(child: &mut std::process::Child, within: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return (status.code(), stderr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    panic!("still writing {within:?} later, blocked on a reader that does not read");
}

/// `child`, still running (blocked on a reader that does not read), ends within a second of
/// SIGTERM, with exit status 2 and an error line that names the signal.
fn sigterm_ends_it(child: &mut std::process::Child) {
    assert!(
        child.try_wait().unwrap().is_none(),
        "ended before the signal"
    );
    signal(child.id(), libc::SIGTERM);
    let signalled = Instant::now();
    let (status, stderr) = ended_within(child, Duration::from_secs(10));
    assert!(
        signalled.elapsed() < Duration::from_millis(1000),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
}

/// A reader that stops reading (`scan | less` left open, a stuck log shipper): the report does
/// not fit in the pipe, yet `--timeout` and SIGTERM still end the command, within a fraction
/// of a second, with one error line (exit status 2), not whenever the reader wakes up.
#[test]
fn a_reader_that_stops_reading_does_not_hold_the_command() {
    use std::process::Stdio;
    // The reader: the pipe's read end, held open and never read.
    let stalled = |extra: &[&str]| {
        stuckconn()
            .args([
                "scan",
                "--from",
                &fixture("incident.json"),
                "--format",
                "json",
            ])
            .args(["--all", "--no-dns"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("stuckconn runs")
    };

    // The report (280 KiB) is more than a pipe holds (64 KiB).
    let start = Instant::now();
    let mut child = stalled(&["--timeout", "2s"]);
    let (status, stderr) = ended_within(&mut child, Duration::from_secs(10));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("--timeout passed"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let mut child = stalled(&[]);
    // Long enough to be blocked on the pipe (rendering the fixture takes a fraction of that).
    std::thread::sleep(Duration::from_secs(2));
    sigterm_ends_it(&mut child);
}

/// `watch` writing to a reader that stops reading (its pipe full): SIGTERM still ends it
/// within a fraction of a second, with one error line, instead of leaving it blocked until
/// the reader wakes up.
#[test]
fn watch_with_a_reader_that_stops_reading_still_ends_on_a_signal() {
    use std::os::fd::AsRawFd;
    let Some(bed) = Bed::new("stalled-watch", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    // A connection opened and one closed every 200 ms: an event each time.
    let _churn = bed.testbed(&["churn", &port, "2"]);
    // The reader: a pipe of two pages, held open and never read.
    let (reader, writer) = std::io::pipe().unwrap();
    // SAFETY: fcntl(2) F_SETPIPE_SZ on a pipe this test owns.
    let size = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETPIPE_SZ, 8192) };
    assert_eq!(size, 8192);
    let mut child = bed
        .stuckconn("watch")
        .args([
            "--format",
            "ndjson",
            "--interval",
            "100ms",
            "--min-idle",
            "0s",
        ])
        .args(["--port", &port, "--no-dns"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("stuckconn runs");
    // Until what the pipe holds stops growing for 1.5 s, past a page: watch is blocked on it
    // (its events are a few hundred bytes each, several a second).
    let queued = || {
        let mut queued: libc::c_int = 0;
        // SAFETY: ioctl(2) FIONREAD on the pipe's read end, into a c_int.
        assert_eq!(
            unsafe { libc::ioctl(reader.as_raw_fd(), libc::FIONREAD, &mut queued) },
            0
        );
        queued
    };
    let start = Instant::now();
    let (mut last, mut since) = (queued(), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = queued();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if now >= 4096 && since.elapsed() > Duration::from_millis(1500) {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("watch wrote {now} bytes in 30 s");
        }
    }
    sigterm_ends_it(&mut child);
    drop(reader);
}

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

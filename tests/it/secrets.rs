//! Secrets in command lines never reach the report or a snapshot, unless asked for; files the
//! tool writes are private and never follow a symlink planted where they go. The live runs
//! scan only the namespace the test made.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;

const SECRETS: [&str; 3] = ["hunter2", "abc123tok", "s3cretpw"];

#[test]
fn command_line_secrets_are_masked_in_reports_and_snapshots() {
    let Some(bed) = Bed::new("secrets", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    // A client with a password, a token and URL credentials on its command line.
    let _client = bed.testbed(&[
        "leak",
        &port,
        "1",
        "--password=hunter2",
        "token=abc123tok",
        "https://app:s3cretpw@db.example/x",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let scan = |extra: &[&str]| {
        let (status, out, err) = run(bed
            .stuckconn("scan")
            .args([
                "--format",
                "json",
                "--no-dns",
                "--min-idle",
                "0s",
                "--port",
                &port,
            ])
            .args(extra));
        assert_eq!(status, 1, "{err}");
        json(&out)
    };
    let report = scan(&[]);
    let cmdline = report["findings"][0]["processes"][0]["cmdline"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        cmdline.contains("--password=*** token=*** https://app:***@db.example/x"),
        "{cmdline}"
    );
    for secret in SECRETS {
        assert!(
            !report.to_string().contains(secret),
            "{secret} leaked into the report"
        );
    }
    let raw = scan(&["--no-redact"]);
    assert!(raw["findings"][0]["processes"][0]["cmdline"]
        .as_str()
        .unwrap()
        .contains("--password=hunter2"));

    // A snapshot: redacted, 0600, and a symlink planted at its path is replaced, not followed.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("snap.json");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "do not overwrite").unwrap();
    std::os::unix::fs::symlink(&victim, &target).unwrap();
    let (status, _, err) = run(bed
        .stuckconn("record")
        .args(["--no-dns", "--min-idle", "0s", "-o"])
        .arg(&target));
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "do not overwrite"
    );
    let meta = std::fs::symlink_metadata(&target).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(
        text.contains("--password=***"),
        "the client's command line is in the snapshot"
    );
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked into the snapshot");
    }
}

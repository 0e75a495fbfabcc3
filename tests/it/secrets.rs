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

/// A process in `bed` whose argv is `argv0 args...` (bash under another name when `argv0`
/// says so: `exec -a`), waited for until it prints its first line; killed when dropped.
fn start_as(bed: &Bed, argv0: &str, args: &[&str]) -> Proc {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = bed
        .command("bash")
        .args(["-c", "exec -a \"$0\" bash \"$@\"", argv0])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bash runs");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap_or_default();
    let proc = Proc {
        child,
        line: line.trim().to_string(),
    };
    assert_eq!(proc.line, "ready", "{argv0} {args:?} did not start");
    proc
}

/// Bash that opens a connection to `port`, sends a request, says `ready`, and waits in the
/// `read` builtin for a reply that never comes (no child process: killing bash ends it all).
fn hung_bash_call(port: &str) -> String {
    format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET / HTTP/1.1\\r\\nHost: db\\r\\n\\r\\n' >&3; \
         echo ready; read -r -t 300 reply <&3"
    )
}

/// The command lines of every process behind a finding, in a `scan --format json` report.
fn finding_cmdlines(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["processes"].as_array().unwrap().iter())
        .filter_map(|p| p["cmdline"].as_str().map(str::to_string))
        .collect()
}

/// Issue items 6 and 7: secrets inside a shell string (`bash -c '...; mysqldump -p... --password
/// ...'`) and curl's `-u user:password`, on real processes that hold a hung call.
#[test]
fn shell_string_and_curl_credentials_are_masked() {
    let Some(bed) = Bed::new("secrets-shell", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let other = bed.testbed(&["blackhole"]);
    let other_port = other.port().to_string();
    let script = format!(
        "{}; mysqldump -uroot -phunter2q --password hunter2r db",
        hung_bash_call(&port)
    );
    let _shell = start_as(&bed, "bash", &["-c", &script]);
    // argv: curl -c SCRIPT -u admin:pw2curlx (bash named curl: $0 is -u, $1 the credentials).
    let curl_script = hung_bash_call(&other_port);
    let _curl = start_as(&bed, "curl", &["-c", &curl_script, "-u", "admin:pw2curlx"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let scan = |port: &str, extra: &[&str]| {
        let (status, out, err) = run(bed
            .stuckconn("scan")
            .args([
                "--format",
                "json",
                "--no-dns",
                "--min-idle",
                "0s",
                "--port",
                port,
            ])
            .args(extra));
        assert_eq!(status, 1, "{err}\n{out}");
        json(&out)
    };
    let leaked = ["hunter2q", "hunter2r", "pw2curlx"];

    // Without redaction the command lines are there: the checks below are not vacuous.
    let raw = finding_cmdlines(&scan(&port, &["--no-redact"])).join("\n");
    assert!(raw.contains("-phunter2q --password hunter2r"), "{raw}");

    let report = scan(&port, &[]);
    let cmdlines = finding_cmdlines(&report).join("\n");
    assert!(
        cmdlines.contains("; mysqldump -uroot -p*** --password *** db"),
        "{cmdlines}"
    );
    let curl = scan(&other_port, &[]);
    let curl_cmdlines = finding_cmdlines(&curl).join("\n");
    assert!(curl_cmdlines.contains("curl -c "), "{curl_cmdlines}");
    assert!(curl_cmdlines.ends_with(" -u admin:***"), "{curl_cmdlines}");
    for secret in leaked {
        assert!(
            !report.to_string().contains(secret) && !curl.to_string().contains(secret),
            "{secret} leaked into the report"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("snap.json");
    let (status, _, err) = run(bed
        .stuckconn("record")
        .args(["--no-dns", "--min-idle", "0s", "-o"])
        .arg(&target));
    assert_eq!(status, 0, "{err}");
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(
        text.contains("mysqldump -uroot -p*** --password *** db"),
        "the shell's command line is in the snapshot"
    );
    assert!(
        text.contains(" -u admin:***"),
        "curl's command line is in the snapshot"
    );
    for secret in leaked {
        assert!(!text.contains(secret), "{secret} leaked into the snapshot");
    }
}

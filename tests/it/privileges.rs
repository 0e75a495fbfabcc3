//! Least privilege: what a run as nobody with exactly one (or two) capabilities sees of root's
//! processes, and that each warning names the capability that would unlock the rest. The runs
//! are inside the test's own namespace and scan only that one.

use crate::common::*;
use serde_json::Value;
use std::time::Duration;

/// Runs a scan in the bed as nobody with `caps` as its only (ambient) capabilities.
fn scan_with(bed: &Bed, nobody: &Nobody, caps: &[&str], port: &str) -> Value {
    let mut cmd = bed.nobody(nobody, caps, "scan");
    cmd.args([
        "--format",
        "json",
        "--no-dns",
        "--min-idle",
        "1s",
        "--port",
        port,
    ])
    .args(["--capture", "500ms"]);
    let (status, out, err) = run(&mut cmd);
    assert_eq!(
        status, 1,
        "{caps:?}: the hung call is found whatever the privileges: {err}"
    );
    json(&out)
}

#[test]
fn each_capability_unlocks_what_the_readme_says() {
    // Root makes the bed and hands out the capabilities.
    let Some(bed) = Bed::new("caps", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let hung = bed.testbed(&["hung-recv", &port]);
    std::thread::sleep(Duration::from_millis(1300));
    let nobody = Nobody::new();

    let pids = |r: &Value| r["findings"][0]["processes"][0]["pids"].clone();
    let warnings = |r: &Value| r["warnings"].to_string();

    // Nothing: the socket, its tcp_info and the counter proof; no process, no capture.
    let none = scan_with(&bed, &nobody, &[], &port);
    assert_eq!(pids(&none), serde_json::json!([]));
    assert_eq!(none["findings"][0]["confirm"]["verdict"], "idle");
    assert_eq!(none["findings"][0]["capture"], Value::Null);
    let w = warnings(&none);
    assert!(
        w.contains("needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE"),
        "{w}"
    );
    assert!(w.contains("CAP_NET_RAW"), "{w}");

    // One of the two /proc capabilities is not enough, and the warning names the other.
    let dac = scan_with(&bed, &nobody, &["dac_read_search"], &port);
    assert_eq!(pids(&dac), serde_json::json!([]));
    assert!(
        warnings(&dac).contains("needs CAP_SYS_PTRACE ("),
        "{}",
        warnings(&dac)
    );
    let ptrace = scan_with(&bed, &nobody, &["sys_ptrace"], &port);
    assert_eq!(pids(&ptrace), serde_json::json!([]));
    assert!(
        warnings(&ptrace).contains("needs CAP_DAC_READ_SEARCH ("),
        "{}",
        warnings(&ptrace)
    );

    // Both: the process and its blocked thread.
    let both = scan_with(&bed, &nobody, &["dac_read_search", "sys_ptrace"], &port);
    assert_eq!(pids(&both), serde_json::json!([hung.pid()]));
    assert_eq!(both["findings"][0]["threads_blocked"], 1);
    let w = warnings(&both);
    assert!(
        !w.contains("needs CAP_DAC") && !w.contains("needs CAP_SYS_PTRACE"),
        "{w}"
    );

    // CAP_NET_RAW: the capture.
    let raw = scan_with(&bed, &nobody, &["net_raw"], &port);
    assert_eq!(raw["findings"][0]["capture"]["verdict"], "idle");
    assert!(!warnings(&raw).contains("CAP_NET_RAW"));

    // CAP_NET_ADMIN adds nothing on this kernel: sock_diag already answers nobody.
    let admin = scan_with(&bed, &nobody, &["net_admin"], &port);
    assert_eq!(
        admin["summary"]["sockets"], 3,
        "the bed's listener, server side and client"
    );
    assert_eq!(pids(&admin), serde_json::json!([]));
}

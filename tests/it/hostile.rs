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

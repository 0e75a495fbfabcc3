//! The chain of waits, live, across two network namespaces joined by a veth pair: curl in
//! namespace A calls a worker in namespace B whose handler calls a blackhole (no timeout
//! anywhere). One scan of both namespaces must call the worker's hung call the root cause and
//! curl's a victim that waits on it.

use crate::common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// Joins two beds with a veth pair: 192.0.2.1 in `a`, 192.0.2.2 in `b` (documentation
/// addresses). The pair goes with the namespaces.
fn join(a: &Bed, b: &Bed) {
    let tag = std::process::id() % 100_000;
    let (left, right) = (format!("scva{tag}"), format!("scvb{tag}"));
    let ip = |args: &[&str]| {
        let status = Command::new("ip").args(args).status().expect("ip runs");
        assert!(status.success(), "ip {args:?}");
    };
    ip(&["link", "add", &left, "type", "veth", "peer", "name", &right]);
    ip(&["link", "set", &left, "netns", a.name()]);
    ip(&["link", "set", &right, "netns", b.name()]);
    ip(&["-n", a.name(), "addr", "add", "192.0.2.1/24", "dev", &left]);
    ip(&["-n", b.name(), "addr", "add", "192.0.2.2/24", "dev", &right]);
    ip(&["-n", a.name(), "link", "set", &left, "up"]);
    ip(&["-n", b.name(), "link", "set", &right, "up"]);
}

fn finding<'a>(report: &'a Value, process: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["processes"][0]["name"] == process)
        .unwrap_or_else(|| panic!("no finding of {process}: {report}"))
}

#[test]
fn a_victim_in_one_namespace_waits_on_a_root_cause_in_another() {
    let Some(a) = Bed::new("chain-a", &[]) else {
        return;
    };
    let Some(b) = Bed::new("chain-b", &[]) else {
        return;
    };
    let Some(curl) = which("curl") else {
        skip(&current_test(), "needs curl");
        return;
    };
    join(&a, &b);
    let env = [("TESTBED_ADDR", "192.0.2.2")];
    let blackhole = b.testbed_env(&["blackhole"], &env);
    let upstream = blackhole.port().to_string();
    let worker = b.testbed_env(&["upstream-worker", &upstream], &env);
    let url = format!("http://192.0.2.2:{}/upstream", worker.port());
    let _client = a.spawn(&curl, &["-s", &url]);
    std::thread::sleep(Duration::from_millis(2500));

    let (status, out, err) = run(stuckconn().args([
        "scan",
        "--netns",
        a.name(),
        "--netns",
        b.name(),
        "--format",
        "json",
        "--no-dns",
        "--min-idle",
        "1s",
    ]));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_matches_schema(&report);
    let root = finding(&report, "testbed");
    let victim = finding(&report, "curl");
    assert_eq!(root["kind"], "hung_call", "{report}");
    assert_eq!(root["netns"]["name"], b.name());
    assert_eq!(root["remote"]["port"], upstream.parse::<u64>().unwrap());
    assert_eq!(root["role"], "root", "{root}");
    assert_eq!(victim["netns"]["name"], a.name());
    assert_eq!(victim["role"], "downstream", "{victim}");
    assert_eq!(
        victim["waits_on"],
        serde_json::json!([root["id"]]),
        "{victim}"
    );
    assert_eq!(root["blocks"], serde_json::json!([victim["id"]]), "{root}");
    assert_eq!(report["summary"]["root_causes"], 1, "{report}");
    assert_eq!(
        report["findings"][0]["id"], root["id"],
        "the root cause comes first"
    );
    let explanation = root["explanation"].as_str().unwrap();
    assert!(
        explanation.contains(&format!(
            "1 connection of curl in namespace {} waits on this process",
            a.name()
        )),
        "{explanation}"
    );

    // The table says it in words, with the chain.
    let (_, table, _) = run(stuckconn().args([
        "scan",
        "--netns",
        a.name(),
        "--netns",
        b.name(),
        "--no-dns",
        "--min-idle",
        "1s",
        "--color",
        "never",
    ]));
    let root_at = table
        .find("ROOT CAUSE  hung call")
        .expect("a root cause block");
    let victim_at = table
        .find("DOWNSTREAM  hung call")
        .expect("a downstream block");
    assert!(root_at < victim_at, "{table}");
    let chain = format!(
        "chain: curl (ns {}) → testbed (ns {}) 192.0.2.2:{} → 192.0.2.2:{upstream}: no reply",
        a.name(),
        b.name(),
        worker.port()
    );
    assert!(table.contains(&chain), "{chain}\n{table}");
}

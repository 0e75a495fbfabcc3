//! Names as people know them, live: a hung call from one test namespace to another over a
//! veth pair (documentation addresses), the caller's namespace with a resolver of its own (a
//! real DNS server on 127.0.0.1 inside it, reachable only there, configured in
//! /etc/netns/NAME/resolv.conf as `ip netns` does): scanned from the host namespace, the
//! remote is named by that resolver; scanned with the server's namespace too, by that
//! namespace's name; recorded and replayed with the names and their sources.

use crate::common::*;
use crate::containers::{TestCgroup, DB, WEB};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const CALLER: &str = "198.51.100.1";
const SERVER: &str = "198.51.100.2";
const NAME: &str = "db.internal.example";

/// `/etc/netns/NAME/resolv.conf` naming `nameserver`, removed (with the directories this made)
/// when dropped.
struct NetnsResolvConf {
    dir: PathBuf,
    made_parent: bool,
}

impl NetnsResolvConf {
    fn new(netns: &str, nameserver: &str) -> NetnsResolvConf {
        let parent = PathBuf::from("/etc/netns");
        let made_parent = std::fs::create_dir(&parent).is_ok();
        let dir = parent.join(netns);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("resolv.conf"),
            format!("nameserver {nameserver}\n"),
        )
        .unwrap();
        NetnsResolvConf { dir, made_parent }
    }
}

impl Drop for NetnsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("resolv.conf"));
        let _ = std::fs::remove_dir(&self.dir);
        if self.made_parent {
            let _ = std::fs::remove_dir("/etc/netns");
        }
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip runs");
    assert!(status.success(), "ip {args:?} failed");
}

/// Two beds joined by a veth pair: the caller at 198.51.100.1, the server at 198.51.100.2.
fn joined(tag: &str) -> Option<(Bed, Bed)> {
    let caller = Bed::new(&format!("{tag}-caller"), &[])?;
    let server = Bed::new(&format!("{tag}-server"), &[]).unwrap();
    ip(&[
        "-n",
        caller.name(),
        "link",
        "add",
        "va",
        "type",
        "veth",
        "peer",
        "name",
        "vb",
        "netns",
        server.name(),
    ]);
    for (bed, dev, addr) in [(&caller, "va", CALLER), (&server, "vb", SERVER)] {
        ip(&[
            "-n",
            bed.name(),
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            dev,
        ]);
        ip(&["-n", bed.name(), "link", "set", dev, "up"]);
    }
    Some((caller, server))
}

/// The caller's finding: the hung call to the server.
fn hung_call<'a>(report: &'a Value, caller: &Bed) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["remote"]["ip"] == SERVER && f["netns"]["name"] == caller.name())
        .unwrap_or_else(|| panic!("no hung call to {SERVER}: {:#}", report["findings"]))
}

fn scan(netns: &[&str], extra: &[&str]) -> Value {
    let mut cmd = stuckconn();
    cmd.args(["scan", "--format", "json", "--min-idle", "2s"]);
    for ns in netns {
        cmd.args(["--netns", ns]);
    }
    let (status, out, err) = run(cmd.args(extra));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_matches_schema(&report);
    report
}

#[test]
fn a_namespaces_own_resolver_names_its_remotes() {
    let Some((caller, server)) = joined("names") else {
        return;
    };
    let _conf = NetnsResolvConf::new(caller.name(), "127.0.0.1");
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::write(
        &records,
        format!("PTR {SERVER} {NAME}.\nA {NAME}. {SERVER}\n"),
    )
    .unwrap();
    let _dns = caller.testbed_env(
        &["dns", records.to_str().unwrap()],
        &[("TESTBED_PORT", "53")],
    );
    let env = [("TESTBED_ADDR", SERVER)];
    let blackhole = server.testbed_env(&["blackhole"], &env);
    let hung = caller.testbed_env(&["hung-recv", &blackhole.port().to_string()], &env);
    std::thread::sleep(Duration::from_millis(2600));

    // From the host namespace: the name only the caller's resolver knows.
    let started = Instant::now();
    let report = scan(&[caller.name()], &[]);
    let wall = started.elapsed();
    let f = hung_call(&report, &caller);
    assert_eq!(f["processes"][0]["pids"][0], hung.pid());
    let remote = &f["remote"];
    assert_eq!(remote["hostname"], NAME, "{remote:#}");
    assert_eq!(remote["dns_verified"], true, "forward-confirmed there");
    let source = format!("netns:{}", caller.name());
    assert_eq!(remote["dns_source"], source.as_str());
    let dns_secs = report["timings"]["dns_secs"].as_f64().unwrap();
    eprintln!("names: the namespace's own resolver took {dns_secs:.4} s (scan {wall:?})");

    let (_, table, _) = run(stuckconn().args([
        "--netns",
        caller.name(),
        "--min-idle",
        "2s",
        "--color",
        "never",
    ]));
    assert!(
        table.contains(&format!("{NAME}  {SERVER}:{}", blackhole.port())),
        "{table}"
    );

    // `--dns-server` overrides it: the same server, asked from the host, answers nothing.
    let report = scan(
        &[caller.name()],
        &["--dns-server", "127.0.0.1:9", "--dns-timeout", "300ms"],
    );
    let remote = &hung_call(&report, &caller)["remote"];
    assert_eq!(remote["hostname"], Value::Null, "{remote:#}");
    assert_eq!(remote["dns_source"], "override");

    // With the server's namespace scanned too, the remote is that namespace, no DNS needed.
    let report = scan(&[caller.name(), server.name()], &["--no-dns"]);
    let remote = &hung_call(&report, &caller)["remote"];
    assert_eq!(remote["hostname"], server.name(), "{remote:#}");
    assert_eq!(remote["dns_source"], "netns");
    assert_eq!(remote["dns_verified"], true);

    // Recorded, then replayed without asking anyone: the name and its source.
    let file = dir.path().join("snap.json");
    let (status, _, err) = run(stuckconn()
        .args(["record", "--min-idle", "2s", "--netns", caller.name(), "-o"])
        .arg(&file));
    assert_eq!(status, 0, "{err}");
    let snapshot = json(&std::fs::read_to_string(&file).unwrap());
    let inode = hung_call(&report, &caller)["netns"]["inode"].to_string();
    assert_eq!(
        snapshot["names_by_netns"][&inode][SERVER]["dns_source"],
        source.as_str(),
        "{:#}",
        snapshot["names_by_netns"]
    );
    let (_, out, _) = run(stuckconn()
        .args([
            "scan",
            "--format",
            "json",
            "--no-dns",
            "--min-idle",
            "2s",
            "--from",
        ])
        .arg(&file));
    let replayed = json(&out);
    assert_matches_schema(&replayed);
    let remote = &hung_call(&replayed, &caller)["remote"];
    assert_eq!(remote["hostname"], NAME, "{remote:#}");
    assert_eq!(remote["dns_source"], source.as_str());
}

#[test]
fn containers_are_named_where_people_read_them() {
    let Some((web, db)) = joined("holders") else {
        return;
    };
    let cgroups = (
        TestCgroup::new(&format!("docker-{WEB}.scope")),
        TestCgroup::new(&format!("docker-{DB}.scope")),
    );
    let (Some(web_cgroup), Some(db_cgroup)) = cgroups else {
        skip(
            &current_test(),
            "no cgroup hierarchy where a test can make its own cgroup",
        );
        return;
    };
    // db-1's server and web-1's hung client, each in the cgroup its runtime would give it.
    let env = [("TESTBED_ADDR", SERVER)];
    let blackhole = db.testbed_env(&["blackhole"], &env);
    db_cgroup.enter(blackhole.pid()).unwrap();
    let hung = web.testbed_env(&["hung-recv", &blackhole.port().to_string()], &env);
    web_cgroup.enter(hung.pid()).unwrap();
    std::thread::sleep(Duration::from_millis(2600));

    let scope = [
        "--netns",
        web.name(),
        "--netns",
        db.name(),
        "--min-idle",
        "2s",
        "--no-dns",
    ];
    let (status, out, err) = run(stuckconn()
        .env("STUCKCONN_TEST_ROOT", fixture("runtime/host"))
        .args(["scan", "--format", "json"])
        .args(scope));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_matches_schema(&report);
    let f = hung_call(&report, &web);
    assert_eq!(f["netns"]["container_name"], "web-1", "{:#}", f["netns"]);
    assert_eq!(f["netns"]["image"], "nginx:1.27");
    assert_eq!(
        f["netns"]["compose"],
        serde_json::json!({"project": "shop", "service": "web"})
    );
    let holder = &f["processes"][0];
    assert_eq!(holder["pids"][0], hung.pid());
    assert_eq!(holder["container_name"], "web-1");
    // The remote is db-1's address: named by it, no DNS asked.
    assert_eq!(f["remote"]["hostname"], "db-1", "{:#}", f["remote"]);
    assert_eq!(f["remote"]["dns_source"], "container");
    let row = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pids"][0] == hung.pid())
        .unwrap();
    assert_eq!(row["container_name"], "web-1");

    let (_, table, _) = run(stuckconn()
        .env("STUCKCONN_TEST_ROOT", fixture("runtime/host"))
        .args(scope)
        .args(["--color", "never"]));
    for expected in [
        format!("db-1  {SERVER}:{}", blackhole.port()),
        format!("(pid {}) in web-1", hung.pid()),
        "namespace web-1".to_string(),
    ] {
        assert!(table.contains(&expected), "{expected:?} not in:\n{table}");
    }
    drop((hung, blackhole));
    drop((web_cgroup, db_cgroup));
}

/// The finding in the namespace labelled `label`.
fn in_netns<'a>(report: &'a Value, container_name: Option<&str>) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["netns"]["container_name"].as_str() == container_name)
        .unwrap_or_else(|| panic!("no finding in {container_name:?}"))
}

#[test]
fn a_replay_shows_holders_and_remotes_by_their_names_and_sources() {
    let (status, out, err) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--no-dns",
        "--from",
        &fixture("containers.json"),
    ]));
    assert_eq!(status, 1, "{err}");
    let report = json(&out);
    assert_matches_schema(&report);

    // web-1 hung on db-1: both containers of this host, the remote named without DNS.
    let web = in_netns(&report, Some("web-1"));
    assert_eq!(web["netns"]["image"], "nginx:1.27");
    assert_eq!(
        web["netns"]["compose"],
        serde_json::json!({"project": "shop", "service": "web"})
    );
    assert_eq!(web["remote"]["hostname"], "db-1");
    assert_eq!(web["remote"]["dns_source"], "container");
    assert_eq!(web["processes"][0]["container_name"], "web-1");

    // The pod's remote by the pod's own resolver; the host's, same address, by the host's.
    let pod = in_netns(&report, Some("app"));
    assert_eq!(
        pod["netns"]["pod"],
        serde_json::json!({"namespace": "shop", "name": "checkout-7d9f"})
    );
    assert_eq!(pod["remote"]["hostname"], "payments.shop.example");
    let source = pod["remote"]["dns_source"].as_str().unwrap();
    assert!(source.starts_with("container:71c206f4b1ff"), "{source}");
    let host = in_netns(&report, None);
    assert_eq!(host["remote"]["ip"], pod["remote"]["ip"]);
    assert_eq!(host["remote"]["hostname"], "payments-public.example");
    assert_eq!(host["remote"]["dns_source"], "host");
    // A name recorded before sources were kept has none.
    assert_eq!(host["clients"][0]["hostname"], "bot.crawler.example");
    assert_eq!(host["clients"][0]["dns_source"], Value::Null);
    let rows = report["processes"].as_array().unwrap();
    assert!(rows.iter().any(|p| p["name"] == "checkout"
        && p["pod"]["name"] == "checkout-7d9f"
        && p["image"] == "registry.example/shop/checkout:2.4"));

    // The table: namespaces and holders by their names.
    let (_, table, _) = run(stuckconn().args([
        "--from",
        &fixture("containers.json"),
        "--no-dns",
        "--color",
        "never",
    ]));
    for expected in [
        " web-1 ",
        "db-1  198.51.100.20:5432",
        "nginx ×3 pids in web-1",
        " shop/checkout-7d9f ",
        "payments.shop.example  192.0.2.80:443",
        "payments-public.example  192.0.2.80:443",
        "In network namespace web-1:",
    ] {
        assert!(table.contains(expected), "{expected:?} not in:\n{table}");
    }

    // One namespace chosen: still named by its own resolver's recorded name.
    let (_, out, _) = run(stuckconn().args([
        "scan",
        "--format",
        "json",
        "--no-dns",
        "--netns",
        "cni-7c1e0f2a",
        "--from",
        &fixture("containers.json"),
    ]));
    let report = json(&out);
    assert_eq!(report["findings"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["findings"][0]["remote"]["hostname"],
        "payments.shop.example"
    );
}

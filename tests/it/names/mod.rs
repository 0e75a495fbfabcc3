//! Names as people know them, live: a hung call from one test namespace to another over a
//! veth pair (documentation addresses), the caller's namespace with a resolver of its own (a
//! real DNS server on 127.0.0.1 inside it, reachable only there, configured in
//! /etc/netns/NAME/resolv.conf as `ip netns` does): scanned from the host namespace, the
//! remote is named by that resolver; scanned with the server's namespace too, by that
//! namespace's name; recorded and replayed with the names and their sources. Many namespaces
//! asked at once; a resolv.conf on a filesystem that never answers. Holders: `holders.rs`.

mod holders;

use crate::common::*;
use crate::containers::HungMount;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const CALLER: &str = "198.51.100.1";
pub(super) const SERVER: &str = "198.51.100.2";
const NAME: &str = "db.internal.example";

/// `/etc/netns/NAME/resolv.conf` naming `nameserver`, removed when dropped (and /etc/netns
/// once empty, when the tests made it).
struct NetnsResolvConf {
    dir: PathBuf,
}

/// Whether /etc/netns was there before any test made one.
static PARENT_WAS_THERE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

impl NetnsResolvConf {
    fn new(netns: &str, nameserver: &str) -> NetnsResolvConf {
        let parent = PathBuf::from("/etc/netns");
        PARENT_WAS_THERE.get_or_init(|| parent.exists());
        let dir = parent.join(netns);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("resolv.conf"),
            format!("nameserver {nameserver}\n"),
        )
        .unwrap();
        NetnsResolvConf { dir }
    }
}

impl Drop for NetnsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("resolv.conf"));
        let _ = std::fs::remove_dir(&self.dir);
        if PARENT_WAS_THERE.get() == Some(&false) {
            // Fails while another test's directory is in it: that test removes it.
            let _ = std::fs::remove_dir("/etc/netns");
        }
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip runs");
    assert!(status.success(), "ip {args:?} failed");
}

/// Two beds joined by a veth pair: the caller at 198.51.100.1, the server at 198.51.100.2.
pub(super) fn joined(tag: &str) -> Option<(Bed, Bed)> {
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
pub(super) fn hung_call<'a>(report: &'a Value, caller: &Bed) -> &'a Value {
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
fn the_same_address_is_named_by_each_namespaces_own_resolver() {
    // Eight namespaces, each with its own resolver giving its own 192.0.2.5 a name of its own,
    // all asked at once: each finding has its namespace's name, however the answers interleave.
    const BEDS: usize = 8;
    let Some(first) = Bed::new("many-0", &["192.0.2.5/32"]) else {
        return;
    };
    let mut beds = vec![first];
    beds.extend((1..BEDS).map(|i| Bed::new(&format!("many-{i}"), &["192.0.2.5/32"]).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let mut held = Vec::new();
    let mut confs = Vec::new();
    for (i, bed) in beds.iter().enumerate() {
        let records = dir.path().join(format!("records-{i}"));
        std::fs::write(
            &records,
            format!("PTR 192.0.2.5 ns{i}.example.\nA ns{i}.example. 192.0.2.5\n"),
        )
        .unwrap();
        confs.push(NetnsResolvConf::new(bed.name(), "127.0.0.1"));
        held.push(bed.testbed_env(
            &["dns", records.to_str().unwrap()],
            &[("TESTBED_PORT", "53")],
        ));
        let env = [("TESTBED_ADDR", "192.0.2.5"), ("TESTBED_PORT", "8080")];
        held.push(bed.testbed_env(&["blackhole"], &env));
        held.push(bed.testbed_env(&["hung-recv", "8080"], &env));
    }
    std::thread::sleep(Duration::from_millis(2600));
    let names: Vec<&str> = beds.iter().map(Bed::name).collect();
    for _ in 0..3 {
        let report = scan(&names, &[]);
        let findings = report["findings"].as_array().unwrap();
        assert_eq!(findings.len(), BEDS, "{findings:#?}");
        for f in findings {
            let i = names.iter().position(|n| f["netns"]["name"] == *n).unwrap();
            assert_eq!(
                f["remote"]["hostname"],
                format!("ns{i}.example"),
                "{:#}",
                f["remote"]
            );
            assert_eq!(f["remote"]["dns_source"], format!("netns:{}", names[i]));
        }
        // (The host's other processes may come and go: only DNS is judged here.)
        let warnings = report["warnings"].to_string();
        assert!(!warnings.contains("reverse DNS"), "{warnings}");
    }
    drop(held);
    drop(confs);
}

#[test]
fn a_resolv_conf_that_never_reads_costs_half_a_second() {
    let test = current_test();
    if !std::path::Path::new("/dev/fuse").exists() {
        skip(&test, "a FUSE mount needs /dev/fuse");
        return;
    }
    let Some(bed) = Bed::new("names-hung", &["192.0.2.5/32"]) else {
        return;
    };
    let env = [("TESTBED_ADDR", "192.0.2.5"), ("TESTBED_PORT", "8080")];
    let _blackhole = bed.testbed_env(&["blackhole"], &env);
    let _hung = bed.testbed_env(&["hung-recv", "8080"], &env);
    // /etc/netns/NAME on a filesystem that never answers, in a mount namespace of this
    // thread's own (and of the stuckconn it starts): reading its resolv.conf blocks forever.
    let conf = NetnsResolvConf::new(bed.name(), "127.0.0.1");
    let _mount = match HungMount::new(&conf.dir) {
        Ok(mount) => mount,
        Err(why) => {
            skip(&test, &why);
            return;
        }
    };
    std::thread::sleep(Duration::from_millis(2600));
    let started = Instant::now();
    let report = scan(&[bed.name()], &["--dns-timeout", "200ms"]);
    let wall = started.elapsed();
    let f = &report["findings"][0];
    assert_eq!(f["remote"]["ip"], "192.0.2.5");
    assert_eq!(f["remote"]["dns_source"], "host", "{:#}", f["remote"]);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("was not known in time"), "{warnings}");
    // Half a second for the namespace's answer, then at most the DNS deadline (400 ms); the
    // rest of the scan depends on how busy the host is, but nothing waits on the hung read.
    let dns_secs = report["timings"]["dns_secs"].as_f64().unwrap();
    assert!(dns_secs < 1.2, "names took {dns_secs} s");
    assert!(wall < Duration::from_secs(10), "the scan took {wall:?}");
}

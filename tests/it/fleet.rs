//! For the fleet: what contrib/ ships, checked with the real tools a team would use.
//! - The alert rules: `promtool check rules`, their unit tests (`promtool test rules`), and a
//!   real Prometheus server (Debian's `prometheus`) that loads them, scrapes a target serving
//!   stuckconn's metrics and answers queries for the hung-call series over its HTTP API.
//! - The metrics of a scan: `promtool check metrics`.
//! - The systemd units: `systemd-analyze verify` and `security`, their capabilities tried for
//!   real (a scan as nobody with exactly those), and their system call filter against every
//!   call a real scan makes (strace).
//! - The Debian package: cargo-deb's metadata names files that exist or are built, and, where
//!   cargo-deb is installed and the binary has `completions`, the .deb builds and installs.
//!
//! Each test that needs a program that is not installed says so (`SKIPPED ...`) and passes.

use crate::common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

const RULES: &str = "contrib/prometheus/stuckconn.rules.yml";
const RULES_TEST: &str = "contrib/prometheus/stuckconn.rules.test.yml";
const UNITS: [&str; 3] = [
    "stuckconn-exporter.service",
    "stuckconn-textfile.service",
    "stuckconn-textfile.timer",
];

/// The program's path, or None after saying visibly why the test does not run.
fn tool(program: &str, package: &str) -> Option<PathBuf> {
    let found = which(program);
    if found.is_none() {
        skip(
            &current_test(),
            &format!("{program} is not installed (Debian package {package})"),
        );
    }
    found
}

/// Runs a command to its end (bounded by `limit`) and returns (success, stdout, stderr).
fn run_bounded(cmd: &mut Command, limit: Duration) -> (bool, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.success(), out.join().unwrap(), err.join().unwrap())
}

/// `stuckconn scan --from FIXTURE --format prometheus`: the text a scrape would get.
fn metrics_of(fixture_name: &str) -> String {
    let (status, out, err) = run(stuckconn().args([
        "scan",
        "--from",
        &fixture(fixture_name),
        "--format",
        "prometheus",
    ]));
    assert!(
        status == 0 || status == 1,
        "scan --from {fixture_name} failed ({status}): {err}"
    );
    out
}

// ----------------------------------------------------------------------------------------
// The alert rules.

#[test]
fn promtool_accepts_the_alert_rules() {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let (ok, out, err) = run_bounded(
        Command::new(promtool)
            .args(["check", "rules"])
            .arg(repo(RULES)),
        Duration::from_secs(60),
    );
    assert!(ok, "promtool check rules:\n{out}{err}");
    // A recording rule and six alerts; any lint finding would be printed as a warning.
    assert!(out.contains("SUCCESS: 7 rules found"), "{out}");
    assert!(!format!("{out}{err}").contains("WARNING"), "{out}{err}");
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let (ok, out, err) = run_bounded(
        Command::new(promtool)
            .args(["test", "rules"])
            .arg(repo(RULES_TEST)),
        Duration::from_secs(120),
    );
    assert!(ok, "promtool test rules:\n{out}{err}");
    assert!(out.contains("SUCCESS"), "{out}{err}");
}

/// Every alert of the rules has unit tests where it fires and where it stays quiet: a rule
/// added without them (or with only one side) fails here, not in a team's pager.
#[test]
fn every_alert_is_tested_firing_and_quiet() {
    let rules = std::fs::read_to_string(repo(RULES)).unwrap();
    let tests = std::fs::read_to_string(repo(RULES_TEST)).unwrap();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(alerts.len(), 6, "{alerts:?}");
    // alertname -> (tested firing, tested quiet)
    let mut seen: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    let mut current = None;
    for line in tests.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("alertname: ") {
            current = Some(name);
        } else if let (Some(name), Some(rest)) = (current, line.strip_prefix("exp_alerts:")) {
            let entry = seen.entry(name).or_default();
            if rest.trim() == "[]" {
                entry.1 = true;
            } else {
                entry.0 = true;
            }
            current = None;
        }
    }
    for alert in alerts {
        assert_eq!(
            seen.get(alert),
            Some(&(true, true)),
            "{alert} needs unit tests in {RULES_TEST} that expect it to fire and not to fire"
        );
    }
}

// ----------------------------------------------------------------------------------------
// The metrics.

#[test]
fn promtool_accepts_the_metrics_of_a_scan() {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    for name in ["incident.json", "mixed.json"] {
        let text = metrics_of(name);
        assert!(
            text.contains("stuckconn_stuck_connections{"),
            "{name} should give stuck connections:\n{text}"
        );
        let (ok, said) = check_metrics(&promtool, &text);
        assert!(
            ok,
            "promtool check metrics on the metrics of {name}: {said}"
        );
    }
}

/// `promtool check metrics` on `text`: whether it passed with nothing to say (exit 1 is a
/// parse error, 3 a lint problem: a missing HELP, a bad name or unit), and what it said.
fn check_metrics(promtool: &Path, text: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && said.trim().is_empty(),
        format!("({}) {said}", out.status),
    )
}

// ----------------------------------------------------------------------------------------
// A real Prometheus server.

/// Percent-encodes a query parameter.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.0 GET on 127.0.0.1:port, bounded: (status code, body), or None when nothing
/// answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// A free port on 127.0.0.1 (free when asked: another process may take it before use).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real Prometheus server (Debian's `prometheus`) on 127.0.0.1, scraping one target every
/// second in a job named "stuckconn" (the name the alert rules expect), evaluating the given
/// rule files every second, with its storage in a temporary directory. Killed by its pid and
/// reaped when dropped.
///
/// The tests below point it at a static target serving what `scan --format prometheus` prints
/// for the incident fixture (the rules on 111 hung calls), and at a real `stuckconn serve`.
pub struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts it (a new port on each of up to 3 tries, should another process take the one
    /// picked) and waits, at most 30 s, until /-/ready says so.
    pub fn start(binary: &Path, target: &str, rule_files: &[PathBuf]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| format!("  - {}\n", p.display()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n{}\
             scrape_configs:\n  - job_name: stuckconn\n    static_configs:\n      \
             - targets: ['{target}']\n",
            if rules.is_empty() {
                "  []\n".to_string()
            } else {
                rules.concat()
            }
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = dir.path().join("prometheus.log");
            let mut child = Command::new(binary)
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("prometheus starts");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if matches!(http_get(port, "/-/ready"), Some((200, _))) {
                    return Prometheus {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            last = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("prometheus did not become ready on 127.0.0.1 in 3 tries:\n{last}");
    }

    /// GET on the server's HTTP API; the parsed JSON answer (status "success" checked).
    pub fn api(&self, path: &str) -> Value {
        let (code, body) = http_get(self.port, path)
            .unwrap_or_else(|| panic!("prometheus does not answer GET {path}"));
        let answer = json(&body);
        assert_eq!(code, 200, "GET {path}: {body}");
        assert_eq!(answer["status"], "success", "GET {path}: {body}");
        answer
    }

    /// An instant query: its result vector.
    pub fn query(&self, expr: &str) -> Vec<Value> {
        let answer = self.api(&format!("/api/v1/query?query={}", urlencode(expr)));
        answer["data"]["result"].as_array().unwrap().clone()
    }

    /// Polls an instant query (every 250 ms, at most `limit`) until its result is not empty.
    pub fn wait_for(&self, expr: &str, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let result = self.query(expr);
            if !result.is_empty() {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus has no result for {expr} after {limit:?}; targets: {}",
                self.api("/api/v1/targets")["data"]
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scrape target that serves one body at every path: a thread of the test's own on
/// 127.0.0.1; stopped and joined when dropped. Each request is bounded (5 s to read it).
struct StaticTarget {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StaticTarget {
    fn serve(body: String) -> StaticTarget {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        StaticTarget {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StaticTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The (process, remote, netns) -> value of the hung-call series in a scrape's text.
fn hung_call_series(text: &str) -> BTreeMap<(String, String, String), f64> {
    let label = |labels: &str, name: &str| -> String {
        let start = labels.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + labels[start..].find('"').unwrap();
        labels[start..end].to_string()
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("stuckconn_stuck_connections{"))
        .filter(|l| l.contains("kind=\"hung_call\""))
        .map(|l| {
            let (labels, value) = l.rsplit_once("} ").unwrap();
            (
                (
                    label(labels, "process"),
                    label(labels, "remote"),
                    label(labels, "netns"),
                ),
                value.trim().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn prometheus_scrapes_a_target_and_answers_for_the_hung_calls() {
    let Some(prometheus) = tool("prometheus", "prometheus") else {
        return;
    };
    // What a scrape of stuckconn would return on the incident's host.
    let text = metrics_of("incident.json");
    let expected = hung_call_series(&text);
    assert!(!expected.is_empty(), "the incident has hung calls:\n{text}");
    let target = StaticTarget::serve(text);
    let server = Prometheus::start(
        &prometheus,
        &format!("127.0.0.1:{}", target.port),
        &[repo(RULES)],
    );

    let up = server.wait_for("up{job=\"stuckconn\"}", Duration::from_secs(30));
    assert_eq!(up[0]["value"][1], "1", "the scrape works: {up:?}");

    // The hung-call series, exactly as stuckconn printed them.
    let result = server.wait_for(
        "stuckconn_stuck_connections{kind=\"hung_call\"}",
        Duration::from_secs(30),
    );
    let got: BTreeMap<(String, String, String), f64> = result
        .iter()
        .map(|s| {
            let m = &s["metric"];
            assert_eq!(m["job"], "stuckconn");
            (
                (
                    m["process"].as_str().unwrap().to_string(),
                    m["remote"].as_str().unwrap().to_string(),
                    m["netns"].as_str().unwrap().to_string(),
                ),
                s["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);

    // The rules load and run in the real server: the recording rule sums per process, and
    // every rule evaluates without error.
    let total: f64 = expected.values().sum();
    let per_process = server.wait_for(
        "sum(process:stuckconn_stuck_connections:sum{kind=\"hung_call\"})",
        Duration::from_secs(30),
    );
    assert_eq!(per_process[0]["value"][1], total.to_string());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let groups = server.api("/api/v1/rules")["data"]["groups"].clone();
        let rules: Vec<&Value> = groups
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .collect();
        assert_eq!(rules.len(), 7, "{groups}");
        if rules.iter().all(|r| r["health"] == "ok") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "every rule should evaluate without error: {groups}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // 111 hung calls for 10 minutes would page; after seconds the alert is only pending.
    let pending = server.wait_for(
        "ALERTS{alertname=\"StuckconnHungCalls\"}",
        Duration::from_secs(30),
    );
    assert_eq!(pending[0]["metric"]["alertstate"], "pending", "{pending:?}");
}

/// A real Prometheus server scrapes a real `stuckconn serve` that scans a bed holding one hung
/// call: the series arrive as the exporter sees them, with its own (up, partial, scans), and
/// the rules evaluate without error. Prometheus 2.42 asks for OpenMetrics first, so this is
/// also a real parser of serve's OpenMetrics. `promtool check metrics` accepts the text format.
#[test]
fn prometheus_scrapes_stuckconn_serve_and_answers_for_the_hung_call() {
    let (Some(prometheus), Some(promtool)) = (
        tool("prometheus", "prometheus"),
        tool("promtool", "prometheus"),
    ) else {
        return;
    };
    let Some(bed) = Bed::new("fleet-serve", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let _hung = bed.testbed(&["hung-recv", &blackhole.port().to_string()]);
    std::thread::sleep(Duration::from_millis(1300));
    // Prometheus scrapes every second here, with a 1 s timeout. A scan on a busy host may take
    // longer: it goes on after the scrape gives up, and --min-interval serves its result to
    // the next scrapes (what a real setup gets from a scrape timeout above --timeout).
    let serve = crate::serve::Serve::start(
        &bed,
        &[
            "--min-idle",
            "1s",
            "--no-dns",
            "--min-interval",
            "5s",
            "--timeout",
            "20s",
        ],
    );
    let server = Prometheus::start(
        &prometheus,
        &format!("127.0.0.1:{}", serve.port),
        &[repo(RULES)],
    );
    server.wait_for("up{job=\"stuckconn\"} == 1", Duration::from_secs(30));
    let result = server.wait_for(
        "stuckconn_stuck_connections{kind=\"hung_call\"}",
        Duration::from_secs(30),
    );
    assert_eq!(result.len(), 1, "{result:?}");
    let series = &result[0]["metric"];
    assert_eq!(series["job"], "stuckconn");
    assert_eq!(series["process"], "testbed");
    assert_eq!(
        series["remote"],
        format!("127.0.0.1:{}", blackhole.port()).as_str()
    );
    assert_eq!(series["netns"], bed.name());
    assert_eq!(result[0]["value"][1], "1");
    for (expr, want) in [
        ("stuckconn_up", "1"),
        ("stuckconn_scan_partial", "0"),
        ("stuckconn_scan_errors_total", "0"),
    ] {
        let got = server.wait_for(expr, Duration::from_secs(30));
        assert_eq!(got[0]["value"][1], want, "{expr}: {got:?}");
    }
    let scans = server.wait_for("stuckconn_scans_total", Duration::from_secs(30));
    let scans: f64 = scans[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(scans >= 1.0, "{scans}");
    // The rules run on it without error; the exporter is not "down".
    let per_process = server.wait_for(
        "process:stuckconn_stuck_connections:sum{kind=\"hung_call\"}",
        Duration::from_secs(30),
    );
    assert_eq!(per_process[0]["value"][1], "1");
    assert!(server
        .query("ALERTS{alertname=\"StuckconnDown\"}")
        .is_empty());

    let text = serve.metrics();
    let (ok, said) = check_metrics(&promtool, &text);
    assert!(
        ok,
        "promtool check metrics on serve's answer: {said}\n{text}"
    );
}

// ----------------------------------------------------------------------------------------
// The systemd units.

/// The units with ExecStart pointing at the binary under test, and a man page for their
/// Documentation=, in a temporary directory: what `systemd-analyze` needs to check them as
/// they would be installed. (dir, MANPATH)
fn installed_units() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for unit in UNITS {
        let text = std::fs::read_to_string(repo(&format!("contrib/systemd/{unit}"))).unwrap();
        std::fs::write(
            dir.path().join(unit),
            text.replace("/usr/bin/stuckconn ", &format!("{BIN} ")),
        )
        .unwrap();
    }
    let man = dir.path().join("man");
    std::fs::create_dir_all(man.join("man1")).unwrap();
    std::fs::copy(repo("man/stuckconn.1"), man.join("man1/stuckconn.1")).unwrap();
    (dir, man)
}

/// A unit file's values of `key`, every line of it, split on whitespace.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo(&format!("contrib/systemd/{unit}"))).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .flat_map(|v| v.split_whitespace().map(String::from))
        .collect()
}

#[test]
fn systemd_units_verify() {
    let Some(analyze) = tool("systemd-analyze", "systemd") else {
        return;
    };
    let (dir, man) = installed_units();
    let (ok, out, err) = run_bounded(
        Command::new(analyze)
            .arg("verify")
            .args(UNITS.map(|u| dir.path().join(u)))
            .env("MANPATH", &man)
            .current_dir(dir.path()),
        Duration::from_secs(60),
    );
    // verify warns about unknown keys and bad values without failing: both count here.
    assert!(
        ok && err.trim().is_empty() && out.trim().is_empty(),
        "systemd-analyze verify:\n{out}{err}"
    );
}

#[test]
fn systemd_units_are_sandboxed() {
    let Some(analyze) = tool("systemd-analyze", "systemd") else {
        return;
    };
    // Exactly the capabilities a full scan needs (README "Permissions"), no CAP_NET_RAW.
    let needed = ["CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"].map(String::from);
    let set = |unit, key| -> BTreeSet<String> { unit_values(unit, key).into_iter().collect() };
    let needed: BTreeSet<String> = needed.into_iter().collect();
    let exporter = "stuckconn-exporter.service";
    let textfile = "stuckconn-textfile.service";
    assert_eq!(set(exporter, "AmbientCapabilities"), needed);
    assert_eq!(set(exporter, "CapabilityBoundingSet"), needed);
    assert_eq!(set(textfile, "CapabilityBoundingSet"), needed);
    assert_eq!(unit_values(exporter, "DynamicUser"), ["yes"]);
    assert_eq!(unit_values(exporter, "User"), ["stuckconn"]);
    for unit in [exporter, textfile] {
        assert_eq!(unit_values(unit, "NoNewPrivileges"), ["yes"], "{unit}");
        assert_eq!(unit_values(unit, "ProtectSystem"), ["strict"], "{unit}");
        // systemd's own score of the sandbox: 0 (locked down) to 10 (exposed).
        let (dir, man) = installed_units();
        let (_, out, err) = run_bounded(
            Command::new(&analyze)
                .args(["security", "--offline=yes", "--no-pager"])
                .arg(dir.path().join(unit))
                .env("MANPATH", &man)
                .current_dir(dir.path()),
            Duration::from_secs(60),
        );
        let level: f64 = format!("{out}{err}")
            .lines()
            .find_map(|l| {
                l.split_once("Overall exposure level for ")?
                    .1
                    .split_once(": ")
            })
            .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level for {unit}:\n{out}{err}"));
        assert!(
            level <= 3.0,
            "{unit}: exposure {level}, more than 3.0:\n{out}"
        );
    }
}

/// A scan with exactly the exporter unit's capabilities, as an unprivileged user with no new
/// privileges (what DynamicUser= and the unit give it), from the host's network namespace:
/// it enters the test's namespace (CAP_SYS_ADMIN), ties the hung call to its process and
/// finds the blocked thread (CAP_DAC_READ_SEARCH + CAP_SYS_PTRACE). `serve` needs nothing more.
#[test]
fn the_exporter_units_capabilities_are_enough_for_a_full_scan() {
    let Some(bed) = Bed::new("fleet-caps", &[]) else {
        return;
    };
    if tool("setpriv", "util-linux").is_none() {
        return;
    }
    let caps: Vec<String> = unit_values("stuckconn-exporter.service", "AmbientCapabilities")
        .iter()
        .map(|c| c.to_lowercase().trim_start_matches("cap_").to_string())
        .collect();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let hung = bed.testbed(&["hung-recv", &port]);
    std::thread::sleep(Duration::from_millis(1300));
    let nobody = Nobody::new();
    let mut cmd = Command::new("setpriv");
    cmd.env_remove("NO_COLOR")
        .env_remove("STUCKCONN_PROC_NET")
        .arg("--no-new-privs")
        .args(Nobody::setpriv_args(&caps))
        .arg(nobody.binary())
        .args([
            "scan",
            "--netns",
            bed.name(),
            "--format",
            "json",
            "--no-dns",
        ])
        .args(["--min-idle", "1s", "--port", &port]);
    let (status, out, err) = run(&mut cmd);
    assert_eq!(status, 1, "the hung call is found: {err}");
    let report = json(&out);
    let finding = &report["findings"][0];
    assert_eq!(finding["kind"], "hung_call", "{report:#}");
    assert_eq!(
        finding["processes"][0]["pids"],
        serde_json::json!([hung.pid()]),
        "{report:#}"
    );
    assert_eq!(finding["threads_blocked"], 1, "{report:#}");
    let warnings = report["warnings"].to_string();
    assert!(!warnings.contains("CAP_"), "nothing is missing: {warnings}");

    // The exporter, as the unit runs it: the same capabilities are enough to listen (on a
    // port above 1023) and serve the hung call with its process and blocked thread.
    let mut cmd = Command::new("setpriv");
    cmd.env_remove("NO_COLOR")
        .env_remove("STUCKCONN_PROC_NET")
        .arg("--no-new-privs")
        .args(Nobody::setpriv_args(&caps))
        .arg(nobody.binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--netns", bed.name()])
        .args([
            "--no-dns",
            "--min-idle",
            "1s",
            "--port",
            &port,
            "--timeout",
            "20s",
        ]);
    let serve = crate::serve::Serve::spawn(cmd);
    let text = serve.metrics();
    assert!(
        text.contains("stuckconn_stuck_connections{kind=\"hung_call\",process=\"testbed\"")
            && text.contains("stuckconn_threads_blocked 1.0")
            && text.contains("stuckconn_warnings 0.0")
            && text.contains("stuckconn_up 1.0"),
        "{text}\n{}",
        serve.log()
    );
}

/// The syscall names of systemd's filter expression (groups expanded), as systemd-analyze
/// lists them.
fn syscall_set(analyze: &Path, group: &str, into: &mut BTreeSet<String>) {
    let (ok, out, err) = run_bounded(
        Command::new(analyze).args(["syscall-filter", group]),
        Duration::from_secs(30),
    );
    assert!(ok, "systemd-analyze syscall-filter {group}: {err}");
    for item in out.lines().skip(1).map(str::trim) {
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        if item.starts_with('@') {
            syscall_set(analyze, item, into);
        } else {
            into.insert(item.to_string());
        }
    }
}

/// The system calls of a trace (`strace -f -o`): their names, and the families of the
/// sockets opened.
fn traced_calls(trace: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    // Lines are `PID name(args...) = result`, or `PID <... name resumed>`, signals, exits.
    let calls: Vec<(&str, &str)> = trace
        .lines()
        .filter_map(|l| {
            let call = l.split_once(' ')?.1.trim_start();
            let (name, args) = call.split_once('(')?;
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                .then_some((name, args))
        })
        .collect();
    let used = calls.iter().map(|(n, _)| n.to_string()).collect();
    let families = calls
        .iter()
        .filter(|(n, _)| *n == "socket")
        .filter_map(|(_, args)| args.split(',').next().map(String::from))
        .collect();
    (used, families)
}

/// The pid of the (first) child of `pid`: the program strace runs.
fn child_of(pid: u32) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(child) = children.split_whitespace().next() {
            return child.parse().ok();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Every system call a real scan and a real exporter make (strace, in a bed with a hung call,
/// entering its namespace, reading the blocked thread; serve answering scrapes and stopping
/// on SIGTERM) passes the units' SystemCallFilter=: no call the service needs fails with EPERM
/// under systemd.
#[test]
fn the_units_syscall_filter_allows_every_call_of_a_scan() {
    let Some(bed) = Bed::new("fleet-seccomp", &[]) else {
        return;
    };
    let (Some(analyze), Some(strace)) =
        (tool("systemd-analyze", "systemd"), tool("strace", "strace"))
    else {
        return;
    };
    // Per unit: (allowed, denied) as systemd reads the filter lines: an allow list, then
    // lines starting with ~ that take calls out of it.
    let mut filters = Vec::new();
    for unit in ["stuckconn-exporter.service", "stuckconn-textfile.service"] {
        let text = std::fs::read_to_string(repo(&format!("contrib/systemd/{unit}"))).unwrap();
        let (mut allowed, mut denied) = (BTreeSet::new(), BTreeSet::new());
        for line in text
            .lines()
            .filter_map(|l| l.strip_prefix("SystemCallFilter="))
        {
            let (set, items) = match line.strip_prefix('~') {
                Some(items) => (&mut denied, items),
                None => (&mut allowed, line),
            };
            for item in items.split_whitespace() {
                if item.starts_with('@') {
                    syscall_set(&analyze, item, set);
                } else {
                    set.insert(item.to_string());
                }
            }
        }
        assert!(
            allowed.contains("setns") && !denied.contains("setns"),
            "{unit}: setns is allowed"
        );
        filters.push((unit, allowed, denied));
    }

    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let _hung = bed.testbed(&["hung-recv", &port]);
    std::thread::sleep(Duration::from_millis(1300));
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(&strace);
    cmd.args(["-f", "-qq", "-o"])
        .arg(log.path())
        .arg(BIN)
        .args([
            "scan",
            "--netns",
            bed.name(),
            "--format",
            "prometheus",
            "--no-dns",
        ])
        .args(["--min-idle", "1s", "--timeout", "20s"]);
    let (_, out, err) = run_bounded(&mut cmd, Duration::from_secs(60));
    assert!(
        out.contains("stuckconn_stuck_connections{kind=\"hung_call\""),
        "the traced scan found the hung call: {out}{err}"
    );
    let (used, families) = traced_calls(&std::fs::read_to_string(log.path()).unwrap());
    assert!(
        used.contains("setns") && used.contains("execve") && used.len() > 20,
        "the trace shows the calls: {used:?}"
    );

    // The exporter, as its unit runs it, answering scrapes (and a 404), then stopped.
    let served_log = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(&strace);
    cmd.args(["-f", "-qq", "-o"])
        .arg(served_log.path())
        .arg(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--netns", bed.name()])
        .args(["--min-idle", "1s", "--timeout", "20s", "--no-dns"])
        .args(["--min-interval", "0s"]);
    let mut serve = crate::serve::Serve::spawn(cmd);
    for _ in 0..2 {
        let text = serve.metrics();
        assert!(
            text.contains("stuckconn_stuck_connections{kind=\"hung_call\""),
            "the traced exporter found the hung call: {text}"
        );
    }
    assert_eq!(serve.get("/nope", "").status, 404);
    let traced = child_of(serve.pid()).expect("strace runs serve");
    // SAFETY: kill(2) on the pid of the exporter this test started (strace's child).
    unsafe { libc::kill(traced as libc::pid_t, libc::SIGTERM) };
    assert!(serve.wait(Duration::from_secs(10)).is_some(), "serve stops");
    let (served, served_families) =
        traced_calls(&std::fs::read_to_string(served_log.path()).unwrap());
    assert!(
        served.contains("accept4") && served.contains("setns"),
        "the trace shows the exporter's calls: {served:?}"
    );

    // The socket families each opens, against its unit's RestrictAddressFamilies=.
    for (unit, opened) in [
        ("stuckconn-textfile.service", &families),
        ("stuckconn-exporter.service", &served_families),
    ] {
        let restricted: BTreeSet<String> = unit_values(unit, "RestrictAddressFamilies")
            .into_iter()
            .collect();
        assert!(opened.contains("AF_NETLINK"), "{opened:?}");
        assert!(
            opened.is_subset(&restricted),
            "a --no-dns run opens {opened:?}; {unit} allows {restricted:?}"
        );
    }
    for (unit, allowed, denied) in filters {
        let mut calls = used.clone();
        if unit == "stuckconn-exporter.service" {
            calls.extend(served.iter().cloned());
        }
        let refused: Vec<&String> = calls
            .iter()
            .filter(|s| !allowed.contains(*s) || denied.contains(*s))
            .collect();
        assert!(
            refused.is_empty(),
            "{unit}: its SystemCallFilter refuses calls it makes: {refused:?}"
        );
    }
}

// ----------------------------------------------------------------------------------------
// The Debian package.

/// `[package.metadata.deb]` of Cargo.toml, through `cargo metadata`.
fn deb_metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let (ok, out, err) = run_bounded(
        Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .arg("--manifest-path")
            .arg(repo("Cargo.toml")),
        Duration::from_secs(60),
    );
    assert!(ok, "cargo metadata: {err}");
    let meta = json(&out);
    meta["packages"][0]["metadata"]["deb"].clone()
}

/// The produced-by-build.sh assets: target/completions/<file>.
const COMPLETIONS: [(&str, &str); 3] = [
    ("bash", "stuckconn.bash"),
    ("zsh", "_stuckconn"),
    ("fish", "stuckconn.fish"),
];

#[test]
fn deb_metadata_names_files_that_exist_or_are_built() {
    let deb = deb_metadata();
    let script = std::fs::read_to_string(repo("contrib/deb/build.sh")).unwrap();
    let assets: BTreeMap<String, String> = deb["assets"]
        .as_array()
        .expect("assets are listed")
        .iter()
        .map(|a| {
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (source, dest) in &assets {
        if source == "target/release/stuckconn" {
            // cargo-deb's name for the release binary, built by build.sh.
            assert!(script.contains("cargo build --locked --release"));
            assert_eq!(dest, "usr/bin/");
        } else if let Some(file) = source.strip_prefix("target/completions/") {
            let shell = COMPLETIONS
                .iter()
                .find(|(_, f)| *f == file)
                .unwrap_or_else(|| panic!("{source}: not a completion build.sh makes"))
                .0;
            assert!(
                script.contains(&format!("\"$comp/{file}\"")),
                "build.sh writes {source}"
            );
            assert!(
                dest.contains(shell),
                "{source} goes where {shell} looks: {dest}"
            );
        } else {
            assert!(repo(source).is_file(), "{source} is not in the repository");
        }
    }
    assert_eq!(
        assets.get("man/stuckconn.1").map(String::as_str),
        Some("usr/share/man/man1/stuckconn.1"),
        "man stuckconn finds it there"
    );
    assert_eq!(
        assets.get(RULES).map(String::as_str),
        Some("usr/share/stuckconn/prometheus/"),
        "the path the units' comments give"
    );
    for (_, file) in COMPLETIONS {
        assert!(assets.contains_key(&format!("target/completions/{file}")));
    }

    // The units: each unit-name has its files in unit-scripts; the units run the binary
    // where the package puts it; none is enabled or started by installing the package.
    let units = deb["systemd-units"].as_array().expect("systemd-units");
    let mut packaged = BTreeSet::new();
    for u in units {
        let dir = repo(u["unit-scripts"].as_str().unwrap());
        let name = u["unit-name"].as_str().unwrap();
        assert_eq!(u["enable"], false, "{name}");
        assert_eq!(u["start"], false, "{name}");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().file_name().into_string().unwrap();
            if file.strip_prefix(name).is_some_and(|s| s.starts_with('.')) {
                packaged.insert(file);
            }
        }
    }
    assert_eq!(
        packaged,
        UNITS.iter().map(|u| u.to_string()).collect::<BTreeSet<_>>()
    );
    for unit in ["stuckconn-exporter.service", "stuckconn-textfile.service"] {
        let exec = unit_values(unit, "ExecStart");
        assert_eq!(exec[0], "/usr/bin/stuckconn", "{unit}");
    }
    // cargo-deb wants the maintainer-scripts directory; scripts in it need #DEBHELPER#.
    let scripts = repo(deb["maintainer-scripts"].as_str().unwrap());
    for name in ["preinst", "postinst", "prerm", "postrm"] {
        let path = scripts.join(name);
        if path.exists() {
            assert!(std::fs::read_to_string(path)
                .unwrap()
                .contains("#DEBHELPER#"));
        }
    }
    assert!(deb["maintainer"].as_str().unwrap().contains('<'));
}

/// Whether `stuckconn completions bash` exists yet (the lead adds it).
fn has_completions() -> bool {
    stuckconn()
        .args(["completions", "bash"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Removes the package when dropped (it was not installed before the test).
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["--purge", "stuckconn"])
            .stdout(Stdio::null())
            .status();
    }
}

/// The .deb, built by cargo-deb from this test's binary (build.sh packages a release one), has
/// every file where Debian looks for it, and installs: `man stuckconn` finds the page, the
/// installed units verify against the installed binary, none is enabled. Purged afterwards.
#[test]
fn deb_package_builds_and_installs() {
    if tool("cargo-deb", "none: cargo install --locked cargo-deb").is_none() {
        return;
    }
    if !has_completions() {
        skip(
            &current_test(),
            "the binary has no `completions` command yet, which the package needs",
        );
        return;
    }
    // cargo-deb reads target/completions/ (as build.sh leaves it) and <target dir>/release/:
    // a target directory of the test's own holds the binary under test there.
    let comp = repo("target/completions");
    std::fs::create_dir_all(&comp).unwrap();
    for (shell, file) in COMPLETIONS {
        let (status, out, err) = run(stuckconn().args(["completions", shell]));
        assert_eq!(status, 0, "completions {shell}: {err}");
        assert!(!out.is_empty(), "completions {shell} printed nothing");
        std::fs::write(comp.join(file), out).unwrap();
    }
    let target = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(target.path().join("release")).unwrap();
    std::fs::copy(BIN, target.path().join("release/stuckconn")).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let (ok, out, err) = run_bounded(
        Command::new(cargo)
            .args(["deb", "--no-build", "--no-strip", "--fast"])
            .arg("--output")
            .arg(out_dir.path())
            .env("CARGO_TARGET_DIR", target.path())
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        Duration::from_secs(300),
    );
    assert!(ok, "cargo deb:\n{out}{err}");
    let deb = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("cargo deb wrote a .deb");

    let (ok, contents, err) = run_bounded(
        Command::new("dpkg-deb").arg("--contents").arg(&deb),
        Duration::from_secs(30),
    );
    assert!(ok, "{err}");
    for path in [
        "./usr/bin/stuckconn",
        "./usr/share/man/man1/stuckconn.1.gz",
        "./usr/share/bash-completion/completions/stuckconn",
        "./usr/share/zsh/vendor-completions/_stuckconn",
        "./usr/share/fish/vendor_completions.d/stuckconn.fish",
        "systemd/system/stuckconn-exporter.service",
        "systemd/system/stuckconn-textfile.service",
        "systemd/system/stuckconn-textfile.timer",
        "./usr/share/stuckconn/prometheus/stuckconn.rules.yml",
        "./usr/share/doc/stuckconn/copyright",
    ] {
        assert!(
            contents.lines().any(|l| l.ends_with(path)),
            "{path} missing from the package:\n{contents}"
        );
    }
    let (_, info, _) = run_bounded(
        Command::new("dpkg-deb")
            .args(["--field"])
            .arg(&deb)
            .arg("Depends"),
        Duration::from_secs(30),
    );
    assert!(info.contains("libc6"), "Depends: {info}");

    if !is_root() {
        skip(&current_test(), "installing the package needs root");
        return;
    }
    let before = Command::new("dpkg")
        .args(["--status", "stuckconn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    if before.success() {
        skip(
            &current_test(),
            "a stuckconn package is installed already; not replacing it",
        );
        return;
    }
    let (ok, out, err) = run_bounded(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(["-o", "DPkg::Lock::Timeout=120"])
            .arg(&deb)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        Duration::from_secs(300),
    );
    let _installed = Installed;
    assert!(ok, "apt-get install the .deb:\n{out}{err}");
    let (status, version, _) = run(Command::new("/usr/bin/stuckconn").arg("--version"));
    assert_eq!(status, 0);
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    // Installed, not enabled: nothing of stuckconn's in a .wants directory.
    for entry in std::fs::read_dir("/etc/systemd/system")
        .into_iter()
        .flatten()
    {
        let dir = entry.unwrap().path();
        if dir.extension().is_some_and(|e| e == "wants") {
            for unit in std::fs::read_dir(&dir).unwrap() {
                let name = unit.unwrap().file_name().into_string().unwrap();
                assert!(!name.starts_with("stuckconn"), "{name} enabled in {dir:?}");
            }
        }
    }
    if which("man").is_some() {
        let (ok, page, err) = run_bounded(
            Command::new("man").args(["-w", "stuckconn"]),
            Duration::from_secs(30),
        );
        assert!(
            ok && page.trim().ends_with("man1/stuckconn.1.gz"),
            "man -w stuckconn: {page}{err}"
        );
    }
    if let Some(analyze) = which("systemd-analyze") {
        let dir = ["/usr/lib/systemd/system", "/lib/systemd/system"]
            .into_iter()
            .find(|d| Path::new(d).join("stuckconn-exporter.service").exists())
            .expect("the exporter unit is installed");
        let (ok, out, err) = run_bounded(
            Command::new(analyze)
                .arg("verify")
                .args(UNITS.map(|u| Path::new(dir).join(u))),
            Duration::from_secs(60),
        );
        assert!(
            ok && err.trim().is_empty(),
            "the installed units verify: {out}{err}"
        );
    }
}

//! `stuckconn serve`: the exporter, run for real and scraped over real TCP (and TLS, with
//! curl). Each test scans only a network namespace of its own (`--netns`), so what the host
//! holds cannot change the series; the exporter itself listens on the host's 127.0.0.1 on a
//! port the kernel picks (`--listen 127.0.0.1:0`; it logs the one it got).

use crate::common::*;
use openmetrics_parser::{MetricNumber, OpenMetricsValue, PrometheusValue};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// A running `stuckconn serve`: killed (by its pid) and reaped when dropped.
pub struct Serve {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Serve {
    /// `stuckconn serve --listen 127.0.0.1:0 ARGS` in the test's namespace, scanning `bed`.
    pub fn start(bed: &Bed, args: &[&str]) -> Serve {
        let mut cmd = bed.stuckconn("serve");
        cmd.args(["--listen", "127.0.0.1:0"]).args(args);
        Serve::spawn(cmd)
    }

    /// Starts a command that runs serve (perhaps under strace) and waits, at most 10 s, for
    /// its first line: `stuckconn: serving metrics on http://127.0.0.1:PORT/metrics`.
    pub fn spawn(mut cmd: Command) -> Serve {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("stuckconn serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let Ok(first) = rx.recv_timeout(Duration::from_secs(10)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve said nothing within 10 s: {}", log.lock().unwrap());
        };
        let port = first
            .strip_prefix("stuckconn: serving metrics on ")
            .and_then(|url| url.rsplit_once(':'))
            .and_then(|(_, rest)| rest.strip_suffix("/metrics"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not the start line: {first:?}"));
        Serve { child, port, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// One request (HTTP/1.1, closed after): its answer.
    pub fn request(&self, request: &str) -> Answer {
        send(self.addr(), request)
    }

    /// GET `path` with extra header lines (each ending in \r\n).
    pub fn get(&self, path: &str, headers: &str) -> Answer {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\r\n"
        ))
    }

    /// GET /metrics in the Prometheus text format, 200 expected.
    pub fn metrics(&self) -> String {
        let answer = self.get("/metrics", "");
        assert_eq!(answer.status, 200, "{answer:?}\n{}", self.log());
        answer.body
    }

    /// SIGTERM; waits (at most 5 s) for the exit: (exit status, time it took).
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let started = Instant::now();
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        (self.wait(Duration::from_secs(5)), started.elapsed())
    }

    /// Waits at most `limit` for the process to exit: its exit status (None: it has not
    /// exited, or a signal killed it).
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status, headers (lowercase names), body.
#[derive(Debug, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// Sends a raw request and reads the answer to the end (bounded: 20 s).
pub fn send(addr: SocketAddr, request: &str) -> Answer {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("serve accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    let Some((head, body)) = raw.split_once("\r\n\r\n") else {
        return Answer::default();
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// The value of an unlabelled sample (`NAME VALUE`) in the text format.
pub fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// The hung-call series of a scrape in either format, parsed by a real parser:
/// (process, remote, netns) -> connections.
fn hung_calls(text: &str, openmetrics: bool) -> BTreeMap<(String, String, String), f64> {
    let mut out = BTreeMap::new();
    let mut add = |labels: &openmetrics_parser::LabelSet, n: f64| {
        if labels.get_label_value("kind") == Some("hung_call") {
            let label = |k| labels.get_label_value(k).unwrap().to_string();
            out.insert((label("process"), label("remote"), label("netns")), n);
        }
    };
    let name = "stuckconn_stuck_connections";
    if openmetrics {
        let parsed = openmetrics_parser::openmetrics::parse_openmetrics(text)
            .unwrap_or_else(|e| panic!("not OpenMetrics ({e:?}):\n{text}"));
        for sample in parsed.families[name].iter_samples() {
            let OpenMetricsValue::Gauge(n) = &sample.value else {
                panic!("{name} is a gauge")
            };
            add(&sample.get_labelset().unwrap(), n.as_f64());
        }
    } else {
        let parsed = openmetrics_parser::prometheus::parse_prometheus(text)
            .unwrap_or_else(|e| panic!("not the text format ({e:?}):\n{text}"));
        for sample in parsed.families[name].iter_samples() {
            let PrometheusValue::Gauge(n) = &sample.value else {
                panic!("{name} is a gauge")
            };
            add(&sample.get_labelset().unwrap(), n.as_f64());
        }
    }
    out
}

/// The exporter's own values (up, partial, scans, errors) in an OpenMetrics scrape.
fn own_values(text: &str) -> [f64; 4] {
    let parsed = openmetrics_parser::openmetrics::parse_openmetrics(text).unwrap();
    let one = |name: &str| -> f64 {
        let family = parsed
            .families
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"));
        let sample = family.iter_samples().next().unwrap();
        match &sample.value {
            OpenMetricsValue::Gauge(n) => n.as_f64(),
            OpenMetricsValue::Counter(c) => match c.value {
                MetricNumber::Int(n) => n as f64,
                MetricNumber::Float(n) => n,
            },
            other => panic!("{name}: {other:?}"),
        }
    };
    [
        one("stuckconn_up"),
        one("stuckconn_scan_partial"),
        one("stuckconn_scans"),
        one("stuckconn_scan_errors"),
    ]
}

const OPENMETRICS: &str = "Accept: application/openmetrics-text; version=1.0.0\r\n";

/// A hung call in `bed` from a client renamed `name` whose command line holds `marker`.
fn hung_call(bed: &Bed, name: &str, marker: &str) -> (Proc, Proc) {
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let client = bed.testbed(&["hung-recv", &port, name, marker]);
    (blackhole, client)
}

#[test]
fn a_scrape_has_the_hung_call_in_both_formats_and_no_command_line() {
    let Some(bed) = Bed::new("serve-formats", &[]) else {
        return;
    };
    let marker = "--token=serve-cmdline-marker-7f3a";
    let (_blackhole, client) = hung_call(&bed, "hungclient", marker);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", client.pid())).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains(marker),
        "the marker is on the client's command line"
    );
    std::thread::sleep(Duration::from_millis(1300));
    // A generous --timeout: the scan must see everything, however busy the host.
    let serve = Serve::start(&bed, &["--min-idle", "1s", "--no-dns", "--timeout", "30s"]);

    let text = serve.get("/metrics", "");
    assert_eq!(text.status, 200, "{text:?}");
    assert_eq!(
        text.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let open = serve.get("/metrics", OPENMETRICS);
    assert_eq!(open.status, 200, "{open:?}");
    assert_eq!(
        open.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);

    let expected: BTreeMap<_, _> = [(
        (
            "hungclient".to_string(),
            format!("127.0.0.1:{}", _blackhole.port()),
            bed.name().to_string(),
        ),
        1.0,
    )]
    .into();
    assert_eq!(hung_calls(&text.body, false), expected, "{}", text.body);
    assert_eq!(hung_calls(&open.body, true), expected, "{}", open.body);
    // The same series as `scan --format prometheus` prints.
    let (_, scanned, _) =
        run(bed
            .stuckconn("scan")
            .args(["--min-idle", "1s", "--no-dns", "--format", "prometheus"]));
    assert_eq!(hung_calls(&scanned, false), expected, "{scanned}");

    // Completed, not partial; the second scrape came within --min-interval (1 s) of the
    // first or started the second scan.
    let [up, partial, scans, errors] = own_values(&open.body);
    assert_eq!((up, partial, errors), (1.0, 0.0, 0.0), "{}", open.body);
    assert!((1.0..=2.0).contains(&scans), "{}", open.body);
    assert_eq!(value(&text.body, "stuckconn_up"), 1.0);
    assert!(value(&text.body, "stuckconn_scan_duration_seconds") > 0.0);
    for body in [&text.body, &open.body] {
        assert!(!body.contains("serve-cmdline-marker"), "{body}");
    }
    // One line at start, nothing else: no scan failed.
    assert_eq!(serve.log().lines().count(), 1, "{}", serve.log());
}

#[test]
fn paths_methods_bodies_and_oversized_headers() {
    let Some(bed) = Bed::new("serve-http", &[]) else {
        return;
    };
    let serve = Serve::start(&bed, &["--no-dns"]);
    let index = serve.get("/", "");
    assert_eq!(index.status, 200);
    assert!(index.headers["content-type"].starts_with("text/html"));
    assert!(
        index.body.contains("<a href=\"/metrics\">"),
        "{}",
        index.body
    );
    assert_eq!(serve.get("/nope", "").status, 404);
    assert_eq!(serve.get("/metrics/", "").status, 404);
    let post = serve.request(
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    );
    assert_eq!(post.status, 405, "{post:?}");
    assert_eq!(post.headers["allow"], "GET, HEAD");
    let delete = serve.request("DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(delete.status, 405);
    // A GET with a body is refused, its body unread.
    let body = serve.request(&format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{}",
        "x".repeat(1000)
    ));
    assert_eq!(body.status, 413, "{body:?}");
    // HEAD: the headers of a GET, no body.
    let head = serve.request("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200, "{head:?}");
    assert!(head.body.is_empty(), "{head:?}");
    assert!(head.headers["content-length"].parse::<usize>().unwrap() > 100);
    // A request header past 8 KiB is refused without being read whole.
    let big = serve.get("/metrics", &format!("X-Big: {}\r\n", "a".repeat(64 * 1024)));
    assert!(
        big.status == 431 || big.status == 0,
        "oversized header: {big:?}"
    );
    // Still serving.
    assert!(serve.metrics().contains("stuckconn_up 1"));
    // Query strings do not change the path.
    assert_eq!(serve.get("/metrics?x=1", "").status, 200);
}

/// A scan that takes about `dns_timeout` (the reverse lookup of a remote asks a DNS server
/// that never answers): long enough for 50 scrapes to come while it runs.
fn slow_scan_bed(tag: &str) -> Option<(Bed, Vec<Proc>, String)> {
    let bed = Bed::new(tag, &["192.0.2.5/32"])?;
    let env = [("TESTBED_ADDR", "192.0.2.5")];
    let blackhole = bed.testbed_env(&["blackhole"], &env);
    let port = blackhole.port().to_string();
    let client = bed.testbed_env(&["hung-recv", &port], &env);
    let dns = testbed(&["dns-blackhole"]);
    let server = format!("127.0.0.1:{}", dns.port());
    std::thread::sleep(Duration::from_millis(1100));
    Some((bed, vec![blackhole, client, dns], server))
}

#[test]
fn fifty_concurrent_scrapes_share_one_scan() {
    let Some((bed, _procs, dns)) = slow_scan_bed("serve-flight") else {
        return;
    };
    let serve = Serve::start(
        &bed,
        &[
            "--min-idle",
            "1s",
            "--min-interval",
            "0s",
            "--dns-server",
            &dns,
            "--dns-timeout",
            "1500ms",
        ],
    );
    let first = serve.metrics();
    assert_eq!(value(&first, "stuckconn_scans_total"), 1.0, "{first}");
    let barrier = Arc::new(Barrier::new(50));
    let addr = serve.addr();
    let scrapers: Vec<_> = (0..50)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let started = Instant::now();
                let answer = send(
                    addr,
                    "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                );
                (answer, started.elapsed())
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut timestamps = Vec::new();
    for scraper in scrapers {
        let (answer, took) = scraper.join().unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(
            value(&answer.body, "stuckconn_scans_total"),
            2.0,
            "every scrape was answered by the one scan started for them: {}",
            answer.body
        );
        timestamps.push(value(&answer.body, "stuckconn_scan_timestamp_seconds"));
        latencies.push(took);
    }
    assert!(timestamps.iter().all(|t| *t == timestamps[0]));
    latencies.sort();
    eprintln!(
        "50 concurrent scrapes, one scan (reverse DNS bound 1.5 s): p50 {:?}, p99 {:?}, max {:?}",
        latencies[24], latencies[49], latencies[49]
    );
    // Each waited for the scan (its DNS, and on a busy host its /proc walk), bounded by
    // --timeout (8 s) and the margin of a scrape's wait (5 s).
    assert!(latencies[49] < Duration::from_secs(13), "{latencies:?}");
    assert_eq!(value(&serve.metrics(), "stuckconn_scans_total"), 3.0);
}

#[test]
fn a_scan_younger_than_min_interval_is_served_again() {
    let Some(bed) = Bed::new("serve-interval", &[]) else {
        return;
    };
    let serve = Serve::start(&bed, &["--no-dns", "--min-interval", "3s"]);
    let first = serve.metrics();
    let second = serve.metrics();
    assert_eq!(value(&first, "stuckconn_scans_total"), 1.0);
    assert_eq!(value(&second, "stuckconn_scans_total"), 1.0);
    assert_eq!(
        value(&first, "stuckconn_scan_timestamp_seconds"),
        value(&second, "stuckconn_scan_timestamp_seconds")
    );
    std::thread::sleep(Duration::from_millis(3200));
    let third = serve.metrics();
    assert_eq!(value(&third, "stuckconn_scans_total"), 2.0);
    assert!(
        value(&third, "stuckconn_scan_timestamp_seconds")
            > value(&first, "stuckconn_scan_timestamp_seconds")
    );
}

/// Slowloris: 200 connections that send a request line a byte at a time, and 100 that send
/// nothing, against an exporter with room for 64. Scrapes meanwhile take their normal time,
/// and every one of those connections is closed by the exporter within its idle timeout (5 s).
/// The scrapes are answered from the last scan (--min-interval 1m): what is timed is the
/// exporter's own work, which such clients would delay, not the scan's.
#[test]
fn slow_and_idle_clients_never_delay_a_scrape() {
    let Some(bed) = Bed::new("serve-slowloris", &[]) else {
        return;
    };
    let (_blackhole, _client) = hung_call(&bed, "hungclient", "x");
    let serve = Serve::start(
        &bed,
        &[
            "--no-dns",
            "--min-idle",
            "0s",
            "--min-interval",
            "1m",
            "--timeout",
            "30s",
        ],
    );
    let time_scrape = || {
        let started = Instant::now();
        let text = serve.metrics();
        assert!(text.contains("kind=\"hung_call\""), "{text}");
        started.elapsed()
    };
    time_scrape(); // the one scan
    let mut calm: Vec<Duration> = (0..5).map(|_| time_scrape()).collect();
    calm.sort();

    let addr = serve.addr();
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = Vec::new();
    let mut silent: Vec<TcpStream> = Vec::new();
    for i in 0..300 {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
        stream.set_nonblocking(true).unwrap();
        if i % 3 == 2 {
            silent.push(stream);
        } else {
            slow.push(stream);
        }
    }
    let line = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n";
    let mut attacked = Vec::new();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(4) {
        for stream in &mut slow {
            let _ = stream.write(&line[sent % line.len()..][..1]);
        }
        sent += 1;
        attacked.push(time_scrape());
        std::thread::sleep(Duration::from_millis(200));
    }
    attacked.sort();
    let p50 = |v: &[Duration]| v[v.len() / 2];
    eprintln!(
        "scrape latency: calm p50 {:?} max {:?}; under 300 slow/idle connections ({} scrapes) \
         p50 {:?} max {:?}",
        p50(&calm),
        calm[calm.len() - 1],
        attacked.len(),
        p50(&attacked),
        attacked[attacked.len() - 1],
    );
    assert!(
        attacked[attacked.len() - 1] < calm[calm.len() - 1] * 3 + Duration::from_millis(500),
        "scrapes under attack {attacked:?}, calm {calm:?}"
    );
    assert_eq!(
        value(&serve.metrics(), "stuckconn_scans_total"),
        1.0,
        "one scan for all"
    );

    // Reaped: by 5 s after its last byte (here: after connecting) each attacker's connection
    // is closed by the exporter; give it one more second.
    while started.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed = |mut stream: &TcpStream| {
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 256];
        match stream.read(&mut buf) {
            Ok(0) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(_) => {
                // A 408 or 400 before closing: read on to the end.
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).is_ok()
            }
        }
    };
    let open = slow
        .iter()
        .chain(silent.iter())
        .filter(|s| !closed(s))
        .count();
    assert_eq!(
        open, 0,
        "connections the exporter kept past its idle timeout"
    );
    // And what stuckconn itself sees of the exporter: its listener, no connection left.
    let (_, out, err) = run(stuckconn().args([
        "scan",
        "--netns",
        "self",
        "--pid",
        &serve.pid().to_string(),
        "--all",
        "--format",
        "json",
        "--no-dns",
        "--min-idle",
        "0s",
    ]));
    let report = json(&out);
    let held: Vec<&serde_json::Value> = connections_of(&report, serve.pid())
        .into_iter()
        .filter(|c| c["state"] != "listen")
        .collect();
    assert!(held.is_empty(), "serve still holds {held:#?}\n{err}");
    drop(slow);
    drop(silent);
    assert!(time_scrape() < Duration::from_secs(1));
}

/// A certificate for 127.0.0.1 and localhost, made by openssl in `dir`: (cert, key).
fn certificate(dir: &std::path::Path) -> Option<(String, String)> {
    if which("openssl").is_none() {
        skip(
            &current_test(),
            "openssl is not installed (Debian package openssl)",
        );
        return None;
    }
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let (status, _, err) = run(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=stuckconn test",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        &key,
        "-out",
        &cert,
    ]));
    assert_eq!(status, 0, "openssl req: {err}");
    Some((cert, key))
}

#[test]
fn tls_serves_https_to_curl_and_refuses_bad_files() {
    let Some(bed) = Bed::new("serve-tls", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = certificate(dir.path()) else {
        return;
    };
    if which("curl").is_none() {
        skip(&current_test(), "curl is not installed");
        return;
    }
    let (_blackhole, _client) = hung_call(&bed, "hungclient", "x");
    std::thread::sleep(Duration::from_millis(1100));
    let serve = Serve::start(
        &bed,
        &[
            "--no-dns",
            "--min-idle",
            "1s",
            "--timeout",
            "30s",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    );
    assert!(
        serve.log().contains("serving metrics on https://"),
        "{}",
        serve.log()
    );
    let url = format!("https://127.0.0.1:{}/metrics", serve.port);
    let curl = |extra: &[&str]| {
        run(Command::new("curl")
            .args(["--silent", "--show-error", "--fail", "--max-time", "20"])
            .args(extra)
            .arg(&url))
    };
    let (status, out, err) = curl(&["--cacert", &cert]);
    assert_eq!(status, 0, "curl over TLS: {err}");
    assert_eq!(hung_calls(&out, false).len(), 1, "{out}");
    let (status, out, err) = curl(&[
        "--cacert",
        &cert,
        "-H",
        "Accept: application/openmetrics-text; version=1.0.0",
    ]);
    assert_eq!(status, 0, "{err}");
    assert!(out.ends_with("# EOF\n"));
    // The certificate is checked: without the CA, curl refuses; in clear text, nothing.
    let (status, _, _) = curl(&[]);
    assert_ne!(status, 0, "curl trusted a self-signed certificate");
    let plain = serve.get("/metrics", "");
    assert_ne!(plain.status, 200, "metrics in clear text on the TLS port");

    // Bad files: exit 2 before listening, naming the file.
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let not_pem = not_pem.display().to_string();
    for (c, k, named) in [
        (not_pem.as_str(), key.as_str(), "--tls-cert"),
        (cert.as_str(), not_pem.as_str(), "--tls-key"),
        (cert.as_str(), "/nonexistent/key.pem", "--tls-key"),
    ] {
        let (status, _, err) = run(bed.stuckconn("serve").args([
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            c,
            "--tls-key",
            k,
        ]));
        assert_eq!(status, 2, "{err}");
        assert!(err.contains(named) && !err.contains("serving"), "{err}");
    }
    let (status, _, err) = run(bed.stuckconn("serve").args(["--tls-cert", &cert]));
    assert_eq!(status, 2, "--tls-cert alone: {err}");
}

#[test]
fn sigterm_stops_it_within_a_second_even_during_a_scan() {
    let Some((bed, _procs, dns)) = slow_scan_bed("serve-sigterm") else {
        return;
    };
    let mut serve = Serve::start(
        &bed,
        &[
            "--min-idle",
            "1s",
            "--dns-server",
            &dns,
            "--dns-timeout",
            "5s",
        ],
    );
    let addr = serve.addr();
    let scrape = std::thread::spawn(move || {
        let started = Instant::now();
        let answer = send(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        (answer, started.elapsed())
    });
    // The scan is now waiting on reverse DNS (up to 5 s).
    std::thread::sleep(Duration::from_millis(500));
    let (status, took) = serve.terminate();
    assert_eq!(status, Some(0), "{}", serve.log());
    assert!(took < Duration::from_millis(1500), "exit took {took:?}");
    let (answer, waited) = scrape.join().unwrap();
    assert!(
        waited < Duration::from_secs(2),
        "the scrape waited {waited:?}"
    );
    // The scan in flight was cut short: served as partial, if there was time to answer.
    if answer.status == 200 {
        assert_eq!(value(&answer.body, "stuckconn_scan_partial"), 1.0);
    }
    assert!(
        serve.log().contains("stuckconn: stopping on SIGTERM"),
        "{}",
        serve.log()
    );
}

#[test]
fn a_failed_scan_is_served_as_down_and_logged() {
    if !can_make_netns() {
        skip(&current_test(), "needs root and ip(8) to make a namespace");
        return;
    }
    let ns = Netns::new("serve-gone", &[]);
    let mut cmd = stuckconn();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--no-dns",
        "--min-interval",
        "0s",
    ])
    .args(["--netns", &ns.name]);
    let serve = Serve::spawn(cmd);
    let before = serve.metrics();
    assert_eq!(value(&before, "stuckconn_up"), 1.0, "{before}");
    let name = ns.name.clone();
    drop(ns);
    let after = serve.metrics();
    assert_eq!(value(&after, "stuckconn_up"), 0.0, "{after}");
    assert_eq!(value(&after, "stuckconn_scan_errors_total"), 1.0, "{after}");
    assert_eq!(value(&after, "stuckconn_scans_total"), 2.0, "{after}");
    assert!(
        !after.contains("stuckconn_sockets"),
        "no metric of a scan that did not happen: {after}"
    );
    let log = serve.log();
    let failures: Vec<&str> = log.lines().filter(|l| l.contains("scan failed")).collect();
    assert_eq!(failures.len(), 1, "{log}");
    assert!(
        failures[0].starts_with("stuckconn: error: scan failed: ") && failures[0].contains(&name),
        "{log}"
    );
}

#[test]
fn an_address_in_use_is_an_error() {
    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let started = Instant::now();
    let (status, out, err) = run(stuckconn().args(["serve", "--listen", &addr, "--no-dns"]));
    assert_eq!(status, 2, "{out}{err}");
    assert!(
        err.starts_with(&format!("stuckconn: error: cannot listen on {addr}: ")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

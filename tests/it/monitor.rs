//! Watching over time, the monitoring plugin and the Prometheus output. Live runs watch and
//! check only the namespace their test made.

use crate::common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn ndjson(text: &str) -> Vec<Value> {
    text.lines().map(json).collect()
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn watch_for_4s(bed: &Bed, port: u16) -> (i32, Vec<Value>) {
    let (status, out, err) = run(bed.stuckconn("watch").args([
        "--interval",
        "500ms",
        "--duration",
        "4s",
        "--min-idle",
        "0s",
        "--port",
        &port.to_string(),
        "--no-dns",
    ]));
    assert!(err.is_empty() || !err.contains("panicked"), "{err}");
    (status, ndjson(&out))
}

#[test]
fn watch_calls_a_growing_group_a_leak() {
    let Some(bed) = Bed::new("leak", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    // 15 hung calls, one every 200 ms (3 s), then held.
    let leaker = bed.testbed(&["leak", &blackhole.port().to_string(), "15"]);
    let (status, lines) = watch_for_4s(&bed, blackhole.port());
    assert_eq!(status, 1, "the last sample has stuck connections");
    for line in &lines {
        assert_eq!(line["schema_version"], 1, "{line}");
        assert!(
            line["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
    }
    let samples = of_type(&lines, "sample");
    // 8 on a quiet machine; a sample that takes longer than the interval on a loaded one
    // (7 were seen with two other builds running) delays the next.
    assert!(
        samples.len() >= 5,
        "{} samples in 4 s at 500 ms",
        samples.len()
    );
    let opened = of_type(&lines, "opened");
    // Connections already there at the first sample are its baseline, not opened.
    let baseline = samples.last().unwrap()["groups"][0]["baseline"]
        .as_u64()
        .unwrap() as usize;
    assert!(baseline <= 2, "the leak had barely begun: {baseline}");
    assert_eq!(
        opened.len() + baseline,
        15,
        "one opened event per connection made after the first sample"
    );
    assert!(opened
        .iter()
        .all(|e| e["pid"] == leaker.pid() && e["kind"] == "hung_call"));
    assert!(opened
        .iter()
        .all(|e| e["remote"]["port"] == blackhole.port()));
    let leaks = of_type(&lines, "leak");
    assert_eq!(leaks.len(), 1, "one leak event for the group");
    assert!(leaks[0]["growth_per_min"].as_f64().unwrap() > 0.0);
    assert_eq!(leaks[0]["process"], "testbed");

    let last = samples.last().unwrap();
    assert_eq!(last["groups"].as_array().unwrap().len(), 1, "{last}");
    let group = &last["groups"][0];
    assert_eq!(group["connections"], 15);
    assert_eq!(group["leak"], true);
    assert_eq!(group["opened"], opened.len());
    assert_eq!(group["closed"], 0);
    assert!(group["growth_per_min"].as_f64().unwrap() > 60.0, "{group}");
    assert!(group["onset"].as_str().is_some());
    assert_eq!(group["pids"], serde_json::json!([leaker.pid()]));
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["ended_by"], "duration");
}

#[test]
fn a_pool_that_opens_and_closes_steadily_is_not_a_leak() {
    let Some(bed) = Bed::new("churn", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    // A new connection every 200 ms, the oldest closed beyond 3: opens and closes at one rate.
    let _pool = bed.testbed(&["churn", &blackhole.port().to_string(), "3"]);
    let (_, lines) = watch_for_4s(&bed, blackhole.port());
    assert!(
        of_type(&lines, "leak").is_empty(),
        "{:#?}",
        of_type(&lines, "leak")
    );
    assert!(of_type(&lines, "closed").len() >= 8, "closings are seen");
    let last = of_type(&lines, "sample").pop().unwrap().clone();
    for group in last["groups"].as_array().unwrap() {
        assert_eq!(group["leak"], false, "{group}");
        assert!(group["connections"].as_u64().unwrap() <= 4, "{group}");
    }
}

#[test]
fn ctrl_c_ends_watch_within_one_interval_with_a_summary() {
    let Some(bed) = Bed::new("ctrl-c", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let _hung = bed.testbed(&["hung-recv", &blackhole.port().to_string()]);
    let mut child = bed
        .stuckconn("watch")
        .args(["--interval", "2s", "--min-idle", "0s", "--no-dns"])
        .args(["--port", &blackhole.port().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    // The opened event, then the first sample.
    while !first.contains("\"sample\"") {
        first.clear();
        assert!(
            reader.read_line(&mut first).unwrap() > 0,
            "watch printed nothing"
        );
    }
    // SAFETY: kill with a valid pid of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let sent = Instant::now();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_millis(2500),
        "ended {:?} after SIGINT",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(1), "the exit status of the last sample");
    let lines = ndjson(&rest);
    let summary = lines.last().expect("a summary line");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["ended_by"], "signal");
    assert_eq!(summary["groups"].as_array().unwrap().len(), 1, "{summary}");
    assert_eq!(summary["groups"][0]["connections"], 1);
}

/// Nagios plugin output: `SERVICE STATUS - text | label=value[UOM];[warn];[crit];[min];[max] ...`
fn assert_plugin_output(out: &str) -> (String, Vec<(String, f64)>) {
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    let line = out.trim_end();
    let (text, perf) = line.split_once(" | ").expect("perfdata after ' | '");
    let status = text
        .strip_prefix("STUCKCONN ")
        .and_then(|rest| rest.split_once(" - "))
        .map(|(s, _)| s.to_string())
        .expect("STUCKCONN STATUS - text");
    assert!(
        ["OK", "WARNING", "CRITICAL", "UNKNOWN"].contains(&status.as_str()),
        "{status}"
    );
    let mut values = Vec::new();
    for item in perf.split(' ') {
        let (label, rest) = item
            .split_once('=')
            .unwrap_or_else(|| panic!("perfdata {item:?}"));
        assert!(
            !label.is_empty() && !label.contains(['\'', '=', ' ']),
            "{label}"
        );
        let fields: Vec<&str> = rest.split(';').collect();
        assert!(fields.len() <= 5, "{item}");
        let value: f64 = fields[0]
            .trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%')
            .parse()
            .unwrap();
        for f in &fields[1..] {
            assert!(f.is_empty() || f.parse::<f64>().is_ok(), "{item}");
        }
        values.push((label.to_string(), value));
    }
    (status, values)
}

fn perf(values: &[(String, f64)], label: &str) -> f64 {
    values
        .iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no {label}"))
        .1
}

#[test]
fn check_thresholds_and_exit_codes_on_fixtures() {
    let check = |file: &str, extra: &[&str]| {
        let (status, out, _) = run(stuckconn()
            .args(["check", "--no-dns", "--from", &fixture(file)])
            .args(extra));
        let (word, values) = assert_plugin_output(&out);
        (status, word, values, out)
    };
    let (status, word, values, out) = check("incident.json", &[]);
    assert_eq!((status, word.as_str()), (2, "CRITICAL"), "{out}");
    assert_eq!(perf(&values, "hung_call"), 111.0);
    assert_eq!(perf(&values, "stuck"), 111.0);
    assert!(
        out.contains("111 hung calls: apache2 -> [2001:db8:bad::100]:80 (111)"),
        "{out}"
    );
    let (status, word, _, _) = check("incident.json", &["-w", "100", "-c", "200"]);
    assert_eq!((status, word.as_str()), (1, "WARNING"));
    let (status, word, _, _) = check("incident.json", &["-w", "200", "-c", "300"]);
    assert_eq!((status, word.as_str()), (0, "OK"));
    // Per process: 8 stuck in all, at most 5 in one process.
    let (status, _, values, out) = check("mixed.json", &["-w", "6", "-c", "8"]);
    assert_eq!(status, 2, "{out}");
    assert_eq!(perf(&values, "stuck"), 8.0);
    let (status, _, values, out) = check("mixed.json", &["-w", "6", "-c", "8", "--per-process"]);
    assert_eq!(status, 0, "{out}");
    assert_eq!(perf(&values, "max_per_process"), 5.0);
    assert!(
        out.contains("most in one process: leaky-client (5)"),
        "{out}"
    );
    // UNKNOWN: a snapshot that cannot be read, thresholds that make no sense, a bad flag.
    for extra in [
        &["--from", "/nonexistent.json"][..],
        &["-w", "5", "-c", "2"],
        &["--bogus"],
    ] {
        let (status, out, _) = run(stuckconn().args(["check", "--no-dns"]).args(extra));
        assert_eq!(status, 3, "{extra:?}: {out}");
        assert!(out.starts_with("STUCKCONN UNKNOWN - "), "{out}");
    }
}

#[test]
fn check_on_the_live_host() {
    let Some(bed) = Bed::new("check", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    let _hung = bed.testbed(&["hung-recv", &blackhole.port().to_string()]);
    std::thread::sleep(Duration::from_millis(1300));
    let (status, out, _) = run(bed.stuckconn("check").args([
        "--min-idle",
        "1s",
        "-w",
        "1",
        "-c",
        "5",
        "--port",
        &blackhole.port().to_string(),
    ]));
    let (word, values) = assert_plugin_output(&out);
    assert_eq!((status, word.as_str()), (1, "WARNING"), "{out}");
    assert_eq!(perf(&values, "hung_call"), 1.0);
    assert!(out.contains("1 hung call: testbed -> localhost:"), "{out}");
}

type Exposition = openmetrics_parser::MetricsExposition<
    openmetrics_parser::PrometheusType,
    openmetrics_parser::PrometheusValue,
>;

fn scrape(text: &str) -> Exposition {
    openmetrics_parser::prometheus::parse_prometheus(text)
        .unwrap_or_else(|e| panic!("not the exposition format ({e:?}):\n{text}"))
}

/// The samples of `name` whose labels include `labels`, as (labels, value).
fn samples(scrape: &Exposition, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    let Some(family) = scrape.families.get(name) else {
        return Vec::new();
    };
    family
        .iter_samples()
        .filter(|sample| {
            let set = sample.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|sample| match &sample.value {
            openmetrics_parser::PrometheusValue::Gauge(n) => n.as_f64(),
            other => panic!("{name} is not a gauge: {other:?}"),
        })
        .collect()
}

fn gauge(scrape: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = samples(scrape, name, labels);
    assert!(
        found.len() <= 1,
        "{name} {labels:?} matches {} series",
        found.len()
    );
    found.first().copied()
}

#[test]
fn prometheus_output_parses_with_escaped_labels_and_bounded_cardinality() {
    let (status, out, _) = run(stuckconn().args([
        "--from",
        &fixture("incident.json"),
        "--no-dns",
        "--format",
        "prometheus",
    ]));
    assert_eq!(status, 1);
    let s = scrape(&out);
    let hung = [
        ("kind", "hung_call"),
        ("process", "apache2"),
        ("remote", "[2001:db8:bad::100]:80"),
    ];
    assert_eq!(gauge(&s, "stuckconn_stuck_connections", &hung), Some(111.0));
    assert_eq!(
        gauge(&s, "stuckconn_connections", &[("kind", "hung_call")]),
        Some(111.0)
    );
    assert_eq!(
        gauge(
            &s,
            "stuckconn_oldest_idle_seconds",
            &[("kind", "hung_call")]
        ),
        Some(18720.0)
    );
    assert_eq!(gauge(&s, "stuckconn_threads_blocked", &[]), Some(111.0));
    assert_eq!(gauge(&s, "stuckconn_sockets", &[]), Some(226.0));
    assert!(gauge(&s, "stuckconn_scan_duration_seconds", &[]).is_some());
    assert_eq!(gauge(&s, "stuckconn_warnings", &[]), Some(0.0));

    // 200 remotes: 50 series and one "other" bucket that holds the rest.
    let (_, out, _) = run(stuckconn().args([
        "--from",
        &fixture("many-remotes.json"),
        "--no-dns",
        "--format",
        "prometheus",
    ]));
    let s = scrape(&out);
    assert_eq!(samples(&s, "stuckconn_stuck_connections", &[]).len(), 51);
    assert_eq!(
        gauge(
            &s,
            "stuckconn_stuck_connections",
            &[("process", "other"), ("remote", "other")]
        ),
        Some(150.0)
    );

    // A process name chosen to break the format cannot: it comes back as the sanitizer shows
    // it everywhere else (the newline as `\n`), quotes and braces intact.
    let mut snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("mixed.json")).unwrap()).unwrap();
    let evil = "ev\"il\\\n} x{y=\"1\"";
    for p in snapshot["processes"].as_array_mut().unwrap() {
        if p["name"] == "rsync" {
            p["name"] = Value::from(evil);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evil.json");
    std::fs::write(&file, snapshot.to_string()).unwrap();
    let (_, out, _) = run(stuckconn()
        .args(["--no-dns", "--format", "prometheus", "--from"])
        .arg(&file));
    let s = scrape(&out);
    assert_eq!(
        gauge(
            &s,
            "stuckconn_stuck_connections",
            &[("process", "ev\"il\\\\n} x{y=\"1\"")]
        ),
        Some(1.0),
        "{out}"
    );
}

#[test]
fn output_file_is_written_atomically() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("stuckconn.prom");
    // An existing symlink at the path is replaced, never followed.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::write(&elsewhere, "untouched").unwrap();
    std::os::unix::fs::symlink(&elsewhere, &target).unwrap();
    let write = || {
        let (status, out, err) = run(stuckconn()
            .args([
                "--from",
                &fixture("incident.json"),
                "--no-dns",
                "--format",
                "prometheus",
                "--output",
            ])
            .arg(&target));
        assert_eq!(status, 1, "{err}");
        assert!(out.is_empty(), "the report goes to the file");
        std::fs::metadata(&target).unwrap()
    };
    let first = write();
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "untouched");
    assert!(!std::fs::symlink_metadata(&target)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        first.permissions().mode() & 0o777,
        0o644,
        "node_exporter must read it"
    );
    let second = write();
    assert_ne!(
        first.ino(),
        second.ino(),
        "replaced by a rename, not rewritten in place"
    );
    scrape(&std::fs::read_to_string(&target).unwrap());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left behind: {names:?}");
}

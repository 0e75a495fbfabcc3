//! The leak's history from one scan (`analyze::history`) on recorded fixtures, and the HTML
//! report: self-contained, hostile text inert, and opened in a real headless Chromium (Debian's
//! `chromium`) that must load it without an error, show its text, tables and charts, and
//! screenshot it.

use crate::common::*;
use jiff::Timestamp;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use stuckconn::analyze::history::{self, History, Shape};
use stuckconn::analyze::{self, Filter};
use stuckconn::render::html::{self, HtmlMeta, WatchRecording};
use stuckconn::report::{Finding, Report};
use stuckconn::resolve::{DnsStatus, HostName, Names};
use stuckconn::snapshot::Snapshot;

fn load(name: &str) -> Snapshot {
    stuckconn::collect::load(
        Path::new(&fixture(name)),
        stuckconn::collect::SNAPSHOT_LIMIT,
    )
    .unwrap()
}

fn report_of(snapshot: &Snapshot, source: &str, names: &Names) -> Report {
    let options = analyze::AnalysisOptions {
        min_idle: Duration::from_secs(60),
        all: false,
        filter: Filter::default(),
    };
    let generated: Timestamp = "2012-11-06T17:15:12Z".parse().unwrap();
    let mut snapshot = snapshot.clone();
    snapshot.names.extend(names.clone());
    stuckconn::enrich::offline(&snapshot, &options, source, generated)
}

fn report(name: &str) -> Report {
    report_of(&load(name), name, &Names::new())
}

fn meta() -> HtmlMeta {
    HtmlMeta {
        version: env!("CARGO_PKG_VERSION").to_string(),
        command: Some("stuckconn scan --from incident.json --format html -o report.html".into()),
        source: None,
    }
}

fn finding<'a>(report: &'a Report, remote: &str) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| {
            f.remote
                .as_ref()
                .is_some_and(|r| r.endpoint().to_string() == remote)
        })
        .unwrap_or_else(|| panic!("no finding to {remote}"))
}

fn history_of(report: &Report, remote: &str) -> History {
    history::of_finding(report, finding(report, remote), history::BUCKETS).expect("a history")
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[test]
fn the_incident_is_a_leak_since_12_03_at_21_an_hour() {
    let report = report("incident.json");
    let h = history_of(&report, "[2001:db8:bad::100]:80");
    assert_eq!(h.shape, Shape::Leak);
    assert_eq!(h.onset, at("2012-11-06T12:03:11Z"), "the finding's `since`");
    assert_eq!(Some(h.onset), report.findings[0].since);
    assert_eq!(
        h.latest,
        at("2012-11-06T17:10:11Z"),
        "the youngest, idle 5 min"
    );
    assert_eq!(h.end, report.taken_at);
    assert_eq!((h.connections, h.unknown), (111, 0));
    assert_eq!(h.rate_per_hour, 21.35, "111 in 5 h 12 min");
    assert_eq!(h.rate_per_hour_last_hour, 20.0, "idle 300 s to 3600 s");
    assert_eq!(h.buckets.iter().map(|b| b.count).sum::<usize>(), 111);
    assert!(!h.accelerating());
}

#[test]
fn the_history_fixture_tells_a_steady_leak_an_accelerating_one_an_event_and_a_stuck_pool() {
    let report = report("history.json");
    assert_eq!(report.findings.len(), 4);

    // One new hung call every 10 min for 8 hours.
    let steady_leak = history_of(&report, "192.0.2.30:443");
    assert_eq!(steady_leak.shape, Shape::Leak);
    assert_eq!(steady_leak.onset, at("2012-11-06T09:15:11Z"));
    assert_eq!(steady_leak.rate_per_hour, 6.0);
    assert_eq!(steady_leak.rate_per_hour_last_hour, 6.0);
    assert!(!steady_leak.accelerating());

    // A second leak overlapping the first, faster in its last hour.
    let second = history_of(&report, "192.0.2.31:8080");
    assert_eq!(second.shape, Shape::Leak);
    assert_eq!(second.onset, at("2012-11-06T14:15:11Z"));
    assert_eq!(second.connections, 88);
    assert_eq!(second.rate_per_hour_last_hour, 58.0);
    assert_eq!(second.rate_per_hour, 29.33, "88 in 3 h");
    assert!(second.accelerating());
    assert!(second.onset > steady_leak.onset && second.onset < steady_leak.latest);

    // 40 connections quiet within 2 s: a network cut, not a leak.
    let event = history_of(&report, "198.51.100.60:6379");
    assert_eq!(event.shape, Shape::Event);
    assert!(event.spread_secs <= 2.0, "{}", event.spread_secs);
    assert_eq!(event.onset, at("2012-11-06T15:41:58Z"));
    assert_eq!(event.buckets.iter().filter(|b| b.count > 0).count(), 1);

    // CLOSE-WAIT sockets from 10:00 to 10:20, none since: a population that stopped growing.
    let pool = history_of(&report, "192.0.2.150:81");
    assert_eq!(pool.shape, Shape::Steady);
    assert_eq!(pool.rate_per_hour_last_hour, 0.0);
    assert_eq!(pool.latest, at("2012-11-06T10:18:20Z"));

    // One pass over the report gives each finding the same history.
    let all = history::of_report(&report, history::BUCKETS);
    for (f, h) in report.findings.iter().zip(&all) {
        assert_eq!(h, &history::of_finding(&report, f, history::BUCKETS));
    }

    // The JSON contract of a history.
    let v = serde_json::to_value(&event).unwrap();
    for field in [
        "onset",
        "buckets",
        "rate_per_hour",
        "rate_per_hour_last_hour",
        "shape",
    ] {
        assert!(!v[field].is_null(), "{field} missing: {v}");
    }
    assert_eq!(v["shape"], "event");
    assert!(v["buckets"][0]["start"].is_string() && v["buckets"][0]["count"].is_u64());
}

/// The elements the pages are made of.
const ELEMENTS: [&str; 40] = [
    "!doctype",
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "footer",
    "section",
    "article",
    "h1",
    "h2",
    "h3",
    "p",
    "a",
    "span",
    "br",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "dl",
    "dt",
    "dd",
    "ul",
    "li",
    "figure",
    "figcaption",
    "strong",
    "svg",
    "line",
    "text",
    "path",
    "rect",
    "polyline",
    "circle",
];

/// A self-contained page: every tag is one of `ELEMENTS`, no attribute
/// is an event handler or a source, links stay within the page, and nothing loads from
/// elsewhere. Text holds no `<` (it is escaped), so every `<` opens a tag.
fn assert_self_contained(page: &str) {
    for tag in page.split('<').skip(1) {
        let tag = &tag[..tag.find('>').expect("every tag is closed")];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect::<String>()
            .to_lowercase();
        assert!(
            ELEMENTS.contains(&name.as_str()),
            "an element the page does not make: <{tag}>"
        );
        let lower = tag.to_lowercase();
        for attribute in lower.split_whitespace().skip(1) {
            assert!(
                !attribute.starts_with("on") && !attribute.starts_with("src="),
                "<{tag}>"
            );
            if let Some(href) = attribute.strip_prefix("href=") {
                assert!(href.starts_with("\"#"), "a link out of the page: <{tag}>");
            }
        }
    }
    let lower = page.to_lowercase();
    for bad in ["@import", "url(", "javascript:"] {
        assert!(!lower.contains(bad), "the page holds {bad:?}");
    }
    // The only URL in an attribute is the SVG namespace (an identifier, never fetched); URLs
    // in the text (where a hint's advice is documented) are words to read, not links.
    let urls = lower.matches("=\"http://").count() + lower.matches("=\"https://").count();
    let namespaces = lower
        .matches("xmlns=\"http://www.w3.org/2000/svg\"")
        .count();
    assert_eq!(urls, namespaces, "a URL other than the SVG namespace");
}

#[test]
fn the_incident_report_is_one_self_contained_page() {
    let report = report("incident.json");
    let page = html::render(&report, &meta());
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\" dir=\"ltr\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:;"));
    assert_self_contained(&page);
    // The summary sentence first, then the tables, the chart and the footer, in that order.
    let sentence = "On web1 at 2012-11-06 17:15:11 UTC, apache2 holds 111 hung calls to [2001:db8:bad::100]:80, quiet since 12:03 UTC and still growing: a leak of 21 an hour, 20 in the last hour.";
    let order = [
        "<h1>Stuck connections on web1</h1>",
        sentence,
        "<table id=\"findings-table\">",
        "<table id=\"processes-table\">",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"history\"",
        "Leak since 12:03: 21/h overall, 20 in the last hour",
        "<footer id=\"collected\">",
    ];
    let mut from = 0;
    for part in order {
        let at = page[from..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} missing or out of order"));
        from += at + part.len();
    }
    for part in [
        "apache2 ×111 pids",
        "198.51.100.7 ×111",
        "no receive timeout (SO_RCVTIMEO)",
        "apache2.service",
        "sock_diag (netlink), with tcp_info",
        "the snapshot incident.json",
        concat!("stuckconn ", env!("CARGO_PKG_VERSION")),
        "stuckconn scan --from incident.json --format html -o report.html",
    ] {
        assert!(page.contains(part), "{part:?} missing");
    }
    assert!(
        !page.contains("id=\"connections\""),
        "no --all: no connections table"
    );
    assert!(
        !page.contains("id=\"warnings\""),
        "no warnings in this snapshot"
    );
}

#[test]
fn every_shape_reads_in_the_page_and_warnings_are_listed() {
    let mut snapshot = load("history.json");
    snapshot.warnings = vec!["1 of 188 sockets could not be tied to a process".into()];
    let page = html::render(
        &report_of(&snapshot, "history.json", &Names::new()),
        &meta(),
    );
    assert_self_contained(&page);
    assert_eq!(page.matches("<svg").count(), 4, "one chart per finding");
    for part in [
        "Leak since 14:15: 29/h overall, 58 in the last hour, accelerating",
        "Leak since 09:15: 6/h overall, 6 in the last hour",
        "Event at 15:41:58, not a leak: all 40 went quiet within 2s",
        "Steady since 10:00: 12 went quiet by 10:18, none since",
        "3 more findings hold 100 more stuck.",
        "<section id=\"warnings\">",
        "1 of 188 sockets could not be tied to a process",
    ] {
        assert!(page.contains(part), "{part:?} missing");
    }
}

#[test]
fn an_inbound_finding_reads_as_a_service_and_its_clients() {
    let report = report("close-wait-server.json");
    let histories = history::of_report(&report, history::BUCKETS);
    assert_eq!(histories.len(), 1);
    let h = histories[0].as_ref().unwrap();
    // 287 sockets left in CLOSE-WAIT evenly over the last 2 hours: a leak.
    assert_eq!(h.shape, Shape::Leak);
    assert_eq!(h.connections, 287);
    assert_eq!(h.onset, at("2012-11-06T15:15:11Z"));
    let sentence = html::summary_sentence(&report, &histories);
    assert!(
        sentence.starts_with("On api2 at 2012-11-06 17:15:11 UTC, python3 holds 287 connections left in CLOSE-WAIT accepted on port 18080 from 3 clients, quiet since 15:15 UTC and still growing"),
        "{sentence}"
    );
    let page = html::render(&report, &meta());
    assert_self_contained(&page);
    assert!(page.contains("3 clients → :18080"));
}

/// The incident, with hostile text wherever the outside world chooses it: a process name, its
/// command line, the host name, a PTR name and a warning.
const HOSTILE: &str = "<script>alert(1)</script>\u{202e}cod.exe";

fn hostile_report() -> Report {
    let mut snapshot = load("incident.json");
    for p in &mut snapshot.processes {
        if p.name == "apache2" {
            p.name = HOSTILE.to_string();
            p.cmdline = Some("apache2 \"><img src=x onerror=alert(2)>".into());
        }
    }
    snapshot.host.hostname = "web1<style>body{display:none}</style>".into();
    snapshot.warnings = vec!["</li><script>alert(3)</script>".into()];
    let mut names = Names::new();
    names.insert(
        "2001:db8:bad::100".parse().unwrap(),
        HostName {
            hostname: Some("crl.example\u{202e}<b>moc</b>".into()),
            dns: DnsStatus::Ok,
            dns_verified: false,
            dns_source: None,
        },
    );
    report_of(&snapshot, "incident.json", &names)
}

#[test]
fn hostile_text_is_shown_not_obeyed() {
    let page = html::render(&hostile_report(), &meta());
    assert_self_contained(&page);
    assert!(
        !page.contains('\u{202e}'),
        "no bidi override reaches the page"
    );
    assert!(!page.contains("<b>") && !page.contains("<style>body"));
    assert_eq!(
        page.matches("<style>").count(),
        1,
        "only the page's own stylesheet"
    );
    // What the outside world wrote is there to read, escaped.
    for part in [
        "&lt;script&gt;alert(1)&lt;/script&gt;\\u{202e}cod.exe",
        "crl.example\\u{202e}&lt;b&gt;moc&lt;/b&gt;?",
        "web1&lt;style&gt;body{display:none}&lt;/style&gt;",
        "apache2 &quot;&gt;&lt;img src=x onerror=alert(2)&gt;",
        "&lt;/li&gt;&lt;script&gt;alert(3)&lt;/script&gt;",
    ] {
        assert!(page.contains(part), "{part:?} missing");
    }
}

// --- A real browser ---

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs Chromium headless on a file with a fresh profile, at most 90 s; returns (stdout,
/// stderr). Killed by its pid past the limit.
fn chromium(dir: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir_in(dir).unwrap();
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Drain both pipes while waiting, so that a chatty browser cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (out.join().unwrap(), err.join().unwrap())
}

/// The lines of Chromium's log that tell of the page: its console (where a script or load the
/// policy blocked is reported: "Executing inline script violates the following Content
/// Security Policy directive ..."), an uncaught error, a refused or failed load. Chromium's
/// own complaints about this machine (no D-Bus, no GPU) are not the page's.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("violates")
                || l.contains("Refused to")
                || l.contains("Content Security Policy")
                || l.contains("Failed to load")
        })
        .collect()
}

/// The PNG's width and height from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24, "too short for a PNG");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

fn screenshot(dir: &Path, page: &Path, name: &str) -> Vec<u8> {
    let png = dir.join(name);
    let (_, err) = chromium(
        dir,
        page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1500",
        ],
    );
    assert!(page_errors(&err).is_empty(), "{:?}", page_errors(&err));
    std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{err}"))
}

fn browser_dir() -> Option<tempfile::TempDir> {
    if !Path::new(CHROMIUM).is_file() {
        skip(
            &current_test(),
            "needs Chromium (/usr/bin/chromium: apt-get install chromium)",
        );
        return None;
    }
    Some(tempfile::tempdir().unwrap())
}

#[test]
fn the_browser_would_report_a_script_the_policy_refused() {
    // The check below is only worth something if Chromium's log shows a refused script: a
    // page with one must give an error line, and its DOM keeps the inert element.
    let Some(dir) = browser_dir() else {
        return;
    };
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        format!(
            "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"{}\"></head><body><p id=\"x\">before</p><script>document.getElementById('x').textContent='ran'</script></body></html>",
            html::CSP
        ),
    )
    .unwrap();
    let (dom, err) = chromium(dir.path(), &bad, &["--dump-dom"]);
    assert!(dom.contains(">before<"), "the script did not run: {dom}");
    assert!(
        page_errors(&err)
            .iter()
            .any(|l| l.contains("CONSOLE") && l.contains("Content Security Policy")),
        "Chromium's log shows the refused script:\n{err}"
    );
}

#[test]
fn the_incident_report_opens_in_a_real_browser() {
    let Some(dir) = browser_dir() else {
        return;
    };
    let page = dir.path().join("report.html");
    std::fs::write(&page, html::render(&report("incident.json"), &meta())).unwrap();

    let (dom, err) = chromium(dir.path(), &page, &["--dump-dom"]);
    assert!(page_errors(&err).is_empty(), "{:?}", page_errors(&err));
    assert!(
        dom.contains("apache2 holds 111 hung calls to [2001:db8:bad::100]:80"),
        "the summary sentence:\n{dom}"
    );
    for part in [
        "<table id=\"findings-table\">",
        "<table id=\"processes-table\">",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"history\"",
        "<path class=\"stuck\" d=\"M",
        "<rect class=\"new\"",
        "How it was collected",
    ] {
        assert!(dom.contains(part), "{part:?} missing from the DOM");
    }
    assert!(!dom.contains("<script"), "no script in the DOM");

    let png = screenshot(dir.path(), &page, "report.png");
    assert_eq!(png_size(&png), (1280, 1500));
    // A page of text, tables and a chart compresses far worse than a blank page of the size.
    let blank = dir.path().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let empty = screenshot(dir.path(), &blank, "blank.png");
    assert_eq!(png_size(&empty), (1280, 1500));
    assert!(
        png.len() > 5 * empty.len() && png.len() > 40_000,
        "the screenshot looks blank: {} bytes, a blank page {} bytes",
        png.len(),
        empty.len()
    );
    // STUCKCONN_SCREENSHOT=docs/report.png keeps the README's picture up to date.
    if let Some(keep) = std::env::var_os("STUCKCONN_SCREENSHOT") {
        std::fs::write(PathBuf::from(keep), &png).unwrap();
    }
}

#[test]
fn hostile_text_stays_text_in_a_real_browser() {
    let Some(dir) = browser_dir() else {
        return;
    };
    let page = dir.path().join("hostile.html");
    std::fs::write(&page, html::render(&hostile_report(), &meta())).unwrap();
    let (dom, err) = chromium(dir.path(), &page, &["--dump-dom"]);
    assert!(page_errors(&err).is_empty(), "{:?}", page_errors(&err));
    assert!(!dom.contains("<script"), "no script element was made");
    assert!(!dom.contains("<img"), "no image element was made");
    assert!(!dom.contains('\u{202e}'));
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\u{202e}cod.exe"),
        "the name is shown as text"
    );
    assert!(
        dom.contains("class=\"history\""),
        "the page is whole: {dom}"
    );
}

// --- A watch recording ---

#[test]
fn a_real_watch_recording_renders_its_growth() {
    let Some(bed) = Bed::new("html-watch", &[]) else {
        return;
    };
    let blackhole = bed.testbed(&["blackhole"]);
    // 10 hung calls, one every 200 ms (2 s), then held; 5 samples a second apart see them all.
    let _leaker = bed.testbed(&["leak", &blackhole.port().to_string(), "10"]);
    let (_, out, err) = run(bed.stuckconn("watch").args([
        "--format",
        "ndjson",
        "--interval",
        "1s",
        "--count",
        "5",
        "--min-idle",
        "0s",
        "--port",
        &blackhole.port().to_string(),
        "--no-dns",
    ]));
    assert!(!err.contains("panicked"), "{err}");
    let recording = WatchRecording::from_ndjson(&out);
    assert!(recording.problems.is_empty(), "{:?}", recording.problems);
    assert_eq!(recording.samples.len(), 5);
    assert_eq!(recording.ended_by.as_deref(), Some("count"));
    let last = recording.samples.last().unwrap();
    assert_eq!(last.groups.len(), 1, "{last:?}");
    assert_eq!(last.groups[0].connections, 10);
    assert_eq!(last.groups[0].process, "testbed");
    assert_eq!(
        last.groups[0].target,
        format!("127.0.0.1:{}", blackhole.port())
    );

    let page = html::render_watch(
        &recording,
        &HtmlMeta {
            source: Some("watch.ndjson".into()),
            ..meta()
        },
    );
    assert_self_contained(&page);
    let first = recording.samples[0]
        .groups
        .first()
        .map_or(0, |g| g.connections);
    let sentence = format!(
        "the largest group, testbed's hung call to 127.0.0.1:{}, went from {first} to 10 stuck (peak 10)",
        blackhole.port()
    );
    assert!(
        page.contains(&html::escape(&sentence)),
        "{sentence:?} missing:\n{page}"
    );
    assert!(page.contains("<polyline class=\"watched\""));
    assert!(page.contains("<table id=\"groups-table\">"));
    assert!(page.contains("watch.ndjson"));
    assert!(page.contains("<dt>Ended by</dt><dd>count</dd>"));
    // The first sample carries the past watch could not see, reconstructed from idle times:
    // drawn dashed before the first sample.
    assert!(
        !recording.samples[0].groups[0].past.is_empty(),
        "the first sample has the reconstructed past"
    );
    assert!(page.contains("class=\"past\""), "{page}");

    // The same through the command line: `report --from-watch FILE -o page.html`.
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("watch.ndjson");
    std::fs::write(&recorded, &out).unwrap();
    let target = dir.path().join("page.html");
    let (status, _, err) = run(stuckconn()
        .args(["report", "--from-watch"])
        .arg(&recorded)
        .arg("-o")
        .arg(&target));
    assert_eq!(status, 0, "{err}");
    let written = std::fs::read_to_string(&target).unwrap();
    assert_self_contained(&written);
    assert!(written.contains(&html::escape(&sentence)), "{written}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Not a recording: one line, exit 2.
    let (status, _, err) =
        run(stuckconn().args(["report", "--from-watch", &fixture("incident.json")]));
    assert_eq!(status, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `scan --format html -o FILE`: the page of the incident, private like every report that
/// carries command lines.
#[test]
fn scan_writes_the_html_report() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.html");
    let (status, _, err) = run(stuckconn()
        .args([
            "scan",
            "--from",
            &fixture("incident.json"),
            "--format",
            "html",
            "-o",
        ])
        .arg(&target));
    assert_eq!(status, 1, "{err}");
    let page = std::fs::read_to_string(&target).unwrap();
    assert_self_contained(&page);
    assert!(page.contains("a leak of 21 an hour"), "{page}");
    assert!(
        page.contains("stuckconn scan --from"),
        "the command line is in the footer"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

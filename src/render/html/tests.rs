//! Unit tests of the HTML pages: escaping, and a recording read line by line.

use super::*;

#[test]
fn escape_makes_markup_and_bidi_inert() {
    assert_eq!(
        escape("<script>alert('x')</script> & \"q\""),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
    );
    assert_eq!(escape("gpj.\u{202e}exe"), "gpj.\\u{202e}exe");
    assert_eq!(escape("a\u{061c}b\u{2066}c"), "a\\u{061c}b\\u{2066}c");
    assert_eq!(escape("\x1b[2J\n"), "\\x1b[2J\\n");
    assert_eq!(escape("crl.example.com"), "crl.example.com");
    let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
    let safe = escape(&all);
    assert!(!safe
        .chars()
        .any(|c| shown_escaped(c) || "<>\"'".contains(c)));
}

#[test]
fn a_recording_is_read_line_by_line() {
    let text = concat!(
        r#"{"schema_version":1,"type":"sample","time":"2012-11-06T17:00:00Z","sample":1,"groups":[{"kind":"hung_call","process":"apache2","netns":null,"netns_label":null,"remote":{"ip":"2001:db8:bad::100","port":80,"hostname":null,"dns":"skipped","dns_verified":false},"local":null,"clients":[],"connections":90,"leak":false,"onset":"2012-11-06T12:03:11Z","history":[90]}],"warnings":["w1"]}"#,
        "\n",
        "not json\n",
        r#"{"schema_version":1,"type":"opened","time":"2012-11-06T17:01:00Z"}"#,
        "\n",
        r#"{"schema_version":1,"type":"sample","time":"2012-11-06T17:01:00Z","sample":2,"groups":[{"kind":"hung_call","process":"apache2","netns":null,"remote":{"ip":"2001:db8:bad::100","port":80,"hostname":"crl.example","dns_verified":true},"local":null,"clients":[],"connections":91,"leak":true,"history":[90,91]}],"warnings":["w1"]}"#,
        "\n",
        r#"{"schema_version":1,"type":"summary","time":"2012-11-06T17:01:30Z","samples":2,"ended_by":"signal","groups":[]}"#,
        "\n"
    );
    let r = WatchRecording::from_ndjson(text);
    assert_eq!(r.samples.len(), 2);
    assert_eq!(r.samples[0].groups[0].target, "[2001:db8:bad::100]:80");
    assert_eq!(
        r.samples[1].groups[0].target,
        "crl.example [2001:db8:bad::100]:80"
    );
    assert_eq!(r.samples[0].groups[0].id(), r.samples[1].groups[0].id());
    assert_eq!(r.samples[0].groups[0].connections, 90);
    assert_eq!((r.opened, r.closed), (1, 0));
    assert_eq!(r.ended_by.as_deref(), Some("signal"));
    assert_eq!(r.warnings, ["w1"]);
    assert_eq!(r.problems, ["line 2: not JSON"]);
    let html = render_watch(&r, &HtmlMeta::default());
    assert!(
        html.contains("went from 90 to 91 stuck (peak 91)"),
        "{html}"
    );
    assert!(html.contains("<polyline class=\"watched\""));
    assert!(html.contains("line 2: not JSON"));
}

#[test]
fn an_empty_recording_says_so() {
    let html = render_watch(&WatchRecording::from_ndjson(""), &HtmlMeta::default());
    assert!(html.contains("The recording holds no sample."));
    assert!(!html.contains("<svg"));
}

/// A group of a recording: a hung call of `java` to 192.0.2.x, port `port`.
fn group(port: u16, connections: usize) -> WatchGroup {
    WatchGroup {
        kind: "hung_call".to_string(),
        process: "java".to_string(),
        target: format!("192.0.2.1:{port}"),
        endpoint: format!("192.0.2.1:{port}"),
        netns: None,
        connections,
        leak: false,
        onset: None,
        past: Vec::new(),
    }
}

#[test]
fn a_recording_whose_groups_come_and_go_costs_its_size_not_samples_times_groups() {
    // 1,500 samples of 5 groups each, every group new: 7,500 groups. Filled in at every
    // sample, that was 11 million points and some 10 seconds (and a 100 MB recording of
    // this shape would not fit in memory at all).
    let start: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut r = WatchRecording::default();
    for i in 0..1500u16 {
        r.samples.push(WatchSample {
            time: start + jiff::SignedDuration::from_secs(10 * i64::from(i)),
            groups: (0..5).map(|j| group(i * 5 + j, 3)).collect(),
        });
    }
    // One group seen throughout, growing: the largest, first in the table.
    for (i, sample) in r.samples.iter_mut().enumerate() {
        sample.groups.push(group(60000, 10 + i));
    }
    let began = std::time::Instant::now();
    let html = render_watch(&r, &HtmlMeta::default());
    let took = began.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    assert!(
        html.contains("went from 10 to 1509 stuck (peak 1509)"),
        "{}",
        &html[..2000]
    );
    assert!(html.contains("7500 groups more.") || html.contains("7,500 groups more."));
    // A group seen once, in the first sample: 3, then 0 at the last sample.
    let groups = watch::series(&r);
    let once = groups
        .iter()
        .find(|s| s.group.endpoint == "192.0.2.1:0")
        .unwrap();
    assert_eq!((once.first(), once.last(), once.peak()), (3, 0, 3));
    let points = once.points(&r);
    assert_eq!(points.len(), 1500);
    assert_eq!((points[0].1, points[1].1, points[1499].1), (3, 0, 0));
}

#[test]
fn a_recording_with_many_warnings_keeps_each_once_quickly() {
    // 60,000 different warnings on one line: compared each with every other kept, that was
    // 1.8 billion comparisons.
    let warnings: Vec<String> = (0..60_000).map(|i| format!("warning {i}")).collect();
    let line = serde_json::json!({
        "type": "sample",
        "time": "2026-01-01T00:00:00Z",
        "groups": [],
        "warnings": warnings,
    })
    .to_string();
    let began = std::time::Instant::now();
    let r = WatchRecording::from_ndjson(&format!("{line}\n{line}\n"));
    let took = began.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    assert_eq!(r.warnings.len(), 60_000);
    assert_eq!(r.warnings[59_999], "warning 59999");
}

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

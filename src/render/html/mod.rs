//! `--format html`: one self-contained HTML file to attach to a ticket. No script, no external
//! asset: inline CSS, inline SVG charts, and a Content-Security-Policy that forbids scripts and
//! every load from elsewhere (`CSP`), so the file reads the same offline and a hostile string
//! cannot make it fetch or run anything.
//!
//! Every string of the report goes through [`escape`]: `&`, `<`, `>`, `"` and `'` become
//! entities, and the characters that `text::is_unsafe` names (control characters, bidi
//! overrides and isolates, zero-width characters), plus the Arabic letter mark U+061C, are
//! shown as visible escapes (`\u{202e}`, `\x1b`, `\n`) as on the terminal, so that a bidi
//! override in a process name cannot reorder the page around it. Cells holding outside text are
//! also bidi-isolated by the stylesheet (`unicode-bidi: isolate`): right-to-left names stay
//! within their cell.
//!
//! `render` writes a scan's report: the summary sentence first, the findings and processes
//! tables, each finding's explanation, history chart and further evidence (chain of waits,
//! timeouts and the like, whatever the report carries), the connections with `--all`, the
//! warnings, and how it was collected. `render_watch` writes a `watch --format ndjson`
//! recording: each group's stuck count over time.
//!
//! Where each part lives: the document's frame and stylesheet in `page`; the summary sentence
//! in `summary`; the findings table and each finding's section in `findings`; the processes and
//! connections tables and the report's other top-level fields in `sections` (fields shown as
//! they are, in `values`); the footer of a scan in `collected`; a recording as it is read in
//! `recording`, and its page in `watch`.

mod collected;
mod diagnosis;
mod findings;
mod page;
mod recording;
mod sections;
mod summary;
#[cfg(test)]
mod tests;
mod values;
mod watch;

pub use page::CSP;
pub use recording::{WatchGroup, WatchRecording, WatchSample, MAX_PROBLEMS};
pub use summary::summary_sentence;

use crate::analyze::history;
use crate::report::Report;
use jiff::Timestamp;
use std::fmt::Write;

/// What the report itself does not say: who wrote it, how it was asked for.
#[derive(Debug, Clone, Default)]
pub struct HtmlMeta {
    /// stuckconn's version (`env!("CARGO_PKG_VERSION")`).
    pub version: String,
    /// The command line as it ran (secrets masked by the caller), for the footer.
    pub command: Option<String>,
    /// `render_watch`: the recording's path.
    pub source: Option<String>,
}

/// Whether a character must be shown as an escape (`text::is_unsafe`).
fn shown_escaped(c: char) -> bool {
    crate::text::is_unsafe(c)
}

/// Text for HTML (element content and quoted attribute values alike): markup characters as
/// entities, invisible and bidi characters as visible escapes (see the module documentation).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Shown as on the terminal, by the one sanitizer of outside text.
            c if shown_escaped(c) => {
                out.push_str(&crate::text::sanitize(c.encode_utf8(&mut [0; 4])));
            }
            c => out.push(c),
        }
    }
    out
}

/// `2012-11-06 17:15:11 UTC`.
fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    crate::text::count(n, one, many)
}

/// The HTML report of a scan.
pub fn render(report: &Report, meta: &HtmlMeta) -> String {
    let histories = history::of_report(report, history::BUCKETS);
    let title = format!(
        "stuckconn: {}, {}",
        report.host.hostname,
        utc(report.taken_at)
    );
    let mut s = page::head(&title, &meta.version);
    let _ = write!(
        s,
        "<header>\n<h1>{}</h1>\n<p class=\"summary\" id=\"summary\">{}</p>\n<p class=\"meta\">{} · {} · {} · collected {}</p>\n</header>\n",
        escape(&format!("Stuck connections on {}", report.host.hostname)),
        escape(&summary_sentence(report, &histories)),
        escape(&plural(report.summary.sockets, "TCP socket", "TCP sockets")),
        escape(&plural(report.summary.findings, "finding", "findings")),
        escape(&plural(report.summary.problems, "problem", "problems")),
        escape(&utc(report.taken_at)),
    );
    if report.partial {
        s.push_str("<p class=\"partial\">This scan was cut short by --timeout: everything reported is right, but not everything was seen.</p>\n");
    }
    if !report.findings.is_empty() {
        s.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n");
        s.push_str(&findings::findings_table(report, &histories));
        s.push_str("</section>\n");
    }
    if !report.processes.is_empty() {
        s.push_str("<section id=\"processes\">\n<h2>Which process leaks</h2>\n");
        s.push_str(&sections::processes_table(report));
        s.push_str("</section>\n");
    }
    if !report.findings.is_empty() {
        s.push_str("<section id=\"details\">\n<h2>Each finding</h2>\n");
        let shared = findings::Sections::new(report, &histories);
        for (i, f) in report.findings.iter().enumerate() {
            s.push_str(&findings::finding_section(report, &shared, i, f));
        }
        s.push_str("</section>\n");
    }
    if report.options.all && !report.connections.is_empty() {
        s.push_str("<section id=\"connections\">\n<h2>Every connection (--all)</h2>\n");
        s.push_str(&sections::connections_table(&report.connections));
        s.push_str("</section>\n");
    }
    s.push_str(&sections::more_section(report));
    s.push_str(&page::warnings(&report.warnings));
    s.push_str(&collected::collected(report, meta));
    s.push_str("</body>\n</html>\n");
    s
}

/// The HTML report of a `watch --format ndjson` recording: each group's stuck count over
/// time.
pub fn render_watch(recording: &WatchRecording, meta: &HtmlMeta) -> String {
    let groups = watch::series(recording);
    let mut s = page::head(&watch::title(recording), &meta.version);
    let heading = match recording.host.as_deref() {
        None | Some("") => "Stuck connections over time".to_string(),
        Some(host) => format!("Stuck connections over time on {host}"),
    };
    let _ = write!(
        s,
        "<header>\n<h1>{}</h1>\n<p class=\"summary\" id=\"summary\">{}</p>\n</header>\n",
        escape(&heading),
        escape(&watch::summary(recording, &groups))
    );
    if !groups.is_empty() {
        s.push_str("<section id=\"groups\">\n<h2>Groups</h2>\n");
        s.push_str(&watch::groups_table(&groups));
        s.push_str("</section>\n<section id=\"growth\">\n<h2>Growth over time</h2>\n");
        s.push_str(&watch::growth_charts(recording, &groups));
        s.push_str("</section>\n");
    }
    s.push_str(&page::warnings(&recording.warnings));
    s.push_str(&page::footer(&watch::footer_rows(recording, meta)));
    s.push_str("</body>\n</html>\n");
    s
}

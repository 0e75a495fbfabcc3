//! The document's frame: the head with its Content-Security-Policy and stylesheet, and the
//! pieces every page is built of (tables, definition lists, the warnings, the footer).

use super::escape;
use std::fmt::Write;

/// The page's Content-Security-Policy: no script, no load from anywhere; inline styles and
/// `data:` images only.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d1f23; background: #fff; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d8dbe0; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p.summary { font-size: 17px; margin: 8px 0 4px; }
p.meta, .muted { color: #5b6270; }
.partial { background: #fff4d6; border: 1px solid #e0b43a; padding: 8px 12px; }
table { border-collapse: collapse; margin: 6px 0 12px; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e8ec; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; white-space: nowrap; }
td { unicode-bidi: isolate; overflow-wrap: anywhere; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.spark { font-family: "DejaVu Sans Mono", monospace; white-space: nowrap; }
td .mono { white-space: nowrap; }
code, .mono { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 13px; unicode-bidi: isolate; overflow-wrap: anywhere; }
.kind { font-weight: 600; white-space: nowrap; }
.kind.problem { color: #b3261e; }
.kind.info { color: #2e7d32; }
.finding { border-left: 3px solid #b3261e; padding: 2px 0 2px 14px; margin: 18px 0; }
.finding.info { border-left-color: #2e7d32; }
figure { margin: 8px 0; }
figcaption { color: #3d4350; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
dl.kv dt { color: #5b6270; }
dl.kv dd { margin: 0; unicode-bidi: isolate; overflow-wrap: anywhere; }
ul { margin: 4px 0; padding-left: 20px; }
li { unicode-bidi: isolate; }
svg { max-width: 100%; height: auto; display: block; }
svg .grid { stroke: #e1e4e8; stroke-width: 1; }
svg .axis, svg .legend { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #5b6270; }
svg path.stuck, svg rect.stuck { fill: #f4c7c3; stroke: #b3261e; stroke-width: 1.5; }
svg rect.new { fill: #7a1c16; }
svg polyline.watched, svg rect.watched, svg circle.watched { fill: none; stroke: #b3261e; stroke-width: 2; }
svg rect.watched { fill: #b3261e; }
svg polyline.past, svg rect.past { fill: none; stroke: #b3261e; stroke-width: 1.5; stroke-dasharray: 5 4; }
footer { margin-top: 32px; }
@media print { body { margin: 0; max-width: none; } .finding { break-inside: avoid; } }
"#;

pub(super) fn head(title: &str, version: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\" dir=\"ltr\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"stuckconn {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(version),
        escape(title)
    )
}

/// A table: the header row, then rows of cells already in HTML; columns listed in
/// `numeric` are right-aligned.
pub(super) fn table(id: &str, header: &[&str], rows: &[Vec<String>], numeric: &[usize]) -> String {
    let class = |i: usize| {
        if numeric.contains(&i) {
            " class=\"n\""
        } else {
            ""
        }
    };
    let mut s = format!("<table id=\"{id}\">\n<thead><tr>");
    for (i, h) in header.iter().enumerate() {
        let _ = write!(s, "<th{}>{}</th>", class(i), escape(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        s.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(s, "<td{}>{cell}</td>", class(i));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// A definition list of rows already in HTML (`<dl class="kv"><dt>…</dt><dd>…</dd>…</dl>`).
pub(super) fn definitions(rows: impl IntoIterator<Item = (String, String)>) -> String {
    let mut s = "<dl class=\"kv\">".to_string();
    for (term, definition) in rows {
        let _ = write!(s, "<dt>{term}</dt><dd>{definition}</dd>");
    }
    s.push_str("</dl>");
    s
}

/// The warnings section; nothing when there are none.
pub(super) fn warnings<W: AsRef<str>>(warnings: &[W]) -> String {
    if warnings.is_empty() {
        return String::new();
    }
    let mut s = "<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>".to_string();
    for w in warnings {
        let _ = write!(s, "<li>{}</li>", escape(w.as_ref()));
    }
    s.push_str("</ul>\n</section>\n");
    s
}

/// The footer: how the page's data was collected, rows of plain text.
pub(super) fn footer(rows: &[(&str, String)]) -> String {
    let rows = rows.iter().map(|(k, v)| (escape(k), escape(v)));
    format!(
        "<footer id=\"collected\">\n<h2>How it was collected</h2>\n{}\n</footer>\n",
        definitions(rows)
    )
}

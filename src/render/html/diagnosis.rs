//! The four answers of a problem finding on the page: cause or victim (linked to the other
//! findings), why it never ends, what it costs, what to change.

use super::escape;
use super::findings::target;
use crate::report::{Finding, FindingsById, Role, TimeoutVerdict};

/// Findings linked by name in a finding's answers; the rest are counted.
const LINKED: usize = 20;

/// The four answers of a problem finding, in words: cause or victim, why it never ends, what
/// it costs, what to change.
pub(super) fn facts(by_id: &FindingsById, f: &Finding) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    let title_of = |id: &String| {
        by_id.get(id).map(|(i, other)| {
            format!(
                "<a href=\"#finding-{}\">{}</a>",
                i + 1,
                escape(&format!("{} → {}", other.kind.label(), target(other)))
            )
        })
    };
    let linked = |ids: &[String]| -> String {
        let mut titles: Vec<String> = ids.iter().take(LINKED).filter_map(title_of).collect();
        if ids.len() > LINKED {
            titles.push(crate::text::count(
                ids.len() - LINKED,
                "more finding",
                "more findings",
            ));
        }
        titles.join("; ")
    };
    match f.role {
        Some(Role::Downstream) => {
            facts.push(("Waits on".into(), linked(&f.waits_on)));
        }
        Some(Role::Root) => {
            let mut text = "a root cause: nothing on this host explains it".to_string();
            if !f.blocks.is_empty() {
                text = format!("{text}; these wait on it: {}", linked(&f.blocks));
            }
            facts.push(("Cause or victim".into(), text));
        }
        None => {}
    }
    if let Some(t) = &f.timeouts {
        let verdict = match t.verdict {
            TimeoutVerdict::Never => "never ends",
            TimeoutVerdict::Deadline => "ends by itself",
            TimeoutVerdict::Kernel => "the kernel ends it",
            TimeoutVerdict::Unknown => "unknown",
        };
        facts.push((
            "Why it never ends".into(),
            format!("<strong>{verdict}</strong>: {}", escape(&t.explanation)),
        ));
    }
    if let Some(impact) = &f.impact {
        let name = f
            .processes
            .iter()
            .find(|p| p.connections > 0)
            .map_or("(no process)", |p| p.name.as_str());
        facts.push((
            "What it costs".into(),
            escape(&crate::enrich::impact::phrase(name, impact)),
        ));
    }
    if !f.hints.is_empty() {
        let items: Vec<String> = f
            .hints
            .iter()
            .map(|h| {
                format!(
                    "<li><strong>{}</strong>: {} <span class=\"muted\">(source: {})</span></li>",
                    escape(&h.runtime),
                    escape(&h.advice),
                    escape(&h.source)
                )
            })
            .collect();
        facts.push((
            "What to change".into(),
            format!("<ul>{}</ul>", items.concat()),
        ));
    }
    facts
}

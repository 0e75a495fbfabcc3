//! One block per problem finding, root causes first: what it is, why it never ends, what it
//! costs, what to change, and the commands to look closer or stop it.
//!
//! ```text
//! ROOT CAUSE  hung call → crl.example.com  [2001:db8::100]:80
//!   apache2 sent requests to … and has waited 5m to 5h 12m for replies that never came.
//!   never ends: no keepalive; no receive timeout (SO_RCVTIMEO); the thread calls poll …
//!   costs: apache2 ×111 hold 2.9 GiB (71% of RAM), 400 MiB swap
//!   fix: PHP + libcurl: curl_exec has no timeout by default, …
//!   history: leak since 12:03: …
//!   see each socket:  stuckconn scan --remote 2001:db8::100 --port 80 --all
//! ```

use super::*;
use crate::report::{FindingProcess, FindingsById, Role, TimeoutVerdict};

/// What a downstream finding waits on, a line each; the rest are counted.
const SHOWN_TARGETS: usize = 3;

/// The block of one problem finding. `evidence`: the table left the evidence out (a narrow
/// terminal), so the block says it.
pub(super) fn block(
    f: &Finding,
    report: &Report,
    by_id: &FindingsById,
    style: Style,
    evidence: bool,
) -> String {
    let mut out = String::new();
    let role = match f.role {
        Some(Role::Downstream) => "DOWNSTREAM",
        _ => "ROOT CAUSE",
    };
    let mut head = format!(
        "{role}  {} → {}",
        f.kind.label(),
        target_text(f.remote.as_ref(), f.local, &f.clients)
    );
    if let Some(ns) = f.netns.as_ref().filter(|ns| !ns.own) {
        head.push_str(&format!("  (namespace {})", sanitize(&ns.short_label())));
    }
    out.push_str(&wrap(&head, style.width, "    "));
    // Every line passes the sanitizer: the timeouts' and the chain's words quote syscall and
    // process names, which others choose.
    let mut line = |text: String| {
        out.push_str(&wrap(
            &format!("  {}", sanitize(&text)),
            style.width,
            "    ",
        ))
    };
    line(sanitize(&f.explanation).into_owned());
    if evidence && !f.evidence.is_empty() {
        line(format!("evidence: {}", sanitize(&f.evidence.join(" · "))));
    }
    for waits_on in f
        .waits_on
        .iter()
        .filter_map(|id| find(by_id, id))
        .take(SHOWN_TARGETS)
    {
        line(format!("→ waits on {}", waits_on_text(waits_on)));
    }
    if f.waits_on.len() > SHOWN_TARGETS {
        line(format!(
            "→ and on {} more",
            crate::text::count(f.waits_on.len() - SHOWN_TARGETS, "finding", "findings")
        ));
    }
    if let Some(chain) = chain_text(f, by_id) {
        line(format!("chain: {chain}"));
    }
    if let Some(t) = &f.timeouts {
        line(timeouts_text(t.verdict, &t.explanation));
    }
    if let Some(impact) = &f.impact {
        let name = holders(f).first().map_or("(no process)".to_string(), |p| {
            sanitize(&p.name).into_owned()
        });
        line(format!(
            "costs: {}",
            crate::enrich::impact::phrase(&name, impact)
        ));
    }
    for hint in &f.hints {
        line(format!("fix: {}: {}", hint.runtime, hint.advice));
    }
    if let Some(history) = &f.history {
        line(format!(
            "history: {}",
            super::super::chart::timeline_line(history, style.width)
        ));
    }
    line(format!(
        "see each socket:  stuckconn scan {}{}--all{}",
        from(report),
        selector(f),
        netns_flag(f)
    ));
    if let Some(abort) = abort_command(report, f) {
        line(abort);
    }
    out
}

fn find<'a>(by_id: &FindingsById<'a>, id: &str) -> Option<&'a Finding> {
    by_id.get(id).map(|(_, f)| f)
}

fn holders(f: &Finding) -> Vec<&FindingProcess> {
    f.processes.iter().filter(|p| p.connections > 0).collect()
}

/// `apache2, stuck on [2001:db8::100]:80`: what a downstream finding waits on, and what that
/// one is stuck on in turn.
fn waits_on_text(target: &Finding) -> String {
    let who = holders(target)
        .first()
        .map_or("a process".to_string(), |p| sanitize(&p.name).into_owned());
    format!(
        "{who}, stuck ({}) on {}",
        target.kind.label(),
        target_text(target.remote.as_ref(), target.local, &target.clients)
    )
}

/// `curl (ns web) → apache2 192.0.2.1:80 → [2001:db8::100]:80: no reply`: from this
/// finding's holder to the root it waits on, following the first link at each step.
fn chain_text(f: &Finding, by_id: &FindingsById) -> Option<String> {
    let first = find(by_id, f.waits_on.first()?)?;
    let mut steps = vec![who_where(f)];
    let mut at = first;
    let mut via = f;
    let mut seen = vec![f.id.as_str()];
    loop {
        let endpoint = via
            .remote
            .as_ref()
            .map(|r| r.endpoint().to_string())
            .unwrap_or_default();
        steps.push(
            format!("{} {endpoint}", who_where(at))
                .trim_end()
                .to_string(),
        );
        seen.push(at.id.as_str());
        match at.waits_on.first().and_then(|id| find(by_id, id)) {
            Some(next) if !seen.contains(&next.id.as_str()) => {
                via = at;
                at = next;
            }
            _ => break,
        }
    }
    let end = match (&at.remote, at.kind) {
        (Some(remote), Kind::HungCall) => format!("{}: no reply", remote.endpoint()),
        (Some(remote), kind) => format!("{}: {}", remote.endpoint(), kind.label()),
        (None, kind) => kind.label().to_string(),
    };
    steps.push(end);
    Some(steps.join(" → "))
}

/// `curl (ns web)`: a finding's first holder, and its namespace when not the tool's own.
fn who_where(f: &Finding) -> String {
    let who = holders(f)
        .first()
        .map_or("?".to_string(), |p| sanitize(&p.name).into_owned());
    match f.netns.as_ref().filter(|ns| !ns.own) {
        Some(ns) => format!("{who} (ns {})", sanitize(&ns.short_label())),
        None => who,
    }
}

/// The timeouts line: the verdict in a few words, then its explanation.
fn timeouts_text(verdict: TimeoutVerdict, explanation: &str) -> String {
    let strip = |prefix: &str| {
        explanation
            .strip_prefix(prefix)
            .unwrap_or(explanation)
            .to_string()
    };
    match verdict {
        TimeoutVerdict::Never => format!("never ends: {}", strip("nothing will end it: ")),
        TimeoutVerdict::Unknown => format!(
            "ends? unknown: {}",
            strip("whether it ends cannot be told: ")
        ),
        TimeoutVerdict::Deadline => format!("ends by itself: {explanation}"),
        TimeoutVerdict::Kernel => format!("the kernel ends it: {explanation}"),
    }
}

//! The last step before rendering: every finding's evidence phrases and explanation,
//! written once from its finished fields (names, wire verdicts and all). Pure.

use crate::report::{
    display_name, Facts, Finding, FindingProcess, Kind, Report, TimeoutVerdict, Verdict,
    WireSummary,
};
use crate::text::count;
use std::collections::HashMap;

const NO_PROCESS: &str = "(no process)";

/// Writes the evidence and the explanation of every finding (anew: finishing twice gives
/// the same report).
pub(crate) fn finish(report: &mut Report) {
    // Findings by id (the first of an id, as a search from the start finds it): a root cause
    // may block thousands of findings, each looked up once, not searched for.
    let mut by_id: HashMap<&str, &Finding> = HashMap::new();
    for f in &report.findings {
        by_id.entry(f.id.as_str()).or_insert(f);
    }
    let chain: Vec<String> = report
        .findings
        .iter()
        .map(|f| chain_sentence(f, &by_id))
        .collect();
    for (finding, chain) in report.findings.iter_mut().zip(chain) {
        finding.evidence = evidence(finding);
        finding.explanation = explanation(finding) + &chain;
    }
}

/// What the chain of waits adds to a finding's explanation: the victims of a root cause on
/// this host, or what a downstream finding waits on.
fn chain_sentence<'a>(f: &Finding, all: &HashMap<&str, &'a Finding>) -> String {
    let by_id = |id: &String| -> Option<&'a Finding> { all.get(id.as_str()).copied() };
    let mut parts: Vec<String> = Vec::new();
    if !f.waits_on.is_empty() {
        let targets: Vec<String> = f.waits_on.iter().filter_map(by_id).map(target).collect();
        parts.push(format!(
            " These calls are a symptom: they wait on {}.",
            targets.join(" and ")
        ));
    }
    if !f.blocks.is_empty() {
        let victims: Vec<String> = f.blocks.iter().filter_map(by_id).map(victim).collect();
        let these = if f.processes.iter().filter(|p| p.connections > 0).count() > 1
            || f.processes.iter().any(|p| p.pids.len() > 1)
        {
            "these processes"
        } else {
            "this process"
        };
        let waiting: usize = f
            .blocks
            .iter()
            .filter_map(by_id)
            .map(|v| v.connections)
            .sum();
        let wait = if waiting == 1 { "waits" } else { "wait" };
        parts.push(format!(
            " {} {wait} on {these}.",
            capitalized(&victims.join("; "))
        ));
    }
    parts.concat()
}

/// `apache2, itself stuck (hung call) on [2001:db8::100]:80`: a finding as something others
/// wait on.
fn target(f: &Finding) -> String {
    let holders: Vec<&FindingProcess> = f.processes.iter().filter(|p| p.connections > 0).collect();
    format!(
        "{}, itself stuck ({}) on {}",
        names_of(&holders),
        f.kind.label(),
        parts(f, &holders).to
    )
}

/// `30 curl connections in namespace web`: a finding as a victim.
fn victim(f: &Finding) -> String {
    let holders: Vec<&FindingProcess> = f.processes.iter().filter(|p| p.connections > 0).collect();
    let place = match f.netns.as_ref().filter(|ns| !ns.own) {
        Some(ns) => format!(" in namespace {}", ns.short_label()),
        None => String::new(),
    };
    format!(
        "{} of {}{place}",
        count(f.connections, "connection", "connections"),
        names_of(&holders)
    )
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Short phrases for the table: what was seen, in a sysadmin's words.
fn evidence(f: &Finding) -> Vec<String> {
    let mut out = base_evidence(f.kind, f.connections, &f.facts);
    if f.kind.is_problem() && f.kind != Kind::SynSent {
        out.extend(thread_phrase(f));
    }
    if let Some(timeouts) = &f.timeouts {
        out.push(timeouts.phrase.clone());
    }
    out.extend(wire_phrase(
        f.capture.as_ref().or(f.confirm.as_ref()),
        f.capture.is_some(),
    ));
    out
}

fn base_evidence(kind: Kind, n: usize, facts: &Facts) -> Vec<String> {
    let mut out = Vec::new();
    match kind {
        Kind::HungCall => {
            let nothing = facts.received_nothing;
            out.push(if facts.with_tcp_info == 0 {
                "no tcp_info: judged by blocked threads".to_string()
            } else if nothing == n {
                "request sent, 0 B back".to_string()
            } else if nothing > 0 {
                format!("request sent; {nothing} of {n} got 0 B back")
            } else {
                "request sent, no reply since".to_string()
            });
        }
        Kind::CloseWait => {
            out.push("peer closed, fd never closed".to_string());
            if facts.unread > 0 {
                out.push(format!("{} with unread data", facts.unread));
            }
        }
        Kind::StalledSend => out.push(format!(
            "{} segments unacknowledged, retransmitted {}x",
            facts.unacked, facts.max_retransmits
        )),
        Kind::SynSent => out.push(format!(
            "SYN unanswered, retried {}x",
            facts.max_retransmits
        )),
        Kind::IdlePool => out.push("reply received, then idle".to_string()),
        Kind::Active | Kind::Listening => {}
    }
    out
}

fn thread_phrase(f: &Finding) -> Option<String> {
    if f.threads_blocked > 0 {
        Some(format!(
            "{} blocked in {}",
            count(f.threads_blocked, "thread", "threads"),
            f.facts.syscalls.join("/")
        ))
    } else if f.kind == Kind::HungCall && f.facts.all_threads_examined {
        Some("no thread seen blocked on it".to_string())
    } else if f.kind == Kind::HungCall {
        Some("threads not examined".to_string())
    } else {
        None
    }
}

/// The evidence phrase of a finding's wire check.
fn wire_phrase(summary: Option<&WireSummary>, captured: bool) -> Option<String> {
    let s = summary?;
    let window = crate::report::human_duration(s.seconds);
    let place = if captured {
        "on the wire"
    } else {
        "in the counters"
    };
    Some(match s.verdict {
        Verdict::Idle => format!("idle {place} for {window}"),
        Verdict::KeepaliveOnly => format!("only keepalives {place} for {window}"),
        Verdict::Active => format!(
            "ACTIVE {place}: {} of {} flows moved",
            s.flows_active, s.flows
        ),
    })
}

fn names_of(processes: &[&FindingProcess]) -> String {
    match processes {
        [] => NO_PROCESS.to_string(),
        [one] if one.pids.is_empty() => {
            "A process stuckconn could not identify (run as root to see it)".to_string()
        }
        [one] => one.name.clone(),
        [a, b] => format!("{} and {}", a.name, b.name),
        [first, rest @ ..] => format!("{} and {} other processes", first.name, rest.len()),
    }
}

/// One plain sentence: what is wrong and what to look at, with the namespace when it is not
/// stuckconn's own.
fn explanation(f: &Finding) -> String {
    let text = sentence(f);
    match f.netns.as_ref().filter(|ns| !ns.own) {
        Some(ns) => format!("In network namespace {}: {text}", ns.short_label()),
        None => text,
    }
}

/// Who the connections are counted for, what they are to, and how long: the parts every
/// sentence is made of.
struct Parts {
    who: String,
    to: String,
    conns: String,
    range: String,
    plural: bool,
}

fn parts(f: &Finding, holders: &[&FindingProcess]) -> Parts {
    let to = match (&f.remote, f.local) {
        (Some(remote), _) => match display_name(&remote.name) {
            Some(name) => format!("{name} ({})", remote.endpoint()),
            None => remote.endpoint().to_string(),
        },
        (None, Some(local)) => format!(
            "{} of port {}",
            count(f.clients.len(), "client", "clients"),
            local.port
        ),
        (None, None) => "an unknown peer".to_string(),
    };
    Parts {
        who: names_of(holders),
        to,
        conns: count(f.connections, "connection", "connections"),
        range: f
            .idle_secs
            .map_or("an unknown time".to_string(), |s| s.range(" to ")),
        plural: holders.len() > 1,
    }
}

/// The sentence of a finding. Outbound findings have a `remote`; inbound ones a `local`
/// service and `clients` peers.
fn sentence(f: &Finding) -> String {
    // Who the connections are counted for; processes that only share them come after.
    let holders: Vec<&FindingProcess> = f.processes.iter().filter(|p| p.connections > 0).collect();
    let p = parts(f, &holders);
    let (who, to, conns, range) = (&p.who, &p.to, &p.conns, &p.range);
    let (has, keeps, is) = if p.plural {
        ("have", "keep", "are")
    } else {
        ("has", "keeps", "is")
    };
    let clients = count(f.clients.len(), "client", "clients");
    let mut text = match (f.kind, f.local, &f.remote) {
        (Kind::CloseWait, Some(local), None) => {
            let (peers, them) = if f.connections == 1 {
                ("whose peer", "it")
            } else {
                ("whose peers", "them")
            };
            format!(
                "{who} accepted {conns} on port {} (from {clients}) {peers} closed {them} {range} ago, but never closed its end: the code leaks sockets (a missing close() on some path).",
                local.port
            )
        }
        (Kind::StalledSend, Some(local), None) => format!(
            "{who} {has} unacknowledged data to {clients} on {conns} accepted on port {} with no ACK for {range}: the clients or the path are dead; the kernel gives up after tcp_retries2 (about 15 min).",
            local.port
        ),
        (Kind::HungCall, _, _) => {
            let threads = match f.threads_blocked {
                0 => String::new(),
                1 => "; 1 thread is blocked on it".to_string(),
                t => format!("; {t} threads are blocked on them"),
            };
            // Without the timeouts' evidence, the likely cause; with it, the timeouts say.
            let guess = match f.timeouts.as_ref().map(|t| t.verdict) {
                None | Some(TimeoutVerdict::Unknown) => {
                    " The calling code most likely has no read timeout."
                }
                Some(_) => "",
            };
            format!(
                "{who} sent requests to {to} on {conns} and {has} waited {range} for replies that never came{threads}.{guess}"
            )
        }
        (Kind::CloseWait, _, _) => format!(
            "{to} closed {conns} {range} ago, but {who} never closed its end: the code leaks sockets (a missing close() on some path)."
        ),
        (Kind::StalledSend, _, _) => format!(
            "{who} {has} unacknowledged data to {to} on {conns} with no ACK for {range}: the peer or the path is dead; the kernel gives up after tcp_retries2 (about 15 min)."
        ),
        (Kind::SynSent, _, _) => format!(
            "{who} {is} still connecting to {to} on {conns} and gets no answer: the host is down or a firewall drops the SYNs; the calling code likely has no connect timeout."
        ),
        (Kind::IdlePool, _, _) => format!(
            "{who} {keeps} {conns} to {to} idle for {range} after complete exchanges: a keep-alive pool, not a problem by itself."
        ),
        (Kind::Active | Kind::Listening, _, _) => String::new(),
    };
    if !text.is_empty() {
        text.push_str(&sharers_sentence(f, who));
    }
    text
}

/// ` X also holds the socket ...` when processes share the connections without being counted
/// for them; empty otherwise.
fn sharers_sentence(f: &Finding, who: &str) -> String {
    let sharers: Vec<&FindingProcess> = f.processes.iter().filter(|p| p.connections == 0).collect();
    if sharers.is_empty() {
        return String::new();
    }
    let (also, holds) = if sharers.len() == 1 {
        (sharers[0].name.clone(), "holds")
    } else {
        (names_of(&sharers), "hold")
    };
    let (these, are) = if f.connections == 1 {
        ("the socket", "it is")
    } else {
        ("these sockets", "they are")
    };
    format!(
        " {also} also {holds} {these} (inherited across fork or passed as a file descriptor); {are} counted once, for {who}."
    )
}

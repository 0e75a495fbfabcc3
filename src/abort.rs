//! `abort`'s plan and what became of it: which connections of a finished report are aborted
//! (pure: [`select`]), how each one ended ([`before`], [`settle`]), the words for kernel
//! errors, the exit status and the system log line. Plain data, serialized as the abort JSON
//! (`schema/abort.schema.json`). `collect::destroy` talks to the kernel, `render::abort`
//! prints, `cmd::abort` composes them.

use crate::report::{human_duration, Direction, Kind, Report};
use crate::snapshot::{Connection, Endpoint, Netns, TcpState};
use jiff::Timestamp;
use serde::Serialize;
use std::time::Duration;

/// Version of the abort JSON. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole run: the selection, the plan, and (unless nothing was done) each result.
#[derive(Debug, Clone, Serialize)]
pub struct AbortReport {
    pub schema_version: u32,
    pub generated_at: Timestamp,
    /// `--dry-run`: the plan only. Without it, a result of null means nothing was attempted
    /// (not confirmed).
    pub dry_run: bool,
    /// The scan behind the plan was cut short (`--timeout`, a signal): the plan covers only
    /// what it saw.
    pub partial: bool,
    pub selection: Selection,
    pub summary: Summary,
    pub connections: Vec<Planned>,
}

/// What the user selected: the scan's filters, the kinds and the idle threshold.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Selection {
    pub remotes: Vec<String>,
    pub ports: Vec<u16>,
    pub pids: Vec<u32>,
    pub processes: Vec<String>,
    /// `--netns` as given (empty: every namespace the scan covers).
    pub netns: Vec<String>,
    /// Empty: every problem kind.
    pub kinds: Vec<Kind>,
    pub min_idle_secs: f64,
}

impl Selection {
    /// Nothing narrows it down (`--netns` and `--min-idle` alone do not): abort refuses.
    pub fn is_empty(&self) -> bool {
        self.remotes.is_empty()
            && self.ports.is_empty()
            && self.pids.is_empty()
            && self.processes.is_empty()
            && self.kinds.is_empty()
    }

    /// The selection as flags, for the system log: `--remote 192.0.2.7 --kind hung_call`.
    pub fn flags(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        let mut add = |flag: &str, values: Vec<String>| {
            for value in values {
                words.push(format!("{flag} {value}"));
            }
        };
        add("--remote", self.remotes.clone());
        add("--port", self.ports.iter().map(u16::to_string).collect());
        add("--pid", self.pids.iter().map(u32::to_string).collect());
        add("--process", self.processes.clone());
        add(
            "--kind",
            self.kinds.iter().map(|k| k.key().to_string()).collect(),
        );
        add("--netns", self.netns.clone());
        words.push(format!("--min-idle {}s", self.min_idle_secs.round() as u64));
        words.join(" ")
    }
}

/// One connection of the plan, and (after the run) what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub netns: Option<Netns>,
    pub local: Endpoint,
    pub remote: Endpoint,
    /// The kernel's socket cookie: the destroy request carries it, so that a connection
    /// closed and replaced since the scan is never hit. Null when the scan could not read
    /// it (no sock_diag): such a connection is never aborted.
    pub cookie: Option<u64>,
    /// Every process holding the socket.
    pub pids: Vec<u32>,
    /// The name of the process it is counted for (as in the scan).
    pub process: Option<String>,
    pub kind: Kind,
    pub idle_secs: Option<f64>,
    /// Null in the plan (`--dry-run`, or not confirmed).
    pub result: Option<Outcome>,
    /// Why it failed (or was spared), for people.
    pub error: Option<String>,
    /// What the scan saw, to tell a connection that came back to life before the abort.
    #[serde(skip)]
    pub state: TcpState,
    #[serde(skip)]
    pub bytes_received: Option<u64>,
    #[serde(skip)]
    pub direction: Direction,
}

impl Planned {
    /// The namespace's inode (None: the tool's own, or a snapshot without namespaces).
    pub fn netns_inode(&self) -> Option<u64> {
        self.netns.as_ref().filter(|ns| !ns.own).map(|ns| ns.inode)
    }
}

/// What became of one connection.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Destroyed: the blocked call failed with ECONNABORTED and the socket is gone.
    Aborted,
    /// Closed meanwhile (or closed and replaced: the cookie no longer matches).
    Gone,
    /// Data came from the peer (or its state changed) since the plan: left alone.
    Spared,
    /// Still there; `error` says why.
    Failed,
}

impl Outcome {
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Aborted => "aborted",
            Outcome::Gone => "gone",
            Outcome::Spared => "spared",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub selected: usize,
    pub aborted: usize,
    pub gone: usize,
    pub spared: usize,
    pub failed: usize,
}

impl Summary {
    pub fn of(planned: &[Planned]) -> Summary {
        let mut summary = Summary {
            selected: planned.len(),
            ..Summary::default()
        };
        for p in planned {
            match p.result {
                Some(Outcome::Aborted) => summary.aborted += 1,
                Some(Outcome::Gone) => summary.gone += 1,
                Some(Outcome::Spared) => summary.spared += 1,
                Some(Outcome::Failed) => summary.failed += 1,
                None => {}
            }
        }
        summary
    }

    /// The exit status of a run that was carried out: 0 when nothing selected is left
    /// stuck (aborted, gone, or spared because it came back to life), 1 when some failed.
    pub fn exit_code(&self) -> i32 {
        if self.failed > 0 {
            1
        } else {
            0
        }
    }
}

/// The plan: the connections of a finished report that `abort` destroys.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub planned: Vec<Planned>,
    /// Connections of the selected problem kinds left alone because their idle time is
    /// unknown (no tcp_info) or below `min_idle`.
    pub left_alone: usize,
}

/// Which connections of `report` to abort: those of problem findings (hung call, CLOSE-WAIT,
/// stalled send, pending connect) of `kinds` (every problem kind when empty), idle at least
/// `min_idle`. A pending connect has no idle time (nothing ever moved): the scan's own test
/// (a SYN retransmitted, no answer) selects it. The report's filters (remote, port, pid,
/// process, namespaces) were applied by the analysis; active connections, idle pools and
/// listeners are never selected.
pub fn select(report: &Report, kinds: &[Kind], min_idle: Duration) -> Selected {
    let min_idle = min_idle.as_secs_f64();
    let mut selected = Selected::default();
    for c in &report.connections {
        if !c.kind.is_problem() || !(kinds.is_empty() || kinds.contains(&c.kind)) {
            continue;
        }
        let idle_enough = match c.idle_secs {
            Some(idle) => idle >= min_idle,
            None => c.kind == Kind::SynSent,
        };
        if !idle_enough {
            selected.left_alone += 1;
            continue;
        }
        let mut pids: Vec<u32> = c.owners.iter().map(|o| o.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        selected.planned.push(Planned {
            netns: c.netns.clone(),
            local: c.local,
            remote: c.remote,
            cookie: c.cookie,
            pids,
            process: c.process.clone(),
            kind: c.kind,
            idle_secs: c.idle_secs,
            result: None,
            error: None,
            state: c.state,
            bytes_received: c.bytes_received,
            direction: c.direction,
        });
    }
    selected
}

/// Just before the abort, from a fresh reading of the namespace's sockets: `Gone` when the
/// cookie is no longer there, `Spared` when the connection changed state or received data
/// since the plan (its peer answered: it is not stuck any more), `None` to go ahead.
pub fn before(planned: &Planned, now: Option<&Connection>) -> Option<(Outcome, Option<String>)> {
    let Some(now) = now else {
        return Some((Outcome::Gone, None));
    };
    if now.state != planned.state {
        return Some((
            Outcome::Spared,
            Some(format!(
                "left alone: it went from {} to {} since the plan",
                planned.state.label(),
                now.state.label()
            )),
        ));
    }
    let received = now.tcp_info.as_ref().and_then(|i| i.bytes_received);
    match (planned.bytes_received, received) {
        (Some(then), Some(now)) if now != then => Some((
            Outcome::Spared,
            Some(format!(
                "left alone: it received {} bytes since the plan",
                now.saturating_sub(then)
            )),
        )),
        _ => None,
    }
}

/// How one connection ended, from the kernel's answer to its destroy request (`None`: the
/// request was not sent, `why_not` says why) and a reading of the namespace's sockets
/// afterwards (`still_open`: its cookie is still listed; `None` when that reading failed:
/// then the kernel's answer stands).
pub fn settle(
    answer: Option<&std::io::Result<()>>,
    still_open: Option<bool>,
    why_not: &str,
) -> (Outcome, Option<String>) {
    let still = still_open == Some(true);
    let gone = still_open == Some(false);
    match answer {
        None if gone => (Outcome::Gone, None),
        None => (Outcome::Failed, Some(format!("not tried: {why_not}"))),
        Some(Ok(())) if still => (
            Outcome::Failed,
            Some("the kernel acknowledged the abort, but the socket is still open".to_string()),
        ),
        Some(Ok(())) => (Outcome::Aborted, None),
        // The kernel found no socket with this 4-tuple and cookie.
        Some(Err(err)) if err.raw_os_error() == Some(libc::ENOENT) && still => (
            Outcome::Failed,
            Some(
                "the kernel found no socket with this address and cookie, yet it is still open"
                    .to_string(),
            ),
        ),
        Some(Err(err)) if err.raw_os_error() == Some(libc::ENOENT) => (Outcome::Gone, None),
        // Refused, but not there any more: it closed by itself.
        Some(Err(_)) if gone => (Outcome::Gone, None),
        Some(Err(err)) => (Outcome::Failed, Some(explain(err))),
    }
}

/// A destroy request's error, for people: what it means and what would help.
pub fn explain(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "{err}: aborting a connection needs CAP_NET_ADMIN in its network namespace (run as \
             root)"
        ),
        Some(libc::EOPNOTSUPP) => format!(
            "{err}: this kernel was built without CONFIG_INET_DIAG_DESTROY, so no connection \
             can be destroyed from outside its process (`ss -K` fails the same way)"
        ),
        _ => format!("{err}"),
    }
}

/// Whether an error means no request of this run can succeed (the kernel lacks the
/// feature): the rest are not sent.
pub fn hopeless(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// The `ss -K` command that would destroy the same connection (and fail the same way where
/// `abort` cannot): for the explanation of EOPNOTSUPP.
pub fn ss_equivalent(p: &Planned) -> String {
    format!("ss -K -tn src {} dst {}", p.local, p.remote)
}

/// Who ran the command, for the system log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub uid: u32,
    pub user: Option<String>,
    /// The audit login uid (who logged in, whatever sudo or su did since), when set.
    pub login_uid: Option<u32>,
    pub login_user: Option<String>,
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let named = |uid: u32, name: &Option<String>| match name {
            Some(name) => format!("{uid}({name})"),
            None => uid.to_string(),
        };
        write!(f, "uid={}", named(self.uid, &self.user))?;
        if let Some(login) = self.login_uid.filter(|&l| l != self.uid) {
            write!(f, " loginuid={}", named(login, &self.login_user))?;
        }
        Ok(())
    }
}

/// What a run did, in the system log's words.
pub fn log_message(who: &Who, selection: &Selection, report: &AbortReport, done: &str) -> String {
    let s = &report.summary;
    let text = format!(
        "abort by {who}: {}: {done}: {} selected, {} aborted, {} gone, {} spared, {} failed",
        selection.flags(),
        s.selected,
        s.aborted,
        s.gone,
        s.spared,
        s.failed
    );
    // One line, terminal-safe, of a length every syslog daemon keeps whole.
    let mut line: String = crate::text::sanitize(&text)
        .chars()
        .filter(|c| *c != '\n')
        .collect();
    if line.len() > 900 {
        let mut end = 900;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    line
}

/// A syslog datagram for the local socket (/dev/log), RFC 3164 as glibc's syslog(3) writes
/// it: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE` (no host name: the daemon adds it).
/// Facility user (1), severity notice (5).
pub fn syslog_line(time: &jiff::Zoned, pid: u32, message: &str) -> String {
    const PRI: u8 = 8 + 5;
    format!(
        "<{PRI}>{} stuckconn[{pid}]: {message}",
        time.strftime("%b %e %H:%M:%S")
    )
}

/// `hung calls idle ≥ 1m`: what the plan covers, for its header.
pub fn covers(selection: &Selection) -> String {
    let kinds = if selection.kinds.is_empty() {
        "hung calls, CLOSE-WAIT, stalled sends and pending connects".to_string()
    } else {
        selection
            .kinds
            .iter()
            .map(|k| match k {
                Kind::HungCall => "hung calls",
                Kind::CloseWait => "CLOSE-WAIT",
                Kind::StalledSend => "stalled sends",
                Kind::SynSent => "pending connects",
                other => other.label(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{kinds} idle ≥ {}", human_duration(selection.min_idle_secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{AnalysisOptions, Filter};
    use crate::snapshot::TcpInfo;
    use std::path::Path;

    fn report(filter: Filter) -> Report {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mixed.json"));
        let snapshot = crate::collect::load(path, crate::collect::SNAPSHOT_LIMIT).unwrap();
        let options = AnalysisOptions {
            min_idle: Duration::from_secs(60),
            all: false,
            filter,
        };
        crate::analyze::analyze(&snapshot, &options, "test", Timestamp::UNIX_EPOCH)
    }

    fn kinds_of(selected: &Selected) -> Vec<(Kind, u16)> {
        selected
            .planned
            .iter()
            .map(|p| (p.kind, p.remote.port))
            .collect()
    }

    #[test]
    fn every_problem_connection_and_nothing_else() {
        let report = report(Filter::default());
        let all = select(&report, &[], Duration::from_secs(60));
        let mut kinds = kinds_of(&all);
        kinds.sort();
        assert_eq!(
            kinds,
            vec![
                (Kind::HungCall, 443),
                (Kind::StalledSend, 873),
                (Kind::CloseWait, 81),
                (Kind::CloseWait, 81),
                (Kind::CloseWait, 81),
                (Kind::CloseWait, 81),
                (Kind::CloseWait, 81),
                (Kind::SynSent, 5432),
            ],
            "the idle pool to :6379 is never selected"
        );
        assert_eq!(all.left_alone, 0);
        let cw = all
            .planned
            .iter()
            .find(|p| p.kind == Kind::CloseWait)
            .unwrap();
        assert_eq!(cw.pids, vec![4000]);
        assert!(cw.cookie.is_some());
        assert!(all
            .planned
            .iter()
            .all(|p| p.result.is_none() && p.error.is_none()));
    }

    #[test]
    fn kinds_narrow_it_and_the_report_filters_stand() {
        let report = report(Filter::default());
        let cw = select(&report, &[Kind::CloseWait], Duration::from_secs(60));
        assert_eq!(cw.planned.len(), 5);
        assert!(cw.planned.iter().all(|p| p.kind == Kind::CloseWait));
        let two = select(
            &report,
            &[Kind::SynSent, Kind::StalledSend],
            Duration::from_secs(60),
        );
        assert_eq!(two.planned.len(), 2);

        let by_pid = report_with_pid(4200);
        let planned = select(&by_pid, &[], Duration::from_secs(60));
        // pid 4200 holds a pending connect and an idle pool: only the connect.
        assert_eq!(kinds_of(&planned), vec![(Kind::SynSent, 5432)]);
    }

    fn report_with_pid(pid: u32) -> Report {
        report(Filter {
            pids: vec![pid],
            ..Filter::default()
        })
    }

    #[test]
    fn a_longer_min_idle_leaves_the_younger_alone() {
        // The close waits are idle about 20 minutes, the hung call 6m 40s, the stalled
        // send 2m 1s: at 10 minutes only the close waits (and the connect, which has no
        // idle time) remain.
        let report = report(Filter::default());
        let planned = select(&report, &[], Duration::from_secs(600));
        let mut kinds: Vec<Kind> = planned.planned.iter().map(|p| p.kind).collect();
        kinds.dedup();
        assert_eq!(kinds, vec![Kind::CloseWait, Kind::SynSent]);
        assert_eq!(planned.left_alone, 2);
    }

    #[test]
    fn an_empty_selection_is_refused_netns_and_min_idle_do_not_count() {
        let mut selection = Selection {
            netns: vec!["web".into()],
            min_idle_secs: 5.0,
            ..Selection::default()
        };
        assert!(selection.is_empty());
        selection.kinds.push(Kind::HungCall);
        assert!(!selection.is_empty());
        assert_eq!(
            selection.flags(),
            "--kind hung_call --netns web --min-idle 5s"
        );
    }

    fn planned() -> Planned {
        let report = report(Filter::default());
        select(&report, &[Kind::HungCall], Duration::from_secs(60))
            .planned
            .remove(0)
    }

    fn now(state: TcpState, received: Option<u64>) -> Connection {
        Connection {
            state,
            tcp_info: Some(TcpInfo {
                bytes_received: received,
                ..TcpInfo::default()
            }),
            ..Connection::example()
        }
    }

    #[test]
    fn a_connection_that_came_back_to_life_is_spared() {
        let mut p = planned();
        assert_eq!(p.state, TcpState::Established);
        p.bytes_received = Some(0);
        let then = p.bytes_received;
        assert_eq!(before(&p, None), Some((Outcome::Gone, None)));
        assert_eq!(before(&p, Some(&now(TcpState::Established, then))), None);
        let (outcome, why) = before(&p, Some(&now(TcpState::Established, Some(500)))).unwrap();
        assert_eq!(outcome, Outcome::Spared);
        assert!(why.unwrap().contains("received"));
        let (outcome, why) = before(&p, Some(&now(TcpState::CloseWait, then))).unwrap();
        assert_eq!(outcome, Outcome::Spared);
        assert!(why.unwrap().contains("ESTABLISHED to CLOSE-WAIT"));
        // What the kernel does not say cannot spare it.
        assert_eq!(before(&p, Some(&now(TcpState::Established, None))), None);
    }

    fn errno(code: i32) -> std::io::Result<()> {
        Err(std::io::Error::from_raw_os_error(code))
    }

    #[test]
    fn each_outcome_from_the_kernel_and_the_second_reading() {
        let ok = Ok(());
        let outcome = |answer, still_open| settle(answer, still_open, "--timeout reached").0;
        assert_eq!(outcome(Some(&ok), Some(false)), Outcome::Aborted);
        assert_eq!(
            outcome(Some(&ok), None),
            Outcome::Aborted,
            "no second reading: the kernel's ack stands"
        );
        assert_eq!(outcome(Some(&ok), Some(true)), Outcome::Failed);
        let enoent = errno(libc::ENOENT);
        assert_eq!(outcome(Some(&enoent), Some(false)), Outcome::Gone);
        assert_eq!(outcome(Some(&enoent), None), Outcome::Gone);
        assert_eq!(
            outcome(Some(&enoent), Some(true)),
            Outcome::Failed,
            "the cookie did not match but the socket is there: never call that gone"
        );
        let eperm = errno(libc::EPERM);
        let (o, why) = settle(Some(&eperm), Some(true), "");
        assert_eq!(o, Outcome::Failed);
        assert!(why.unwrap().contains("CAP_NET_ADMIN"));
        let (o, why) = settle(Some(&errno(libc::EOPNOTSUPP)), Some(true), "");
        assert_eq!(o, Outcome::Failed);
        let why = why.unwrap();
        assert!(why.contains("CONFIG_INET_DIAG_DESTROY") && why.contains("ss -K"));
        let (o, why) = settle(None, Some(true), "--timeout reached");
        assert_eq!(o, Outcome::Failed);
        assert_eq!(why.unwrap(), "not tried: --timeout reached");
        assert_eq!(outcome(None, Some(false)), Outcome::Gone);
        assert!(hopeless(&std::io::Error::from_raw_os_error(
            libc::EOPNOTSUPP
        )));
        assert!(!hopeless(&std::io::Error::from_raw_os_error(libc::EPERM)));
    }

    #[test]
    fn exit_status_zero_only_when_nothing_failed() {
        let mut p = vec![planned(), planned(), planned()];
        p[0].result = Some(Outcome::Aborted);
        p[1].result = Some(Outcome::Gone);
        p[2].result = Some(Outcome::Spared);
        let s = Summary::of(&p);
        assert_eq!(
            (s.selected, s.aborted, s.gone, s.spared, s.failed),
            (3, 1, 1, 1, 0)
        );
        assert_eq!(s.exit_code(), 0);
        p[2].result = Some(Outcome::Failed);
        assert_eq!(Summary::of(&p).exit_code(), 1);
        assert_eq!(Summary::of(&[]).exit_code(), 0);
    }

    #[test]
    fn the_syslog_line_is_rfc3164_with_who_what_and_how_many() {
        let time: jiff::Zoned = "2024-03-05T03:07:09+00:00[UTC]".parse().unwrap();
        let who = Who {
            uid: 0,
            user: Some("root".into()),
            login_uid: Some(1000),
            login_user: Some("alice".into()),
        };
        let selection = Selection {
            remotes: vec!["192.0.2.7/32".into()],
            kinds: vec![Kind::HungCall],
            min_idle_secs: 60.0,
            ..Selection::default()
        };
        let mut p = planned();
        p.result = Some(Outcome::Aborted);
        let report = AbortReport {
            schema_version: SCHEMA_VERSION,
            generated_at: Timestamp::UNIX_EPOCH,
            dry_run: false,
            partial: false,
            selection: selection.clone(),
            summary: Summary::of(&[p]),
            connections: Vec::new(),
        };
        let message = log_message(&who, &selection, &report, "carried out");
        assert_eq!(
            syslog_line(&time, 4242, &message),
            "<13>Mar  5 03:07:09 stuckconn[4242]: abort by uid=0(root) loginuid=1000(alice): \
             --remote 192.0.2.7/32 --kind hung_call --min-idle 60s: carried out: 1 selected, \
             1 aborted, 0 gone, 0 spared, 0 failed"
        );
        // The same uid is not repeated; hostile text stays on one line.
        let who = Who {
            uid: 0,
            user: None,
            login_uid: Some(0),
            login_user: None,
        };
        let selection = Selection {
            processes: vec!["evil\nname\x1b[2J".into()],
            ..Selection::default()
        };
        let line = log_message(&who, &selection, &report, "dry run");
        assert!(line.starts_with("abort by uid=0: --process evil"), "{line}");
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line}");
        let long = Selection {
            processes: vec!["x".repeat(5000)],
            ..Selection::default()
        };
        assert!(log_message(&who, &long, &report, "dry run").len() <= 903);
    }
}

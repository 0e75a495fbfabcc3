//! The plan, the outcomes and the log line on the recorded fixture `mixed.json`.

use super::*;
use crate::analyze::{AnalysisOptions, Filter};
use crate::report::{Kind, Report};
use crate::snapshot::{Connection, Netns, TcpInfo, TcpState};
use jiff::Timestamp;
use std::path::Path;
use std::time::Duration;

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
    let mut c = Connection::example();
    c.state = state;
    c.set_tcp_info(Some(TcpInfo {
        bytes_received: received,
        ..TcpInfo::default()
    }));
    c
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

#[test]
fn each_result_from_the_reading_before_the_answers_and_the_reading_after() {
    let mut plan = vec![planned(), planned(), planned(), planned()];
    let cookies = [None, Some(1), Some(2), Some(3)];
    for (p, cookie) in plan.iter_mut().zip(cookies) {
        p.cookie = cookie;
    }
    // Cookie 1 is not listed any more; 2 and 3 are, unchanged.
    let listed = |cookie| {
        let mut c = now(TcpState::Established, None);
        c.set_cookie(Some(cookie));
        c
    };
    let t = triage(&plan, &[0, 1, 2, 3], &[listed(2), listed(3)]);
    assert_eq!(t.go, vec![(2, 2), (3, 3)]);
    let done = Done {
        decided: t.decided,
        sent: vec![(2, Some(Ok(()))), (3, Some(errno(libc::EOPNOTSUPP)))],
        after: Some([3].into()),
    };
    let mut carried = Carried::default();
    carried.record(&mut plan, done, "--timeout reached");
    let results: Vec<Option<Outcome>> = plan.iter().map(|p| p.result).collect();
    use Outcome::*;
    assert_eq!(
        results,
        [Some(Failed), Some(Gone), Some(Aborted), Some(Failed)]
    );
    assert!(plan[0]
        .error
        .as_deref()
        .unwrap()
        .contains("no socket cookie"));
    let systemic = carried.systemic.unwrap();
    assert!(systemic.contains("CONFIG_INET_DIAG_DESTROY"), "{systemic}");
    assert!(systemic.contains(&ss_equivalent(&plan[3])), "{systemic}");
    assert!(carried.warnings.is_empty());

    // No second reading: the kernel's answers stand, and the run says so once.
    let mut carried = Carried::default();
    let done = Done {
        decided: Vec::new(),
        sent: vec![(2, Some(Ok(())))],
        after: None,
    };
    carried.record(&mut plan, done, "");
    assert_eq!(plan[2].result, Some(Aborted));
    assert_eq!(carried.warnings.len(), 1);
    assert_eq!(carried.systemic, None);

    // A namespace that could not be entered fails all of its connections.
    namespace_failed(&mut plan, &[1, 2], &std::io::Error::other("gone"));
    assert_eq!(plan[1].result, Some(Failed));
    assert_eq!(
        plan[2].error.as_deref(),
        Some("its network namespace could not be entered or read: gone")
    );
}

#[test]
fn the_plan_is_carried_out_namespace_by_namespace() {
    let netns = |inode, own| {
        Some(Netns {
            inode,
            own,
            ..Netns::default()
        })
    };
    let mut plan = vec![planned(), planned(), planned(), planned()];
    plan[0].netns = netns(9, false);
    plan[1].netns = None;
    plan[2].netns = netns(5, true);
    plan[3].netns = netns(9, false);
    let groups: Vec<(Option<u64>, Vec<usize>)> = by_namespace(&plan).into_iter().collect();
    assert_eq!(
        groups,
        vec![(None, vec![1, 2]), (Some(9), vec![0, 3])],
        "stuckconn's own namespace is entered by no file"
    );
}

#[test]
fn who_from_the_login_uid_and_passwd_lines() {
    let passwd =
        "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    let names = super::syslog::parse_passwd(passwd);
    assert_eq!(names.get(&0).map(String::as_str), Some("root"));
    assert_eq!(names.get(&1000).map(String::as_str), Some("alice"));
    assert_eq!(names.len(), 2);
    let who = Who::new(0, Some("1000\n"), passwd);
    assert_eq!(who.to_string(), "uid=0(root) loginuid=1000(alice)");
    // Unset (4294967295) or unreadable: no login uid.
    assert_eq!(Who::new(0, Some("4294967295"), passwd).login_uid, None);
    assert_eq!(Who::new(7, None, "").to_string(), "uid=7");
}

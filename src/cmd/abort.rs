//! `abort`: scan as `scan` does, select the stuck connections of the problem findings the
//! flags name, show the plan, and (confirmed on a terminal, or with `--yes`) destroy each
//! one by its 4-tuple and socket cookie; then read the sockets again and say what became of
//! each. One line per run goes to the system log.

use super::*;
use crate::abort::{self as plan, AbortReport, Carried, Done, Planned, Selection, Summary, Who};
use crate::cli::{AbortArgs, Format};
use crate::collect::destroy::{self, SocketRef};
use crate::collect::{caps, sockdiag};
use std::ops::ControlFlow;

/// Where the system log listens (syslog, journald).
const DEV_LOG: &str = "/dev/log";

pub(crate) fn run(args: &AbortArgs) -> Result<i32, Error> {
    let selection = selection(args);
    refuse(args, &selection)?;
    let mut report = scan_and_plan(args, selection)?;
    let style = style(args.color);
    let n = report.connections.len();
    if n == 0 || args.dry_run {
        print(args, &report, render::abort::plan(&report, style))?;
        log(
            &report,
            if n == 0 {
                "nothing selected"
            } else {
                "dry run"
            },
        );
        return Ok(0);
    }
    if let ControlFlow::Break(status) = confirmed(args, &report, style)? {
        return Ok(status);
    }
    if let Some(signal) = deadline::interrupted_by() {
        messages::note(&format!("interrupted by {signal}: nothing was aborted"));
        log(&report, "interrupted");
        return Ok(ExitCode::Error.code());
    }
    let carried = carry_out(
        &mut report.connections,
        Deadline::after(args.filter.scope.timeout),
    );
    report.summary = Summary::of(&report.connections);
    results(args, &report, style, carried)
}

/// What abort refuses before it looks at anything: no selection, a setuid or setcap'd
/// binary, no CAP_NET_ADMIN (unless only the plan is asked for).
fn refuse(args: &AbortArgs, selection: &Selection) -> Result<(), Error> {
    if selection.is_empty() {
        return Err(Error::Usage(
            "abort needs a selection: at least one of --remote, --port, --pid, --process or \
             --kind (see the plan first with --dry-run)"
                .to_string(),
        ));
    }
    if caps::secure_exec() {
        return Err(Error::Usage(
            "abort does not run setuid or with file capabilities: run it as root".to_string(),
        ));
    }
    if !args.dry_run && !caps::has(destroy::NET_ADMIN) {
        return Err(Error::Usage(
            "aborting connections needs CAP_NET_ADMIN, which this process does not have: run \
             as root (nothing was changed; --dry-run shows the plan without it)"
                .to_string(),
        ));
    }
    Ok(())
}

/// Scans as `scan` does and plans: the selected connections, no result yet.
fn scan_and_plan(args: &AbortArgs, selection: Selection) -> Result<AbortReport, Error> {
    let deadline = Deadline::after(args.filter.scope.timeout);
    let snapshot = collect::live(&collect_options(
        args.filter.min_idle,
        &args.filter.scope,
        deadline,
    ))?;
    let scan = crate::analyze::analyze(
        &snapshot,
        &analysis_options(&args.filter, false),
        "live",
        crate::report::now_seconds(),
    );
    warn_all(&scan.warnings);
    let selected = plan::select(&scan, &args.kind, args.filter.min_idle);
    if selected.left_alone > 0 {
        messages::note(&format!(
            "{} of the selected kinds left alone: idle less than {} or for an unknown time",
            crate::text::count(selected.left_alone, "connection", "connections"),
            crate::report::human_duration(args.filter.min_idle.as_secs_f64())
        ));
    }
    Ok(AbortReport {
        schema_version: plan::SCHEMA_VERSION,
        generated_at: crate::report::now_seconds(),
        dry_run: args.dry_run,
        partial: scan.partial,
        summary: Summary::of(&selected.planned),
        connections: selected.planned,
        selection,
    })
}

/// Shows the plan and has it confirmed: `--yes`, or an answer on the terminal. `Break`:
/// nothing is to be done, and the command ends with that status.
fn confirmed(
    args: &AbortArgs,
    report: &AbortReport,
    style: Style,
) -> Result<ControlFlow<i32>, Error> {
    let json = args.format == Format::Json;
    let stop = ControlFlow::Break(ExitCode::Error.code());
    if args.yes {
        if !json && !emit(render::abort::plan(report, style).as_bytes())? {
            return Ok(stop);
        }
        return Ok(ControlFlow::Continue(()));
    }
    let n = report.connections.len();
    if !std::io::stdin().is_terminal() {
        print(args, report, render::abort::plan(report, style))?;
        messages::error(&format!(
            "not confirmed: standard input is not a terminal; add --yes to abort {} \
             (nothing was changed)",
            these(n)
        ));
        log(report, "not confirmed (no terminal, no --yes)");
        return Ok(stop);
    }
    // The plan where the person answering reads it: standard output for the table,
    // standard error when standard output carries the JSON.
    let shown = render::abort::plan(report, style);
    if json {
        eprint!("{shown}");
    } else if !emit(shown.as_bytes())? {
        return Ok(stop);
    }
    let why = match confirm(n, Deadline::after(args.filter.scope.timeout)) {
        Answer::Yes => return Ok(ControlFlow::Continue(())),
        Answer::Silent(why) => why,
        Answer::No => "not confirmed".to_string(),
    };
    messages::note(&format!("{why}: nothing was aborted"));
    log(report, "not confirmed");
    if json {
        print(args, report, String::new())?;
    }
    Ok(stop)
}

/// After the abort: the results (or the whole run, as JSON), the warnings, the log line,
/// and the exit status.
fn results(
    args: &AbortArgs,
    report: &AbortReport,
    style: Style,
    carried: Carried,
) -> Result<i32, Error> {
    if args.format == Format::Json {
        print(args, report, String::new())?;
    } else {
        emit(b"\n")?;
        emit(render::abort::results(report, style).as_bytes())?;
    }
    for warning in &carried.warnings {
        messages::warning(warning);
    }
    log(report, "carried out");
    match carried.systemic {
        Some(reason) if report.summary.aborted == 0 => {
            messages::error(&reason);
            Ok(ExitCode::Error.code())
        }
        _ => Ok(report.summary.exit_code()),
    }
}

/// The selection as the flags gave it.
fn selection(args: &AbortArgs) -> Selection {
    let f = &args.filter;
    let mut kinds = args.kind.clone();
    kinds.sort();
    kinds.dedup();
    Selection {
        remotes: f.remote.iter().map(|n| n.to_string()).collect(),
        ports: f.port.clone(),
        pids: f.pid.clone(),
        processes: f.process.clone(),
        netns: f.scope.netns.iter().map(|c| c.to_string()).collect(),
        kinds,
        min_idle_secs: f.min_idle.as_secs_f64(),
    }
}

/// Writes the plan (table) or the whole run (JSON) to standard output.
fn print(args: &AbortArgs, report: &AbortReport, table: String) -> Result<(), Error> {
    write_report(Output::stdout(), |w: &mut dyn Write| match args.format {
        Format::Json => render::abort::json(report, w),
        _ => w.write_all(table.as_bytes()),
    })
}

/// `this connection`, `these 3 connections`.
fn these(n: usize) -> String {
    if n == 1 {
        "this connection".to_string()
    } else {
        format!("these {n} connections")
    }
}

enum Answer {
    Yes,
    No,
    /// No answer in time, or a signal: why.
    Silent(String),
}

/// Asks on the terminal (standard input is one) and reads one line, until `deadline`.
fn confirm(n: usize, deadline: Deadline) -> Answer {
    use rustix::event::{poll, PollFd, PollFlags};
    let stdin = std::io::stdin();
    // What was typed or pasted before the plan was shown does not answer it.
    let _ = rustix::termios::tcflush(&stdin, rustix::termios::QueueSelector::IFlush);
    {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "Abort {}? [y/N] ", these(n));
        let _ = stderr.flush();
    }
    loop {
        if deadline.passed() {
            eprintln!();
            return Answer::Silent(match deadline::interrupted_by() {
                Some(signal) => format!("interrupted by {signal}"),
                None => "no answer within --timeout".to_string(),
            });
        }
        let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
        let wait = deadline.left().min(deadline::TICK);
        let timeout = rustix::event::Timespec::try_from(wait).ok();
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) => continue,
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return Answer::No,
        }
    }
    // A terminal in canonical mode hands over a whole line at once.
    let mut line = [0u8; 256];
    let read = rustix::io::read(&stdin, &mut line).unwrap_or(0);
    let answer = String::from_utf8_lossy(&line[..read])
        .trim()
        .to_ascii_lowercase();
    if answer == "y" || answer == "yes" {
        Answer::Yes
    } else {
        Answer::No
    }
}

/// Destroys the planned connections, namespace by namespace, and fills in each result.
fn carry_out(planned: &mut [Planned], deadline: Deadline) -> Carried {
    let mut carried = Carried::default();
    for (inode, indices) in plan::by_namespace(planned) {
        let done = match namespace_file(inode) {
            Ok(file) => destroy::in_namespace(file.as_deref(), || {
                in_one_namespace(planned, &indices, &deadline)
            }),
            Err(err) => Err(std::io::Error::other(err)),
        };
        match done {
            Ok(done) => carried.record(planned, done, &deadline.reason()),
            Err(err) => plan::namespace_failed(planned, &indices, &err),
        }
    }
    carried
}

/// The namespace file to enter for `inode` (None: stuckconn's own, no file).
fn namespace_file(inode: Option<u64>) -> Result<Option<std::sync::Arc<std::fs::File>>, String> {
    let Some(inode) = inode else {
        return Ok(None);
    };
    let mut warnings = Vec::new();
    let targets = netns::targets(
        &netns::Selection::Chosen(vec![netns::Choice::Inode(inode)]),
        &mut warnings,
    )?;
    Ok(targets.into_iter().next().and_then(|t| t.file))
}

/// In the namespace (on its thread): read the sockets, leave alone what is gone or came
/// back to life, destroy the rest, read the sockets again.
fn in_one_namespace(
    planned: &[Planned],
    indices: &[usize],
    deadline: &Deadline,
) -> std::io::Result<Done> {
    let now = sockdiag::dump_here()?;
    let triage = plan::triage(planned, indices, &now.connections);
    let sockets: Vec<SocketRef> = triage
        .go
        .iter()
        .map(|&(i, cookie)| SocketRef {
            local: planned[i].local,
            remote: planned[i].remote,
            cookie,
        })
        .collect();
    let (answers, after) = if sockets.is_empty() {
        (Vec::new(), None)
    } else {
        let answers = destroy::destroy_here(&sockets, deadline)?;
        let after = sockdiag::dump_here()
            .ok()
            .map(|d| d.connections.iter().filter_map(|c| c.cookie()).collect());
        (answers, after)
    };
    Ok(Done {
        decided: triage.decided,
        sent: triage.go.iter().map(|(i, _)| *i).zip(answers).collect(),
        after,
    })
}

/// One line in the system log: who, what selection, what was done. A missing or full
/// /dev/log is ignored: the log never stops the command.
fn log(report: &AbortReport, done: &str) {
    let message = plan::log_message(&who(), &report.selection, report, done);
    let time = jiff::Zoned::now();
    let line = plan::syslog_line(&time, std::process::id(), &message);
    let _ = send_log(std::path::Path::new(DEV_LOG), &line);
}

/// Sends one datagram to a syslog socket, without ever blocking.
fn send_log(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    let socket = std::os::unix::net::UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    socket.send_to(line.as_bytes(), path)?;
    Ok(())
}

/// Who runs the command: the real uid and the audit login uid, with their names from
/// /etc/passwd (bounded: at most 1 MiB read).
fn who() -> Who {
    let loginuid = std::fs::read_to_string("/proc/self/loginuid").ok();
    let passwd = crate::collect::regular::open(std::path::Path::new("/etc/passwd"))
        .and_then(|file| crate::procfile::text_of(file, 1 << 20))
        .unwrap_or_default();
    Who::new(
        rustix::process::getuid().as_raw(),
        loginuid.as_deref(),
        &passwd,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// /etc/passwd with one name in Latin-1: the others are still found. (It was read as a
    /// string or not at all: no name was found.)
    #[test]
    fn a_passwd_with_a_name_not_in_utf8_still_names_the_others() {
        let passwd = b"root:x:0:0:root:/root:/bin/bash\njos\xe9:x:1000:1000:Jos\xe9:/home/j:/bin/sh\nops:x:1001:1001::/home/ops:/bin/sh\n";
        let read = |cap| crate::procfile::text_of(&passwd[..], cap).unwrap();
        let text = read(1 << 20);
        let who = Who::new(1001, Some("1000"), &text);
        assert_eq!(who.user.as_deref(), Some("ops"), "{who:?}");
        assert_eq!(who.login_user.as_deref(), Some("jos\u{fffd}"), "{who:?}");
        assert_eq!(read(5), "root:");
    }

    #[test]
    fn the_log_line_reaches_a_syslog_socket_as_one_datagram() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let daemon = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        send_log(&path, "<13>Mar  5 03:07:09 stuckconn[1]: abort by uid=0").unwrap();
        let mut buf = [0u8; 512];
        daemon
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let n = daemon.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"<13>Mar  5 03:07:09 stuckconn[1]: abort by uid=0"
        );
        // Nobody listening: an error to ignore, never a hang.
        drop(daemon);
        assert!(send_log(&path, "x").is_err());
        assert!(send_log(&dir.path().join("none"), "x").is_err());
    }
}

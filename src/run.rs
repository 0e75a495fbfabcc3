//! The commands: collect (or load) a snapshot, analyse it, render it, write it.

use crate::analyze::track::Tracker;
use crate::analyze::{self, Filter};
use crate::capture::{self, live, live::CaptureError};
use crate::cli::{
    CheckArgs, Cli, ColorChoice, Command, DnsArgs, FilterArgs, Format, RecordArgs, ScanArgs,
    WatchArgs, WatchFormat, WireArgs,
};
use crate::collect;
use crate::deadline::{self, Deadline};
use crate::error::{Error, EXIT_FINDINGS, EXIT_OK, EXIT_PARTIAL};
use crate::messages;
use crate::output::{self, Output};
use crate::render::{self, sanitize, Style};
use crate::report::{Kind, Report, WireRun};
use crate::resolve::{DnsStatus, Names, Resolver};
use crate::snapshot::{Endpoint, Snapshot, TcpInfo};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

/// Runs the command the user asked for and returns its exit status.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        None => scan(&cli.scan),
        Some(Command::Scan(args)) => scan(&args),
        Some(Command::Record(args)) => record(&args),
        Some(Command::Watch(args)) => watch(&args),
        Some(Command::Check(args)) => Ok(check(&args)),
    }
}

/// A bad command line: one error line on standard error and exit 2; for `check`, a plugin's
/// UNKNOWN (3) status line on standard output, as monitoring expects. `--help` and
/// `--version` are printed as clap prints them.
pub fn exit_on_usage_error(err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit()
    }
    // clap's message up to its first blank line ("error: ...", the arguments it names),
    // and its tip ("a similar argument exists"), on one line.
    let text = err.render().to_string();
    let message = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let message = message.trim_start_matches("error: ");
    if std::env::args().nth(1).as_deref() == Some("check") {
        let _ = emit(render::nagios::unknown(message).as_bytes());
        std::process::exit(render::nagios::UNKNOWN);
    }
    let tip = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tip: "))
        .map(|t| format!("; {t}"))
        .unwrap_or_default();
    messages::error(&format!("{message}{tip} (see {} --help)", command_name()));
    std::process::exit(crate::error::EXIT_ERROR)
}

/// `stuckconn` or `stuckconn SUBCOMMAND`, as the user typed it: where `--help` is.
fn command_name() -> String {
    use clap::CommandFactory;
    let typed = std::env::args().nth(1).unwrap_or_default();
    match Cli::command().find_subcommand(&typed) {
        Some(sub) => format!("stuckconn {}", sub.get_name()),
        None => "stuckconn".to_string(),
    }
}

/// How `scan`, `watch` and `check` collect, from their shared flags.
fn filter_collect_options(filter: &FilterArgs, deadline: Deadline) -> collect::Options {
    collect_options(filter.min_idle, &filter.netns, filter.no_redact, deadline)
}

fn analyze_options(filter: &FilterArgs, all: bool) -> analyze::Options {
    analyze::Options {
        min_idle: filter.min_idle,
        all,
        filter: Filter {
            pids: filter.pid.clone(),
            process_names: filter.process.clone(),
            remotes: filter.remote.clone(),
            ports: filter.port.clone(),
        },
    }
}

fn status_of(report: &Report) -> i32 {
    if report.partial {
        EXIT_PARTIAL
    } else if report.summary.problems > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

fn collect_options(
    min_idle: std::time::Duration,
    netns: &[collect::netns::Choice],
    no_redact: bool,
    deadline: Deadline,
) -> collect::Options {
    collect::Options {
        thread_min_idle: min_idle,
        proc_net_only: std::env::var_os("STUCKCONN_PROC_NET").is_some_and(|v| v == "1"),
        netns: collect::netns::Selection::from_args(netns),
        redact: !no_redact,
        deadline,
    }
}

fn scan(args: &ScanArgs) -> Result<i32, Error> {
    let deadline = Deadline::after(args.filter.timeout);
    let wire = &args.wire;
    if args.from.is_some() && (wire.capture.is_some() || wire.confirm.is_some()) {
        return Err(Error::Usage(
            "--capture and --confirm watch the live host; they cannot be used with --from"
                .to_string(),
        ));
    }
    if wire.pcap_out.is_some() && wire.interface.len() > 1 {
        return Err(Error::Usage(
            "--pcap-out records one interface: give at most one --interface".to_string(),
        ));
    }
    if let Err(CaptureError::Usage(message)) = live::check_interfaces(&wire.interface) {
        return Err(Error::Usage(message));
    }
    // Opened before the scan: a path that cannot be written fails at once, not after it.
    let mode = match args.format {
        Format::Prometheus => output::PUBLIC,
        _ => output::PRIVATE,
    };
    let out = open_output(args.output.as_deref(), mode)?;
    let (snapshot, source) = match &args.from {
        Some(path) => {
            let mut snapshot = collect::load(path, args.snapshot_limit)?;
            collect::select_namespaces(&mut snapshot, &args.filter.netns)?;
            (snapshot, path.display().to_string())
        }
        None => (
            collect::live(&filter_collect_options(&args.filter, deadline))?,
            "live".to_string(),
        ),
    };
    let options = analyze_options(&args.filter, args.all);
    let mut resolver = None;
    let mut names = snapshot.names.clone();
    let mut report = analyze_and_name(
        &snapshot,
        &options,
        &source,
        &args.dns,
        &mut resolver,
        &mut names,
        deadline,
    );
    wire_checks(&mut report, &snapshot, wire, deadline)?;
    mark_interrupted(&mut report.partial, &mut report.warnings);
    let style = style(args.color);
    let render = |w: &mut dyn Write| -> std::io::Result<()> {
        match args.format {
            // Streamed: a report of 100,000 connections is never one string in memory.
            Format::Json => render::json::write(&report, w),
            Format::Table => w.write_all(render::table::render(&report, style).as_bytes()),
            Format::Prometheus => w.write_all(render::prometheus::render(&report).as_bytes()),
        }
    };
    write_report(out, render)?;
    if args.format == Format::Table || args.output.is_some() {
        warn_all(&report.warnings);
    }
    Ok(status_of(&report))
}

/// Analyses, names the remotes and clients of the findings (addresses in `names` are not
/// looked up again; new names are added to it), and analyses again with the names. The
/// resolver is made the first time an address needs a name, then kept in `resolver`.
fn analyze_and_name(
    snapshot: &Snapshot,
    options: &analyze::Options,
    source: &str,
    dns: &DnsArgs,
    resolver: &mut Option<Resolver>,
    names: &mut Names,
    deadline: Deadline,
) -> Report {
    let now = crate::report::now_seconds();
    let mut report = analyze::analyze(snapshot, options, source, now, names);
    let Some(dns_options) = dns.options() else {
        return report;
    };
    let known = names.len();
    let mut wanted: Vec<_> = report
        .named_addresses()
        .map(|(ip, _)| ip)
        .filter(|ip| !names.contains_key(ip))
        .collect();
    // Loopback and link-local addresses are named without a resolver (or its runtime).
    wanted.retain(|&ip| match crate::resolve::local_label(ip) {
        Some(name) => {
            names.insert(ip, name);
            false
        }
        None => true,
    });
    let mut timings = report.timings.clone();
    let mut warnings = Vec::new();
    let mut cut = false;
    if !wanted.is_empty() {
        let left = deadline.left();
        let resolver = resolver.get_or_insert_with(|| Resolver::new(dns_options.clone()));
        let outcome = resolver.resolve(wanted, &deadline);
        cut = (left < dns_options.deadline || deadline.passed())
            && outcome.names.values().any(|n| n.dns == DnsStatus::Timeout);
        names.extend(outcome.names);
        warnings = outcome.warnings;
        timings.dns_secs = outcome.secs;
    }
    if names.len() != known {
        report = analyze::analyze(snapshot, options, source, now, names);
    }
    if cut {
        report.partial = true;
        warnings.push(format!(
            "{} during reverse DNS: the report is partial",
            deadline.reason()
        ));
    }
    report.options.dns_timeout_secs = Some(dns_options.timeout.as_secs_f64());
    report.options.dns_servers = dns_options.servers.iter().map(|s| s.to_string()).collect();
    report.timings = timings;
    report.warnings.extend(warnings);
    report
}

/// `--capture` and `--confirm`: watch the flows behind problem findings for a while.
fn wire_checks(
    report: &mut Report,
    snapshot: &Snapshot,
    wire: &WireArgs,
    deadline: Deadline,
) -> Result<(), Error> {
    let asked = match (wire.capture, wire.confirm) {
        (None, None) => return Ok(()),
        (capture, confirm) => capture.max(confirm).unwrap_or_default(),
    };
    // Leave a moment for the second counter reading and the report.
    let left = deadline
        .left()
        .saturating_sub(std::time::Duration::from_millis(200));
    let window = asked.min(left);
    if window < asked {
        report.partial = true;
        report.warnings.push(format!(
            "{}: the wire was watched for {} instead of {}; the report is partial",
            deadline.reason(),
            humantime::format_duration(std::time::Duration::from_millis(window.as_millis() as u64)),
            humantime::format_duration(asked)
        ));
    }
    let mut run = WireRun {
        capture_secs: wire.capture.map(|d| d.as_secs_f64()),
        confirm_secs: Some(window.as_secs_f64()),
        interfaces: if wire.interface.is_empty() && wire.capture.is_some() {
            vec!["any".to_string()]
        } else {
            wire.interface.clone()
        },
        pcap_out: wire.pcap_out.as_ref().map(|p| p.display().to_string()),
        ..WireRun::default()
    };
    if let (Some(_), Some(reason)) = (wire.capture, live::missing_support()) {
        report.warnings.push(reason.to_string());
        run.capture_error = Some(reason.to_string());
    }
    let watched = capture::watched(report);
    let elsewhere = report
        .connections
        .iter()
        .filter(|c| c.kind.is_problem())
        .count()
        - watched.len();
    if elsewhere > 0 {
        report.warnings.push(format!(
            "{elsewhere} stuck connections in other network namespaces were not watched on the wire: \
             --capture and --confirm see only stuckconn's own namespace (run it there with --netns self)"
        ));
    }
    // A binary given CAP_NET_RAW with setcap (or setuid) must not become a sniffer for every
    // local user: such a run captures only the caller's own sockets (the counter proof needs
    // no privilege and still covers every flow).
    let mut captured: Vec<(Endpoint, Endpoint)> =
        watched.iter().map(|w| (w.local, w.remote)).collect();
    if wire.capture.is_some() && collect::caps::secure_exec() {
        let uid = rustix::process::getuid().as_raw();
        captured = watched
            .iter()
            .filter(|w| report.connections[w.index].uid == uid)
            .map(|w| (w.local, w.remote))
            .collect();
        if captured.len() < watched.len() {
            report.warnings.push(format!(
                "{} stuck connections of other users were not captured: this stuckconn runs \
                 with file capabilities or setuid, so it captures only the sockets of uid {uid} \
                 (run it as root to capture them all)",
                watched.len() - captured.len()
            ));
        }
    }
    if watched.is_empty() {
        report.wire = Some(run);
        return Ok(());
    }
    let started = Instant::now();
    let mut results = capture::Results::default();
    let capture_window = wire
        .capture
        .map(|d| d.min(window))
        .filter(|_| !captured.is_empty());
    if let (Some(duration), None) = (capture_window, &run.capture_error) {
        match live::run(
            &captured,
            duration,
            &wire.interface,
            wire.pcap_out.as_deref(),
        ) {
            Ok(outcome) => {
                report.warnings.extend(outcome.warnings);
                run.filter = Some(outcome.filter);
                run.packets_unmatched = outcome.table.unmatched;
                results.capture = Some((outcome.seconds, outcome.table.finish()));
            }
            Err(CaptureError::Usage(message)) => return Err(Error::Usage(message)),
            Err(CaptureError::Unavailable(message)) => {
                report.warnings.push(message.clone());
                run.capture_error = Some(message);
            }
        }
    }
    // The counter proof spans the whole window, from the collection to a second reading.
    if let Some(left) = window.checked_sub(started.elapsed()) {
        wait(left, &deadline);
    }
    let before: HashMap<u64, &TcpInfo> = snapshot
        .connections
        .iter()
        .filter_map(|c| Some((c.cookie?, c.tcp_info.as_ref()?)))
        .collect();
    match collect::recount() {
        Ok(after) => {
            let changes = watched
                .iter()
                .map(|w| {
                    let cookie = w.cookie?;
                    Some(capture::counter_change(
                        before.get(&cookie)?,
                        after.get(&cookie),
                    ))
                })
                .collect();
            let seconds = jiff::Timestamp::now()
                .duration_since(snapshot.taken_at)
                .as_secs_f64()
                .max(0.0);
            results.confirm = Some((seconds, changes));
        }
        Err(err) => {
            let message = format!("cannot re-read the counters with sock_diag: {err}");
            report.warnings.push(message.clone());
            run.confirm_error = Some(message);
        }
    }
    capture::apply(report, &watched, &results);
    report.wire = Some(run);
    Ok(())
}

/// A signal that arrived after the collection still cut something short (DNS, the wire
/// window): the report says so.
fn mark_interrupted(partial: &mut bool, warnings: &mut Vec<String>) {
    if let Some(signal) = deadline::interrupted_by() {
        if !*partial {
            *partial = true;
            warnings.push(format!("interrupted by {signal}: the report is partial"));
        }
    }
}

/// Sleeps, with a countdown on stderr when it is a terminal; a signal ends it early.
fn wait(duration: std::time::Duration, deadline: &Deadline) {
    let progress = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let until = Instant::now() + duration;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if deadline.passed() {
            break;
        }
        progress.set_message(format!(
            "confirming: {}s left",
            left.as_secs_f64().ceil() as u64
        ));
        progress.tick();
        deadline.sleep(left.min(std::time::Duration::from_millis(200)));
    }
    progress.finish_and_clear();
}

/// `watch`: one collection per interval; stuck connections followed by cookie; ends at
/// `--duration`, `--count`, Ctrl-C (SIGINT) or SIGTERM, with a summary and the exit status
/// of the last sample.
fn watch(args: &WatchArgs) -> Result<i32, Error> {
    let terminal = std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if terminal {
        WatchFormat::Table
    } else {
        WatchFormat::Ndjson
    });
    let style = style(args.color);
    let options = analyze_options(&args.filter, false);
    let mut resolver = None;
    let mut names = Names::new();
    let mut tracker = Tracker::new();
    let started = Instant::now();
    let mut last: (Report, String);
    let ended_by = loop {
        let tick = Instant::now();
        // In watch, --timeout bounds each sample.
        let deadline = Deadline::after(args.filter.timeout);
        let snapshot = collect::live(&filter_collect_options(&args.filter, deadline))?;
        let report = analyze_and_name(
            &snapshot,
            &options,
            "live",
            &args.dns,
            &mut resolver,
            &mut names,
            deadline,
        );
        let at = crate::report::now_millis();
        let events = tracker.observe(&report, at);
        let time = at.to_string();
        let groups = tracker.groups();
        let text = match format {
            WatchFormat::Ndjson => {
                render::ndjson::events(&events, &time)
                    + &render::ndjson::sample(
                        tracker.samples(),
                        &time,
                        &report.summary,
                        &groups,
                        &report.warnings,
                    )
            }
            WatchFormat::Table => render::watch::screen(
                &watch_header(&report, &tracker, args, &time),
                &groups,
                style,
                terminal,
            ),
        };
        last = (report, time);
        if !emit(text.as_bytes())? {
            break "closed pipe";
        }
        if args.count.is_some_and(|n| tracker.samples() as u64 >= n) {
            break "count";
        }
        let next = tick + args.interval;
        if args
            .duration
            .is_some_and(|d| next > started + d + args.interval / 2)
        {
            break "duration";
        }
        Deadline::none().sleep(next.saturating_duration_since(Instant::now()));
        if deadline::interrupted_by().is_some() {
            break "signal";
        }
    };
    let groups = tracker.groups();
    let time = crate::report::now_millis().to_string();
    let text = match format {
        WatchFormat::Ndjson => render::ndjson::summary(tracker.samples(), &time, &groups, ended_by),
        WatchFormat::Table => {
            let header = watch_header(&last.0, &tracker, args, &last.1);
            render::watch::screen(&header, &groups, style, false)
                + &format!(
                    "\nWatched {} samples over {}; ended by {ended_by}.\n",
                    tracker.samples(),
                    crate::report::human_duration(started.elapsed().as_secs_f64())
                )
        }
    };
    emit(text.as_bytes())?;
    Ok(status_of(&last.0))
}

fn watch_header(report: &Report, tracker: &Tracker, args: &WatchArgs, time: &str) -> String {
    let stuck: usize = Kind::ALL
        .iter()
        .filter(|k| k.is_problem())
        .filter_map(|k| report.summary.by_kind.get(k.key()))
        .sum();
    format!(
        "{} · sample {} every {} · {stuck} stuck now (idle ≥ {}) · {} · Ctrl-C to stop",
        sanitize(&report.host.hostname),
        tracker.samples(),
        humantime::format_duration(args.interval),
        crate::report::human_duration(args.filter.min_idle.as_secs_f64()),
        time.split('.').next().unwrap_or(time).replacen('T', " ", 1) + " UTC",
    )
}

/// `check`: the Nagios/Icinga plugin. Every failure is UNKNOWN (3), on standard output.
fn check(args: &CheckArgs) -> i32 {
    let deadline = Deadline::after(args.filter.timeout);
    use render::nagios::{self, Thresholds};
    let thresholds = Thresholds {
        warning: args.warning,
        critical: args.critical,
        per_process: args.per_process,
    };
    let fail = |message: String| {
        let _ = emit(nagios::unknown(&message).as_bytes());
        nagios::UNKNOWN
    };
    if args.warning > args.critical {
        return fail(format!(
            "--warning {} is above --critical {}",
            args.warning, args.critical
        ));
    }
    let (snapshot, source) = match &args.from {
        Some(path) => match collect::load(path, args.snapshot_limit)
            .and_then(|mut s| collect::select_namespaces(&mut s, &args.filter.netns).map(|()| s))
        {
            Ok(snapshot) => (snapshot, path.display().to_string()),
            Err(err) => return fail(err.to_string()),
        },
        None => match collect::live(&filter_collect_options(&args.filter, deadline)) {
            Ok(snapshot) => (snapshot, "live".to_string()),
            Err(err) => return fail(err.to_string()),
        },
    };
    let mut resolver = None;
    let mut names = snapshot.names.clone();
    let report = analyze_and_name(
        &snapshot,
        &analyze_options(&args.filter, false),
        &source,
        &args.dns,
        &mut resolver,
        &mut names,
        deadline,
    );
    let (status, text) = nagios::check(&report, &thresholds);
    let _ = emit(text.as_bytes());
    status
}

/// Writes to standard output; `Ok(false)` when the reader has gone (a closed pipe).
fn emit(bytes: &[u8]) -> Result<bool, Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(Error::Output(err)),
    }
}

fn record(args: &RecordArgs) -> Result<i32, Error> {
    let deadline = Deadline::after(args.timeout);
    let out = open_output(Some(&args.output), output::PRIVATE)?;
    let mut snapshot = collect::live(&collect_options(
        args.min_idle,
        &args.netns,
        args.no_redact,
        deadline,
    ))?;
    // Names for what a scan at the same threshold would report, so `scan --from` shows them.
    let options = analyze::Options {
        min_idle: args.min_idle,
        all: false,
        filter: Filter::default(),
    };
    let mut resolver = None;
    let mut names = Names::new();
    let report = analyze_and_name(
        &snapshot,
        &options,
        "live",
        &args.dns,
        &mut resolver,
        &mut names,
        deadline,
    );
    // The names just looked up (or labelled) are those of the findings' addresses.
    snapshot.names = names
        .into_iter()
        .filter(|(_, name)| name.dns != DnsStatus::Skipped)
        .collect();
    snapshot.warnings.extend(
        report
            .warnings
            .iter()
            .filter(|w| w.starts_with("reverse DNS"))
            .cloned(),
    );
    mark_interrupted(&mut snapshot.partial, &mut snapshot.warnings);
    let render =
        |w: &mut dyn Write| -> std::io::Result<()> { render::json::write_pretty(&snapshot, w) };
    write_report(out, render)?;
    if args.output.as_os_str() != "-" {
        messages::note(&format!(
            "recorded {} sockets and {} processes to {}",
            snapshot.connections.len(),
            snapshot.processes.len(),
            args.output.display()
        ));
    }
    warn_all(&snapshot.warnings);
    Ok(EXIT_OK)
}

fn warn_all(warnings: &[String]) {
    for warning in warnings {
        messages::warning(warning);
    }
}

/// Opens where a report goes (`None`: standard output).
fn open_output(path: Option<&Path>, mode: u32) -> Result<Output, Error> {
    match path {
        Some(path) => Output::open(path, mode).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        }),
        None => Ok(Output::stdout()),
    }
}

/// Renders into `out` and commits it; a closed pipe on standard output is not an error.
fn write_report(
    mut out: Output,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let to_stdout = out.path().is_none();
    let path = out.path().map(Path::to_path_buf);
    match render(out.writer()).and_then(|()| out.commit()) {
        Err(err) if to_stdout && err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(match path {
            Some(path) => Error::Write { path, source },
            None => Error::Output(source),
        }),
        Ok(()) => Ok(()),
    }
}

/// Colour and width, decided once from the flag, the terminal and NO_COLOR.
fn style(choice: ColorChoice) -> Style {
    let terminal = std::io::stdout().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style {
        color: match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        },
        width: terminal.then(terminal_width).flatten(),
    }
}

fn terminal_width() -> Option<u16> {
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills a winsize struct for a terminal fd; we pass a valid pointer.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(size.ws_col)
}

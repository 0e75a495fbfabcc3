//! The commands, each a short composition of the pipeline: collect (or load) a snapshot,
//! analyze it once, enrich the report in place, finish its words, render it, write it.
//! What the commands share is here: flags turned into options, the pipeline up to a
//! finished report, standard output and files, warnings.

mod abort;
mod check;
mod completions;
mod record;
mod report;
mod scan;
mod serve;
mod watch;

use crate::analyze::{AnalysisOptions, Filter};
use crate::cli::{Cli, ColorChoice, Command, DnsArgs, FilterArgs, ScopeArgs, SourceArgs};
use crate::collect::{self, netns, CollectOptions};
use crate::deadline::{self, Deadline};
use crate::enrich::{self, names::Namer};
use crate::error::{Error, ExitCode};
use crate::messages;
use crate::output::Output;
use crate::render::{self, Style};
use crate::report::{Report, Warning};
use crate::snapshot::Snapshot;
use crate::timing::Stopwatch;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Runs the command the user asked for and returns its exit status.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        None => scan::run(&cli.scan).map(ExitCode::code),
        Some(Command::Scan(args)) => scan::run(&args).map(ExitCode::code),
        Some(Command::Record(args)) => record::run(&args).map(ExitCode::code),
        Some(Command::Watch(args)) => watch::run(&args).map(ExitCode::code),
        Some(Command::Check(args)) => Ok(check::run(&args).code()),
        Some(Command::Report(args)) => report::run(&args).map(ExitCode::code),
        Some(Command::Abort(args)) => abort::run(&args),
        Some(Command::Serve(args)) => serve::run(&args).map(ExitCode::code),
        Some(Command::Completions(args)) => completions::run(&args).map(ExitCode::code),
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
        let status = render::nagios::Status::Unknown;
        let _ = emit(render::nagios::unknown(message).as_bytes());
        std::process::exit(status.code());
    }
    let tip = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tip: "))
        .map(|t| format!("; {t}"))
        .unwrap_or_default();
    messages::error(&format!("{message}{tip} (see {} --help)", command_name()));
    std::process::exit(ExitCode::Error.code())
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

/// How a command collects, from its flags.
fn collect_options(
    min_idle: std::time::Duration,
    scope: &ScopeArgs,
    deadline: Deadline,
) -> CollectOptions {
    CollectOptions {
        thread_min_idle: min_idle,
        proc_net_only: std::env::var_os("STUCKCONN_PROC_NET").is_some_and(|v| v == "1"),
        netns: netns::Selection::from_args(&scope.netns),
        redact: !scope.no_redact,
        deadline,
    }
}

fn analysis_options(filter: &FilterArgs, all: bool) -> AnalysisOptions {
    AnalysisOptions {
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

/// A snapshot: the one recorded at `from` (only the namespaces `--netns` names), or a live
/// collection. Returns it with the report's `source`.
fn snapshot(
    source: &SourceArgs,
    filter: &FilterArgs,
    deadline: Deadline,
) -> Result<(Snapshot, String), Error> {
    match &source.from {
        Some(path) => {
            let mut snapshot = collect::load(path, source.snapshot_limit)?;
            collect::select_namespaces(&mut snapshot, &filter.scope.netns)?;
            Ok((snapshot, path.display().to_string()))
        }
        None => Ok((
            collect::live(&collect_options(filter.min_idle, &filter.scope, deadline))?,
            "live".to_string(),
        )),
    }
}

/// The report of a snapshot, analysed once; for a live one (`live`), the sockets and
/// processes behind its problems probed into the snapshot (so that `record` keeps what the
/// report judged from); named by `namer`; diagnosed. Wire checks and the words remain.
fn named_report(
    snapshot: &mut Snapshot,
    live: bool,
    options: &AnalysisOptions,
    source: &str,
    namer: &mut Namer,
    deadline: &Deadline,
) -> Report {
    let now = crate::report::now_seconds();
    let mut watch = Stopwatch::start();
    let mut report = crate::analyze::analyze(snapshot, options, source, now);
    snapshot.timings.phases.push(watch.lap("analysis"));
    if live {
        let probed = collect::probe(snapshot, &report, deadline);
        for warning in probed.warnings {
            snapshot.warnings.push(warning.clone());
            report.warnings.push(Warning::Collect(warning));
        }
        if let Some(what) = probed.cut_short {
            let text = format!("{}: the report is partial ({what})", deadline.reason());
            if !snapshot.partial {
                snapshot.partial = true;
                snapshot.partial_reason = Some(text.clone());
            }
            if !report.partial {
                report.partial = true;
                report.warnings.push(Warning::Partial(text));
            }
        }
        snapshot.timings.phases.push(watch.lap("probe"));
    }
    namer.name(&mut report, snapshot, deadline);
    snapshot.timings.phases.push(watch.lap("names"));
    enrich::diagnose(&mut report, snapshot);
    snapshot.timings.phases.push(watch.lap("diagnose"));
    report
}

/// The names a command starts with (a snapshot's) and how it looks up the others.
fn namer(dns: &DnsArgs, known: &Snapshot) -> Namer {
    Namer::new(dns.options(), known.names.clone()).with_namespaces(known.names_by_netns.clone())
}

/// A signal that arrived after the collection still cut something short (DNS, the wire
/// window): the report says so.
fn mark_interrupted(report: &mut Report) {
    if let Some(signal) = deadline::interrupted_by() {
        if !report.partial {
            report.partial = true;
            report.warnings.push(Warning::Partial(format!(
                "interrupted by {signal}: the report is partial"
            )));
        }
    }
}

/// Finishes the words of a report (after every enricher).
fn finish(report: &mut Report) {
    enrich::finish(report);
}

/// Writes to standard output; `Ok(false)` when the reader has gone (a closed pipe).
fn emit(bytes: &[u8]) -> Result<bool, Error> {
    // Through `Output`: a reader that stops reading does not hold the command past a signal.
    let mut stdout = Output::stdout();
    match stdout.write_all(bytes).and_then(|()| stdout.commit()) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(Error::Output(err)),
    }
}

fn warn_all(warnings: &[Warning]) {
    for warning in warnings {
        messages::warning(warning.text());
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
        width: terminal
            .then(|| terminal_size::terminal_size_of(std::io::stdout()))
            .flatten()
            .map(|(terminal_size::Width(w), _)| w)
            .filter(|&w| w > 0),
    }
}

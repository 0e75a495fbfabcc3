//! The commands: collect (or load) a snapshot, analyse it, render it, write it.

use crate::analyze::{self, Filter};
use crate::capture::{self, live, live::CaptureError};
use crate::cli::{Cli, ColorChoice, Command, DnsArgs, Format, RecordArgs, ScanArgs, WireArgs};
use crate::collect;
use crate::error::{Error, EXIT_FINDINGS, EXIT_OK};
use crate::render::{self, sanitize, Style};
use crate::report::{Report, WireRun};
use crate::resolve::{DnsStatus, Resolver};
use crate::snapshot::{Snapshot, TcpInfo};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Instant, SystemTime};

/// Runs the command the user asked for and returns its exit status.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        None => scan(&cli.scan),
        Some(Command::Scan(args)) => scan(&args),
        Some(Command::Record(args)) => record(&args),
    }
}

fn collect_options(min_idle: std::time::Duration) -> collect::Options {
    collect::Options {
        thread_min_idle: min_idle,
        proc_net_only: std::env::var_os("STUCKCONN_PROC_NET").is_some_and(|v| v == "1"),
    }
}

fn scan(args: &ScanArgs) -> Result<i32, Error> {
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
    let (snapshot, source) = match &args.from {
        Some(path) => (collect::load(path)?, path.display().to_string()),
        None => (
            collect::live(&collect_options(args.min_idle)),
            "live".to_string(),
        ),
    };
    let options = analyze::Options {
        min_idle: args.min_idle,
        all: args.all,
        filter: Filter {
            pids: args.pid.clone(),
            process_names: args.process.clone(),
            remotes: args.remote.clone(),
            ports: args.port.clone(),
        },
    };
    let mut report = analyze_and_name(&snapshot, &options, &source, &args.dns);
    wire_checks(&mut report, &snapshot, wire)?;
    let status = if report.summary.problems > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    };
    let text = match args.format {
        Format::Table => render::table::render(&report, style(args.color)),
        Format::Json => render::json::render(&report),
    };
    write_stdout(text.as_bytes())?;
    if args.format == Format::Table {
        warn_all(&report.warnings);
    }
    Ok(status)
}

/// Analyses, names the remotes and clients of the findings (unless `--no-dns`, or the
/// snapshot already holds their names), and analyses again with the names.
fn analyze_and_name(
    snapshot: &Snapshot,
    options: &analyze::Options,
    source: &str,
    dns: &DnsArgs,
) -> Report {
    let now = SystemTime::now();
    let mut names = snapshot.names.clone();
    let mut report = analyze::analyze(snapshot, options, source, now, &names);
    let Some(dns_options) = dns.options() else {
        return report;
    };
    let wanted: Vec<_> = report
        .named_addresses()
        .map(|(ip, _)| ip)
        .filter(|ip| !names.contains_key(ip))
        .collect();
    let servers = dns_options.servers.iter().map(|s| s.to_string()).collect();
    let timeout = dns_options.timeout.as_secs_f64();
    let mut timings = report.timings.clone();
    let mut warnings = Vec::new();
    if !wanted.is_empty() {
        let outcome = Resolver::new(dns_options).resolve(wanted);
        names.extend(outcome.names);
        warnings = outcome.warnings;
        timings.dns_secs = outcome.secs;
        report = analyze::analyze(snapshot, options, source, now, &names);
    }
    report.options.dns_timeout_secs = Some(timeout);
    report.options.dns_servers = servers;
    report.timings = timings;
    report.warnings.extend(warnings);
    report
}

/// `--capture` and `--confirm`: watch the flows behind problem findings for a while.
fn wire_checks(report: &mut Report, snapshot: &Snapshot, wire: &WireArgs) -> Result<(), Error> {
    let window = match (wire.capture, wire.confirm) {
        (None, None) => return Ok(()),
        (capture, confirm) => capture.max(confirm).unwrap_or_default(),
    };
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
    if watched.is_empty() {
        report.wire = Some(run);
        return Ok(());
    }
    let started = Instant::now();
    let mut results = capture::Results::default();
    if let (Some(duration), None) = (wire.capture, &run.capture_error) {
        let flows: Vec<_> = watched.iter().map(|w| (w.local, w.remote)).collect();
        match live::run(&flows, duration, &wire.interface, wire.pcap_out.as_deref()) {
            Ok(outcome) => {
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
        wait(left);
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
            let seconds = humantime::parse_rfc3339_weak(&snapshot.taken_at)
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .map_or(window.as_secs_f64(), |d| d.as_secs_f64());
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

/// Sleeps, with a countdown on stderr when it is a terminal.
fn wait(duration: std::time::Duration) {
    let progress = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let deadline = Instant::now() + duration;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        progress.set_message(format!(
            "confirming: {}s left",
            left.as_secs_f64().ceil() as u64
        ));
        progress.tick();
        std::thread::sleep(left.min(std::time::Duration::from_millis(200)));
    }
    progress.finish_and_clear();
}

fn record(args: &RecordArgs) -> Result<i32, Error> {
    let mut snapshot = collect::live(&collect_options(args.min_idle));
    // Names for what a scan at the same threshold would report, so `scan --from` shows them.
    let options = analyze::Options {
        min_idle: args.min_idle,
        all: false,
        filter: Filter::default(),
    };
    let report = analyze_and_name(&snapshot, &options, "live", &args.dns);
    for (ip, name) in report.named_addresses() {
        if name.dns != DnsStatus::Skipped {
            snapshot.names.insert(ip, name.clone());
        }
    }
    snapshot.warnings.extend(
        report
            .warnings
            .iter()
            .filter(|w| w.starts_with("reverse DNS"))
            .cloned(),
    );
    let mut bytes = serde_json::to_vec_pretty(&snapshot).expect("snapshot serializes");
    bytes.push(b'\n');
    if args.output.as_os_str() == "-" {
        write_stdout(&bytes)?;
    } else {
        write_private(&args.output, &bytes).map_err(|source| Error::Write {
            path: args.output.clone(),
            source,
        })?;
        eprintln!(
            "stuckconn: recorded {} sockets and {} processes to {}",
            snapshot.connections.len(),
            snapshot.processes.len(),
            args.output.display()
        );
    }
    warn_all(&snapshot.warnings);
    Ok(EXIT_OK)
}

fn warn_all(warnings: &[String]) {
    for warning in warnings {
        eprintln!("stuckconn: warning: {}", sanitize(warning));
    }
}

/// Writes to standard output; a closed pipe (`stuckconn | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output(err)),
        _ => Ok(()),
    }
}

/// Writes a file readable by its owner only, through a temporary file in the same directory
/// and a rename: never half-written, and an existing symlink at `path` is replaced, not followed.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".stuckconn-")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
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

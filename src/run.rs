//! The commands: collect (or load) a snapshot, analyse it, render it, write it.

use crate::analyze::{self, Filter};
use crate::cli::{Cli, ColorChoice, Command, DnsArgs, Format, RecordArgs, ScanArgs};
use crate::collect;
use crate::error::{Error, EXIT_FINDINGS, EXIT_OK};
use crate::render::{self, sanitize, Style};
use crate::report::Report;
use crate::resolve::{DnsStatus, Resolver};
use crate::snapshot::Snapshot;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::SystemTime;

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
    let report = analyze_and_name(&snapshot, &options, &source, &args.dns);
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

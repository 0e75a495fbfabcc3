use clap::Parser;
use stuckconn::error::ExitCode;

fn main() {
    // SIGINT and SIGTERM set a flag that every long step watches: the command ends within a
    // fraction of a second, reports what it saw as partial, and leaves no temporary file.
    if let Err(err) = stuckconn::deadline::catch_signals() {
        stuckconn::messages::warning(&format!("cannot catch SIGINT and SIGTERM: {err}"));
    }
    let cli = match stuckconn::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => stuckconn::cmd::exit_on_usage_error(err),
    };
    let status = stuckconn::cmd::run(cli).unwrap_or_else(|err| {
        stuckconn::messages::error(&err.to_string());
        ExitCode::Error.code()
    });
    std::process::exit(status);
}

use clap::Parser;
use stuckconn::error::EXIT_ERROR;

fn main() {
    let cli = match stuckconn::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => stuckconn::run::exit_on_usage_error(err),
    };
    let status = stuckconn::run::run(cli).unwrap_or_else(|err| {
        eprintln!("stuckconn: error: {err}");
        EXIT_ERROR
    });
    std::process::exit(status);
}

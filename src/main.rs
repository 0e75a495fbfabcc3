use clap::Parser;
use stuckconn::error::EXIT_ERROR;

fn main() {
    let cli = stuckconn::cli::Cli::parse();
    let status = stuckconn::run::run(cli).unwrap_or_else(|err| {
        eprintln!("stuckconn: error: {err}");
        EXIT_ERROR
    });
    std::process::exit(status);
}

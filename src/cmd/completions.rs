//! `completions SHELL`: the shell's completion script, generated from the clap definitions
//! (clap_complete), on standard output.

use super::*;
use crate::cli::CompletionsArgs;
use clap::CommandFactory;

pub(crate) fn run(args: &CompletionsArgs) -> Result<ExitCode, Error> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "stuckconn", &mut script);
    emit(&script)?;
    Ok(ExitCode::Clean)
}

//! `pipework completions SHELL`: a completion script made from the clap
//! definition itself, so it always knows every option there is.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::session::Outcome;
use crate::stdout;

/// Prints the completion script for `args.shell` on stdout.
pub(crate) fn run(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pipework", &mut script);
    stdout::print(&script, "the completion script")?;
    Ok(Outcome::Complete)
}

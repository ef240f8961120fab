//! The `pipework` binary: parse the arguments, start the logs, run the
//! subcommand, map the outcome to an exit code in one place (`exit.rs`).

mod args;
mod budget;
mod call;
mod call_identity;
mod cmd;
mod exit;
mod failure_log;
mod interrupt;
mod logging;
mod process;
mod progress;
mod rate;
mod reply;
mod retry;
mod session;
mod source;
mod stdout;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::session::Outcome;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.log);
    exit::exit_code(run(cli))
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    // Creating a few files needs no runtime.
    let command = match cli.command {
        Command::Recovery(command) => return cmd::recovery::run(command),
        // Reads two files and prints: no runtime either.
        Command::Status(args) => return cmd::status::run(args),
        Command::Completions(args) => return cmd::completions::run(&args),
        Command::Man(args) => return cmd::man::run(&args),
        command => command,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            Command::Map(args) => cmd::map::run(args).await,
            Command::Flatmap(args) => cmd::flatmap::run(args).await,
            Command::Generate(args) => cmd::generate::run(args).await,
            Command::Recovery(command) => cmd::recovery::run(command),
            Command::Status(args) => cmd::status::run(args),
            Command::Completions(args) => cmd::completions::run(&args),
            Command::Man(args) => cmd::man::run(&args),
        }
    })
}

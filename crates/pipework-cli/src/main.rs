//! The `pipework` binary: parse the arguments, run the subcommand, map the
//! outcome to an exit code in one place ([`exit_code`]).

mod args;
mod budget;
mod call;
mod cmd;
mod failure_log;
mod interrupt;
mod process;
mod progress;
mod rate;
mod reply;
mod retry;
mod session;
mod source;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::session::Outcome;

fn main() -> ExitCode {
    exit_code(run(Cli::parse()))
}

/// Every exit code of `pipework`, decided here: 0 every row written, 1 some
/// keys failed or rows were invalid under skip, 2 usage, input or write
/// errors or DST in use by another run (the error is printed), and 128 + the
/// signal's number when a signal stopped the run (DST synced, a rerun
/// resumes): 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP.
fn exit_code(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Complete) => ExitCode::SUCCESS,
        Ok(Outcome::Incomplete) => ExitCode::from(1),
        Ok(Outcome::Interrupted(signal)) => ExitCode::from(signal.exit_code()),
        Err(err) => {
            progress::say(&format!("error: {err:#}"));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    // Creating a few files needs no runtime.
    let command = match cli.command {
        Command::Recovery(command) => return cmd::recovery::run(command),
        // Reads two files and prints: no runtime either.
        Command::Status(args) => return cmd::status::run(args),
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
        }
    })
}

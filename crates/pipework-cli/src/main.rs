//! The `pipework` binary: parse the arguments, run the subcommand, map the
//! outcome to an exit code (0 done, 1 some keys failed under skip, 2 usage or
//! input error or a failure under raise, 130 interrupted).

mod args;
mod cmd;
mod interrupt;
mod process;
mod progress;
mod reply;
mod session;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("pipework: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Creating a few files needs no runtime.
    let command = match cli.command {
        Command::Recovery(command) => return cmd::recovery::run(command),
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
        }
    })
}

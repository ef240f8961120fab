//! `pipework-bench`: pipework side by side with hand-written Rust baselines
//! and the Python libraries it ports.
//!
//! The parent process runs every (scenario, system) pair in a child process
//! of its own, so the peak RSS it reads back (`wait4`) belongs to that pair
//! alone, and prints one JSON object per pair on stdout. See the crate's
//! README for the scenarios, the line format and how to run it.
//!
//! ```text
//! cargo run --release -p pipework-bench -- [--quick] [--peers] [SCENARIO...]
//! ```

mod child;
mod cli;
mod measure;
mod peers;
mod report;
mod run;
mod scenario;
mod scenarios;
mod summary;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|arg| arg == measure::SUBCOMMAND) {
        return measure::main(&args[2..]);
    }
    let options = match cli::parse(args) {
        Ok(options) => options,
        Err(exit) => return exit,
    };
    match run::run(&options) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("pipework-bench: {err:#}");
            ExitCode::from(2)
        }
    }
}

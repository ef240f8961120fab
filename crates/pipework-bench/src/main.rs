//! `pipework-bench`: pipework side by side with hand-written Rust baselines
//! and the Python libraries it ports.
//!
//! The parent process runs every (scenario, system) pair in a child process
//! of its own, so the peak RSS it reads back (`wait4`) belongs to that pair
//! alone, and prints one JSON object per pair on stdout. See the crate's
//! README for the scenarios, the line format and how to run it.
//!
//! ```text
//! cargo run --release -p pipework-bench -- [--quick] [--peers] [SCENARIO...] > run.jsonl
//! cargo run --release -p pipework-bench -- report run.jsonl --out DIR
//! ```
//!
//! The second writes `DIR/BENCHMARKS.md` and its charts from the first's
//! stdout ([`benchmarks_report`]).

mod benchmarks_report;
mod child;
mod cli;
mod comparison;
mod human;
mod inputs;
mod measure;
mod meta;
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
    if args.get(1).is_some_and(|arg| arg == inputs::SUBCOMMAND) {
        return inputs::main(&args[2..]);
    }
    let outcome = match cli::parse(args) {
        Ok(cli::Invocation::Run(options)) => run::run(&options),
        Ok(cli::Invocation::Report(options)) => benchmarks_report::write(&options),
        Err(exit) => return exit,
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("pipework-bench: {err:#}");
            ExitCode::from(2)
        }
    }
}

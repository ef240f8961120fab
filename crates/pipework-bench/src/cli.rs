//! Command-line options of the harness: a run (the default), or
//! `report`, which turns a run's stdout into BENCHMARKS.md and charts.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::scenario::Scenario;
use crate::scenarios;

/// Side-by-side benchmarks: pipework, Rust baselines and (with --peers) the
/// Python libraries it ports. One JSON line per (scenario, system, size) on
/// stdout; a summary with ratios on stderr.
#[derive(Debug, Parser)]
#[command(
    name = "pipework-bench",
    version,
    args_conflicts_with_subcommands = true
)]
struct Args {
    /// Shrink every size about 100× (a smoke run for CI).
    #[arg(long)]
    quick: bool,
    /// Run the scenarios that have scaling sizes (pipeline-trivial,
    /// jsonl-map, jsonl-resume, dataflow-file) at those instead of their
    /// full sizes, for the scaling charts of `report`.
    #[arg(long, conflicts_with = "quick")]
    scaling: bool,
    /// Also run the Python libraries, creating their venv with
    /// peers/setup.sh when it is missing.
    #[arg(long)]
    peers: bool,
    /// Run every (scenario, system, size) this many times and report the
    /// median time (and the highest peak RSS): steadier on a busy machine.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    runs: u16,
    /// List the scenarios and their systems, then exit.
    #[arg(long)]
    list: bool,
    /// Scenarios to run, in this order (default: all).
    #[arg(value_name = "SCENARIO")]
    scenarios: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write BENCHMARKS.md and one SVG chart per scenario (under
    /// benchmarks/) from the JSON lines a run printed on stdout.
    Report {
        /// The run's stdout, saved to a file.
        #[arg(value_name = "RUN.jsonl")]
        run: PathBuf,
        /// The directory to write into.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Invocation {
    /// Run benchmarks and print their lines.
    Run(Options),
    /// Write a report from a run's lines.
    Report(ReportOptions),
}

/// What `report` reads and where it writes.
#[derive(Debug)]
pub(crate) struct ReportOptions {
    /// The run's stdout.
    pub(crate) run: PathBuf,
    /// The directory for BENCHMARKS.md and benchmarks/.
    pub(crate) out: PathBuf,
}

/// What to run.
#[derive(Debug)]
pub(crate) struct Options {
    /// Use the quick sizes.
    pub(crate) quick: bool,
    /// Use the scaling sizes where a scenario has them.
    pub(crate) scaling: bool,
    /// Run the Python peers too.
    pub(crate) peers: bool,
    /// Runs per (scenario, system, size), at least 1.
    pub(crate) runs: usize,
    /// The scenarios, in order, no repeats.
    pub(crate) scenarios: Vec<&'static Scenario>,
    /// Contract scenarios named on the command line that no system
    /// implements yet.
    pub(crate) waiting: Vec<&'static str>,
    /// The whole command line, for the run's meta line.
    pub(crate) command_line: Vec<OsString>,
}

/// Parses the command line.
///
/// # Errors
///
/// The exit code to end with: 0 after `--help`, `--version` or `--list`;
/// 2 for a usage error or an unknown scenario (the known ones are listed).
pub(crate) fn parse(command_line: Vec<OsString>) -> Result<Invocation, ExitCode> {
    let args = Args::try_parse_from(&command_line).map_err(|err| {
        let code = if err.use_stderr() { 2 } else { 0 };
        // Printing the usage message can only fail on a closed terminal.
        let _ = err.print();
        ExitCode::from(code)
    })?;
    if let Some(Command::Report { run, out }) = args.command {
        return Ok(Invocation::Report(ReportOptions { run, out }));
    }
    if args.list {
        print_list();
        return Err(ExitCode::SUCCESS);
    }
    let mut options = Options {
        quick: args.quick,
        scaling: args.scaling,
        peers: args.peers,
        runs: usize::from(args.runs),
        scenarios: Vec::new(),
        waiting: Vec::new(),
        command_line,
    };
    if args.scenarios.is_empty() {
        options.scenarios = scenarios::ALL.to_vec();
        options.waiting = scenarios::WAITING.iter().map(|(name, _)| *name).collect();
        return Ok(Invocation::Run(options));
    }
    for name in &args.scenarios {
        if let Some(scenario) = scenarios::find(name) {
            if !options.scenarios.iter().any(|s| s.name == scenario.name) {
                options.scenarios.push(scenario);
            }
        } else if let Some((waiting, _)) = scenarios::WAITING.iter().find(|(n, _)| n == name) {
            options.waiting.push(waiting);
        } else {
            eprintln!("pipework-bench: unknown scenario `{name}`; the scenarios are:");
            for known in scenarios::names() {
                eprintln!("  {known}");
            }
            return Err(ExitCode::from(2));
        }
    }
    Ok(Invocation::Run(options))
}

fn print_list() {
    for scenario in scenarios::ALL {
        let systems: Vec<&str> = scenario.systems.iter().map(|s| s.name).collect();
        println!(
            "{:<22} {}  [{}]",
            scenario.name,
            scenario.work,
            systems.join(", ")
        );
    }
    for (name, layer) in scenarios::WAITING {
        println!("{name:<22} (no system yet: waits for {layer})");
    }
}

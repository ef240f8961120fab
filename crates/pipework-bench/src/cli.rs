//! Command-line options of the harness.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::scenario::Scenario;
use crate::scenarios;

/// Side-by-side benchmarks: pipework, Rust baselines and (with --peers) the
/// Python libraries it ports. One JSON line per (scenario, system, size) on
/// stdout; a summary with ratios on stderr.
#[derive(Debug, Parser)]
#[command(name = "pipework-bench", version)]
struct Args {
    /// Shrink every size about 100× (a smoke run for CI).
    #[arg(long)]
    quick: bool,
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
}

/// What to run.
#[derive(Debug)]
pub(crate) struct Options {
    /// Use the quick sizes.
    pub(crate) quick: bool,
    /// Run the Python peers too.
    pub(crate) peers: bool,
    /// Runs per (scenario, system, size), at least 1.
    pub(crate) runs: usize,
    /// The scenarios, in order, no repeats.
    pub(crate) scenarios: Vec<&'static Scenario>,
    /// Contract scenarios named on the command line that no system
    /// implements yet.
    pub(crate) waiting: Vec<&'static str>,
}

/// Parses the command line.
///
/// # Errors
///
/// The exit code to end with: 0 after `--help`, `--version` or `--list`;
/// 2 for a usage error or an unknown scenario (the known ones are listed).
pub(crate) fn parse(args: Vec<OsString>) -> Result<Options, ExitCode> {
    let args = Args::try_parse_from(args).map_err(|err| {
        let code = if err.use_stderr() { 2 } else { 0 };
        // Printing the usage message can only fail on a closed terminal.
        let _ = err.print();
        ExitCode::from(code)
    })?;
    if args.list {
        print_list();
        return Err(ExitCode::SUCCESS);
    }
    let mut options = Options {
        quick: args.quick,
        peers: args.peers,
        runs: usize::from(args.runs),
        scenarios: Vec::new(),
        waiting: Vec::new(),
    };
    if args.scenarios.is_empty() {
        options.scenarios = scenarios::ALL.to_vec();
        options.waiting = scenarios::WAITING.iter().map(|(name, _)| *name).collect();
        return Ok(options);
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
    Ok(options)
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

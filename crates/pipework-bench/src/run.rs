//! The parent's loop: print the run's meta line, then for each scenario,
//! size and system, write the input if the work reads one, run the system
//! in a child process, check what it reports, print its line.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context;

use crate::child;
use crate::cli::Options;
use crate::inputs::Inputs;
use crate::measure::{Measurement, SUBCOMMAND};
use crate::meta::Meta;
use crate::peers;
use crate::report::{Failed, Figures, Line};
use crate::scenario::{Runner, Scenario, System};
use crate::scenarios::Scaling;
use crate::summary;

/// Longest a child may run before it is killed and reported as an error.
const LIMIT_FULL: Duration = Duration::from_secs(900);
/// The same for `--quick`.
const LIMIT_QUICK: Duration = Duration::from_secs(60);

/// Runs the selected scenarios and prints their lines.
///
/// Exits 1 when a Rust system (pipework or a baseline) has an error line,
/// else 0; a Python peer that cannot run is reported in its line but does
/// not change the exit code.
///
/// # Errors
///
/// When the temporary directory, the own executable or stdout fail.
pub(crate) fn run(options: &Options) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("locating the pipework-bench executable")?;
    let dir = tempfile::Builder::new()
        .prefix("pipework-bench-")
        .tempdir()
        .context("creating a temporary directory for inputs")?;
    let python = options.peers.then(peers::python);
    let settings = Settings {
        runs: options.runs,
        limit: if options.quick {
            LIMIT_QUICK
        } else {
            LIMIT_FULL
        },
    };
    for name in &options.waiting {
        eprintln!("pipework-bench: {name}: no system implemented yet, skipped");
    }
    Meta::collect(&options.command_line, options.runs)
        .print()
        .context("writing to stdout")?;

    let mut rust_failed = false;
    let mut all = Vec::new();
    for scenario in &options.scenarios {
        let mut inputs = Inputs::new(&exe, dir.path(), scenario, settings.limit);
        let mut lines = Vec::new();
        let scaling = Scaling::of(scenario.name).filter(|_| options.scaling);
        let sizes = scaling.map_or_else(|| scenario.sizes(options.quick), |s| s.sizes);
        for &size in sizes {
            for system in scenario.systems {
                let program = match (&system.runner, &python) {
                    (Runner::Rust(_) | Runner::RustScaled { .. }, _) => Ok(exe.clone()),
                    (Runner::Python { .. } | Runner::PipeworkPy { .. }, None) => continue,
                    (Runner::Python { .. } | Runner::PipeworkPy { .. }, Some(python)) => {
                        python.clone()
                    }
                };
                let items = system.items(size);
                let line = match scaling.and_then(|s| s.not_run(system.name, size)) {
                    Some(why) => Line::Failed(Failed {
                        scenario: scenario.name.to_owned(),
                        system: system.name.to_owned(),
                        items,
                        error: why,
                    }),
                    None => measure(scenario, system, items, program, &mut inputs, &settings),
                };
                if matches!(line, Line::Failed(_)) && !system.is_peer() {
                    rust_failed = true;
                }
                line.print().context("writing to stdout")?;
                lines.push(line);
            }
        }
        summary::scenario(scenario, &lines);
        all.extend(lines);
    }
    summary::closing(&all);
    Ok(if rust_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs one system on `items` items `runs` times and turns the outcome
/// into a line: the median time (and with several runs the fastest and
/// slowest), the highest peak RSS, or the first error.
fn measure(
    scenario: &'static Scenario,
    system: &'static System,
    items: u64,
    program: Result<PathBuf, String>,
    inputs: &mut Inputs<'_>,
    settings: &Settings,
) -> Line {
    let failed = |error: String| {
        Line::Failed(Failed {
            scenario: scenario.name.to_owned(),
            system: system.name.to_owned(),
            items,
            error,
        })
    };
    let program = match program {
        Ok(program) => program,
        Err(error) => return failed(error),
    };
    let input = match inputs.get(items) {
        Ok(input) => input,
        Err(error) => return failed(format!("{error:#}")),
    };
    let command = || match system.runner {
        Runner::Rust(_) | Runner::RustScaled { .. } => {
            let mut command = Command::new(&program);
            command.args([SUBCOMMAND, scenario.name, system.name, &items.to_string()]);
            if let Some(input) = &input {
                command.arg(input);
            }
            command
        }
        Runner::Python { script, .. } => peers::command(&program, script, items, input.as_deref()),
        Runner::PipeworkPy { script, .. } => {
            peers::on_pipework(&program, script, items, input.as_deref())
        }
    };
    let mut seconds = Vec::with_capacity(settings.runs);
    let mut peak_rss_bytes = 0;
    let mut bytes = None;
    for run in 1..=settings.runs {
        eprintln!(
            "pipework-bench: {} / {} / {items} items (run {run} of {}) ...",
            scenario.name, system.name, settings.runs
        );
        match run_once(scenario, items, command(), settings.limit) {
            Ok((measured, rss, read)) => {
                seconds.push(measured);
                bytes = read;
                peak_rss_bytes = peak_rss_bytes.max(rss);
            }
            Err(error) => return failed(error),
        }
    }
    Line::Figures(Figures::new(
        scenario.name,
        system.name,
        items,
        &seconds,
        peak_rss_bytes,
        scenario.ideal_seconds.map(|ideal| ideal(items)),
        bytes,
    ))
}

/// One child run: its seconds of work, peak RSS and bytes read (if it
/// says), or why there are none.
fn run_once(
    scenario: &Scenario,
    items: u64,
    command: Command,
    limit: Duration,
) -> Result<(f64, u64, Option<u64>), String> {
    let finished =
        child::run(command, limit).map_err(|err| format!("cannot run the child process: {err}"))?;
    if let Some(failure) = finished.failure {
        return Err(format!("{failure}: {}", tail(&finished.stderr)));
    }
    let measurement: Measurement = match finished.stdout.lines().last().map(serde_json::from_str) {
        Some(Ok(measurement)) => measurement,
        _ => {
            return Err(format!(
                "no measurement line on stdout (got {:?}); stderr: {}",
                tail(&finished.stdout),
                tail(&finished.stderr)
            ))
        }
    };
    if measurement.items != items {
        return Err(format!(
            "reported {} items, expected {items}",
            measurement.items
        ));
    }
    let expected = (scenario.check)(items);
    if measurement.check != expected {
        return Err(format!(
            "wrong result: check value {}, expected {expected}",
            measurement.check
        ));
    }
    eprintln!(
        "pipework-bench:   {:.3}s of work, {:.3}s with process start-up",
        measurement.seconds,
        finished.wall.as_secs_f64()
    );
    Ok((
        measurement.seconds,
        finished.peak_rss_bytes,
        measurement.bytes,
    ))
}

/// How every child is run.
#[derive(Debug)]
struct Settings {
    /// Runs per (scenario, system, size).
    runs: usize,
    /// Time limit of one child.
    limit: Duration,
}

/// The last few lines of a child's output, for an error message.
pub(crate) fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    let joined = lines[start..].join(" | ");
    if joined.is_empty() {
        "(no output)".to_owned()
    } else {
        joined
    }
}

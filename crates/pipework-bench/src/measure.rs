//! The child side: `pipework-bench __run SCENARIO SYSTEM ITEMS [INPUT]` runs
//! one Rust system once and prints its [`Measurement`] as one JSON line.
//!
//! The Python peers print the same line (`peers/*.py`), so the parent reads
//! every system the same way. `seconds` is timed inside the child around the
//! work alone: process start-up, interpreter imports and input generation are
//! not part of it, for Rust and Python alike.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::scenario::Runner;
use crate::scenarios;

/// The hidden subcommand the parent re-executes itself with.
pub(crate) const SUBCOMMAND: &str = "__run";

/// What a child is asked to do.
#[derive(Debug)]
pub(crate) struct Job {
    /// How many items to run.
    pub(crate) items: u64,
    /// The input file the parent wrote, for scenarios that read one.
    pub(crate) input: Option<PathBuf>,
}

/// What a child reports: how many items came out, their check value, and
/// the seconds the work took.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Measurement {
    /// Items that came out of the system.
    pub(crate) items: u64,
    /// The scenario's check value computed from the outputs.
    pub(crate) check: u64,
    /// Wall time of the work, measured inside the child.
    pub(crate) seconds: f64,
    /// Bytes the work read, for scenarios whose speed is also in bytes
    /// (the report then adds `mb_per_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bytes: Option<u64>,
}

/// Counts a system's outputs and sums them: a [`Measurement`]'s `items` and
/// `check` for the scenarios whose outputs are numbers.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    count: u64,
    sum: u64,
}

impl Tally {
    /// Tallies every output, stopping at the first error.
    pub(crate) fn of<E>(outputs: impl IntoIterator<Item = Result<u64, E>>) -> Result<Tally, E> {
        let mut tally = Tally::default();
        for output in outputs {
            tally.add(output?);
        }
        Ok(tally)
    }

    pub(crate) fn add(&mut self, output: u64) {
        self.count += 1;
        self.sum += output;
    }

    /// The measurement of work that started at `start` and ends now.
    pub(crate) fn measurement(self, start: Instant) -> Measurement {
        Measurement {
            items: self.count,
            check: self.sum,
            seconds: start.elapsed().as_secs_f64(),
            bytes: None,
        }
    }
}

impl Job {
    /// The input path, or an error saying the scenario needs one.
    pub(crate) fn input(&self) -> anyhow::Result<&PathBuf> {
        self.input
            .as_ref()
            .context("this scenario needs an input file argument")
    }
}

/// Entry point of the child: arguments after `__run`.
pub(crate) fn main(args: &[OsString]) -> ExitCode {
    match run(args) {
        Ok(measurement) => match serde_json::to_string(&measurement) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("cannot encode the measurement: {err}");
                ExitCode::FAILURE
            }
        },
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[OsString]) -> anyhow::Result<Measurement> {
    let [scenario, system, items, rest @ ..] = args else {
        bail!("usage: pipework-bench {SUBCOMMAND} SCENARIO SYSTEM ITEMS [INPUT]");
    };
    let scenario = scenario.to_string_lossy();
    let system = system.to_string_lossy();
    let items: u64 = items
        .to_string_lossy()
        .parse()
        .with_context(|| format!("ITEMS must be a whole number, got {items:?}"))?;
    let input = rest.first().map(PathBuf::from);
    let Some(found) = scenarios::find(&scenario) else {
        bail!("unknown scenario `{scenario}`");
    };
    let Some(found) = found.system(&system) else {
        bail!("scenario `{scenario}` has no system `{system}`");
    };
    let (Runner::Rust(work) | Runner::RustScaled { work, .. }) = found.runner else {
        bail!("system `{system}` of `{scenario}` is a Python peer, not a Rust system");
    };
    work(&Job { items, input })
}

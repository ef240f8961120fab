//! The input files of a scenario, each written by a child process of its
//! own.
//!
//! Writing an input can take memory: `jsonl-resume` reruns the engine once
//! over the pair it wrote, so that the destination has the manifest a real
//! run leaves. Done in the harness, that memory stayed in the harness's
//! resident set, and Linux carries a process's resident set at `fork` into
//! the child's `ru_maxrss` across `exec`: every child measured after it
//! reported at least the harness's size (36.9 MiB for every system after
//! `jsonl-resume-2kb`, however small). A child writes the input and exits,
//! so the harness stays as small as it started.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::child;
use crate::run::tail;
use crate::scenario::Scenario;
use crate::scenarios;

/// The hidden subcommand a child writing an input runs.
pub(crate) const SUBCOMMAND: &str = "__input";

/// The input files of one scenario, written once per size on first use.
#[derive(Debug)]
pub(crate) struct Inputs<'a> {
    exe: &'a Path,
    dir: &'a Path,
    scenario: &'static Scenario,
    /// Longest a child may take to write one input.
    limit: Duration,
    written: HashMap<u64, PathBuf>,
}

impl<'a> Inputs<'a> {
    /// Inputs of `scenario` in `dir`, written by children running `exe`.
    pub(crate) fn new(
        exe: &'a Path,
        dir: &'a Path,
        scenario: &'static Scenario,
        limit: Duration,
    ) -> Self {
        Inputs {
            exe,
            dir,
            scenario,
            limit,
            written: HashMap::new(),
        }
    }

    /// The input for `items`, or `None` when the scenario reads none.
    pub(crate) fn get(&mut self, items: u64) -> anyhow::Result<Option<PathBuf>> {
        if self.scenario.input.is_none() {
            return Ok(None);
        }
        if let Some(path) = self.written.get(&items) {
            return Ok(Some(path.clone()));
        }
        let path = self
            .dir
            .join(format!("{}-{items}.input", self.scenario.name));
        let mut command = Command::new(self.exe);
        command
            .arg(SUBCOMMAND)
            .arg(self.scenario.name)
            .arg(items.to_string())
            .arg(&path);
        // The child ends when the input is written, or is killed at the
        // limit (and dies with the harness, as every child does).
        let finished = child::run(command, self.limit)
            .with_context(|| format!("starting the writer of {}", path.display()))?;
        if let Some(failure) = finished.failure {
            bail!(
                "writing the input file {}: {failure}: {}",
                path.display(),
                tail(&finished.stderr)
            );
        }
        self.written.insert(items, path.clone());
        Ok(Some(path))
    }
}

/// The child's side: `__input SCENARIO ITEMS PATH` writes that input.
pub(crate) fn main(args: &[OsString]) -> ExitCode {
    match write(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

fn write(args: &[OsString]) -> anyhow::Result<()> {
    let [scenario, items, path] = args else {
        bail!("usage: pipework-bench {SUBCOMMAND} SCENARIO ITEMS PATH");
    };
    let name = scenario.to_string_lossy();
    let Some(scenario) = scenarios::find(&name) else {
        bail!("unknown scenario `{name}`");
    };
    let Some(write) = scenario.input else {
        bail!("scenario `{name}` reads no input");
    };
    let items: u64 = items
        .to_string_lossy()
        .parse()
        .with_context(|| format!("ITEMS must be a whole number, got {items:?}"))?;
    let path = PathBuf::from(path);
    write(items, &path).with_context(|| format!("writing {}", path.display()))
}

//! What a scenario is: a named workload, its sizes, the result every system
//! must reproduce, and the systems that run it.

use std::io;
use std::path::Path;

use crate::measure::{Job, Measurement};

/// One benchmark workload, run by several systems on the same sizes.
#[derive(Debug)]
pub(crate) struct Scenario {
    /// Stable name, as in the benchmark contract (`pipeline-trivial`).
    pub(crate) name: &'static str,
    /// One line saying what the work is, for `--list` and the summary.
    pub(crate) work: &'static str,
    /// Sizes (items) for a full run; one line per size and system.
    pub(crate) sizes: &'static [u64],
    /// Sizes for `--quick`, about 100× smaller where that still means something.
    pub(crate) quick_sizes: &'static [u64],
    /// The physical lower bound on the wall time for a size, where one exists.
    pub(crate) ideal_seconds: Option<fn(u64) -> f64>,
    /// The value every system must report for a size (a sum over the
    /// outputs), so a system that drops or garbles items gets an error line
    /// rather than a figure.
    pub(crate) check: fn(u64) -> u64,
    /// Writes the input file for a size, when the work reads one. The
    /// parent writes it once, before any system is timed.
    pub(crate) input: Option<fn(u64, &Path) -> io::Result<()>>,
    /// The systems that run this scenario, pipework first.
    pub(crate) systems: &'static [System],
}

/// One implementation of a scenario.
#[derive(Debug)]
pub(crate) struct System {
    /// Name in the report (`pipework`, `crossbeam-threads`, `paipa`, ...).
    pub(crate) name: &'static str,
    /// How it runs.
    pub(crate) runner: Runner,
}

/// How a system runs in its child process.
#[derive(Debug)]
pub(crate) enum Runner {
    /// Rust code inside this binary, reached through the hidden `__run`
    /// subcommand.
    Rust(fn(&Job) -> anyhow::Result<Measurement>),
    /// Rust code as for [`Runner::Rust`], on `size / divisor` items: a
    /// baseline too slow for the full size (its items/s is what compares).
    RustScaled {
        /// The system's code.
        work: fn(&Job) -> anyhow::Result<Measurement>,
        /// The run gets `size / divisor` items.
        divisor: u64,
    },
    /// A script in `peers/`, run by the venv's Python (only with `--peers`).
    Python {
        /// File name inside `peers/`.
        script: &'static str,
        /// The Python run gets `size / divisor` items (Python is slower;
        /// the contract names the smaller sizes).
        divisor: u64,
    },
    /// The same peer script, unchanged, run against the `pipework` Python
    /// package (`crates/pipework-py`, installed in the venv) with the
    /// library's module names pointed at `pipework.*` by
    /// `peers/as_pipework.py` (only with `--peers`).
    PipeworkPy {
        /// File name inside `peers/` of the peer script it runs.
        script: &'static str,
        /// As for [`Runner::Python`]: the same items as the peer.
        divisor: u64,
    },
}

impl Scenario {
    /// The sizes for this run.
    pub(crate) fn sizes(&self, quick: bool) -> &'static [u64] {
        if quick {
            self.quick_sizes
        } else {
            self.sizes
        }
    }

    /// The system called `name`, if this scenario has it.
    pub(crate) fn system(&self, name: &str) -> Option<&'static System> {
        self.systems.iter().find(|system| system.name == name)
    }
}

impl System {
    /// How many items this system runs for a scenario size.
    pub(crate) fn items(&self, size: u64) -> u64 {
        match self.runner {
            Runner::Rust(_) => size,
            Runner::RustScaled { divisor, .. }
            | Runner::Python { divisor, .. }
            | Runner::PipeworkPy { divisor, .. } => (size / divisor).max(1),
        }
    }

    /// Whether this runs in Python (a library, or its script on the
    /// `pipework` package): only with `--peers`.
    pub(crate) fn is_peer(&self) -> bool {
        matches!(
            self.runner,
            Runner::Python { .. } | Runner::PipeworkPy { .. }
        )
    }
}

/// `0 + 1 + ... + (n - 1)`.
pub(crate) fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// The bound for `items` tasks of `each` seconds run `concurrency` at a
/// time: every slot works through `ceil(items / concurrency)` tasks in turn.
pub(crate) fn waves(items: u64, concurrency: u64, each: f64) -> f64 {
    items.div_ceil(concurrency) as f64 * each
}

//! `run-bounded-sleep`: 10k tasks each sleeping 10 ms, at most 1000 at a
//! time. The ideal is `ceil(N / 1000) × 10 ms` = 0.100 s; the figure shows
//! the scheduling overhead on top of the sleeps.

use std::time::Duration;

use super::bounded_tasks;
use crate::measure::{Job, Measurement};
use crate::scenario::{sum_below, waves, Runner, Scenario, System};

/// Tasks running at once.
pub(crate) const LIMIT: usize = 1000;
/// Sleep per task.
pub(crate) const SLEEP: Duration = Duration::from_millis(10);

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "run-bounded-sleep",
    work: "10 ms sleeping tasks, limit 1000",
    sizes: &[10_000],
    quick_sizes: &[1_000],
    ideal_seconds: Some(ideal),
    check: sum_below,
    input: None,
    systems: &[
        System {
            name: "pipework",
            runner: Runner::Rust(pipework),
        },
        System {
            name: "futures-buffer-unordered",
            runner: Runner::Rust(futures_buffer_unordered),
        },
        System {
            name: "abstractions",
            runner: Runner::Python {
                script: "abstractions_run_bounded_sleep.py",
                divisor: 1,
            },
        },
        System {
            name: "pipework-py",
            runner: Runner::PipeworkPy {
                script: "abstractions_run_bounded_sleep.py",
                divisor: 1,
            },
        },
    ],
};

fn ideal(items: u64) -> f64 {
    waves(items, LIMIT as u64, SLEEP.as_secs_f64())
}

fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    bounded_tasks::pipework(job.items, LIMIT, Some(SLEEP))
}

fn futures_buffer_unordered(job: &Job) -> anyhow::Result<Measurement> {
    bounded_tasks::buffer_unordered(job.items, LIMIT, Some(SLEEP))
}

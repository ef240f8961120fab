//! `run-bounded-trivial`: a lazy stream of ready futures (each returns its
//! index), at most 64 at a time, results in completion order. Measures the
//! per-task overhead. pipework's `run_bounded` spawns every task on the
//! runtime; the baseline, futures' `buffer_unordered(64)`, polls the futures
//! inline instead (cheaper, but its futures stall while the consumer is
//! busy). Both run on a tokio multi-thread runtime.

use super::bounded_tasks;
use crate::measure::{Job, Measurement};
use crate::scenario::{sum_below, Runner, Scenario, System};

/// Tasks running at once.
pub(crate) const LIMIT: usize = 64;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "run-bounded-trivial",
    work: "ready futures, limit 64, completion order",
    sizes: &[1_000_000],
    quick_sizes: &[10_000],
    ideal_seconds: None,
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
                script: "abstractions_run_bounded_trivial.py",
                divisor: 10,
            },
        },
        System {
            name: "pipework-py",
            runner: Runner::PipeworkPy {
                script: "abstractions_run_bounded_trivial.py",
                divisor: 10,
            },
        },
    ],
};

fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    bounded_tasks::pipework(job.items, LIMIT, None)
}

fn futures_buffer_unordered(job: &Job) -> anyhow::Result<Measurement> {
    bounded_tasks::buffer_unordered(job.items, LIMIT, None)
}

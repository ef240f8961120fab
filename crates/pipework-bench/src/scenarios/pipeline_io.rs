//! `pipeline-io`: one step of 256 threads, each item a 10 ms sleep (a
//! stand-in for a network call). The ideal is every thread busy all the
//! time: `ceil(N / 256) × 10 ms` (0.400 s for 10k items; `N × 10 ms / 256`
//! = 0.39 s cannot be reached, as some thread must take 40 items).

use std::thread;
use std::time::{Duration, Instant};

use pipework::pipeline::Pipeline;

use crate::measure::{Job, Measurement, Tally};
use crate::scenario::{sum_below, waves, Runner, Scenario, System};

/// Threads of the one step.
pub(crate) const THREADS: u64 = 256;
/// Sleep per item, in seconds.
pub(crate) const SLEEP: f64 = 0.010;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "pipeline-io",
    work: "1 step × 256 threads, 10 ms sleep per item",
    sizes: &[10_000],
    quick_sizes: &[100],
    ideal_seconds: Some(ideal),
    check: sum_below,
    input: None,
    systems: &[
        System {
            name: "pipework",
            runner: Runner::Rust(pipework),
        },
        System {
            name: "paipa",
            runner: Runner::Python {
                script: "paipa_io.py",
                divisor: 1,
            },
        },
        System {
            name: "pipework-py",
            runner: Runner::PipeworkPy {
                script: "paipa_io.py",
                divisor: 1,
            },
        },
    ],
};

fn ideal(items: u64) -> f64 {
    waves(items, THREADS, SLEEP)
}

fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    let start = Instant::now();
    let mut pipeline = Pipeline::new()
        .map(|x: u64| {
            thread::sleep(Duration::from_secs_f64(SLEEP));
            x
        })
        .threads(THREADS as usize);
    pipeline.put_iter(0..job.items);
    Ok(Tally::of(pipeline.outputs()?)?.measurement(start))
}

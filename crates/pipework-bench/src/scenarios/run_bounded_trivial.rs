//! `run-bounded-trivial`: a lazy stream of ready futures (each returns its
//! index), at most 64 at a time, results in completion order. Measures the
//! per-task overhead; the baseline is futures' `buffer_unordered(64)`, which
//! polls the futures inline instead of spawning them.

use std::time::Instant;

use futures::StreamExt;

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
    ],
};

fn futures_buffer_unordered(job: &Job) -> anyhow::Result<Measurement> {
    let n = job.items;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let (count, sum) = runtime.block_on(async {
        futures::stream::iter(0..n)
            .map(|i| async move { i })
            .buffer_unordered(LIMIT)
            .fold((0u64, 0u64), |(count, sum), i| async move {
                (count + 1, sum + i)
            })
            .await
    });
    Ok(Measurement {
        items: count,
        check: sum,
        seconds: start.elapsed().as_secs_f64(),
    })
}

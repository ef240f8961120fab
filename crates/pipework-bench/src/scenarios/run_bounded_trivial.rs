//! `run-bounded-trivial`: a lazy stream of ready futures (each returns its
//! index), at most 64 at a time, results in completion order. Measures the
//! per-task overhead. pipework's `run_bounded` spawns every task on the
//! runtime; the baseline, futures' `buffer_unordered(64)`, polls the futures
//! inline instead (cheaper, but its futures stall while the consumer is
//! busy). Both run on a tokio multi-thread runtime.

use std::time::Instant;

use std::convert::Infallible;

use futures::StreamExt;
use pipework::stream::run_bounded;

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
    ],
};

fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    let n = job.items;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let (count, sum) = runtime.block_on(async {
        let tasks = futures::stream::iter(0..n).map(|i| async move { Ok::<u64, Infallible>(i) });
        let mut results = run_bounded(tasks, LIMIT)?;
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(result) = results.next().await {
            count += 1;
            sum += result?;
        }
        anyhow::Ok((count, sum))
    })?;
    Ok(Measurement {
        items: count,
        check: sum,
        seconds: start.elapsed().as_secs_f64(),
    })
}

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

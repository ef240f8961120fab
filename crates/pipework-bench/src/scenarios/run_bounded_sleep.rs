//! `run-bounded-sleep`: 10k tasks each sleeping 10 ms, at most 1000 at a
//! time. The ideal is `ceil(N / 1000) × 10 ms` = 0.100 s; the figure shows
//! the scheduling overhead on top of the sleeps.

use std::time::{Duration, Instant};

use std::convert::Infallible;

use futures::StreamExt;
use pipework::stream::run_bounded;

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
    ],
};

fn ideal(items: u64) -> f64 {
    waves(items, LIMIT as u64, SLEEP.as_secs_f64())
}

fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    let n = job.items;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let (count, sum) = runtime.block_on(async {
        let tasks = futures::stream::iter(0..n).map(|i| async move {
            tokio::time::sleep(SLEEP).await;
            Ok::<u64, Infallible>(i)
        });
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
            .map(|i| async move {
                tokio::time::sleep(SLEEP).await;
                i
            })
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

//! The Rust systems of `run-bounded-trivial` and `run-bounded-sleep`: `n`
//! tasks, each returning its index (after `sleep`, if any), at most `limit`
//! at once, consumed in completion order on a tokio multi-thread runtime.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use futures::StreamExt;
use pipework::stream::run_bounded;

use crate::measure::{Measurement, Tally};

async fn task(i: u64, sleep: Option<Duration>) -> u64 {
    if let Some(d) = sleep {
        tokio::time::sleep(d).await;
    }
    i
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// pipework's `run_bounded`: every task not ready at once is spawned.
pub(crate) fn pipework(
    n: u64,
    limit: usize,
    sleep: Option<Duration>,
) -> anyhow::Result<Measurement> {
    let runtime = runtime()?;
    let start = Instant::now();
    let tally = runtime.block_on(async {
        let tasks = futures::stream::iter(0..n)
            .map(|i| async move { Ok::<u64, Infallible>(task(i, sleep).await) });
        let mut results = run_bounded(tasks, limit)?;
        let mut tally = Tally::default();
        while let Some(result) = results.next().await {
            tally.add(result?);
        }
        anyhow::Ok(tally)
    })?;
    Ok(tally.measurement(start))
}

/// The baseline: futures' `buffer_unordered`, polling the futures inline.
pub(crate) fn buffer_unordered(
    n: u64,
    limit: usize,
    sleep: Option<Duration>,
) -> anyhow::Result<Measurement> {
    let runtime = runtime()?;
    let start = Instant::now();
    let tally = runtime.block_on(async {
        futures::stream::iter(0..n)
            .map(|i| task(i, sleep))
            .buffer_unordered(limit)
            .fold(Tally::default(), |mut tally, i| async move {
                tally.add(i);
                tally
            })
            .await
    });
    Ok(tally.measurement(start))
}

//! `buffered-sleep`: the asyncio-buffered-pipeline README example, scaled
//! down: three stages (range, `× 2`, `+ 3`), each sleeping 50 ms per item,
//! 10 items. Unbuffered it takes `3 × 10 × 50 ms` = 1.5 s; with every stage
//! on its own task the ideal is `(10 + 2) × 50 ms` = 0.600 s. The size stays
//! 10 with `--quick`: the run is short already, and the overlap is the point.

use std::time::{Duration, Instant};

use futures::StreamExt;
use pipework::stream::{BufferedPipeline, StagePanic};

use crate::measure::{Job, Measurement, Tally};
use crate::scenario::{Runner, Scenario, System};

/// Stages in the chain.
pub(crate) const STAGES: u64 = 3;
/// Sleep per item in every stage.
pub(crate) const SLEEP: Duration = Duration::from_millis(50);

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "buffered-sleep",
    work: "3 buffered stages × 50 ms per item",
    sizes: &[10],
    quick_sizes: &[10],
    ideal_seconds: Some(ideal),
    check: super::buffered_trivial::check,
    input: None,
    systems: &[
        System {
            name: "pipework",
            runner: Runner::Rust(pipework),
        },
        System {
            name: "asyncio-buffered-pipeline",
            runner: Runner::Python {
                script: "asyncio_buffered_pipeline_sleep.py",
                divisor: 1,
            },
        },
        System {
            name: "pipework-py",
            runner: Runner::PipeworkPy {
                script: "asyncio_buffered_pipeline_sleep.py",
                divisor: 1,
            },
        },
    ],
};

fn ideal(items: u64) -> f64 {
    (items + STAGES - 1) as f64 * SLEEP.as_secs_f64()
}

fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    let n = job.items;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let tally = runtime.block_on(async {
        let pipeline = BufferedPipeline::new();
        let numbers = pipeline.buffered(futures::stream::iter(0..n).then(|x| async move {
            tokio::time::sleep(SLEEP).await;
            Ok::<u64, StagePanic>(x)
        }))?;
        let doubled = pipeline.buffered(numbers.then(|x| async move {
            tokio::time::sleep(SLEEP).await;
            x.map(|x| x * 2)
        }))?;
        let mut shifted = pipeline.buffered(doubled.then(|x| async move {
            tokio::time::sleep(SLEEP).await;
            x.map(|x| x + 3)
        }))?;
        let mut tally = Tally::default();
        while let Some(x) = shifted.next().await {
            tally.add(x?);
        }
        anyhow::Ok(tally)
    })?;
    Ok(tally.measurement(start))
}

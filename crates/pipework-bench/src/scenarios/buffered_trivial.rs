//! `buffered-trivial`: three buffered stages, the shape of the
//! asyncio-buffered-pipeline README (yield `0..N`, then `× 2`, then `+ 3`),
//! each stage on its own task with a buffer of one. Measures the per-item
//! cost of a stage hand-off.

use std::time::Instant;

use futures::StreamExt;
use pipework::stream::{BufferedPipeline, StagePanic};

use crate::measure::{Job, Measurement, Tally};
use crate::scenario::{sum_below, Runner, Scenario, System};

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "buffered-trivial",
    work: "3 buffered stages (range, ×2, +3), buffer 1",
    sizes: &[1_000_000],
    quick_sizes: &[10_000],
    ideal_seconds: None,
    check,
    input: None,
    systems: &[
        System {
            name: "pipework",
            runner: Runner::Rust(pipework),
        },
        System {
            name: "asyncio-buffered-pipeline",
            runner: Runner::Python {
                script: "asyncio_buffered_pipeline_trivial.py",
                divisor: 10,
            },
        },
    ],
};

/// The sum of the outputs: each input `i` comes out as `2i + 3`.
pub(crate) fn check(n: u64) -> u64 {
    2 * sum_below(n) + 3 * n
}

fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    let n = job.items;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let tally = runtime.block_on(async {
        let pipeline = BufferedPipeline::new();
        let numbers = pipeline.buffered(futures::stream::iter(0..n).map(Ok::<u64, StagePanic>))?;
        let doubled = pipeline.buffered(numbers.map(|x| x.map(|x| x * 2)))?;
        let mut shifted = pipeline.buffered(doubled.map(|x| x.map(|x| x + 3)))?;
        let mut tally = Tally::default();
        while let Some(x) = shifted.next().await {
            tally.add(x?);
        }
        anyhow::Ok(tally)
    })?;
    Ok(tally.measurement(start))
}

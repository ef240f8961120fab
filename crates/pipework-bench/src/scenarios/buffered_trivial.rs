//! `buffered-trivial`: three buffered stages, the shape of the
//! asyncio-buffered-pipeline README (yield `0..N`, then `× 2`, then `+ 3`),
//! each stage on its own task with a buffer of one. Measures the per-item
//! cost of a stage hand-off.
//!
//! asyncio runs on one thread, so pipework runs on both tokio runtime
//! flavours (`pipework-current-thread`, `pipework-multi-thread`, the
//! latter also as plain `pipework`), each beside the bare baseline on the
//! same flavour (`tokio-mpsc-chain-*`: three tasks joined by
//! `mpsc::channel(1)`, the same items), so the report shows what the exact
//! prefetch costs over plain channels.

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
            name: "pipework-current-thread",
            runner: Runner::Rust(pipework_current_thread),
        },
        System {
            name: "pipework-multi-thread",
            runner: Runner::Rust(pipework),
        },
        System {
            name: "tokio-mpsc-chain-current-thread",
            runner: Runner::Rust(mpsc_current_thread),
        },
        System {
            name: "tokio-mpsc-chain-multi-thread",
            runner: Runner::Rust(mpsc_multi_thread),
        },
        System {
            name: "asyncio-buffered-pipeline",
            runner: Runner::Python {
                script: "asyncio_buffered_pipeline_trivial.py",
                divisor: 10,
            },
        },
        System {
            name: "pipework-py",
            runner: Runner::PipeworkPy {
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
    pipework_on(job, tokio::runtime::Builder::new_multi_thread())
}

fn pipework_current_thread(job: &Job) -> anyhow::Result<Measurement> {
    pipework_on(job, tokio::runtime::Builder::new_current_thread())
}

fn pipework_on(job: &Job, mut builder: tokio::runtime::Builder) -> anyhow::Result<Measurement> {
    let n = job.items;
    let runtime = builder.enable_all().build()?;
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

fn mpsc_current_thread(job: &Job) -> anyhow::Result<Measurement> {
    mpsc_chain(job, tokio::runtime::Builder::new_current_thread())
}

fn mpsc_multi_thread(job: &Job) -> anyhow::Result<Measurement> {
    mpsc_chain(job, tokio::runtime::Builder::new_multi_thread())
}

/// The baseline: the source, `× 2` and `+ 3` each a spawned task, joined
/// by `mpsc::channel(1)`; the consumer reads the last channel. Each task
/// ends when its input channel closes (or its output's reader is gone).
fn mpsc_chain(job: &Job, mut builder: tokio::runtime::Builder) -> anyhow::Result<Measurement> {
    use tokio::sync::mpsc;
    let n = job.items;
    let runtime = builder.enable_all().build()?;
    let start = Instant::now();
    let tally = runtime.block_on(async {
        let (numbers, mut numbers_rx) = mpsc::channel::<u64>(1);
        let (doubled, mut doubled_rx) = mpsc::channel::<u64>(1);
        let (shifted, mut shifted_rx) = mpsc::channel::<u64>(1);
        let source = tokio::spawn(async move {
            for i in 0..n {
                if numbers.send(i).await.is_err() {
                    break;
                }
            }
        });
        let double = tokio::spawn(async move {
            while let Some(x) = numbers_rx.recv().await {
                if doubled.send(x * 2).await.is_err() {
                    break;
                }
            }
        });
        let shift = tokio::spawn(async move {
            while let Some(x) = doubled_rx.recv().await {
                if shifted.send(x + 3).await.is_err() {
                    break;
                }
            }
        });
        let mut tally = Tally::default();
        while let Some(x) = shifted_rx.recv().await {
            tally.add(x);
        }
        for task in [source, double, shift] {
            task.await?;
        }
        anyhow::Ok(tally)
    })?;
    Ok(tally.measurement(start))
}

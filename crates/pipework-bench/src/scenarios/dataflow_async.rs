//! `dataflow-async`: N items through a dataflow step that makes a 10 ms
//! call per item (a tokio sleep standing in for a service), at most 100
//! calls in flight per worker, then counted. The ideal is
//! `ceil(N / (100 × workers)) × 10 ms` (1.0 s for 10k items on one worker).
//!
//! - `pipework-w1`: `map_async` (capacity 100) on one worker;
//!   `pipework-w2`: two workers, after a `redistribute` (the testing source
//!   is one partition), so 200 calls in flight.
//! - `pipework-blocking-map`: the same flow with a blocking `map`
//!   (`std::thread::sleep(10 ms)`), one call at a time: run on 1/20 of the
//!   items (500 of 10k, 5 s) and compared by items/s.
//! - `bytewax`: bytewax 0.21.1's documented workaround for async calls in
//!   a `map`: batches of 100 (`collect` on one key) and
//!   `asyncio.run(asyncio.gather(...))` per batch (`peers/bytewax_async.py`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pipework_dataflow::connectors::TestingSource;
use pipework_dataflow::{run, Dataflow, ExecutionConfig, MapAsyncOptions, Order};

use super::count_sink::{CountSink, Totals};
use crate::measure::{Job, Measurement};
use crate::scenario::{sum_below, waves, Runner, Scenario, System};

/// Calls in flight per worker.
pub(crate) const CAPACITY: usize = 100;
/// One call.
pub(crate) const CALL: Duration = Duration::from_millis(10);
/// The blocking `map` runs on this fraction of the items.
const BLOCKING_DIVISOR: u64 = 20;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "dataflow-async",
    work: "10 ms async call per item, capacity 100 per worker -> count",
    sizes: &[10_000],
    quick_sizes: &[1_000],
    ideal_seconds: Some(ideal),
    check: sum_below,
    input: None,
    systems: &[
        System {
            name: "pipework-w1",
            runner: Runner::Rust(pipework_w1),
        },
        System {
            name: "pipework-w2",
            runner: Runner::Rust(pipework_w2),
        },
        System {
            name: "pipework-blocking-map",
            runner: Runner::RustScaled {
                work: blocking_map,
                divisor: BLOCKING_DIVISOR,
            },
        },
        System {
            name: "bytewax",
            runner: Runner::Python {
                script: "bytewax_async.py",
                divisor: 1,
            },
        },
    ],
};

/// The bound for one worker's `CAPACITY` calls in flight.
fn ideal(items: u64) -> f64 {
    waves(items, CAPACITY as u64, CALL.as_secs_f64())
}

fn pipework_w1(job: &Job) -> anyhow::Result<Measurement> {
    timed(job, ExecutionConfig::single(), |flow, items, sink| {
        flow.input("inp", TestingSource::new(0..items).batch_size(CAPACITY))
            .map_async("call", options(), call)
            .output("count", sink);
    })
}

fn pipework_w2(job: &Job) -> anyhow::Result<Measurement> {
    timed(job, ExecutionConfig::threads(2)?, |flow, items, sink| {
        flow.input("inp", TestingSource::new(0..items).batch_size(CAPACITY))
            .redistribute("spread")
            .map_async("call", options(), call)
            .output("count", sink);
    })
}

fn blocking_map(job: &Job) -> anyhow::Result<Measurement> {
    timed(job, ExecutionConfig::single(), |flow, items, sink| {
        flow.input("inp", TestingSource::new(0..items).batch_size(CAPACITY))
            .map("call", |n: u64| {
                std::thread::sleep(CALL);
                n
            })
            .output("count", sink);
    })
}

fn options() -> MapAsyncOptions {
    MapAsyncOptions::new()
        .capacity(CAPACITY)
        .order(Order::Unordered)
}

async fn call(n: u64) -> Result<u64, std::io::Error> {
    tokio::time::sleep(CALL).await;
    Ok(n)
}

/// Runs the flow `wire` builds over `job.items` items into a counting sink.
fn timed(
    job: &Job,
    config: ExecutionConfig,
    wire: fn(&mut pipework_dataflow::Flow<'_>, u64, CountSink),
) -> anyhow::Result<Measurement> {
    let totals = Totals::default();
    let sink = CountSink(totals.clone());
    let items = job.items;
    let flow = Dataflow::new("dataflow-async", move |flow| {
        wire(flow, items, sink.clone());
    });
    let start = Instant::now();
    run(&flow, &config)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Measurement {
        items: totals.count.load(Ordering::Acquire),
        check: totals.sum.load(Ordering::Acquire),
        seconds,
        bytes: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rust_system_emits_each_item_once() {
        let job = Job {
            items: 300,
            input: None,
        };
        for work in [pipework_w1, pipework_w2, blocking_map] {
            let measured = work(&job).unwrap();
            assert_eq!((measured.items, measured.check), (300, sum_below(300)));
        }
    }
}

//! `pipeline-trivial`: three steps of one thread each, every step adding 1,
//! over `0..N` as `u64`. Measures the per-item cost of the threaded pipeline
//! itself, against a hand-written crossbeam pipeline of the same shape: a
//! source thread, three step threads and the consumer, joined by bounded
//! channels of pipework's default capacity.

use std::thread;
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver};
use pipework::pipeline::{Pipeline, DEFAULT_QUEUE};

use crate::measure::{Job, Measurement, Tally};
use crate::scenario::{sum_below, Runner, Scenario, System};

/// Capacity of each channel of the hand-written baseline: pipework's default.
const QUEUE: usize = DEFAULT_QUEUE;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "pipeline-trivial",
    work: "3 steps × 1 thread, x+1, over 0..N u64",
    sizes: &[10_000_000],
    quick_sizes: &[100_000],
    ideal_seconds: None,
    check,
    input: None,
    systems: &[
        System {
            name: "pipework",
            runner: Runner::Rust(pipework),
        },
        System {
            name: "crossbeam-threads",
            runner: Runner::Rust(crossbeam_threads),
        },
        System {
            name: "paipa",
            runner: Runner::Python {
                script: "paipa_trivial.py",
                divisor: 100,
            },
        },
        System {
            name: "pipework-py",
            runner: Runner::PipeworkPy {
                script: "paipa_trivial.py",
                divisor: 100,
            },
        },
    ],
};

/// The sum of the outputs: each input `i` comes out as `i + 3`.
fn check(n: u64) -> u64 {
    sum_below(n) + 3 * n
}

/// `put_iter` feeds `0..N` from its feeder thread; the outputs are
/// consumed on this thread, like the baseline's consumer.
fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    let start = Instant::now();
    let mut pipeline = Pipeline::new()
        .map(|x: u64| x + 1)
        .map(|x| x + 1)
        .map(|x| x + 1);
    pipeline.put_iter(0..job.items);
    Ok(Tally::of(pipeline.outputs()?)?.measurement(start))
}

fn crossbeam_threads(job: &Job) -> anyhow::Result<Measurement> {
    let n = job.items;
    let start = Instant::now();
    let tally = thread::scope(|scope| {
        let (source, mut rx) = bounded::<u64>(QUEUE);
        scope.spawn(move || {
            for i in 0..n {
                if source.send(i).is_err() {
                    break; // the consumer is gone; nothing left to do
                }
            }
        });
        for _ in 0..3 {
            let (tx, next) = bounded::<u64>(QUEUE);
            let input: Receiver<u64> = rx;
            scope.spawn(move || {
                for x in input {
                    if tx.send(x + 1).is_err() {
                        break;
                    }
                }
            });
            rx = next;
        }
        rx.iter().fold(Tally::default(), |mut tally, x| {
            tally.add(x);
            tally
        })
    });
    Ok(tally.measurement(start))
}

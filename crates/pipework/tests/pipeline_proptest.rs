//! Property tests of the threaded pipeline against sequential iterators:
//! an ordered pipeline is `Iterator::map`/`filter_map`, an unordered one
//! gives the same multiset, and the items in flight stay within the memory
//! bound the module docs give, whatever the thread counts and queue sizes;
//! an ordered step holds exactly its window of `queue + threads` items.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pipework::pipeline::Pipeline;
use proptest::prelude::*;

/// One step of a generated pipeline.
#[derive(Debug, Clone)]
struct StepSpec {
    threads: usize,
    queue: usize,
    /// Drops items whose result is a multiple of 5, instead of mapping.
    filter: bool,
}

fn step_spec() -> impl Strategy<Value = StepSpec> {
    (1usize..=8, 0usize..=5, proptest::bool::weighted(0.25)).prop_map(|(threads, queue, filter)| {
        StepSpec {
            threads,
            queue,
            filter,
        }
    })
}

/// What step `i` does to an item, in the pipeline and sequentially. Some
/// items make the thread yield, so threads finish out of order.
fn f(i: usize, x: u64) -> u64 {
    if x.is_multiple_of(3) {
        std::thread::yield_now();
    }
    x.wrapping_mul(2 * i as u64 + 3).wrapping_add(i as u64) % 1_000_003
}

fn sequential(input: &[u64], steps: &[StepSpec]) -> Vec<u64> {
    input
        .iter()
        .filter_map(|&x| {
            steps.iter().enumerate().try_fold(x, |x, (i, s)| {
                let y = f(i, x);
                (!s.filter || !y.is_multiple_of(5)).then_some(y)
            })
        })
        .collect()
}

fn build(steps: &[StepSpec], ordered: bool) -> Pipeline<u64> {
    let mut pipeline = Pipeline::new();
    for (i, s) in steps.iter().enumerate() {
        pipeline = if s.filter {
            pipeline.filter_map(move |x| {
                let y = f(i, x);
                (!y.is_multiple_of(5)).then_some(y)
            })
        } else {
            pipeline.map(move |x| f(i, x))
        }
        .threads(s.threads)
        .queue(s.queue);
    }
    if ordered {
        pipeline.ordered()
    } else {
        pipeline
    }
}

fn multiset(items: &[u64]) -> HashMap<u64, usize> {
    let mut m = HashMap::new();
    for &x in items {
        *m.entry(x).or_insert(0) += 1;
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn ordered_pipeline_equals_iterator_map(
        input in proptest::collection::vec(0u64..1_000_000, 0..300),
        steps in proptest::collection::vec(step_spec(), 1..4),
    ) {
        let mut pipeline = build(&steps, true);
        pipeline.put_iter(input.clone());
        let out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(out, sequential(&input, &steps));
    }

    #[test]
    fn unordered_pipeline_gives_the_same_multiset(
        input in proptest::collection::vec(0u64..1_000_000, 0..300),
        steps in proptest::collection::vec(step_spec(), 1..4),
    ) {
        let mut pipeline = build(&steps, false);
        pipeline.put_all(input.clone());
        pipeline.finish();
        let out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(multiset(&out), multiset(&sequential(&input, &steps)));
    }
}

/// The bound of the module docs ("Memory bound"): the sum of the queue
/// capacities, plus one item per thread being processed, plus one item
/// held by each feeder (one here); ordered mode adds up to `queue +
/// threads` finished items per step.
fn documented_bound(steps: &[StepSpec], ordered: bool) -> usize {
    let queues: usize = steps.iter().map(|s| s.queue).sum();
    let threads: usize = steps.iter().map(|s| s.threads).sum();
    let reorder = if ordered { queues + threads } else { 0 };
    queues + threads + 1 + reorder
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// With a slow last step, the items pulled from a lazy source minus the
    /// items the last step finished never exceed the documented bound. (In
    /// unordered runs the worst case measured reaches the bound exactly:
    /// it is tight, so any extra buffering fails this test.)
    #[test]
    fn items_in_flight_stay_within_the_documented_bound(
        steps in proptest::collection::vec(step_spec(), 0..3),
        last_threads in 1usize..=3,
        last_queue in 0usize..=4,
        ordered in any::<bool>(),
    ) {
        let pulled = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let worst = Arc::new(AtomicUsize::new(0));

        // Map steps only: filtering would make "finished" undercount.
        let steps: Vec<StepSpec> = steps.into_iter().map(|s| StepSpec { filter: false, ..s }).collect();
        let mut all = steps.clone();
        all.push(StepSpec { threads: last_threads, queue: last_queue, filter: false });
        let bound = documented_bound(&all, ordered);

        let done = finished.clone();
        let mut pipeline = build(&steps, false)
            .map(move |x| {
                std::thread::sleep(Duration::from_micros(50));
                done.fetch_add(1, Ordering::SeqCst);
                x
            })
        .threads(last_threads)
        .queue(last_queue);
        if ordered {
            pipeline = pipeline.ordered();
        }
        let (p, w, fin) = (pulled.clone(), worst.clone(), finished.clone());
        pipeline.put_iter((0u64..400).inspect(move |_| {
            // Counted as pulled before `finished` is read: the difference
            // can only be overstated, never hidden.
            let now = p.fetch_add(1, Ordering::SeqCst) + 1;
            let in_flight = now - fin.load(Ordering::SeqCst);
            w.fetch_max(in_flight, Ordering::SeqCst);
        }));
        let report = pipeline.run().unwrap();
        prop_assert_eq!(report.outputs(), 400);
        prop_assert_eq!(finished.load(Ordering::SeqCst), 400);
        let worst = worst.load(Ordering::SeqCst);
        prop_assert!(worst <= bound, "{} items in flight, bound {}", worst, bound);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The ordered window is exact: while item `held` of an ordered step is
    /// held, every earlier item is done and the other threads run ahead of
    /// it by `queue + threads - 1` finished items (waiting for the held one)
    /// plus one item each that they could not hand over, and no further.
    /// One item more means the step holds more than `queue + threads`.
    #[test]
    fn an_ordered_step_holds_exactly_its_window(
        threads in 2usize..=5,
        queue in 0usize..=4,
        held in 0u64..20,
    ) {
        /// Only a hang takes this long.
        const PROMPTLY: Duration = Duration::from_secs(10);
        let window = (queue + threads) as u64;
        let ahead = window - 1 + threads as u64 - 1;
        let total = held + ahead + 40;
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        let (started_tx, started_rx) = crossbeam_channel::unbounded::<u64>();
        let mut pipeline = Pipeline::new()
            .map(move |n: u64| {
                if n == held {
                    // Held until the test lets it go (or drops the sender).
                    let _ = release_rx.recv();
                } else {
                    // The test outlives the run: this receiver is there.
                    let _ = started_tx.send(n);
                }
                n
            })
            .threads(threads)
            .queue(queue)
            .ordered();
        pipeline.put_iter(0..total);
        let outputs = pipeline.outputs().unwrap();
        let started: Result<Vec<u64>, _> = (0..held + ahead)
            .map(|_| started_rx.recv_timeout(PROMPTLY))
            .collect();
        // Nothing else starts while the item is held, however long we look
        // (a late scheduler only makes this pass).
        let one_more = started_rx.recv_timeout(Duration::from_millis(200));
        // Released before any assertion, so a failing one cannot hang.
        drop(release_tx);
        let out: Vec<u64> = outputs.collect::<Result<_, _>>().unwrap();
        let mut started = started.map_err(|e| {
            TestCaseError::fail(format!("fewer than {} items started: {e}", held + ahead))
        })?;
        started.sort_unstable();
        let expected: Vec<u64> = (0..held).chain(held + 1..=held + ahead).collect();
        prop_assert_eq!(started, expected);
        prop_assert_eq!(one_more.ok(), None, "an item past the window started");
        prop_assert_eq!(out, (0..total).collect::<Vec<_>>());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Fan-out through steps of one thread, which take their input in
    /// chunks and hold back a chunk's outputs: an item emitting more
    /// outputs than its chunk has inputs makes the thread hand on what it
    /// holds first. Whatever the fan-outs, thread counts and queues, the
    /// outputs are `Iterator::flat_map`'s, in order when ordered.
    #[test]
    fn fan_out_steps_equal_iterator_flat_map(
        input in proptest::collection::vec(0u64..1_000, 0..200),
        fan_outs in proptest::collection::vec((0u64..5, 1usize..=2, 0usize..=4), 1..4),
        ordered in any::<bool>(),
    ) {
        let mut pipeline = Pipeline::new();
        for &(fan, threads, queue) in &fan_outs {
            pipeline = pipeline
                .flat_map(move |x: u64| (0..(x + fan) % 5).map(move |k| x * 5 + k))
                .threads(threads)
                .queue(queue);
        }
        if ordered {
            pipeline = pipeline.ordered();
        }
        pipeline.put_iter(input.clone());
        let mut out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
        let mut expected = input.clone();
        for &(fan, _, _) in &fan_outs {
            expected = expected
                .into_iter()
                .flat_map(|x| (0..(x + fan) % 5).map(move |k| x * 5 + k))
                .collect();
        }
        if !ordered {
            out.sort_unstable();
            expected.sort_unstable();
        }
        prop_assert_eq!(out, expected);
    }
}

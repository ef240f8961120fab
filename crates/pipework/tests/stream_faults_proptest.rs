#![cfg(feature = "stream")]
//! Fault injection into buffered async stages: whatever the chain (1–4
//! stages of one [`BufferedPipeline`], buffers of 1–4 items), the runtime
//! (current-thread, or multi-thread with 1 or 2 workers) and wherever
//! `Err` items and panics are planted (in any stage's stream, the source
//! included, at any items), consuming the last stage
//!
//! - ends within [`HANG`] (a `tokio::time::timeout` around the whole
//!   consumption);
//! - yields every item before the first faulty one, in order and
//!   unchanged, then that item's fault as the `Err`, from the first stage
//!   that fails it, then ends. This is the module's rule: a stage passes an
//!   `Err` on after the items it already buffered and stops, so items keep
//!   their order through every stage and the first fault by item wins. A
//!   planted `Err` comes out as itself; a panic as a [`StagePanic`] naming
//!   `buffered stage {k}` and carrying the panic's message;
//! - when the consumer drops the stream early instead (after some of the
//!   items), has given exactly those first items;
//! - leaves nothing behind: within [`SETTLED`] of the consumer finishing,
//!   the runtime has no task alive (`RuntimeMetrics::num_alive_tasks`),
//!   every stage's stream was dropped (each holds a drop-counted guard),
//!   every item was dropped exactly once, and once the runtime is dropped
//!   the process has no more threads than before it was built.
//!
//! 128 cases by default; a full run:
//!
//! ```text
//! PIPEWORK_FAULT_CASES=1000 cargo test -p pipework --test stream_faults_proptest
//! ```

#[path = "support/drop_counter.rs"]
mod drop_counter;
#[path = "support/planted_fault.rs"]
mod planted_fault;
#[path = "support/process_threads.rs"]
mod process_threads;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use drop_counter::{DropCounter, Tally};
use futures::{stream, Stream, StreamExt};
use pipework::stream::{Buffered, BufferedPipeline, StagePanic};
use planted_fault::{cases, Fault};
use process_threads::{counting_alone, process_threads, threads_after};
use proptest::prelude::*;

/// Only a hang takes this long: a case runs in milliseconds.
const HANG: Duration = Duration::from_secs(20);

/// How long the stage tasks may take to end after the consumer finished,
/// and the runtime's threads to disappear after it was dropped.
const SETTLED: Duration = Duration::from_secs(5);

/// The error type the stages carry.
#[derive(Debug, PartialEq, Eq)]
enum StageError {
    /// A planted `Err`: which stage, at which item.
    Planted { stage: usize, item: u64 },
    /// A panic caught by a stage.
    Panicked(StagePanic),
}

impl From<StagePanic> for StageError {
    fn from(panic: StagePanic) -> Self {
        StageError::Panicked(panic)
    }
}

/// The tokio runtime a case runs on.
#[derive(Debug, Clone, Copy)]
enum Flavor {
    CurrentThread,
    MultiThread { workers: usize },
}

/// One stage of a generated chain.
#[derive(Debug, Clone)]
struct StagePlan {
    size: usize,
    /// The items this stage fails, and how.
    faults: BTreeMap<u64, Fault>,
}

/// A generated case.
#[derive(Debug, Clone)]
struct Case {
    stages: Vec<StagePlan>,
    items: u64,
    flavor: Flavor,
    /// The consumer drops the stream after taking this many items.
    stop_after: Option<usize>,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![Just(Fault::Error), Just(Fault::Panic)]
}

fn stage_plan(items: u64) -> impl Strategy<Value = StagePlan> {
    let faults = if items == 0 {
        Just(BTreeMap::new()).boxed()
    } else {
        // Half the stages fail nothing, so that runs also get far.
        prop_oneof![
            Just(BTreeMap::new()),
            proptest::collection::btree_map(0..items, fault(), 1..=3),
        ]
        .boxed()
    };
    (1usize..=4, faults).prop_map(|(size, faults)| StagePlan { size, faults })
}

fn flavor() -> impl Strategy<Value = Flavor> {
    prop_oneof![
        Just(Flavor::CurrentThread),
        (1usize..=2).prop_map(|workers| Flavor::MultiThread { workers }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (0u64..200).prop_flat_map(|items| {
        (
            proptest::collection::vec(stage_plan(items), 1..=4),
            flavor(),
            proptest::option::weighted(0.2, 0..=items as usize),
        )
            .prop_map(move |(stages, flavor, stop_after)| Case {
                stages,
                items,
                flavor,
                stop_after,
            })
    })
}

fn panic_text(stage: usize, item: u64) -> String {
    format!("planted panic: item {item} at stage {stage}")
}

/// What consuming the case must give: the items before the first faulty
/// one, then that item's fault, as `(stage, item, fault)`.
fn expected(case: &Case) -> (Vec<u64>, Option<(usize, u64, Fault)>) {
    for item in 0..case.items {
        let first = case
            .stages
            .iter()
            .enumerate()
            .find_map(|(stage, plan)| plan.faults.get(&item).map(|f| (stage, item, *f)));
        if first.is_some() {
            return ((0..item).collect(), first);
        }
    }
    ((0..case.items).collect(), None)
}

/// Whether `error` is the planted `(stage, item, fault)`.
fn is(error: &StageError, (stage, item, fault): (usize, u64, Fault)) -> bool {
    match (error, fault) {
        (StageError::Planted { stage: s, item: i }, Fault::Error) => (*s, *i) == (stage, item),
        (StageError::Panicked(panic), Fault::Panic) => {
            panic.stage() == format!("buffered stage {stage}")
                && panic.message() == panic_text(stage, item)
        }
        _ => false,
    }
}

/// Fails `item` at `stage` if the plan says so.
fn apply(
    stage: usize,
    faults: &BTreeMap<u64, Fault>,
    item: DropCounter,
) -> Result<DropCounter, StageError> {
    match faults.get(&item.value) {
        None => Ok(item),
        Some(Fault::Error) => Err(StageError::Planted {
            stage,
            item: item.value,
        }),
        Some(Fault::Panic) => panic!("{}", panic_text(stage, item.value)),
    }
}

/// The stream to run as one stage: it holds `guard`, so the guard is
/// dropped exactly when the stage's stream is.
type StageStream = std::pin::Pin<Box<dyn Stream<Item = Result<DropCounter, StageError>> + Send>>;

/// Builds the case's chain in one scope; must run inside the runtime.
fn build(
    case: &Case,
    items: &Arc<Tally>,
    guards: &Arc<Tally>,
) -> Buffered<DropCounter, StageError> {
    let pipeline = BufferedPipeline::new();
    let mut last: Option<Buffered<DropCounter, StageError>> = None;
    for (stage, plan) in case.stages.iter().enumerate() {
        let (faults, guard) = (plan.faults.clone(), DropCounter::new(0, guards));
        let stream: StageStream = match last.take() {
            None => {
                let items = items.clone();
                Box::pin(stream::iter(0..case.items).map(move |value| {
                    let _held = &guard;
                    apply(stage, &faults, DropCounter::new(value, &items))
                }))
            }
            Some(upstream) => Box::pin(upstream.map(move |result| {
                let _held = &guard;
                result.and_then(|item| apply(stage, &faults, item))
            })),
        };
        let next = if plan.size == 1 {
            pipeline.buffered(stream)
        } else {
            pipeline.buffered_with_size(stream, plan.size)
        };
        last = Some(next.expect("inside a runtime, with a size above 0"));
    }
    last.expect("at least one stage")
}

/// What consuming the chain gave.
#[derive(Debug)]
struct Observed {
    values: Vec<u64>,
    error: Option<StageError>,
    /// Whether the stream yielded anything after its `Err`.
    more_after_error: bool,
    /// Tasks still alive [`SETTLED`] after the consumer finished.
    tasks_left: usize,
}

/// Consumes the chain (or its first `stop_after` items), drops it, and
/// waits for the stage tasks to end.
async fn consume(
    mut last: Buffered<DropCounter, StageError>,
    stop_after: Option<usize>,
) -> Observed {
    let mut observed = Observed {
        values: Vec::new(),
        error: None,
        more_after_error: false,
        tasks_left: 0,
    };
    while stop_after.is_none_or(|n| observed.values.len() < n) {
        match last.next().await {
            None => break,
            Some(Ok(item)) => observed.values.push(item.value),
            Some(Err(error)) => {
                observed.error = Some(error);
                observed.more_after_error = last.next().await.is_some();
                break;
            }
        }
    }
    drop(last);
    let metrics = tokio::runtime::Handle::current().metrics();
    let deadline = Instant::now() + SETTLED;
    while metrics.num_alive_tasks() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    observed.tasks_left = metrics.num_alive_tasks();
    observed
}

fn runtime(flavor: Flavor) -> tokio::runtime::Runtime {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread { workers } => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(workers);
            builder
        }
    };
    builder.enable_time().build().expect("a tokio runtime")
}

/// Checks one run of `case` against [`expected`] and the cleanup promises.
fn check(case: &Case) -> Result<(), TestCaseError> {
    let (items, guards) = (Tally::new(), Tally::new());
    let baseline = process_threads();
    let runtime = runtime(case.flavor);
    let observed = runtime.block_on(async {
        let last = build(case, &items, &guards);
        tokio::time::timeout(HANG, consume(last, case.stop_after)).await
    });
    drop(runtime);
    let threads = threads_after(baseline, SETTLED);
    let Ok(observed) = observed else {
        return Err(TestCaseError::fail(format!(
            "consuming did not end within {HANG:?}"
        )));
    };

    prop_assert_eq!(observed.tasks_left, 0, "stage tasks still alive");
    prop_assert_eq!(guards.dropped(), case.stages.len(), "stage streams dropped");
    prop_assert_eq!(items.created(), items.dropped(), "items made and dropped");
    prop_assert!(
        threads <= baseline,
        "{threads} threads after the runtime was dropped, {baseline} before"
    );

    let (before, fault) = expected(case);
    match case.stop_after {
        Some(n) if n <= before.len() && (n < before.len() || fault.is_some()) => {
            // Dropped before the end (or before taking the error).
            prop_assert_eq!(&observed.values[..], &before[..n]);
            prop_assert!(observed.error.is_none());
        }
        _ => {
            prop_assert_eq!(&observed.values, &before);
            match (&observed.error, fault) {
                (None, None) => {}
                (Some(error), Some(fault)) => {
                    prop_assert!(is(error, fault), "got {:?}, planted {:?}", error, fault);
                    prop_assert!(!observed.more_after_error, "items after the error");
                }
                (got, planted) => {
                    prop_assert!(false, "got {:?}, planted {:?}", got, planted);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    #[test]
    fn faults_end_the_chain_with_the_first_error_and_leave_nothing_behind(case in case()) {
        let _alone = counting_alone();
        check(&case)?;
    }
}

//! Fault injection into the threaded pipeline: whatever the shape (1–4
//! steps of 1–4 threads, queues of 0–4 items, ordered or not, retries or
//! not), and wherever errors and panics are planted (in a step for some
//! items, or in the source iterator), a run
//!
//! - ends (a watchdog aborts the process, printing the case, if it has not
//!   after [`HANG`]);
//! - under [`OnError::Stop`], fails with one of the faults that could fire
//!   (the docs promise "the first error", first in time, so any fault an
//!   item can reach is a right answer), naming its step and its kind
//!   (`StepFailed` for an `Err`, `StepPanicked` for a panic,
//!   `SourcePanicked` for the iterator), after outputs that are all
//!   fault-free items (in an ordered pipeline: the first of them, in
//!   order);
//! - with every fault under [`OnError::Skip`], gives every other item (as
//!   a multiset, in order if ordered) and a report whose `failed` and
//!   `retried` counts per step are the faults that step met;
//! - leaves no thread running (the process's count from `/proc/self/task`
//!   is back to what it was before the pipeline was built, and every step
//!   thread and the feeder, registered with `LiveThreads`, has ended);
//! - dropped every item exactly once.
//!
//! A fault fires on every attempt, so retries change the counts, not the
//! outcome. An item reaches step `s` only if no step before `s` failed it,
//! and the source panics instead of making item `k`, so faults planted on
//! later items cannot fire.
//!
//! 128 cases by default; a full run:
//!
//! ```text
//! PIPEWORK_FAULT_CASES=1000 cargo test -p pipework --test pipeline_faults_proptest
//! ```

#[path = "support/drop_counter.rs"]
mod drop_counter;
#[path = "support/live_threads.rs"]
mod live_threads;
#[path = "support/planted_fault.rs"]
mod planted_fault;
#[path = "support/process_threads.rs"]
mod process_threads;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use drop_counter::{DropCounter, Tally};
use live_threads::{tracked, tracked_iter, LiveThreads};
use pipework::pipeline::{BoxError, Error, OnError, Pipeline, Report};
use planted_fault::{cases, Fault};
use process_threads::{counting_alone, process_threads, threads_after};
use proptest::prelude::*;

/// Only a hang takes this long: a case runs in well under a second.
const HANG: Duration = Duration::from_secs(20);

/// How long the threads of a finished run may take to disappear from
/// `/proc/self/task` after they were joined.
const REAPED: Duration = Duration::from_secs(5);

/// One step of a generated pipeline.
#[derive(Debug, Clone)]
struct StepPlan {
    threads: usize,
    queue: usize,
    retries: u32,
    on_error: OnError,
    /// The items this step fails, and how.
    faults: BTreeMap<u64, Fault>,
}

/// A generated case: the pipeline's shape, its input, and its faults.
#[derive(Debug, Clone)]
struct Case {
    steps: Vec<StepPlan>,
    ordered: bool,
    items: u64,
    /// The source iterator panics instead of making this item.
    source_panic: Option<u64>,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![Just(Fault::Error), Just(Fault::Panic)]
}

fn on_error() -> impl Strategy<Value = OnError> {
    prop_oneof![Just(OnError::Stop), Just(OnError::Skip)]
}

/// A step failing up to 4 of the `items`.
fn step_plan(items: u64) -> impl Strategy<Value = StepPlan> {
    let faults = if items == 0 {
        Just(BTreeMap::new()).boxed()
    } else {
        proptest::collection::btree_map(0..items, fault(), 0..=4).boxed()
    };
    (1usize..=4, 0usize..=4, 0u32..=1, on_error(), faults).prop_map(
        |(threads, queue, retries, on_error, faults)| StepPlan {
            threads,
            queue,
            retries,
            on_error,
            faults,
        },
    )
}

fn case() -> impl Strategy<Value = Case> {
    (0u64..200).prop_flat_map(|items| {
        let source_panic = if items == 0 {
            Just(None).boxed()
        } else {
            proptest::option::weighted(0.15, 0..items).boxed()
        };
        (
            proptest::collection::vec(step_plan(items), 1..=4),
            any::<bool>(),
            source_panic,
        )
            .prop_map(move |(steps, ordered, source_panic)| Case {
                steps,
                ordered,
                items,
                source_panic,
            })
    })
}

fn step_name(step: usize) -> String {
    format!("s{step}")
}

fn error_text(step: usize, item: u64) -> String {
    format!("planted error: item {item} at step {step}")
}

fn panic_text(step: usize, item: u64) -> String {
    format!("planted panic: item {item} at step {step}")
}

fn source_panic_text(item: u64) -> String {
    format!("planted panic: the source at item {item}")
}

/// Which run error each reachable `Stop` fault would be, as `(step name,
/// is panic, message)`; `None` as the step for the source.
type Expected = (Option<String>, bool, String);

/// What the case must do, worked out item by item.
#[derive(Debug, Default)]
struct Oracle {
    /// Items no fault touches, in input order.
    clean: Vec<u64>,
    /// The errors the run may end with: a fault under `Stop` that its item
    /// reaches, or the source's panic.
    stops: Vec<Expected>,
    /// Per step, the items failed under `Skip` (counted when nothing stops).
    skipped: Vec<u64>,
}

impl Oracle {
    fn of(case: &Case) -> Self {
        let mut oracle = Oracle {
            skipped: vec![0; case.steps.len()],
            ..Oracle::default()
        };
        let made = case.source_panic.unwrap_or(case.items);
        for item in 0..made {
            let first_fault = case
                .steps
                .iter()
                .enumerate()
                .find_map(|(s, plan)| plan.faults.get(&item).map(|f| (s, plan, *f)));
            match first_fault {
                None => oracle.clean.push(item),
                Some((s, plan, _)) if plan.on_error == OnError::Skip => oracle.skipped[s] += 1,
                Some((s, _, Fault::Error)) => {
                    oracle
                        .stops
                        .push((Some(step_name(s)), false, error_text(s, item)));
                }
                Some((s, _, Fault::Panic)) => {
                    oracle
                        .stops
                        .push((Some(step_name(s)), true, panic_text(s, item)));
                }
            }
        }
        if let Some(item) = case.source_panic {
            oracle.stops.push((None, true, source_panic_text(item)));
        }
        oracle
    }
}

/// What a run gave: output values, its error, and whether the outputs
/// ended after it.
#[derive(Debug)]
struct Observed {
    values: Vec<u64>,
    error: Option<Error>,
    more_after_error: bool,
    report: Option<Report>,
}

/// Builds the case's pipeline over `DropCounter`s, every step thread and
/// the feeder registered with `live`.
fn build(case: &Case, tally: &Arc<Tally>, live: &LiveThreads) -> Pipeline<DropCounter> {
    let mut pipeline = Pipeline::new();
    for (s, plan) in case.steps.iter().enumerate() {
        let faults = plan.faults.clone();
        let process = move |item: DropCounter| -> Result<DropCounter, BoxError> {
            match faults.get(&item.value) {
                None => Ok(item),
                Some(Fault::Error) => Err(error_text(s, item.value).into()),
                Some(Fault::Panic) => panic!("{}", panic_text(s, item.value)),
            }
        };
        pipeline = pipeline
            .step(tracked(live, process))
            .name(step_name(s))
            .threads(plan.threads)
            .queue(plan.queue)
            .retries(plan.retries)
            .on_error(plan.on_error);
    }
    if case.ordered {
        pipeline = pipeline.ordered();
    }
    let (items, source_panic, tally) = (case.items, case.source_panic, tally.clone());
    pipeline.put_iter(tracked_iter(
        live,
        (0..items).map(move |item| {
            assert!(Some(item) != source_panic, "{}", source_panic_text(item));
            DropCounter::new(item, &tally)
        }),
    ));
    pipeline
}

/// Runs `pipeline` to its end, dropping each output as it comes.
fn consume(pipeline: Pipeline<DropCounter>) -> Observed {
    let mut outputs = pipeline.outputs().expect("the pipeline starts");
    let mut observed = Observed {
        values: Vec::new(),
        error: None,
        more_after_error: false,
        report: None,
    };
    for output in outputs.by_ref() {
        match output {
            Ok(item) if observed.error.is_none() => observed.values.push(item.value),
            Err(error) if observed.error.is_none() => observed.error = Some(error),
            _ => observed.more_after_error = true,
        }
    }
    observed.report = outputs.report().cloned();
    observed
}

/// Runs `consume` on its own thread; aborts the process, printing `case`,
/// if that thread has not finished within [`HANG`] (a hung run would
/// leave threads behind that fail every later case, shrinking included).
fn within_hang_bound(case: &Case, run: impl FnOnce() -> Observed + Send + 'static) -> Observed {
    let (done_tx, done_rx) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        let _ = done_tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)));
    });
    match done_rx.recv_timeout(HANG) {
        Ok(result) => {
            runner.join().expect("the runner thread only sends");
            result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }
        Err(_) => {
            // Straight to stderr: libtest captures `eprintln!` and would
            // lose it in the abort.
            let _ = writeln!(
                std::io::stderr(),
                "a run did not end within {HANG:?}: {case:#?}"
            );
            std::process::abort();
        }
    }
}

/// Whether `error` is the run error `expected` describes.
fn is(error: &Error, expected: &Expected) -> bool {
    let (step, panicked, text) = expected;
    match error {
        Error::StepFailed { step: s, source } => {
            !panicked && step.as_deref() == Some(s) && source.to_string() == *text
        }
        Error::StepPanicked { step: s, message } => {
            *panicked && step.as_deref() == Some(s) && message == text
        }
        Error::SourcePanicked { message } => step.is_none() && message == text,
        _ => false,
    }
}

/// Checks one run of `case` against its oracle and the cleanup promises.
fn check(case: &Case) -> Result<(), TestCaseError> {
    let oracle = Oracle::of(case);
    let (tally, live) = (Tally::new(), LiveThreads::new());
    let baseline = process_threads();
    let pipeline = build(case, &tally, &live);
    let observed = within_hang_bound(case, move || consume(pipeline));

    let threads = threads_after(baseline, REAPED);
    prop_assert!(
        threads <= baseline,
        "{threads} threads after the run, {baseline} before"
    );
    prop_assert_eq!(live.live(), 0, "step or feeder threads still alive");
    prop_assert_eq!(
        tally.created(),
        tally.dropped(),
        "items made and items dropped"
    );
    prop_assert!(
        !observed.more_after_error,
        "outputs went on after the error"
    );

    match &observed.error {
        None => {
            prop_assert!(
                oracle.stops.is_empty(),
                "the run succeeded although one of {:?} must stop it",
                oracle.stops
            );
            let mut values = observed.values.clone();
            if !case.ordered {
                values.sort_unstable();
            }
            prop_assert_eq!(&values, &oracle.clean);
            let report = observed.report.as_ref().expect("a report after success");
            for (s, plan) in case.steps.iter().enumerate() {
                let stats = report.step(&step_name(s)).expect("every step is reported");
                prop_assert_eq!(stats.failed, oracle.skipped[s], "failed in {}", s);
                prop_assert_eq!(
                    stats.retried,
                    oracle.skipped[s] * u64::from(plan.retries),
                    "retried in {}",
                    s
                );
            }
            prop_assert_eq!(report.failed(), oracle.skipped.iter().sum::<u64>());
        }
        Some(error) => {
            prop_assert!(
                oracle.stops.iter().any(|expected| is(error, expected)),
                "the run failed with {:?}, not one of {:?}",
                error,
                oracle.stops
            );
            if case.ordered {
                let released = observed.values.len();
                prop_assert!(
                    observed.values[..] == oracle.clean[..released.min(oracle.clean.len())],
                    "ordered outputs {:?} are not a prefix of {:?}",
                    observed.values,
                    oracle.clean
                );
            } else {
                let clean: BTreeSet<u64> = oracle.clean.iter().copied().collect();
                let mut seen = BTreeSet::new();
                for value in &observed.values {
                    prop_assert!(clean.contains(value), "item {} came out", value);
                    prop_assert!(seen.insert(*value), "item {} came out twice", value);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    #[test]
    fn faults_end_the_run_with_the_right_outcome_and_leave_nothing_behind(case in case()) {
        let _alone = counting_alone();
        check(&case)?;
    }
}

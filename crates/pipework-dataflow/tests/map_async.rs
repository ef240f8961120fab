//! `map_async` and `flat_map_async`: capacity, order, timeouts, retries,
//! panics, skipping, and the same output in every layout.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipework_dataflow::connectors::{DirSink, DirSource, Line, TestingSink, TestingSource};
use pipework_dataflow::{
    Dataflow, ExecutionArgs, ExecutionConfig, MapAsyncError, MapAsyncOptions, OnError, Order,
    RunError,
};
use proptest::prelude::*;
use support::bounded_run::run;
use support::cluster::{self, FLOW_VAR, OUT_VAR};
use tokio::sync::watch;

const ENTRY: &str = "child_entry";

/// The `MapAsyncError` under a `RunError::Step` for `step`.
fn call_error<'a>(err: &'a RunError, step: &str) -> &'a MapAsyncError {
    match err {
        RunError::Step {
            step: named,
            source,
        } => {
            assert_eq!(named, step, "{err}");
            source
                .downcast_ref::<MapAsyncError>()
                .unwrap_or_else(|| panic!("not a MapAsyncError: {err}"))
        }
        other => panic!("not a step error: {other}"),
    }
}

/// Counts calls running at once: `(running, started, most at once)`.
#[derive(Clone)]
struct Concurrency {
    state: Arc<watch::Sender<(usize, usize, usize)>>,
}

impl Concurrency {
    fn new() -> Self {
        Concurrency {
            state: Arc::new(watch::channel((0, 0, 0)).0),
        }
    }

    fn most(&self) -> usize {
        self.state.borrow().2
    }

    /// One call: counts itself in, waits until `capacity` calls run at once
    /// (or every item has started; at most 10 s), then counts itself out.
    async fn call(&self, capacity: usize, total: usize) {
        self.state.send_modify(|(running, started, most)| {
            *running += 1;
            *started += 1;
            *most = (*most).max(*running);
        });
        let mut seen = self.state.subscribe();
        let full = seen.wait_for(|(running, started, _)| *running >= capacity || *started == total);
        // A capacity that is not reached fails the test on `most`, after this.
        let _ = tokio::time::timeout(Duration::from_secs(10), full).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.state.send_modify(|(running, ..)| *running -= 1);
    }
}

fn concurrency_run(order: Order, capacity: usize, total: usize) -> (usize, Vec<u32>) {
    let counter = Concurrency::new();
    let out = TestingSink::new();
    let sink = out.clone();
    let options = MapAsyncOptions::new().capacity(capacity).order(order);
    let calls = counter.clone();
    let flow = Dataflow::new("capacity", move |flow| {
        let calls = calls.clone();
        flow.input("inp", TestingSource::new(0..total as u32).batch_size(7))
            .map_async("call", options.clone(), move |n: u32| {
                let calls = calls.clone();
                async move {
                    calls.call(capacity, total).await;
                    Ok::<_, std::io::Error>(n)
                }
            })
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::single()).unwrap();
    (counter.most(), out.items())
}

#[test]
fn capacity_is_held_exactly_in_both_orders() {
    for order in [Order::Ordered, Order::Unordered] {
        let (most, mut items) = concurrency_run(order, 5, 60);
        assert_eq!(most, 5, "{order:?}");
        items.sort();
        assert_eq!(items, (0..60).collect::<Vec<_>>(), "{order:?}");
    }
    let (most, _) = concurrency_run(Order::Unordered, 1, 10);
    assert_eq!(most, 1);
}

/// A delay per item that varies, deterministically.
fn jitter(n: u32) -> Duration {
    Duration::from_micros(u64::from(n.wrapping_mul(2_654_435_761) % 4_000))
}

fn sleepy_run(order: Order, items: u32, workers: usize) -> Vec<u32> {
    let out = TestingSink::new();
    let sink = out.clone();
    let options = MapAsyncOptions::new().capacity(10).order(order);
    let flow = Dataflow::new("sleepy", move |flow| {
        flow.input("inp", TestingSource::new(0..items).batch_size(3))
            .map_async("call", options.clone(), |n: u32| async move {
                tokio::time::sleep(jitter(n)).await;
                Ok::<_, std::io::Error>(n * 2)
            })
            .output("out", sink.clone());
    });
    let config = if workers == 1 {
        ExecutionConfig::single()
    } else {
        ExecutionConfig::threads(workers).unwrap()
    };
    run(&flow, &config).unwrap();
    out.items()
}

#[test]
fn ordered_results_keep_the_input_order() {
    let expected: Vec<u32> = (0..300).map(|n| n * 2).collect();
    assert_eq!(sleepy_run(Order::Ordered, 300, 1), expected);
    // The one source partition is read by one of the workers.
    assert_eq!(sleepy_run(Order::Ordered, 300, 2), expected);
}

#[test]
fn unordered_results_come_as_calls_end() {
    let out = TestingSink::new();
    let sink = out.clone();
    let options = MapAsyncOptions::new().capacity(4).order(Order::Unordered);
    let flow = Dataflow::new("unordered", move |flow| {
        flow.input("inp", TestingSource::new(0..8u32))
            .map_async("call", options.clone(), |n: u32| async move {
                let wait = if n == 0 { 300 } else { 1 };
                tokio::time::sleep(Duration::from_millis(wait)).await;
                Ok::<_, std::io::Error>(n)
            })
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::single()).unwrap();
    let items = out.items();
    assert_eq!(items.last(), Some(&0), "{items:?}");
    let mut sorted = items.clone();
    sorted.sort();
    assert_eq!(sorted, (0..8).collect::<Vec<_>>());
    // Ordered, the slow first item holds the others back.
    let ordered = sleepy_run(Order::Ordered, 8, 1);
    assert_eq!(ordered, (0..8).map(|n| n * 2).collect::<Vec<_>>());
}

#[test]
fn a_call_over_the_timeout_stops_the_run_naming_step_and_item() {
    let options = MapAsyncOptions::new().timeout(Duration::from_millis(50));
    let flow = Dataflow::new("timeout", move |flow| {
        flow.input("inp", TestingSource::new(vec![1u32, 2, 3]))
            .map_async("slow", options.clone(), |n: u32| async move {
                if n == 3 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                Ok::<_, std::io::Error>(n)
            })
            .output("out", TestingSink::new());
    });
    let started = Instant::now();
    let err = run(&flow, &ExecutionConfig::single()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20));
    let call = call_error(&err, "slow");
    assert!(call.is_timeout(), "{call}");
    match call {
        MapAsyncError::TimedOut { item, attempts, .. } => {
            assert_eq!(item, "3");
            assert_eq!(*attempts, 1);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("slow"), "{err}");
}

/// A flow whose calls fail their first `failures` attempts; returns the
/// run's result, the outputs and the attempts per item.
fn flaky_run(failures: usize, retries: usize) -> (Result<(), RunError>, Vec<u32>, Vec<usize>) {
    let attempts: Arc<Mutex<BTreeMap<u32, usize>>> = Arc::default();
    let out = TestingSink::new();
    let sink = out.clone();
    let options = MapAsyncOptions::new()
        .retries(retries)
        .retry_delay(Duration::from_millis(1))
        .max_retry_delay(Duration::from_millis(4));
    let seen = Arc::clone(&attempts);
    let flow = Dataflow::new("flaky", move |flow| {
        let seen = Arc::clone(&seen);
        flow.input("inp", TestingSource::new(0..10u32))
            .map_async("flaky", options.clone(), move |n: u32| {
                let seen = Arc::clone(&seen);
                async move {
                    let attempt = {
                        let mut seen = seen.lock().unwrap();
                        let count = seen.entry(n).or_insert(0);
                        *count += 1;
                        *count
                    };
                    if attempt <= failures {
                        Err(format!("attempt {attempt} of {n} failed"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .output("out", sink.clone());
    });
    let result = run(&flow, &ExecutionConfig::single());
    let per_item = attempts.lock().unwrap().values().copied().collect();
    (result, out.items(), per_item)
}

#[test]
fn retries_call_again_until_an_attempt_succeeds() {
    let (result, items, attempts) = flaky_run(2, 2);
    result.unwrap();
    assert_eq!(items, (0..10).collect::<Vec<_>>());
    assert_eq!(attempts, vec![3; 10]);
}

#[test]
fn a_call_failing_every_attempt_names_the_attempts_and_the_error() {
    let (result, _items, _) = flaky_run(2, 1);
    let err = result.unwrap_err();
    match call_error(&err, "flaky") {
        MapAsyncError::Failed {
            attempts, source, ..
        } => {
            assert_eq!(*attempts, 2);
            assert!(source.to_string().contains("attempt 2"), "{source}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_panicking_future_is_an_error_naming_the_step() {
    for in_future in [true, false] {
        let flow = Dataflow::new("panics", move |flow| {
            flow.input("inp", TestingSource::new(0..20u32))
                .map_async("explode", MapAsyncOptions::new(), move |n: u32| {
                    assert!(in_future || n != 7, "boom before the future");
                    async move {
                        assert!(n != 7, "boom in the future");
                        Ok::<_, std::io::Error>(n)
                    }
                })
                .output("out", TestingSink::new());
        });
        let err = run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap_err();
        assert_eq!(err.step(), Some("explode"));
        let call = call_error(&err, "explode");
        assert!(call.is_panic(), "{call}");
        let text = call.to_string();
        assert!(text.contains("boom"), "{text}");
        assert!(text.contains("item 7"), "{text}");
    }
}

#[test]
fn skip_counts_the_failed_items_and_emits_the_rest() {
    let out = TestingSink::new();
    let sink = out.clone();
    let options = MapAsyncOptions::new()
        .on_error(OnError::Skip)
        .timeout(Duration::from_millis(100));
    let skipped = options.skipped();
    let flow = Dataflow::new("skip", move |flow| {
        flow.input("inp", TestingSource::new(0..100u32))
            .map_async("call", options.clone(), |n: u32| async move {
                match n % 25 {
                    0 => Err("unlucky".to_owned()),
                    1 => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        Ok(n)
                    }
                    2 => panic!("broken {n}"),
                    _ => Ok(n),
                }
            })
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap();
    assert_eq!(skipped.get(), 12);
    let expected: Vec<u32> = (0..100).filter(|n| n % 25 > 2).collect();
    assert_eq!(out.items(), expected);
}

#[test]
fn a_zero_capacity_is_an_error_naming_the_step() {
    let flow = Dataflow::new("zero", move |flow| {
        flow.input("inp", TestingSource::new(0..3u32))
            .map_async(
                "call",
                MapAsyncOptions::new().capacity(0),
                |n: u32| async move { Ok::<_, std::io::Error>(n) },
            )
            .output("out", TestingSink::new());
    });
    let err = run(&flow, &ExecutionConfig::single()).unwrap_err();
    assert!(matches!(
        call_error(&err, "call"),
        MapAsyncError::ZeroCapacity
    ));
}

#[test]
fn flat_map_async_emits_every_output_of_a_call_in_order() {
    let out = TestingSink::new();
    let sink = out.clone();
    let flow = Dataflow::new("flat", move |flow| {
        flow.input("inp", TestingSource::new(0..30u32))
            .flat_map_async(
                "expand",
                MapAsyncOptions::new().capacity(7),
                |n: u32| async move {
                    tokio::time::sleep(jitter(n)).await;
                    Ok::<_, std::io::Error>((0..n % 3).map(move |i| (n, i)))
                },
            )
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::single()).unwrap();
    let expected: Vec<(u32, u32)> = (0..30u32)
        .flat_map(|n| (0..n % 3).map(move |i| (n, i)))
        .collect();
    assert_eq!(out.items(), expected);
}

#[test]
fn calls_run_on_a_runtime_the_user_passes() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("user-runtime")
        .enable_all()
        .build()
        .unwrap();
    let out = TestingSink::new();
    let sink = out.clone();
    let options = MapAsyncOptions::new().runtime(runtime.handle().clone());
    let flow = Dataflow::new("user_runtime", move |flow| {
        flow.input("inp", TestingSource::new(0..5u32))
            .map_async("where", options.clone(), |_n: u32| async move {
                let name = std::thread::current().name().map(str::to_owned);
                Ok::<_, std::io::Error>(name.unwrap_or_default())
            })
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::single()).unwrap();
    assert_eq!(out.items(), vec!["user-runtime".to_owned(); 5]);
}

/// Counts the futures dropped, so that a test sees aborted calls go.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_failed_run_aborts_the_calls_still_running() {
    let started = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (counts, drops) = (Arc::clone(&started), Arc::clone(&dropped));
    let flow = Dataflow::new("abort", move |flow| {
        let (counts, drops) = (Arc::clone(&counts), Arc::clone(&drops));
        flow.input("inp", TestingSource::new(0..50u32))
            .map_async(
                "call",
                MapAsyncOptions::new().capacity(10),
                move |n: u32| {
                    counts.fetch_add(1, Ordering::SeqCst);
                    let guard = Dropped(Arc::clone(&drops));
                    async move {
                        let _guard = guard;
                        if n == 3 {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            return Err("three fails");
                        }
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        Ok(n)
                    }
                },
            )
            .output("out", TestingSink::new());
    });
    let clock = Instant::now();
    let err = run(&flow, &ExecutionConfig::single()).unwrap_err();
    assert!(clock.elapsed() < Duration::from_secs(20), "{err}");
    assert_eq!(started.load(Ordering::SeqCst), 10, "capacity 10");
    // The runtime drops the aborted futures on its own thread, soon after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while dropped.load(Ordering::SeqCst) < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(dropped.load(Ordering::SeqCst), 10);
}

// ---- layouts ----

/// Writes `files` files of `lines` lines `file:line` into `dir`.
fn write_inputs(dir: &Path, files: usize, lines: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for file in 0..files {
        let text: String = (0..lines).map(|line| format!("f{file}:{line}\n")).collect();
        std::fs::write(dir.join(format!("in-{file}.txt")), text).unwrap();
    }
}

/// `ordered:<input dir>`: every line through an ordered `map_async`, keyed
/// by its file, into a directory sink.
fn flow_named(name: &str, out: &Path) -> Dataflow {
    let out = out.to_path_buf();
    let input = PathBuf::from(name.strip_prefix("ordered:").expect("an ordered flow"));
    Dataflow::new("ordered", move |flow| {
        let options = MapAsyncOptions::new().capacity(6);
        flow.input("read", DirSource::new(&input).batch_size(5))
            .map_async("call", options, |line: Line| async move {
                let n: u32 = line.split(':').nth(1).unwrap().parse().unwrap();
                tokio::time::sleep(jitter(n)).await;
                Ok::<_, std::io::Error>(line.to_uppercase())
            })
            .map("key", |line: String| {
                (line.split(':').next().unwrap().to_owned(), line)
            })
            .output_partitioned("out", DirSink::new(&out, 3));
    })
}

#[test]
#[ignore = "entry point of the child processes the layout test starts"]
fn child_entry() {
    let name = std::env::var(FLOW_VAR).expect("run by a layout test");
    let out = PathBuf::from(std::env::var(OUT_VAR).expect("run by a layout test"));
    let config = ExecutionArgs::try_parse_from(["child"])
        .unwrap()
        .to_config()
        .unwrap();
    if let Err(err) = run(&flow_named(&name, &out), &config) {
        eprintln!("run failed: {err}");
        std::process::exit(3);
    }
}

/// The lines of every file in `dir`, grouped by their key (the part before
/// `:`), each group in the order written.
fn lines_by_key(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let key = line.split(':').next().unwrap().to_owned();
            groups.entry(key).or_default().push(line.to_owned());
        }
    }
    groups
}

#[test]
fn ordered_output_is_the_same_in_every_layout() {
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    write_inputs(&input, 4, 150);
    let name = format!("ordered:{}", input.display());
    let single = cluster::subdir(root.path(), "single");
    run(&flow_named(&name, &single), &ExecutionConfig::single()).unwrap();
    let threads = cluster::subdir(root.path(), "threads");
    run(
        &flow_named(&name, &threads),
        &ExecutionConfig::threads(3).unwrap(),
    )
    .unwrap();
    let processes = cluster::subdir(root.path(), "processes");
    cluster::run_flow_in_two_processes(ENTRY, &name, &processes);
    let expected: BTreeMap<String, Vec<String>> = (0..4)
        .map(|file| {
            let lines = (0..150).map(|line| format!("F{file}:{line}")).collect();
            (format!("F{file}"), lines)
        })
        .collect();
    assert_eq!(lines_by_key(&single), expected, "1 worker");
    assert_eq!(lines_by_key(&threads), expected, "3 threads");
    assert_eq!(lines_by_key(&processes), expected, "2 processes");
}

// ---- property ----

/// One generated item: how many attempts fail, and how long each takes.
#[derive(Debug, Clone)]
struct Plan {
    failures: usize,
    micros: u64,
}

fn planned_run(
    plans: &[Plan],
    capacity: usize,
    order: Order,
    retries: usize,
) -> (Vec<u32>, u64, usize) {
    let plans: Arc<Vec<Plan>> = Arc::new(plans.to_vec());
    let attempts: Arc<Mutex<HashMap<u32, usize>>> = Arc::default();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let out = TestingSink::new();
    let sink = out.clone();
    let options = MapAsyncOptions::new()
        .capacity(capacity)
        .order(order)
        .retries(retries)
        .retry_delay(Duration::from_micros(100))
        .max_retry_delay(Duration::from_micros(400))
        .on_error(OnError::Skip);
    let skipped = options.skipped();
    let (gauge, peak) = (Arc::clone(&running), Arc::clone(&most));
    let count = plans.len() as u32;
    let flow = Dataflow::new("planned", move |flow| {
        let (plans, attempts) = (Arc::clone(&plans), Arc::clone(&attempts));
        let (gauge, peak) = (Arc::clone(&gauge), Arc::clone(&peak));
        flow.input("inp", TestingSource::new(0..count).batch_size(4))
            .map_async("call", options.clone(), move |n: u32| {
                let plan = plans[n as usize].clone();
                let (attempts, gauge, peak) =
                    (Arc::clone(&attempts), Arc::clone(&gauge), Arc::clone(&peak));
                async move {
                    let now = gauge.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_micros(plan.micros)).await;
                    gauge.fetch_sub(1, Ordering::SeqCst);
                    let attempt = {
                        let mut seen = attempts.lock().unwrap();
                        let entry = seen.entry(n).or_insert(0);
                        *entry += 1;
                        *entry
                    };
                    if attempt <= plan.failures {
                        Err(format!("{n} failed"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::single()).unwrap();
    (out.items(), skipped.get(), most.load(Ordering::SeqCst))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any mix of capacities, orders, failures and retries: the items that
    /// fail more often than retried are skipped and counted, the others
    /// emitted once (in input order when ordered), and no more than the
    /// capacity run at once.
    #[test]
    fn outputs_match_a_sequential_run(
        plans in proptest::collection::vec(
            (0usize..4, 0u64..1_500).prop_map(|(failures, micros)| Plan { failures, micros }),
            0..60,
        ),
        capacity in 1usize..7,
        ordered in any::<bool>(),
        retries in 0usize..3,
    ) {
        let order = if ordered { Order::Ordered } else { Order::Unordered };
        let (mut got, skipped, most) = planned_run(&plans, capacity, order, retries);
        let expected: Vec<u32> = (0..plans.len() as u32)
            .filter(|n| plans[*n as usize].failures <= retries)
            .collect();
        prop_assert_eq!(skipped as usize, plans.len() - expected.len());
        prop_assert!(most <= capacity, "{} calls at once, capacity {}", most, capacity);
        if !ordered {
            got.sort();
        }
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn calls_on_a_runtime_that_is_shut_down_fail_instead_of_hanging() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    runtime.shutdown_background();
    let options = MapAsyncOptions::new().runtime(handle);
    let flow = Dataflow::new("gone", move |flow| {
        flow.input("inp", TestingSource::new(0..3u32))
            .map_async("call", options.clone(), |n: u32| async move {
                Ok::<_, std::io::Error>(n)
            })
            .output("out", TestingSink::new());
    });
    let err = run(&flow, &ExecutionConfig::single()).unwrap_err();
    assert!(
        matches!(call_error(&err, "call"), MapAsyncError::Runtime { .. }),
        "{err}"
    );
}

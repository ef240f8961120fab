#![cfg(feature = "stream")]
//! Tests for `stream::run_bounded` and `stream::try_run_bounded`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, StreamExt};
use pipework::stream::{run_bounded, try_run_bounded, Error, StageExt, TaskError};
use proptest::prelude::*;
use tokio::time::sleep;

type Never = std::convert::Infallible;

#[tokio::test(start_paused = true)]
async fn fast_task_last_in_line_finishes_first() {
    let tasks = stream::iter(0..1000u64).map(|i| async move {
        let ms = if i == 999 { 1 } else { 1000 };
        sleep(Duration::from_millis(ms)).await;
        Ok::<_, Never>(i)
    });
    let mut results = run_bounded(tasks, 1000).unwrap();
    assert_eq!(results.next().await.unwrap().unwrap(), 999);
    let rest: Vec<u64> = results.map(Result::unwrap).collect().await;
    assert_eq!(rest.len(), 999);
}

#[tokio::test(start_paused = true)]
async fn limit_one_runs_three_tasks_in_turn() {
    let start = tokio::time::Instant::now();
    let tasks = stream::iter([3u64, 1, 2]).map(|s| async move {
        sleep(Duration::from_secs(s)).await;
        Ok::<_, Never>(s)
    });
    let out: Vec<u64> = run_bounded(tasks, 1)
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, [3, 1, 2]);
    assert_eq!(start.elapsed(), Duration::from_secs(6));
}

#[tokio::test(start_paused = true)]
async fn results_come_in_completion_order() {
    let start = tokio::time::Instant::now();
    let tasks = stream::iter([30u64, 10, 20]).map(|ms| async move {
        sleep(Duration::from_millis(ms)).await;
        Ok::<_, Never>(ms)
    });
    let out: Vec<u64> = run_bounded(tasks, 3)
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, [10, 20, 30]);
    assert_eq!(start.elapsed(), Duration::from_millis(30));
}

#[tokio::test(start_paused = true)]
async fn never_more_than_limit_tasks_run_at_once() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks = stream::iter(0..200u64).map(|i| {
        let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            sleep(Duration::from_millis(1 + (i * 7919) % 13)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Never>(i)
        }
    });
    let n = run_bounded(tasks, 8).unwrap().count().await;
    assert_eq!(n, 200);
    assert_eq!(peak.load(Ordering::SeqCst), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_limit_tasks_run_at_once_on_many_threads() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks = stream::iter(0..2000u64).map(|i| {
        let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            for _ in 0..(i % 4) {
                tokio::task::yield_now().await;
            }
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Never>(i)
        }
    });
    let mut sum = 0;
    let mut results = run_bounded(tasks, 5).unwrap();
    while let Some(r) = results.next().await {
        sum += r.unwrap();
    }
    assert_eq!(sum, 2000 * 1999 / 2);
    assert!(peak.load(Ordering::SeqCst) <= 5);
}

#[tokio::test(start_paused = true)]
async fn pulled_minus_finished_never_exceeds_limit() {
    let limit = 4;
    let finished = Arc::new(AtomicUsize::new(0));
    let pulled = Arc::new(AtomicUsize::new(0));
    let worst = Arc::new(AtomicUsize::new(0));
    let tasks = {
        let (finished, pulled, worst) = (finished.clone(), pulled.clone(), worst.clone());
        stream::iter(0..100u64).map(move |i| {
            let p = pulled.fetch_add(1, Ordering::SeqCst) + 1;
            // Counted as finished once the consumer got its result.
            worst.fetch_max(p - finished.load(Ordering::SeqCst), Ordering::SeqCst);
            async move {
                sleep(Duration::from_millis(i % 5)).await;
                Ok::<_, Never>(i)
            }
        })
    };
    let mut results = run_bounded(tasks, limit).unwrap();
    while let Some(r) = results.next().await {
        r.unwrap();
        finished.fetch_add(1, Ordering::SeqCst);
        assert!(results.running() <= limit);
        // A slow consumer: tasks finish meanwhile, but nothing more is pulled.
        sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(pulled.load(Ordering::SeqCst), 100);
    // Exactly `limit`: a new task is pulled as soon as a result is taken.
    assert_eq!(worst.load(Ordering::SeqCst), limit);
}

#[tokio::test(start_paused = true)]
async fn endless_source_is_pulled_lazily() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let tasks = {
        let pulled = pulled.clone();
        stream::iter(0u64..).map(move |i| {
            pulled.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Never>(i) }
        })
    };
    let got = run_bounded(tasks, 16).unwrap().take(100).count().await;
    assert_eq!(got, 100);
    assert!(pulled.load(Ordering::SeqCst) <= 100 + 16);
}

#[tokio::test]
async fn a_task_error_or_panic_is_its_own_item_and_others_go_on() {
    let tasks = stream::iter(0..10u64).map(|i| async move {
        match i {
            3 => Err(format!("bad input {i}")),
            7 => panic!("task {i} exploded"),
            _ => Ok(i),
        }
    });
    let out: Vec<Result<u64, TaskError<String>>> = run_bounded(tasks, 4).unwrap().collect().await;
    assert_eq!(out.len(), 10);
    let mut ok: Vec<u64> = out
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    ok.sort();
    assert_eq!(ok, [0, 1, 2, 4, 5, 6, 8, 9]);
    let failed = out
        .iter()
        .find_map(|r| r.as_ref().err().filter(|e| e.is_failed()));
    let failed = failed.expect("task 3's error");
    assert_eq!(failed.task(), Some(3));
    assert_eq!(failed.to_string(), "task 3 failed: bad input 3");
    let panicked = out
        .iter()
        .find_map(|r| r.as_ref().err().filter(|e| e.is_panic()));
    let panicked = panicked.expect("task 7's panic");
    assert_eq!(panicked.task(), Some(7));
    assert_eq!(panicked.to_string(), "task 7 panicked: task 7 exploded");
}

#[tokio::test(start_paused = true)]
async fn source_error_comes_last_after_running_tasks() {
    let items: Vec<Result<u64, String>> =
        vec![Ok(30), Ok(10), Err("unreadable line 3".into()), Ok(1)];
    let tasks = stream::iter(items).map(|r| {
        r.map(|ms| async move {
            sleep(Duration::from_millis(ms)).await;
            Ok::<_, String>(ms)
        })
    });
    let out: Vec<_> = try_run_bounded(tasks, 8).unwrap().collect().await;
    assert_eq!(out.len(), 3);
    assert_eq!(*out[0].as_ref().unwrap(), 10);
    assert_eq!(*out[1].as_ref().unwrap(), 30);
    let err = out[2].as_ref().unwrap_err();
    assert!(err.is_source());
    assert_eq!(
        err.to_string(),
        "task source failed after 2 tasks: unreadable line 3"
    );
}

/// Counts live values: +1 when made, -1 when dropped.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Alive(Arc::clone(count))
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_aborts_running_tasks() {
    let alive = Arc::new(AtomicUsize::new(0));
    let tasks = {
        let alive = alive.clone();
        stream::iter(0..100u64).map(move |i| {
            let guard = Alive::new(&alive);
            async move {
                let _guard = guard;
                if i > 0 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Never>(i)
            }
        })
    };
    let mut results = run_bounded(tasks, 10).unwrap();
    assert_eq!(results.next().await.unwrap().unwrap(), 0);
    sleep(Duration::from_millis(1)).await; // let the others start
    assert_eq!(alive.load(Ordering::SeqCst), 9);
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        9
    );
    drop(results);
    sleep(Duration::from_millis(1)).await; // let the runtime drop them
    assert_eq!(alive.load(Ordering::SeqCst), 0);
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        0
    );
}

#[tokio::test]
async fn limit_zero_is_an_error_not_a_hang() {
    let tasks = stream::iter([async { Ok::<u8, Never>(1) }]);
    let err = run_bounded(tasks, 0).unwrap_err();
    assert_eq!(
        err,
        Error::Zero {
            function: "run_bounded",
            argument: "limit"
        }
    );
    assert_eq!(
        err.to_string(),
        "run_bounded: limit must be at least 1, got 0"
    );
}

#[test]
fn outside_a_runtime_is_an_error() {
    let tasks = stream::iter([async { Ok::<u8, Never>(1) }]);
    let err = run_bounded(tasks, 1).unwrap_err();
    assert_eq!(
        err,
        Error::NoRuntime {
            function: "run_bounded"
        }
    );
}

#[tokio::test]
async fn ext_method_runs_the_same() {
    let out: Vec<u32> = stream::iter(0..5u32)
        .map(|i| async move { Ok::<_, Never>(i) })
        .run_bounded(2)
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn tasks_keep_running_while_the_consumer_is_busy() {
    // Each task must finish its 20-50 ms of work within 10 ms more; the
    // consumer takes 100 ms per result. Spawned tasks are not held back.
    let late = Arc::new(Mutex::new(Vec::new()));
    let tasks = {
        let late = late.clone();
        stream::iter(0..10u64).map(move |i| {
            let late = late.clone();
            async move {
                let steps = 2 + i % 4;
                let work = async {
                    for _ in 0..steps {
                        sleep(Duration::from_millis(10)).await;
                    }
                };
                if tokio::time::timeout(Duration::from_millis(steps * 10 + 10), work)
                    .await
                    .is_err()
                {
                    late.lock().unwrap().push(i);
                }
                Ok::<_, Never>(i)
            }
        })
    };
    let mut results = run_bounded(tasks, 4).unwrap();
    while let Some(r) = results.next().await {
        r.unwrap();
        sleep(Duration::from_millis(100)).await;
    }
    assert!(late.lock().unwrap().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn run_bounded_yields_the_sequential_results_as_a_multiset(
        inputs in proptest::collection::vec((any::<u32>(), 0u8..4), 0..60),
        limit in 1usize..10,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut out: Vec<u64> = rt.block_on(async {
            let tasks = stream::iter(inputs.clone()).map(|(x, yields)| async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                Ok::<_, Never>(u64::from(x) * 3)
            });
            run_bounded(tasks, limit).unwrap().map(Result::unwrap).collect().await
        });
        let mut expected: Vec<u64> = inputs.iter().map(|(x, _)| u64::from(*x) * 3).collect();
        out.sort();
        expected.sort();
        prop_assert_eq!(out, expected);
    }
}

#[tokio::test]
async fn ready_futures_finish_in_place_unless_every_task_is_spawned() {
    // The test body runs in `block_on`, outside any task: a future polled
    // in place sees no task id, a spawned one does.
    let in_task =
        || stream::iter(0..4).map(|_| async { Ok::<_, Never>(tokio::task::try_id().is_some()) });
    let inline: Vec<bool> = run_bounded(in_task(), 2)
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(inline, [false; 4]);
    let spawned: Vec<bool> = run_bounded(in_task(), 2)
        .unwrap()
        .spawn_every_task()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(spawned, [true; 4]);
}

#[tokio::test(start_paused = true)]
async fn futures_pending_on_first_poll_run_as_tasks() {
    let out: Vec<bool> = run_bounded(
        stream::iter(0..4).map(|_| async {
            tokio::task::yield_now().await;
            Ok::<_, Never>(tokio::task::try_id().is_some())
        }),
        2,
    )
    .unwrap()
    .map(Result::unwrap)
    .collect()
    .await;
    assert_eq!(out, [true; 4]);
}

/// A future that keeps its guard until it is dropped, even after it has
/// returned `Ready` (as hand-written futures may): waits `polls` polls,
/// then returns its value, or panics.
struct Holding {
    _guard: Alive,
    value: u64,
    polls: u8,
    panics: bool,
}

impl std::future::Future for Holding {
    type Output = Result<u64, Never>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.polls > 0 {
            self.polls -= 1;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        assert!(!self.panics, "task {} panics", self.value);
        std::task::Poll::Ready(Ok(self.value))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Ready futures reuse one allocation in turn (`TaskSet::start_in`);
    /// whatever mix of ready, waiting and panicking futures, each yields
    /// its result once, and a finished future is dropped by the time its
    /// result is yielded: the futures alive never outnumber the tasks not
    /// yet yielded.
    #[test]
    fn finished_futures_are_dropped_by_the_time_their_result_is_yielded(
        inputs in proptest::collection::vec((0u8..3, proptest::bool::weighted(0.2)), 0..80),
        limit in 1usize..8,
        workers in 1usize..=2,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .unwrap();
        let alive = Arc::new(AtomicUsize::new(0));
        let (ok, panicked, worst) = rt.block_on(async {
            let made = alive.clone();
            let tasks = stream::iter(inputs.clone().into_iter().enumerate()).map(
                move |(i, (polls, panics))| Holding {
                    _guard: Alive::new(&made),
                    value: i as u64,
                    polls,
                    panics,
                },
            );
            let mut results = run_bounded(tasks, limit).unwrap();
            let (mut ok, mut panicked, mut worst) = (Vec::new(), Vec::new(), 0isize);
            while let Some(result) = results.next().await {
                // Alive futures, less the tasks still counted by the stream.
                let excess = alive.load(Ordering::SeqCst) as isize - results.running() as isize;
                worst = worst.max(excess);
                match result {
                    Ok(value) => ok.push(value),
                    Err(TaskError::Panicked { task, .. }) => panicked.push(task),
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
            (ok, panicked, worst)
        });
        let mut all: Vec<u64> = ok.iter().chain(&panicked).copied().collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..inputs.len() as u64).collect::<Vec<_>>());
        let expected_panics = inputs.iter().filter(|(_, p)| *p).count();
        prop_assert_eq!(panicked.len(), expected_panics);
        prop_assert!(worst <= 0, "{} finished futures still alive", worst);
        prop_assert_eq!(alive.load(Ordering::SeqCst), 0);
    }
}

#![cfg(feature = "stream")]
//! Tests for concurrent stages: `stream::concurrent_map` and
//! `stream::concurrent_map_unordered`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, StreamExt};
use pipework::stream::{concurrent_map, concurrent_map_unordered, Error, StageExt, StagePanic};
use proptest::prelude::*;
use tokio::time::{sleep, timeout, Instant};

async fn quiesce() {
    sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn ordered_keeps_input_order_with_concurrency() {
    let start = Instant::now();
    let input = stream::iter([50u64, 10, 40, 20, 30]).map(Ok::<_, StagePanic>);
    let out: Vec<u64> = concurrent_map(input, 5, |ms| async move {
        sleep(Duration::from_millis(ms)).await;
        Ok(ms)
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
    .await;
    assert_eq!(out, [50, 10, 40, 20, 30]);
    assert_eq!(start.elapsed(), Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn unordered_yields_in_completion_order() {
    let input = stream::iter([50u64, 10, 40, 20, 30]).map(Ok::<_, StagePanic>);
    let out: Vec<u64> = input
        .concurrent_map_unordered(5, |ms| async move {
            sleep(Duration::from_millis(ms)).await;
            Ok(ms)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out, [10, 20, 30, 40, 50]);
}

#[tokio::test(start_paused = true)]
async fn never_more_than_concurrency_calls_at_once() {
    for ordered in [true, false] {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let f = {
            let (running, peak) = (running.clone(), peak.clone());
            move |i: u64| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    sleep(Duration::from_millis(1 + (i * 31) % 7)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, StagePanic>(i)
                }
            }
        };
        let input = stream::iter(0..100u64).map(Ok);
        let n = if ordered {
            input.concurrent_map(6, f).unwrap().count().await
        } else {
            input.concurrent_map_unordered(6, f).unwrap().count().await
        };
        assert_eq!(n, 100);
        assert_eq!(peak.load(Ordering::SeqCst), 6, "ordered: {ordered}");
    }
}

/// The futures-rs#2387 case: a consumer taking 100 ms per item, stage
/// futures doing 20-50 ms of work in 10 ms steps within a deadline 10 ms
/// longer. With pipework's stage, none times out; with `buffer_unordered`
/// alone, futures stall while the consumer sleeps and several time out.
#[tokio::test(start_paused = true)]
async fn slow_consumer_does_not_stall_the_stage_futures() {
    let work = |late: Arc<Mutex<Vec<u64>>>| {
        move |i: u64| {
            let late = late.clone();
            async move {
                // 20 to 50 ms of work in 10 ms steps, as a request with
                // several round trips: each step needs the future polled.
                let steps = 2 + i % 4;
                let work = async {
                    for _ in 0..steps {
                        sleep(Duration::from_millis(10)).await;
                    }
                };
                let deadline = timeout(Duration::from_millis(steps * 10 + 10), work);
                if deadline.await.is_err() {
                    late.lock().unwrap().push(i);
                }
                Ok::<_, StagePanic>(i)
            }
        }
    };

    let late = Arc::new(Mutex::new(Vec::new()));
    let mut ours = stream::iter(0..10u64)
        .map(Ok)
        .concurrent_map_unordered(4, work(late.clone()))
        .unwrap();
    while let Some(item) = ours.next().await {
        item.unwrap();
        sleep(Duration::from_millis(100)).await;
    }
    assert!(late.lock().unwrap().is_empty(), "late: {late:?}");

    let late = Arc::new(Mutex::new(Vec::new()));
    let f = work(late.clone());
    let mut theirs = stream::iter(0..10u64).map(f).buffer_unordered(4);
    while let Some(item) = theirs.next().await {
        item.unwrap();
        sleep(Duration::from_millis(100)).await;
    }
    assert!(
        late.lock().unwrap().len() >= 3,
        "buffer_unordered was expected to stall: late {late:?}"
    );
}

#[derive(Debug, PartialEq, thiserror::Error)]
enum Failure {
    #[error("bad item {0}")]
    Bad(u32),
    #[error(transparent)]
    Panic(#[from] StagePanic),
}

#[tokio::test]
async fn errors_pass_through_in_place_and_the_stage_goes_on() {
    let input = stream::iter([Ok(1), Err(Failure::Bad(2)), Ok(3), Ok(4)]);
    let out: Vec<_> = concurrent_map(input, 2, |v: u32| async move {
        if v == 3 {
            Err(Failure::Bad(30))
        } else {
            Ok(v * 10)
        }
    })
    .unwrap()
    .collect()
    .await;
    assert_eq!(
        out,
        [Ok(10), Err(Failure::Bad(2)), Err(Failure::Bad(30)), Ok(40)]
    );
}

#[tokio::test]
async fn panics_in_the_function_or_its_future_are_errors_for_that_item() {
    let input = stream::iter(0..5u32).map(Ok::<_, Failure>);
    let out: Vec<_> = concurrent_map(input, 2, |v: u32| {
        assert_ne!(v, 1, "cannot start item 1");
        async move {
            assert_ne!(v, 3, "item 3 failed midway");
            Ok(v)
        }
    })
    .unwrap()
    .collect()
    .await;
    assert_eq!(out.len(), 5);
    assert_eq!(out[0], Ok(0));
    assert_eq!(out[2], Ok(2));
    assert_eq!(out[4], Ok(4));
    for (i, expected) in [(1, "cannot start item 1"), (3, "item 3 failed midway")] {
        let Err(Failure::Panic(panic)) = &out[i] else {
            panic!("item {i}: {:?}", out[i]);
        };
        assert_eq!(panic.stage(), format!("concurrent_map (item {i})"));
        assert!(panic.message().contains(expected), "{}", panic.message());
    }
}

#[tokio::test]
async fn panic_in_the_input_stream_ends_the_stage_with_an_error() {
    let input = stream::iter(0..5u32).map(|v| {
        assert!(v < 2, "input broke at {v}");
        Ok::<_, Failure>(v)
    });
    let out: Vec<_> = concurrent_map_unordered(input, 2, |v| async move { Ok(v) })
        .unwrap()
        .collect()
        .await;
    assert_eq!(out.len(), 3);
    let Err(Failure::Panic(panic)) = &out[2] else {
        panic!("{:?}", out[2]);
    };
    assert_eq!(panic.stage(), "concurrent_map_unordered input stream");
}

/// Counts live values: +1 when made, -1 when dropped.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_cancels_the_stage_and_its_futures() {
    let alive = Arc::new(AtomicUsize::new(0));
    let input = {
        let alive = alive.clone();
        alive.fetch_add(1, Ordering::SeqCst);
        let guard = Alive(alive.clone());
        stream::iter(0..100u64).map(move |i| {
            let _keep = &guard;
            Ok::<_, StagePanic>(i)
        })
    };
    let f = {
        let alive = alive.clone();
        move |i: u64| {
            alive.fetch_add(1, Ordering::SeqCst);
            let guard = Alive(alive.clone());
            async move {
                let _guard = guard;
                if i > 0 {
                    std::future::pending::<()>().await;
                }
                Ok(i)
            }
        }
    };
    let mut out = concurrent_map_unordered(input, 4, f).unwrap();
    assert_eq!(out.next().await, Some(Ok(0)));
    quiesce().await;
    assert_eq!(alive.load(Ordering::SeqCst), 1 + 4, "input + 4 futures");
    drop(out);
    quiesce().await;
    assert_eq!(alive.load(Ordering::SeqCst), 0);
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        0
    );
}

#[tokio::test]
async fn concurrency_zero_is_an_error() {
    let input = stream::iter([Ok::<u8, StagePanic>(1)]);
    let err = concurrent_map(input, 0, |v| async move { Ok(v) }).unwrap_err();
    assert_eq!(
        err,
        Error::Zero {
            function: "concurrent_map",
            argument: "concurrency"
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn ordered_stage_equals_sequential_map(
        inputs in proptest::collection::vec((any::<u16>(), 0u8..4), 0..50),
        concurrency in 1usize..8,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let out: Vec<u32> = rt.block_on(async {
            let input = stream::iter(inputs.clone()).map(Ok::<_, StagePanic>);
            concurrent_map(input, concurrency, |(x, yields)| async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                Ok(u32::from(x) + 1)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await
        });
        let expected: Vec<u32> = inputs.iter().map(|(x, _)| u32::from(*x) + 1).collect();
        prop_assert_eq!(out, expected);
    }
}

#[tokio::test]
async fn concurrency_beyond_a_channel_is_an_error() {
    let input = stream::iter([Ok::<u8, StagePanic>(1)]);
    let err = concurrent_map(input, usize::MAX, |v| async move { Ok(v) }).unwrap_err();
    assert_eq!(
        err,
        Error::TooLarge {
            function: "concurrent_map",
            argument: "concurrency",
            max: usize::MAX >> 3,
            got: usize::MAX
        }
    );
}

#[tokio::test]
async fn a_huge_concurrency_allocates_nothing_up_front() {
    let input = stream::iter(0..3u8).map(Ok::<u8, StagePanic>);
    let out: Vec<_> = concurrent_map(input, usize::MAX >> 3, |v| async move { Ok(v) })
        .unwrap()
        .collect()
        .await;
    assert_eq!(out, [Ok(0), Ok(1), Ok(2)]);
}

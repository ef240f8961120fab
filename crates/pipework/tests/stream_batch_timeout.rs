#![cfg(feature = "stream")]
//! Tests for `stream::batch_timeout`.

use std::time::Duration;

use futures::{stream, SinkExt, StreamExt};
use pipework::stream::{batch_timeout, Error, StageExt};
use tokio::time::{sleep, Instant};

#[tokio::test(start_paused = true)]
async fn full_batches_then_the_rest_then_end() {
    let mut batches = batch_timeout(stream::iter(0..5), 2, Duration::from_secs(1)).unwrap();
    assert_eq!(batches.next().await, Some(vec![0, 1]));
    assert_eq!(batches.next().await, Some(vec![2, 3]));
    assert_eq!(batches.next().await, Some(vec![4]));
    assert_eq!(batches.next().await, None);
    assert_eq!(batches.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn timeout_flushes_a_partial_batch_and_loses_no_item() {
    let start = Instant::now();
    let (mut tx, rx) = futures::channel::mpsc::channel(8);
    let producer = tokio::spawn(async move {
        for (at_ms, item) in [
            (0, 'a'),
            (10, 'b'),
            (150, 'c'),
            (160, 'd'),
            (170, 'e'),
            (400, 'f'),
        ] {
            tokio::time::sleep_until(start + Duration::from_millis(at_ms)).await;
            tx.send(item).await.unwrap();
        }
    });
    let mut batches = rx.batch_timeout(3, Duration::from_millis(100)).unwrap();
    let mut seen = Vec::new();
    while let Some(batch) = batches.next().await {
        seen.push((batch, start.elapsed().as_millis()));
    }
    producer.await.unwrap();
    assert_eq!(
        seen,
        [
            (vec!['a', 'b'], 100),      // timed out 100 ms after 'a'
            (vec!['c', 'd', 'e'], 170), // full
            (vec!['f'], 400),           // the end of the input flushes it
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_item_pending_at_the_deadline_goes_into_the_next_batch() {
    let start = Instant::now();
    let (mut tx, rx) = futures::channel::mpsc::channel(1);
    let producer = tokio::spawn(async move {
        tx.send(1).await.unwrap();
        sleep(Duration::from_millis(100)).await; // exactly the timeout
        tx.send(2).await.unwrap();
        sleep(Duration::from_millis(30)).await;
        tx.send(3).await.unwrap();
    });
    let out: Vec<(Vec<i32>, u128)> = rx
        .batch_timeout(10, Duration::from_millis(100))
        .unwrap()
        .map(|b| (b, start.elapsed().as_millis()))
        .collect()
        .await;
    producer.await.unwrap();
    let items: Vec<i32> = out.iter().flat_map(|(b, _)| b.clone()).collect();
    assert_eq!(items, [1, 2, 3]);
    assert!(out.iter().all(|(b, _)| !b.is_empty()));
    assert_eq!(out.last().map(|(_, t)| *t), Some(130));
}

#[tokio::test]
async fn size_zero_is_an_error() {
    let err = batch_timeout(stream::iter([1]), 0, Duration::from_secs(1)).unwrap_err();
    assert_eq!(
        err,
        Error::Zero {
            function: "batch_timeout",
            argument: "size"
        }
    );
}

#[tokio::test(start_paused = true)]
async fn slow_trickle_batches_by_time_not_size() {
    let start = Instant::now();
    let trickle = stream::iter(0..6).then(|i| async move {
        sleep(Duration::from_millis(40)).await;
        i
    });
    let out: Vec<(Vec<i32>, u128)> = trickle
        .batch_timeout(100, Duration::from_millis(100))
        .unwrap()
        .map(|b| (b, start.elapsed().as_millis()))
        .collect()
        .await;
    // Items at 40, 80, 120 | 160, 200, 240: the first batch's timer runs
    // from 40 ms to 140 ms; the second from 160 ms, cut short by the end.
    assert_eq!(out, [(vec![0, 1, 2], 140), (vec![3, 4, 5], 240)]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    #[test]
    fn flattened_batches_equal_input_and_respect_size(
        delays in proptest::collection::vec(0u64..30, 0..40),
        size in 1usize..6,
        timeout_ms in 1u64..50,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let n = delays.len();
        let out: Vec<Vec<usize>> = rt.block_on(async {
            stream::iter(delays.into_iter().enumerate())
                .then(|(i, ms)| async move {
                    sleep(Duration::from_millis(ms)).await;
                    i
                })
                .batch_timeout(size, Duration::from_millis(timeout_ms))
                .unwrap()
                .collect()
                .await
        });
        proptest::prop_assert!(out.iter().all(|b| !b.is_empty() && b.len() <= size));
        let flat: Vec<usize> = out.into_iter().flatten().collect();
        proptest::prop_assert_eq!(flat, (0..n).collect::<Vec<_>>());
    }
}

#[tokio::test(start_paused = true)]
async fn an_endless_timeout_batches_by_size_only() {
    let out: Vec<Vec<i32>> = stream::iter(0..5)
        .batch_timeout(2, Duration::MAX)
        .unwrap()
        .collect()
        .await;
    assert_eq!(out, [vec![0, 1], vec![2, 3], vec![4]]);
}

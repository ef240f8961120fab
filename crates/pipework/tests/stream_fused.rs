#![cfg(feature = "stream")]
//! Every pipework stream is a `FusedStream`: it says when it is done, so
//! `select!` loops can skip it, and it keeps returning `None` after that.

use std::time::Duration;

use futures::stream::{self, FusedStream};
use futures::StreamExt;
use pipework::stream::{
    batch_timeout, buffered, concurrent_map, concurrent_map_unordered, run_bounded, StagePanic,
};

/// Drains `stream`, checking it is not terminated while it has items to
/// come, and is terminated (and stays empty) after its end.
async fn drain<S: FusedStream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut items = Vec::new();
    assert!(!stream.is_terminated(), "terminated before its first item");
    let mut terminated_after = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
        terminated_after.push(stream.is_terminated());
    }
    // Right after the last item it may already know; before, never.
    terminated_after.pop();
    assert!(
        !terminated_after.contains(&true),
        "terminated with items to come: {terminated_after:?}"
    );
    assert!(stream.is_terminated(), "not terminated after its end");
    assert!(stream.next().await.is_none(), "an item after the end");
    items
}

#[tokio::test]
async fn run_bounded_is_terminated_after_its_last_result() {
    let tasks = stream::iter(0..5u32).map(|n| async move { Ok::<_, String>(n) });
    let mut out: Vec<u32> = drain(run_bounded(tasks, 2).unwrap())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    out.sort_unstable();
    assert_eq!(out, [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn run_bounded_is_not_terminated_before_its_source_error() {
    let tasks = stream::iter([Ok(1u8), Err("bad source".to_owned())])
        .map(|item| item.map(|n| async move { Ok::<_, String>(n) }));
    let out = drain(pipework::stream::try_run_bounded(tasks, 1).unwrap()).await;
    assert_eq!(out.len(), 2);
    assert!(out[1].is_err());
}

#[tokio::test]
async fn batch_timeout_is_terminated_after_its_partial_batch() {
    let batches =
        drain(batch_timeout(stream::iter(0..5u32), 2, Duration::from_secs(60)).unwrap()).await;
    assert_eq!(batches, [vec![0, 1], vec![2, 3], vec![4]]);
}

#[tokio::test]
async fn buffered_is_terminated_after_its_end() {
    let source = stream::iter((0..4u32).map(Ok::<_, StagePanic>));
    let out: Vec<u32> = drain(buffered(source, 2).unwrap())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, [0, 1, 2, 3]);
}

#[tokio::test]
async fn concurrent_maps_are_terminated_after_their_end() {
    let source = || stream::iter((0..4u32).map(Ok::<_, StagePanic>));
    let ordered: Vec<u32> =
        drain(concurrent_map(source(), 2, |n| async move { Ok(n * 2) }).unwrap())
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    assert_eq!(ordered, [0, 2, 4, 6]);
    let mut unordered: Vec<u32> =
        drain(concurrent_map_unordered(source(), 2, |n| async move { Ok(n * 2) }).unwrap())
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    unordered.sort_unstable();
    assert_eq!(unordered, [0, 2, 4, 6]);
}

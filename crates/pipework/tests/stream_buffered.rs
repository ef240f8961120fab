#![cfg(feature = "stream")]
//! Tests for buffered stages: `stream::buffered` and `stream::BufferedPipeline`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{stream, Stream, StreamExt};
use pipework::stream::{buffered, BufferedPipeline, Error, StageExt, StagePanic};
use tokio::time::sleep;

/// Lets every task run until all are blocked (the paused clock only
/// advances when the runtime is idle).
async fn quiesce() {
    sleep(Duration::from_millis(1)).await;
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
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

/// `upstream` with every item counted in `produced`, alive while `alive`
/// counts it.
fn counted<S: Stream>(
    upstream: S,
    produced: &Arc<AtomicUsize>,
    alive: &Arc<AtomicUsize>,
) -> impl Stream<Item = S::Item> {
    let produced = Arc::clone(produced);
    let guard = Alive::new(alive);
    upstream.map(move |item| {
        let _still_alive = &guard;
        produced.fetch_add(1, Ordering::SeqCst);
        item
    })
}

/// s stages with buffer n over `total` items: once quiescent after the
/// consumer took k items, the stage j-th from the end has produced
/// min(total, k + j·n).
async fn check_prefetch(total: usize, stages: usize, n: usize) {
    let pipeline = BufferedPipeline::new();
    let alive = Arc::new(AtomicUsize::new(0));
    let produced: Vec<Arc<AtomicUsize>> = (0..stages).map(|_| Arc::default()).collect();
    let source = stream::iter(0..total).map(Ok::<usize, StagePanic>);
    let mut it = pipeline
        .buffered_with_size(counted(source, &produced[0], &alive), n)
        .unwrap();
    for p in &produced[1..] {
        it = pipeline
            .buffered_with_size(counted(it, p, &alive), n)
            .unwrap();
    }
    let mut k = 0;
    while let Some(item) = it.next().await {
        assert_eq!(item.unwrap(), k);
        k += 1;
        quiesce().await;
        for (i, p) in produced.iter().enumerate() {
            let j = stages - i; // 1 for the last stage
            assert_eq!(
                p.load(Ordering::SeqCst),
                total.min(k + j * n),
                "stage {i} of {stages}, buffer {n}, after {k} items"
            );
        }
    }
    assert_eq!(k, total);
    drop(it);
    quiesce().await;
    assert_eq!(alive.load(Ordering::SeqCst), 0);
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn each_stage_prefetches_exactly_its_buffer() {
    for (stages, n) in [(1, 1), (1, 2), (3, 1), (3, 2), (2, 4)] {
        check_prefetch(10, stages, n).await;
    }
}

#[tokio::test(start_paused = true)]
async fn chain_keeps_order_buffered_or_not() {
    let pipeline = BufferedPipeline::new();
    let it_1 = pipeline
        .buffered(stream::iter(0..10).map(Ok::<i32, StagePanic>))
        .unwrap();
    let it_2 = it_1.map(|r| r.map(|v| v * 2)); // not buffered
    let it_3 = pipeline.buffered(it_2.map(|r| r.map(|v| v + 3))).unwrap();
    let values: Vec<i32> = it_3.map(Result::unwrap).collect().await;
    assert_eq!(values, [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]);
}

#[tokio::test(start_paused = true)]
async fn stages_overlap_so_time_is_the_slowest_stage_not_the_sum() {
    let start = tokio::time::Instant::now();
    let pipeline = BufferedPipeline::new();
    let slow = |ms| {
        move |r: Result<u32, StagePanic>| async move {
            sleep(Duration::from_millis(ms)).await;
            r
        }
    };
    let s1 = pipeline
        .buffered(stream::iter(0..10).map(Ok).then(slow(100)))
        .unwrap();
    let s2 = pipeline.buffered(s1.then(slow(100))).unwrap();
    let s3 = pipeline.buffered(s2.then(slow(100))).unwrap();
    let n = s3.count().await;
    assert_eq!(n, 10);
    // 10 items through the slowest stage plus the 2 other stages once.
    assert_eq!(start.elapsed(), Duration::from_millis(1200));
}

#[derive(Debug, PartialEq, thiserror::Error)]
enum Failure {
    #[error("bad item {0}")]
    Bad(u32),
    #[error(transparent)]
    Panic(#[from] StagePanic),
}

#[tokio::test(start_paused = true)]
async fn error_arrives_after_buffered_items_then_every_stage_is_cancelled() {
    let pipeline = BufferedPipeline::new();
    let alive = Arc::new(AtomicUsize::new(0));
    let produced = Arc::new(AtomicUsize::new(0));
    let it_1 = pipeline
        .buffered(counted(
            stream::iter(0..100).map(Ok::<u32, Failure>),
            &produced,
            &alive,
        ))
        .unwrap();
    let it_2 = pipeline
        .buffered(counted(
            it_1.map(|r| r.and_then(|v| if v == 3 { Err(Failure::Bad(v)) } else { Ok(v) })),
            &produced,
            &alive,
        ))
        .unwrap();
    let it_3 = pipeline
        .buffered_with_size(counted(it_2, &produced, &alive), 2)
        .unwrap();
    let out: Vec<Result<u32, Failure>> = it_3.collect().await;
    assert_eq!(out, [Ok(0), Ok(1), Ok(2), Err(Failure::Bad(3))]);
    quiesce().await;
    assert_eq!(alive.load(Ordering::SeqCst), 0);
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn error_reaching_the_consumer_cancels_a_stage_blocked_elsewhere() {
    let pipeline = BufferedPipeline::new();
    let alive = Arc::new(AtomicUsize::new(0));
    let produced = Arc::new(AtomicUsize::new(0));
    // A side stage the consumer never reads: blocked on a full buffer.
    let side = pipeline
        .buffered(counted(
            stream::iter(0..10).map(Ok::<u32, Failure>),
            &produced,
            &alive,
        ))
        .unwrap();
    let main = pipeline
        .buffered(stream::iter([Ok(1), Err(Failure::Bad(2))]))
        .unwrap();
    let out: Vec<_> = main.collect().await;
    assert_eq!(out, [Ok(1), Err(Failure::Bad(2))]);
    quiesce().await;
    assert_eq!(
        alive.load(Ordering::SeqCst),
        0,
        "the side stage's task ended"
    );
    assert_eq!(alive_tasks(), 0);
    // Its stream ends early, without an error of its own.
    let side: Vec<_> = side.collect().await;
    assert_eq!(side, [Ok(0)]);
}

/// A stage over an endless ready source ends soon after another branch's
/// error cancels the pipeline, even while its own consumer keeps reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_stage_read_nonstop_still_ends_once_the_pipeline_is_cancelled() {
    let pipeline = BufferedPipeline::new();
    let mut side = pipeline
        .buffered(stream::iter(0u64..).map(Ok::<u64, Failure>))
        .unwrap();
    let main = pipeline
        .buffered(stream::iter([Err::<u64, Failure>(Failure::Bad(1))]))
        .unwrap();
    assert_eq!(side.next().await, Some(Ok(0)));
    let out: Vec<_> = main.collect().await;
    assert_eq!(out, [Err(Failure::Bad(1))]);
    let mut after_cancel = 0;
    while let Some(item) = side.next().await {
        assert!(item.is_ok());
        after_cancel += 1;
        assert!(after_cancel < 10_000, "the side stage never stopped");
    }
}

#[tokio::test(start_paused = true)]
async fn panic_in_a_stage_becomes_an_error_and_ends_the_pipeline() {
    let pipeline = BufferedPipeline::new();
    let it_1 = pipeline
        .buffered(stream::iter(0..10).map(Ok::<u32, Failure>))
        .unwrap();
    let it_2 = pipeline
        .buffered(it_1.map(|r| r.inspect(|v| assert!(*v < 2, "value {v} too big"))))
        .unwrap();
    let it_3 = pipeline.buffered(it_2).unwrap();
    let out: Vec<_> = it_3.collect().await;
    assert_eq!(out.len(), 3);
    assert_eq!(out[..2], [Ok(0), Ok(1)]);
    let Err(Failure::Panic(panic)) = &out[2] else {
        panic!("expected a caught panic, got {:?}", out[2]);
    };
    assert_eq!(panic.stage(), "buffered stage 1");
    assert_eq!(panic.message(), "value 2 too big");
    assert_eq!(
        panic.to_string(),
        "buffered stage 1 panicked: value 2 too big"
    );
    quiesce().await;
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_consumer_stream_cancels_every_stage() {
    let pipeline = BufferedPipeline::new();
    let alive = Arc::new(AtomicUsize::new(0));
    let produced = Arc::new(AtomicUsize::new(0));
    // A stage that waits forever after its first item.
    let forever = stream::iter(0..10)
        .map(Ok::<u32, StagePanic>)
        .then(|r| async move {
            if r == Ok(1) {
                std::future::pending::<()>().await;
            }
            r
        });
    let it_1 = pipeline
        .buffered(counted(forever, &produced, &alive))
        .unwrap();
    let it_2 = pipeline.buffered(counted(it_1, &produced, &alive)).unwrap();
    let mut it_3 = pipeline.buffered(counted(it_2, &produced, &alive)).unwrap();
    assert_eq!(it_3.next().await, Some(Ok(0)));
    quiesce().await;
    assert_eq!(alive.load(Ordering::SeqCst), 3);
    assert_eq!(alive_tasks(), 3);
    drop(it_3);
    quiesce().await;
    assert_eq!(alive.load(Ordering::SeqCst), 0);
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_consuming_task_cancels_every_stage() {
    let alive = Arc::new(AtomicUsize::new(0));
    let consumer = {
        let alive = alive.clone();
        tokio::spawn(async move {
            let pipeline = BufferedPipeline::new();
            let produced = Arc::new(AtomicUsize::new(0));
            let it_1 = pipeline
                .buffered(counted(
                    stream::iter(0..10).map(Ok::<u32, StagePanic>),
                    &produced,
                    &alive,
                ))
                .unwrap();
            let it_2 = pipeline.buffered(counted(it_1, &produced, &alive)).unwrap();
            it_2.for_each(|_| std::future::pending::<()>()).await;
        })
    };
    quiesce().await;
    assert_eq!(alive.load(Ordering::SeqCst), 2);
    consumer.abort();
    assert!(consumer.await.unwrap_err().is_cancelled());
    quiesce().await;
    assert_eq!(alive.load(Ordering::SeqCst), 0);
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test]
async fn size_zero_is_an_error() {
    let source = stream::iter([Ok::<u8, StagePanic>(1)]);
    assert_eq!(
        buffered(source, 0).unwrap_err(),
        Error::Zero {
            function: "buffered",
            argument: "size"
        }
    );
}

#[test]
fn outside_a_runtime_is_an_error() {
    let pipeline = BufferedPipeline::new();
    let source = stream::iter([Ok::<u8, StagePanic>(1)]);
    assert_eq!(
        pipeline.buffered(source).unwrap_err(),
        Error::NoRuntime {
            function: "buffered"
        }
    );
}

#[tokio::test(start_paused = true)]
async fn standalone_buffered_and_ext_method() {
    let pipeline = BufferedPipeline::new();
    let a = buffered(stream::iter(0..4).map(Ok::<u8, StagePanic>), 3).unwrap();
    let b = a
        .map(|r| r.map(|v| v + 1))
        .buffered_in(&pipeline, 2)
        .unwrap();
    let out: Vec<_> = b.collect().await;
    assert_eq!(out, [Ok(1), Ok(2), Ok(3), Ok(4)]);
}

#[tokio::test(start_paused = true)]
async fn error_crosses_a_concurrent_stage_between_buffered_stages() {
    let pipeline = BufferedPipeline::new();
    let first = pipeline
        .buffered(stream::iter([Ok(1), Ok(2), Err(Failure::Bad(3)), Ok(4)]))
        .unwrap();
    let middle = first
        .concurrent_map(2, |v: u32| async move { Ok(v * 10) })
        .unwrap();
    let last = pipeline.buffered(middle).unwrap();
    let out: Vec<_> = last.collect().await;
    assert_eq!(out, [Ok(10), Ok(20), Err(Failure::Bad(3))]);
    quiesce().await;
    assert_eq!(alive_tasks(), 0);
}

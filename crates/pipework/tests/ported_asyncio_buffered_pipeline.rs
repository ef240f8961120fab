#![cfg(feature = "stream")]
//! Tests ported from asyncio-buffered-pipeline (michalc/asyncio-buffered-pipeline,
//! `test.py`, MIT license), rewritten in Rust by hand. Upstream:
//! <https://github.com/michalc/asyncio-buffered-pipeline>.
//!
//! Changes made in porting:
//! - Python's async generators become streams of `Result` items; the
//!   exception a generator raises is an `Err` item.
//! - "Slight hack to wait for buffers to be full" (`asyncio.sleep(0.02)`)
//!   becomes a 1 ms sleep on tokio's paused clock, which only advances once
//!   every task is idle: the counts are exact, not timing-dependent.
//! - `len(asyncio.all_tasks())` counts the test's own task too; tokio's
//!   `num_alive_tasks()` counts spawned tasks only, so every count is one
//!   lower.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{stream, Stream, StreamExt};
use pipework::stream::{BufferedPipeline, StagePanic};

async fn wait_for_buffers_to_fill() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

fn num_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

fn gen_1() -> impl Stream<Item = Result<i32, StagePanic>> + Send + 'static {
    stream::iter(0..10).map(Ok)
}

/// Passes items on, counting them in `count`.
fn counting<S>(it: S, count: &Arc<AtomicUsize>) -> impl Stream<Item = S::Item> + Send + 'static
where
    S: Stream + Send + 'static,
{
    let count = count.clone();
    it.inspect(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    })
}

/// `test.py::TestBufferIterable::test_chain_all_buffered`
mod chain_all_buffered {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn test() {
        let buffer_iterable = BufferedPipeline::new();
        let it_1 = buffer_iterable.buffered(gen_1()).unwrap();
        let it_2 = buffer_iterable
            .buffered(it_1.map(|v| v.map(|v| v * 2)))
            .unwrap();
        let it_3 = buffer_iterable
            .buffered(it_2.map(|v| v.map(|v| v + 3)))
            .unwrap();
        let values: Vec<i32> = it_3.map(Result::unwrap).collect().await;
        assert_eq!(values, [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]);
    }
}

/// `test.py::TestBufferIterable::test_chain_some_buffered`
mod chain_some_buffered {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn test() {
        let buffer_iterable = BufferedPipeline::new();
        let it_1 = buffer_iterable.buffered(gen_1()).unwrap();
        let it_2 = it_1.map(|v| v.map(|v| v * 2));
        let it_3 = buffer_iterable
            .buffered(it_2.map(|v| v.map(|v| v + 3)))
            .unwrap();
        let values: Vec<i32> = it_3.map(Result::unwrap).collect().await;
        assert_eq!(values, [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]);
    }
}

/// `test.py::TestBufferIterable::test_chain_parallel`
mod chain_parallel {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn test() {
        let num_gen: [Arc<AtomicUsize>; 3] = Default::default();
        let buffer_iterable = BufferedPipeline::new();
        let it_1 = buffer_iterable
            .buffered(counting(gen_1(), &num_gen[0]))
            .unwrap();
        let it_2 = buffer_iterable
            .buffered(counting(it_1, &num_gen[1]))
            .unwrap();
        let mut it_3 = buffer_iterable
            .buffered(counting(it_2, &num_gen[2]))
            .unwrap();
        let mut num_done = Vec::new();
        while let Some(item) = it_3.next().await {
            item.unwrap();
            wait_for_buffers_to_fill().await;
            let n = |i: usize| num_gen[i].load(Ordering::SeqCst);
            num_done.push((n(0), n(1), n(2)));
        }
        assert_eq!(
            num_done,
            [
                (4, 3, 2),
                (5, 4, 3),
                (6, 5, 4),
                (7, 6, 5),
                (8, 7, 6),
                (9, 8, 7),
                (10, 9, 8),
                (10, 10, 9),
                (10, 10, 10),
                (10, 10, 10),
            ]
        );
    }
}

/// `test.py::TestBufferIterable::test_num_tasks`
mod num_tasks {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn test() {
        let buffer_iterable = BufferedPipeline::new();
        let it_1 = buffer_iterable.buffered(gen_1()).unwrap();
        let it_2 = buffer_iterable.buffered(it_1).unwrap();
        let mut it_3 = buffer_iterable.buffered(it_2).unwrap();
        let mut num_tasks = Vec::new();
        while let Some(item) = it_3.next().await {
            item.unwrap();
            wait_for_buffers_to_fill().await;
            num_tasks.push(super::num_tasks());
        }
        // Upstream: [4, 4, 4, 4, 4, 4, 4, 3, 2, 1], its own task included.
        assert_eq!(num_tasks, [3, 3, 3, 3, 3, 3, 3, 2, 1, 0]);
    }
}

/// `test.py::TestBufferIterable::test_exception_propagates`
mod exception_propagates {
    use super::*;

    #[derive(Debug, PartialEq, thiserror::Error)]
    enum Error {
        #[error("my exception")]
        MyException,
        #[error(transparent)]
        Panic(#[from] StagePanic),
    }

    #[tokio::test(start_paused = true)]
    async fn test() {
        let buffer_iterable = BufferedPipeline::new();
        let it_1 = buffer_iterable
            .buffered(stream::iter(0..10).map(Ok::<i32, Error>))
            .unwrap();
        let it_2 = buffer_iterable.buffered(it_1).unwrap();
        // gen_3 yields its first value, then raises.
        let it_3 = buffer_iterable
            .buffered(it_2.take(1).chain(stream::iter([Err(Error::MyException)])))
            .unwrap();
        let it_4 = buffer_iterable.buffered(it_3).unwrap();
        let out: Vec<_> = it_4.collect().await;
        assert_eq!(out.last(), Some(&Err(Error::MyException)));
        wait_for_buffers_to_fill().await;
        assert_eq!(num_tasks(), 0);
    }
}

/// `test.py::TestBufferIterable::test_cancellation_propagates`
mod cancellation_propagates {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn test() {
        let event = Arc::new(tokio::sync::Notify::new());
        let pipeline = {
            let event = event.clone();
            async move {
                let buffer_iterable = BufferedPipeline::new();
                let it_1 = buffer_iterable.buffered(gen_1()).unwrap();
                let it_2 = buffer_iterable.buffered(it_1).unwrap();
                // gen_3 yields one value, sets the event, then waits forever.
                let it_3 = buffer_iterable
                    .buffered(it_2.take(1).chain(stream::once(async move {
                        event.notify_one();
                        std::future::pending().await
                    })))
                    .unwrap();
                let it_4 = buffer_iterable.buffered(it_3).unwrap();
                it_4.collect::<Vec<_>>().await
            }
        };
        let task = tokio::spawn(pipeline);
        event.notified().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        wait_for_buffers_to_fill().await;
        assert_eq!(num_tasks(), 0);
    }
}

/// `test.py::TestBufferIterable::test_default_bufsize`
mod default_bufsize {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn test() {
        let num_gen = Arc::new(AtomicUsize::new(0));
        let buffer_iterable = BufferedPipeline::new();
        let mut it = buffer_iterable
            .buffered(counting(gen_1(), &num_gen))
            .unwrap();
        let mut num_gens = Vec::new();
        while let Some(item) = it.next().await {
            item.unwrap();
            wait_for_buffers_to_fill().await;
            num_gens.push(num_gen.load(Ordering::SeqCst));
        }
        assert_eq!(num_gens, [2, 3, 4, 5, 6, 7, 8, 9, 10, 10]);
    }
}

/// `test.py::TestBufferIterable::test_bigger_bufsize`
mod bigger_bufsize {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn test() {
        let num_gen = Arc::new(AtomicUsize::new(0));
        let buffer_iterable = BufferedPipeline::new();
        let mut it = buffer_iterable
            .buffered_with_size(counting(gen_1(), &num_gen), 2)
            .unwrap();
        let mut num_gens = Vec::new();
        while let Some(item) = it.next().await {
            item.unwrap();
            wait_for_buffers_to_fill().await;
            num_gens.push(num_gen.load(Ordering::SeqCst));
        }
        assert_eq!(num_gens, [3, 4, 5, 6, 7, 8, 9, 10, 10, 10]);
    }
}

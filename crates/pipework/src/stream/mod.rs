//! Async stages on tokio: bounded task runs, buffered stages, concurrent
//! stages and timed batches.
//!
//! A chain of async streams runs one item at a time: while the consumer
//! handles an item, nothing upstream moves, and futures buffered with
//! `futures`' `buffer_unordered` stall while the consumer is busy
//! (rust-lang/futures-rs#2387). The stages here run their work on **their
//! own tokio tasks**, joined by **bounded** channels, so every stage keeps
//! working while the others do, and memory stays bounded whatever the input
//! size.
//!
//! | you have | use | ported from |
//! |---|---|---|
//! | a lazy stream of independent futures | [`run_bounded`] (at most `limit` spawned tasks, completion order) | abstractions `run_bounded` |
//! | a chain of slow streams (generators) | [`BufferedPipeline`]`::buffered` on each stage (one task and an exact `n`-item buffer per stage) | asyncio-buffered-pipeline |
//! | a stream and an async function per item | [`concurrent_map`] / [`concurrent_map_unordered`] (`c` calls at once) | — |
//! | a trickling stream to write in batches | [`batch_timeout`] (full, or old enough) | bytewax `batch_async` |
//!
//! [`StageExt`] offers all of them as methods. Every stream they return is
//! a [`FusedStream`](futures::stream::FusedStream) (it says when it is
//! done), and `Unpin` when its input is, as futures' own combinators.
//!
//! # Words
//!
//! - **stage**: a stream run on its own tokio task, handing its items to the
//!   next over a bounded channel (its **buffer**).
//! - **task**: one future of [`run_bounded`], spawned only if its first poll
//!   does not finish it; at most `limit` run or wait to be taken.
//! - **cancel**: every stage of one [`BufferedPipeline`] shares a
//!   cancellation token; an error or a dropped final stream cancels them all
//!   (and the scope's `JoinSet` aborts any stage task still running).
//!
//! # Example
//!
//! ```
//! use futures::{stream, StreamExt};
//! use pipework::stream::{run_bounded, BufferedPipeline, StagePanic};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Ten "requests", at most four at a time, results as they complete.
//! let requests = stream::iter(0..10u64).map(|i| async move {
//!     tokio::time::sleep(std::time::Duration::from_millis(10 - i)).await;
//!     Ok::<_, std::io::Error>(i)
//! });
//! let mut total = 0;
//! let mut results = run_bounded(requests, 4)?;
//! while let Some(result) = results.next().await {
//!     total += result?;
//! }
//! assert_eq!(total, 45);
//!
//! // Three stages, each on its own task, each one item ahead.
//! let pipeline = BufferedPipeline::new();
//! let numbers = pipeline.buffered(stream::iter(0..5).map(Ok::<u64, StagePanic>))?;
//! let doubled = pipeline.buffered(numbers.map(|n| n.map(|n| n * 2)))?;
//! let out: Vec<u64> = doubled.map(|n| n.unwrap()).collect().await;
//! assert_eq!(out, [0, 2, 4, 6, 8]);
//! # Ok(())
//! # }
//! ```
//!
//! # Items, errors and panics
//!
//! [`run_bounded`] takes futures returning `Result<T, E>` and yields
//! `Result<T, `[`TaskError<E>`](TaskError)`>`: a task's own error
//! ([`TaskError::Failed`]) or panic ([`TaskError::Panicked`],
//! [`TaskError::is_panic`]) is that item's `Err`, naming the task's position
//! in the input; the other tasks go on.
//!
//! Stages ([`Buffered`], [`ConcurrentMap`], [`ConcurrentMapUnordered`]) carry
//! `Result<T, E>` items through, so they chain without wrapping. A panic in
//! a stage's stream or function is caught and becomes an `E` through
//! `E: From<`[`StagePanic`]`>` (use `StagePanic` itself as `E` when nothing
//! else can fail). No panic is lost, and none leaves a stage hanging.
//!
//! # Memory
//!
//! Every queue is bounded: `run_bounded` holds at most `limit` tasks and
//! results (it pulls a new task only when fewer run), a buffered stage
//! exactly its buffer size (it waits for room *before* pulling), a
//! concurrent stage O(`c`), and `batch_timeout` one batch. A limit or size
//! of 0 would hang, so it is refused with [`Error::Zero`].
//!
//! # Shutdown and cancellation
//!
//! Dropping the stream returned by any stage cancels its task(s): the work
//! in flight is dropped, the upstream stream with it, which cancels the
//! stages upstream in turn. Stages of one [`BufferedPipeline`] share fate:
//! an error reaching the consumer, or the consumer dropping a stage, cancels
//! all of them. Every stream here is cancel-safe: dropping a pending
//! `next()` loses no item.
//!
//! # `Send + 'static`
//!
//! Work runs on spawned tokio tasks, which may run on any worker thread and
//! outlive the caller's frame, so the futures, streams, functions and items
//! given to the stages must be `Send + 'static` (the task stream of
//! `run_bounded` is the exception: the consumer polls it). Functions that
//! spawn must be called inside a tokio runtime, or they return
//! [`Error::NoRuntime`].
//!
//! # Cost, and when to use something else
//!
//! Measured on a shared 2-core machine (release build, tokio multi-thread
//! runtime with 2 workers unless noted; figures vary by ~10% between runs):
//!
//! | work | time | compared with |
//! |---|---|---|
//! | `run_bounded`, 1M ready futures, limit 64 | 0.062–0.063 s (324 instructions a task under callgrind, 200k tasks) | `buffer_unordered(64)` in the same runs: 0.068–0.088 s, 589 instructions a task (ours 1.09–1.40× its throughput; 0.68× before ready futures shared one allocation) |
//! | the same with [`RunBounded::spawn_every_task`] | 0.33 s current-thread, 0.8 s on 2 workers | a spawn costs 0.3–0.8 µs |
//! | `run_bounded`, 10k × 10 ms sleeps, limit 1000 | 0.114–0.117 s | ideal 0.100 s; `buffer_unordered` 0.113 s; 10 bare 10 ms tokio sleeps in a row take 0.110–0.115 s (1 ms timer) |
//! | 3 buffered stages (buffer 1), 1M trivial items | 0.77 s current-thread; 1.7 s on 2 workers, consumer in a spawned task | |
//! | 3 buffered stages × 10 items × 50 ms | 0.613–0.617 s | ideal 0.600 s; 12 bare 50 ms tokio sleeps in a row take 0.612–0.617 s |
//! | peak RSS of `run_bounded` over 10k and over 10M lazy tasks | 3.1 MB and 3.0 MB | |
//!
//! Each item of a buffered or concurrent stage crosses a channel, so a
//! stage costs about a microsecond per item: nothing next to an HTTP call,
//! a lot next to `x + 1`. Consume a pipeline from a task (or on a
//! current-thread runtime): on a multi-thread runtime, a consumer in
//! `block_on` wakes the main thread for every item, which made the 1M-item
//! test 5–9× slower. For CPU-bound work on data in memory, use rayon; for a
//! few futures that need no isolation from a slow consumer, `futures`'
//! `buffer_unordered` is lighter.

mod batch_timeout;
mod buffered;
mod buffered_pipeline;
mod concurrent;
mod error;
mod ext;
mod run_bounded;
mod stage_task;
pub(crate) mod task_set;

pub use self::batch_timeout::{batch_timeout, BatchTimeout};
pub use self::buffered::{buffered, Buffered};
pub use self::buffered_pipeline::BufferedPipeline;
pub use self::concurrent::{
    concurrent_map, concurrent_map_unordered, ConcurrentMap, ConcurrentMapUnordered,
};
pub use self::error::{Error, StagePanic, TaskError};
pub use self::ext::StageExt;
pub use self::run_bounded::{run_bounded, try_run_bounded, RunBounded};

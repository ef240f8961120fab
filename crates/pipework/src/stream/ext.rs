//! `StageExt`: the stream stages as methods.

use std::future::Future;
use std::time::Duration;

use futures::Stream;

use super::batch_timeout::{batch_timeout, BatchTimeout};
use super::buffered::Buffered;
use super::buffered_pipeline::BufferedPipeline;
use super::concurrent::{
    concurrent_map, concurrent_map_unordered, ConcurrentMap, ConcurrentMapUnordered,
};
use super::error::{Error, StagePanic};
use super::run_bounded::{run_bounded, RunBounded};

/// The stages of this module as methods on any [`Stream`], for chaining.
///
/// Each method calls the free function of the same name, except
/// [`buffered_in`](StageExt::buffered_in), which calls
/// [`BufferedPipeline::buffered_with_size`]; see there for the semantics,
/// bounds and errors. The names avoid those of
/// `futures::StreamExt` (`buffered`, `buffer_unordered`), so both traits
/// can be in scope.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures::{stream, StreamExt};
/// use pipework::stream::{StageExt, StagePanic};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pipework::stream::Error> {
/// let batches: Vec<Vec<u32>> = stream::iter(1..=5)
///     .map(Ok::<u32, StagePanic>)
///     .concurrent_map(2, |n| async move { Ok(n * 10) })?
///     .map(Result::unwrap)
///     .batch_timeout(2, Duration::from_millis(50))?
///     .collect()
///     .await;
/// assert_eq!(batches, [vec![10, 20], vec![30, 40], vec![50]]);
/// # Ok(())
/// # }
/// ```
pub trait StageExt: Stream + Sized {
    /// [`run_bounded`](super::run_bounded)`(self, limit)`: run this stream of
    /// futures as spawned tasks, at most `limit` at once.
    ///
    /// # Errors
    ///
    /// As [`run_bounded`](super::run_bounded).
    fn run_bounded<Fut, T, E>(self, limit: usize) -> Result<RunBounded<Self, Fut, E>, Error>
    where
        Self: Stream<Item = Fut>,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        run_bounded(self, limit)
    }

    /// Runs this stream as a stage of `pipeline` prefetching `size` items:
    /// [`BufferedPipeline::buffered_with_size`].
    ///
    /// # Errors
    ///
    /// As [`BufferedPipeline::buffered_with_size`].
    fn buffered_in<T, E>(
        self,
        pipeline: &BufferedPipeline,
        size: usize,
    ) -> Result<Buffered<T, E>, Error>
    where
        Self: Stream<Item = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StagePanic> + Send + 'static,
    {
        pipeline.buffered_with_size(self, size)
    }

    /// [`concurrent_map`](super::concurrent_map)`(self, concurrency, f)`:
    /// results in input order.
    ///
    /// # Errors
    ///
    /// As [`concurrent_map`](super::concurrent_map).
    fn concurrent_map<X, Y, E, F, Fut>(
        self,
        concurrency: usize,
        f: F,
    ) -> Result<ConcurrentMap<Y, E>, Error>
    where
        Self: Stream<Item = Result<X, E>> + Send + 'static,
        F: FnMut(X) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Y, E>> + Send + 'static,
        X: Send + 'static,
        Y: Send + 'static,
        E: From<StagePanic> + Send + 'static,
    {
        concurrent_map(self, concurrency, f)
    }

    /// [`concurrent_map_unordered`](super::concurrent_map_unordered)`(self,
    /// concurrency, f)`: results in completion order.
    ///
    /// # Errors
    ///
    /// As [`concurrent_map_unordered`](super::concurrent_map_unordered).
    fn concurrent_map_unordered<X, Y, E, F, Fut>(
        self,
        concurrency: usize,
        f: F,
    ) -> Result<ConcurrentMapUnordered<Y, E>, Error>
    where
        Self: Stream<Item = Result<X, E>> + Send + 'static,
        F: FnMut(X) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Y, E>> + Send + 'static,
        X: Send + 'static,
        Y: Send + 'static,
        E: From<StagePanic> + Send + 'static,
    {
        concurrent_map_unordered(self, concurrency, f)
    }

    /// [`batch_timeout`](super::batch_timeout)`(self, size, timeout)`.
    ///
    /// # Errors
    ///
    /// As [`batch_timeout`](super::batch_timeout).
    fn batch_timeout(self, size: usize, timeout: Duration) -> Result<BatchTimeout<Self>, Error> {
        batch_timeout(self, size, timeout)
    }
}

impl<S: Stream> StageExt for S {}

//! `BufferedPipeline`: the scope whose buffered stages share fate.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::Stream;
use tokio::runtime::Handle;
use tokio::task::{AbortHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::internal::lock;

use super::buffered::{spawn_stage, Buffered};
use super::error::{Error, StagePanic};

/// What the scope's stages share.
#[derive(Debug)]
pub(crate) struct Scope {
    /// Cancelled when the consumer got an error or dropped a stage (see
    /// [`Scope::cancel`]); a stage spawned after that is aborted at once.
    token: CancellationToken,
    stages: AtomicUsize,
    /// The stage tasks. Cancelling the scope aborts them all, and so does
    /// dropping the scope (its last stream).
    tasks: Mutex<JoinSet<()>>,
}

impl Scope {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Scope {
            token: CancellationToken::new(),
            stages: AtomicUsize::new(0),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    /// Spawns a stage task of this scope on `handle`; the handle it returns
    /// cancels that stage alone.
    pub(crate) fn spawn<F>(&self, handle: &Handle, task: F) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut tasks = lock(&self.tasks);
        // Reap the stages that ended, so the set holds only live ones. A
        // stage task catches its stream's panics and sends them on, so a
        // join error here is only an abort we asked for.
        while tasks.try_join_next().is_some() {}
        let stage = tasks.spawn_on(task, handle);
        // Checked under the lock `cancel` takes after setting the token, so
        // a stage spawned while the scope is being cancelled is aborted by
        // one side or the other.
        if self.token.is_cancelled() {
            stage.abort();
        }
        stage
    }

    /// Cancels every stage task of the scope: each is aborted, so it stops
    /// at its next wait (or at once if it is waiting), dropping its stream.
    pub(crate) fn cancel(&self) {
        self.token.cancel();
        lock(&self.tasks).abort_all();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The index of a new stage.
    pub(crate) fn next_stage(&self) -> usize {
        self.stages.fetch_add(1, Ordering::Relaxed)
    }
}

/// A scope for buffered stages that share fate: asyncio-buffered-pipeline's
/// `buffered_pipeline()`.
///
/// Wrap any stage of a chain of streams with [`buffered`](Self::buffered)
/// (or [`buffered_with_size`](Self::buffered_with_size)): it then runs on
/// its own tokio task, pulling from its upstream while downstream stages
/// work, so a chain of slow stages takes about as long as its slowest stage
/// times the item count instead of the sum of all stages. Streams you do not
/// wrap pass through unbuffered, run by whoever polls them.
///
/// Stages carry `Result<T, E>` items. The stages of one scope share fate:
/// - when a stage's stream yields `Err`, the stage passes it on after the
///   items it already buffered and stops; once an `Err` reaches the
///   consumer (code outside pipework's stage tasks), every stage task of
///   the scope is cancelled;
/// - a panic in a stage's stream becomes an `Err` (via
///   `E: From<`[`StagePanic`]`>`) and travels the same way;
/// - dropping a stage's stream outside pipework's stage tasks (typically
///   the consumer dropping the last stage) cancels every stage task.
///
/// Buffered stages mix freely with concurrent stages and plain stream
/// adapters: an error passes through them to the consumer.
///
/// A stage cancelled because of an error or a drop elsewhere in the scope
/// ends its stream early, without an error of its own.
///
/// The scope value itself is only a factory; dropping it changes nothing.
///
/// # Examples
///
/// ```
/// use futures::{stream, StreamExt};
/// use pipework::stream::{BufferedPipeline, StagePanic};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pipeline = BufferedPipeline::new();
/// let it_1 = pipeline.buffered(stream::iter(0..10).map(Ok::<u32, StagePanic>))?;
/// let it_2 = pipeline.buffered(it_1.map(|r| r.map(|v| v * 2)))?;
/// let it_3 = pipeline.buffered(it_2.map(|r| r.map(|v| v + 3)))?;
/// let values: Vec<u32> = it_3.map(|r| r.unwrap()).collect().await;
/// assert_eq!(values, [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BufferedPipeline {
    scope: Arc<Scope>,
}

impl BufferedPipeline {
    /// A new, empty scope.
    #[must_use]
    pub fn new() -> Self {
        BufferedPipeline {
            scope: Scope::new(),
        }
    }

    /// Runs `stream` as a stage of this scope with a buffer of 1 item (the
    /// seed's default, right when every stage takes about as long per item).
    ///
    /// # Errors
    ///
    /// [`Error::NoRuntime`] outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// The returned [`Buffered`] is a `Stream` whose `next()` is
    /// cancel-safe: an item is never lost by dropping a pending `next()`.
    pub fn buffered<S, T, E>(&self, stream: S) -> Result<Buffered<T, E>, Error>
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StagePanic> + Send + 'static,
    {
        spawn_stage(&self.scope, stream, 1, "buffered")
    }

    /// Runs `stream` as a stage of this scope that prefetches exactly `size`
    /// items: it waits for room in its buffer *before* pulling the next
    /// item, so at most `size` items are pulled and not yet taken. Use more
    /// than 1 when the time per item varies.
    ///
    /// # Errors
    ///
    /// [`Error::Zero`] if `size` is 0, [`Error::TooLarge`] if it is above
    /// `usize::MAX >> 3`; [`Error::NoRuntime`] outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// As [`buffered`](Self::buffered).
    pub fn buffered_with_size<S, T, E>(
        &self,
        stream: S,
        size: usize,
    ) -> Result<Buffered<T, E>, Error>
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StagePanic> + Send + 'static,
    {
        spawn_stage(&self.scope, stream, size, "buffered_with_size")
    }

    /// Cancels every stage task of this scope now.
    pub fn cancel(&self) {
        self.scope.cancel();
    }
}

impl Default for BufferedPipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for BufferedPipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferedPipeline")
            .field("stages", &self.scope.stages.load(Ordering::Relaxed))
            .field("cancelled", &self.scope.is_cancelled())
            .finish()
    }
}

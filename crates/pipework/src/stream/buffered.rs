//! `buffered(stream, n)`: run a stream on its own task with an exact-size
//! buffer.
//!
//! A stage task is the loop an `mpsc` chain would write (reserve room,
//! pull one item, send it) and nothing more on the hot path: cancelling a
//! stage or its scope *aborts* its task (tokio drops the future at its next
//! wait, with the stage mark set, so dropping its upstream cancels only
//! that stage), instead of every wait also polling a `CancellationToken`.
//! That token's `Notify` was about a sixth of a trivial stage's
//! instructions (callgrind, 100k items through 3 stages: 593M before,
//! 477M with this and the thread-local stage mark; the bare
//! `mpsc::channel(1)` chain 455M).

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::FusedStream;
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::buffered_pipeline::Scope;
use super::error::{Error, StagePanic};
use super::stage_task::{as_stage_task, in_stage_task};

/// Runs `stream` on its own tokio task, prefetching exactly `size` items,
/// as a one-stage [`BufferedPipeline`](crate::stream::BufferedPipeline).
///
/// Order is kept. The task waits for room in the buffer *before* pulling
/// the next item, so at most `size` items are pulled and not yet taken
/// (memory O(`size`)). An `Err` item is passed on after the items already
/// buffered, then the stage stops; a panic in `stream` becomes an `Err` via
/// `E: From<StagePanic>`. Dropping the returned stream cancels the task.
/// To make several stages share fate, build them from one
/// `BufferedPipeline`.
///
/// # Bounds
///
/// `stream` runs on a spawned task, possibly on another worker thread and
/// for longer than the caller's frame, so it and its items must be
/// `Send + 'static`.
///
/// # Errors
///
/// [`Error::Zero`] if `size` is 0, [`Error::TooLarge`] if it is above
/// `usize::MAX >> 3`; [`Error::NoRuntime`] outside a tokio runtime.
///
/// # Cancel safety
///
/// The returned [`Buffered`] is a `Stream` whose `next()` is cancel-safe.
///
/// # Examples
///
/// ```
/// use futures::{stream, StreamExt};
/// use pipework::stream::{buffered, StagePanic};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pipework::stream::Error> {
/// let slow_source = stream::iter(0..3).then(|i| async move {
///     tokio::task::yield_now().await; // e.g. a slow HTTP request
///     Ok::<_, StagePanic>(i)
/// });
/// let items: Vec<_> = buffered(slow_source, 2)?.collect().await;
/// assert_eq!(items, [Ok(0), Ok(1), Ok(2)]);
/// # Ok(())
/// # }
/// ```
pub fn buffered<S, T, E>(stream: S, size: usize) -> Result<Buffered<T, E>, Error>
where
    S: Stream<Item = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<StagePanic> + Send + 'static,
{
    spawn_stage(&Scope::new(), stream, size, "buffered")
}

/// The stream of a buffered stage: see [`buffered`] and
/// [`BufferedPipeline`](crate::stream::BufferedPipeline).
///
/// Dropping it cancels its stage task (and, when dropped outside
/// pipework's stage tasks, every stage of its scope).
#[must_use = "streams do nothing unless polled"]
pub struct Buffered<T, E> {
    rx: mpsc::Receiver<Result<T, E>>,
    /// Stops this stage's task.
    stage: AbortHandle,
    scope: Arc<Scope>,
    index: usize,
    done: bool,
}

/// Spawns the task of one stage of `scope` and returns its stream.
pub(crate) fn spawn_stage<S, T, E>(
    scope: &Arc<Scope>,
    stream: S,
    size: usize,
    function: &'static str,
) -> Result<Buffered<T, E>, Error>
where
    S: Stream<Item = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<StagePanic> + Send + 'static,
{
    Error::check_capacity(function, "size", size)?;
    let handle = Error::runtime(function)?;
    let index = scope.next_stage();
    let (tx, rx) = mpsc::channel(size);
    // The task catches panics of `stream` and reports them through the
    // channel; it ends at the end of `stream`, after an error, when its
    // buffer's reader is gone, or when it is aborted (its own stream
    // dropped, or the scope cancelled).
    let stage = scope.spawn(&handle, as_stage_task(run_buffered(stream, tx, index)));
    Ok(Buffered {
        rx,
        stage,
        scope: Arc::clone(scope),
        index,
        done: false,
    })
}

/// The body of a stage task: reserve room, pull, send; stop on an error,
/// the end of the stream or a closed buffer. Cancellation is an abort of
/// the task (see the module docs), so nothing here waits on a token.
async fn run_buffered<S, T, E>(stream: S, tx: mpsc::Sender<Result<T, E>>, index: usize)
where
    S: Stream<Item = Result<T, E>>,
    E: From<StagePanic>,
{
    let mut stream = pin!(stream);
    loop {
        // Room first, then pull: this is what makes the prefetch exact.
        let Ok(permit) = tx.reserve().await else {
            // The stream was dropped: nobody wants more items.
            return;
        };
        let next = AssertUnwindSafe(stream.next()).catch_unwind().await;
        match next {
            Ok(Some(Ok(item))) => permit.send(Ok(item)),
            Ok(Some(Err(error))) => {
                permit.send(Err(error));
                return;
            }
            Ok(None) => return,
            Err(payload) => {
                let panic = StagePanic::new(format_args!("buffered stage {index}"), &*payload);
                permit.send(Err(E::from(panic)));
                return;
            }
        }
    }
}

impl<T, E> Stream for Buffered<T, E> {
    type Item = Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = std::task::ready!(self.rx.poll_recv(cx));
        match &item {
            Some(Ok(_)) => {}
            Some(Err(_)) => {
                self.done = true;
                if !in_stage_task() {
                    // The error reached the consumer: the pipeline is over.
                    self.scope.cancel();
                }
            }
            None => self.done = true,
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (self.rx.len(), None)
        }
    }
}

impl<T, E> FusedStream for Buffered<T, E> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T, E> Drop for Buffered<T, E> {
    fn drop(&mut self) {
        self.stage.abort();
        if !in_stage_task() {
            self.scope.cancel();
        }
    }
}

impl<T, E> fmt::Debug for Buffered<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffered")
            .field("stage", &self.index)
            .field("buffered", &self.rx.len())
            .field("capacity", &self.rx.max_capacity())
            .field("done", &self.done)
            .finish()
    }
}

//! `run_bounded(tasks, limit)`: run a lazy stream of futures, at most `limit`
//! at once, results in completion order.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::FusedStream;
use futures::Stream;
use pin_project_lite::pin_project;

use super::error::{Error, TaskError};
use super::task_set::{Finished, Joined, TaskBox, TaskSet};

/// Runs the futures of `tasks` as spawned tokio tasks, at most `limit` at
/// once, and yields their results in completion order.
///
/// This is abstractions' `run_bounded`. `tasks` is pulled lazily: a new
/// future is taken only when fewer than `limit` tasks are running (and not
/// yet collected), so a source of 10 million tasks never sits in memory and
/// **memory is O(`limit`)**, not O(tasks). Each future is polled once when
/// pulled; if that does not finish it, it runs as its own spawned task, so
/// it makes progress while the consumer is busy with earlier results, and
/// tasks use every worker thread of the runtime (see
/// [`RunBounded::spawn_every_task`] to spawn even futures that are ready at
/// once). A finished task's result waits (it still counts against `limit`)
/// until the consumer takes it.
///
/// Each item is the task's `Ok` value, or a [`TaskError`] for that task
/// alone: [`Failed`](TaskError::Failed) if it returned `Err`,
/// [`Panicked`](TaskError::Panicked) if it panicked. The other tasks go on.
///
/// Dropping the returned stream aborts every task still running.
///
/// Unlike abstractions' version, whose queue of finished results is
/// unbounded (a slow consumer lets results pile up while new tasks start),
/// a finished result here keeps its slot until it is taken, so memory stays
/// O(`limit`) whatever the consumer's pace.
///
/// The returned stream holds `tasks` in place, like futures' own
/// combinators: it is `Unpin` when `tasks` is. Over a source that is not
/// (`stream::unfold`, an `async` generator), pin it with
/// [`std::pin::pin!`] before calling `next()`.
///
/// # Bounds
///
/// The futures are spawned, so they and their outputs must be
/// `Send + 'static`: they may run on any worker thread and may outlive the
/// caller's stack frame. The task stream itself is polled only by the
/// consumer and needs neither.
///
/// # Errors
///
/// [`Error::Zero`] if `limit` is 0; [`Error::NoRuntime`] if not called from
/// within a tokio runtime (the tasks are spawned on the runtime current at
/// this call).
///
/// # Cancel safety
///
/// `RunBounded` is a `Stream`; `next()` on it is cancel-safe: a result that
/// is ready is kept until the next call, and tasks keep running meanwhile.
///
/// # Examples
///
/// ```
/// use futures::{stream, StreamExt};
/// use pipework::stream::run_bounded;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tasks = stream::iter(1..=10).map(|n: u64| async move {
///     tokio::task::yield_now().await; // e.g. an HTTP call
///     Ok::<_, std::io::Error>(n * n)
/// });
/// let mut sum = 0;
/// let mut results = run_bounded(tasks, 3)?;
/// while let Some(result) = results.next().await {
///     sum += result?;
/// }
/// assert_eq!(sum, 385);
/// # Ok(())
/// # }
/// ```
pub fn run_bounded<S, Fut, T, E>(tasks: S, limit: usize) -> Result<RunBounded<S, Fut, E>, Error>
where
    S: Stream<Item = Fut>,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    RunBounded::new(tasks, limit, Ok, "run_bounded")
}

/// Like [`run_bounded`], for a task stream that can itself fail: its items
/// are `Result<future, E>`.
///
/// When the source yields `Err(error)`, no further task is pulled; the
/// results of the tasks already running are still yielded, then
/// [`TaskError::Source`] as the last item.
///
/// # Errors
///
/// As [`run_bounded`].
///
/// # Cancel safety
///
/// As [`run_bounded`].
///
/// # Examples
///
/// ```
/// use futures::{stream, StreamExt};
/// use pipework::stream::{try_run_bounded, TaskError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pipework::stream::Error> {
/// let lines = ["1", "2", "x"];
/// let tasks = stream::iter(lines).map(|line| {
///     line.parse::<u32>().map(|n| async move { Ok(n * 10) })
/// });
/// let out: Vec<_> = try_run_bounded(tasks, 2)?.collect().await;
/// assert_eq!(out.len(), 3);
/// assert!(matches!(out[2], Err(TaskError::Source { pulled: 2, .. })));
/// # Ok(())
/// # }
/// ```
pub fn try_run_bounded<S, Fut, T, E>(tasks: S, limit: usize) -> Result<RunBounded<S, Fut, E>, Error>
where
    S: Stream<Item = Result<Fut, E>>,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    RunBounded::new(tasks, limit, |item| item, "try_run_bounded")
}

pin_project! {
    /// The stream returned by [`run_bounded`] and [`try_run_bounded`].
    ///
    /// It is `Unpin` when the task source is (the tasks themselves live in
    /// the runtime, not in this struct).
    #[must_use = "streams do nothing unless polled"]
    pub struct RunBounded<S, Fut, E>
    where
        S: Stream,
        Fut: Future,
    {
        // The task source; `None` once it ended or failed.
        #[pin]
        tasks: Option<S>,
        // Turns a source item into a task or a source error.
        classify: fn(S::Item) -> Result<Fut, E>,
        // The running tasks, tagged with their position in the source.
        set: TaskSet<u64, Fut::Output>,
        limit: usize,
        pulled: u64,
        source_error: Option<E>,
        // The allocation of the last task that finished at its first poll,
        // to start the next one in.
        spare: Option<TaskBox<Fut>>,
    }
}

impl<S, Fut, T, E> RunBounded<S, Fut, E>
where
    S: Stream,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn new(
        tasks: S,
        limit: usize,
        classify: fn(S::Item) -> Result<Fut, E>,
        function: &'static str,
    ) -> Result<Self, Error> {
        if limit == 0 {
            return Err(Error::zero(function, "limit"));
        }
        let handle = Error::runtime(function)?;
        Ok(RunBounded {
            tasks: Some(tasks),
            classify,
            set: TaskSet::new(limit, handle),
            limit,
            pulled: 0,
            source_error: None,
            spare: None,
        })
    }

    /// How many tasks are running or finished but not yet yielded (never
    /// more than `limit`).
    #[must_use]
    pub fn running(&self) -> usize {
        self.set.len()
    }

    /// How many tasks have been pulled from the source so far.
    #[must_use]
    pub fn pulled(&self) -> u64 {
        self.pulled
    }

    /// Spawns every task, even one that its first poll would finish.
    ///
    /// By default, a task pulled from the source is polled once in place
    /// (inside the consumer's `poll_next`) and spawned only if it is not
    /// finished by then, which spares a spawn for futures that are ready
    /// at once (a cache hit, a no-op): with 1M ready futures that makes
    /// `run_bounded` several times faster. A future that does CPU work
    /// before its first `.await` would then do it on the consumer's task;
    /// call this so that such work always goes to the runtime's worker
    /// threads instead.
    pub fn spawn_every_task(mut self) -> Self {
        self.set.spawn_every_task();
        self
    }

    /// Pulls tasks while there is room and the source has them, and starts
    /// each in the task set.
    fn fill(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        let mut this = self.project();
        if !this.set.has_room() {
            return;
        }
        let handle = this.set.handle();
        let _runtime = handle.enter();
        while this.set.has_room() {
            let Some(tasks) = this.tasks.as_mut().as_pin_mut() else {
                return;
            };
            match tasks.poll_next(cx) {
                Poll::Ready(Some(item)) => match (this.classify)(item) {
                    Ok(future) => {
                        this.set.start_in(*this.pulled, future, this.spare);
                        *this.pulled += 1;
                    }
                    Err(error) => {
                        *this.source_error = Some(error);
                        this.tasks.set(None);
                    }
                },
                Poll::Ready(None) => this.tasks.set(None),
                Poll::Pending => return,
            }
        }
    }

    /// Whether the source ended and every result (and its error, if any)
    /// has been yielded.
    fn is_done(&self) -> bool {
        self.tasks.is_none() && self.set.is_empty() && self.source_error.is_none()
    }
}

/// The item for a task that finished: its value, or its failure or panic.
fn outcome<T, E>((task, out): Finished<u64, Result<T, E>>) -> Result<T, TaskError<E>> {
    match out {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(TaskError::Failed { task, error }),
        Err(message) => Err(TaskError::Panicked { task, message }),
    }
}

/// The item for a joined task. Panics are caught inside the task, so a
/// join error is an abort from outside (runtime shutdown).
fn joined<T, E>(joined: Joined<u64, Result<T, E>>) -> Result<T, TaskError<E>> {
    match joined {
        Ok(finished) => outcome(finished),
        Err(_) => Err(TaskError::Cancelled),
    }
}

impl<S, Fut, T, E> Stream for RunBounded<S, Fut, E>
where
    S: Stream,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Item = Result<T, TaskError<E>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Tasks that finished earlier come before new ones.
        let set = self.as_mut().project().set;
        if !set.is_empty() {
            if let Poll::Ready(Some(done)) = set.poll_join_next(cx) {
                return Poll::Ready(Some(joined(done)));
            }
        }
        self.as_mut().fill(cx);
        let this = self.project();
        match this.set.poll_join_next(cx) {
            Poll::Ready(Some(done)) => Poll::Ready(Some(joined(done))),
            // The source is pending and nothing runs.
            Poll::Ready(None) if this.tasks.is_some() => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(this.source_error.take().map(|error| {
                Err(TaskError::Source {
                    pulled: *this.pulled,
                    error,
                })
            })),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let running = self.set.len();
        match &self.tasks {
            Some(tasks) => {
                let (lo, hi) = tasks.size_hint();
                (
                    running.saturating_add(lo),
                    hi.and_then(|hi| hi.checked_add(running)),
                )
            }
            None => {
                let n = running + usize::from(self.source_error.is_some());
                (n, Some(n))
            }
        }
    }
}

impl<S, Fut, T, E> FusedStream for RunBounded<S, Fut, E>
where
    S: Stream,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.is_done()
    }
}

impl<S, Fut, E> std::fmt::Debug for RunBounded<S, Fut, E>
where
    S: Stream,
    Fut: Future,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunBounded")
            .field("limit", &self.limit)
            .field("running", &self.set.len())
            .field("pulled", &self.pulled)
            .field("source_done", &self.tasks.is_none())
            .finish_non_exhaustive()
    }
}

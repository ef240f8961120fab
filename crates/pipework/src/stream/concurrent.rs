//! `concurrent_map` and `concurrent_map_unordered`: an async step with
//! concurrency `c`, run on its own task.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use futures::future::{join, ready, CatchUnwind, Either, Join, Ready};
use futures::stream::{FusedStream, FuturesOrdered, FuturesUnordered};
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::error::{Error, StagePanic};
use super::stage_task::as_stage_task;

/// Applies the async function `f` to every `Ok` item of `stream`, at most
/// `concurrency` calls at once, and yields the results **in input order**.
///
/// The stage runs on its own tokio task, which keeps polling the running
/// futures while the consumer is busy with earlier results: unlike
/// `StreamExt::buffered`/`buffer_unordered` alone, whose futures stall
/// while the consumer does not poll (rust-lang/futures-rs#2387), a future's
/// internal deadline here only sees the time its own work takes. Results
/// are passed to the consumer through a bounded channel.
///
/// `Err` items of `stream` are passed through in their place without
/// calling `f`; an `Err` returned by `f` is an item like any other (it does
/// not stop the stage: stop by dropping the stream). A panic in `stream`,
/// in `f` or in its future becomes an `Err` via `E: From<StagePanic>`; a
/// panic in `stream` ends the stage after it.
///
/// # Memory
///
/// At most `concurrency` items are in flight or finished and waiting (in
/// order mode, a slow item holds back the ones after it, and they count),
/// plus at most `concurrency` results in the channel to the consumer:
/// O(`concurrency`).
///
/// # Bounds
///
/// The stage runs on a spawned task, possibly on another worker thread and
/// for longer than the caller's frame, so `stream`, `f`, its futures and all
/// items must be `Send + 'static`. All futures of one stage run on that one
/// task: for CPU-heavy work, use `spawn_blocking` inside `f`, or
/// [`run_bounded`](crate::stream::run_bounded) which spawns a task per item.
///
/// # Errors
///
/// [`Error::Zero`] if `concurrency` is 0, [`Error::TooLarge`] if it is above
/// `usize::MAX >> 3`; [`Error::NoRuntime`] outside a tokio runtime.
///
/// # Cancel safety
///
/// The returned [`ConcurrentMap`] is a `Stream` whose `next()` is
/// cancel-safe. Dropping it cancels the stage task, which drops the
/// futures in flight and `stream`.
///
/// # Examples
///
/// ```
/// use futures::{stream, StreamExt};
/// use pipework::stream::{concurrent_map, StagePanic};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pipework::stream::Error> {
/// let ids = stream::iter(1..=5).map(Ok::<u32, StagePanic>);
/// let names = concurrent_map(ids, 3, |id| async move {
///     tokio::task::yield_now().await; // e.g. an HTTP lookup
///     Ok(format!("user-{id}"))
/// })?;
/// let names: Vec<_> = names.map(Result::unwrap).collect().await;
/// assert_eq!(names, ["user-1", "user-2", "user-3", "user-4", "user-5"]);
/// # Ok(())
/// # }
/// ```
pub fn concurrent_map<S, X, Y, E, F, Fut>(
    stream: S,
    concurrency: usize,
    f: F,
) -> Result<ConcurrentMap<Y, E>, Error>
where
    S: Stream<Item = Result<X, E>> + Send + 'static,
    F: FnMut(X) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Y, E>> + Send + 'static,
    X: Send + 'static,
    Y: Send + 'static,
    E: From<StagePanic> + Send + 'static,
{
    let stage =
        spawn::<FuturesOrdered<_>, _, _, _, _, _, _>(stream, concurrency, f, "concurrent_map")?;
    Ok(ConcurrentMap { stage })
}

/// Like [`concurrent_map`], but yields each result as soon as it is ready
/// (completion order), so a slow item holds nothing back.
///
/// # Errors
///
/// As [`concurrent_map`].
///
/// # Cancel safety
///
/// As [`concurrent_map`].
///
/// # Examples
///
/// ```
/// use futures::{stream, StreamExt};
/// use pipework::stream::{concurrent_map_unordered, StagePanic};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pipework::stream::Error> {
/// let ids = stream::iter(1..=5).map(Ok::<u32, StagePanic>);
/// let mut doubled: Vec<u32> = concurrent_map_unordered(ids, 2, |id| async move { Ok(id * 2) })?
///     .map(Result::unwrap)
///     .collect()
///     .await;
/// doubled.sort();
/// assert_eq!(doubled, [2, 4, 6, 8, 10]);
/// # Ok(())
/// # }
/// ```
pub fn concurrent_map_unordered<S, X, Y, E, F, Fut>(
    stream: S,
    concurrency: usize,
    f: F,
) -> Result<ConcurrentMapUnordered<Y, E>, Error>
where
    S: Stream<Item = Result<X, E>> + Send + 'static,
    F: FnMut(X) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Y, E>> + Send + 'static,
    X: Send + 'static,
    Y: Send + 'static,
    E: From<StagePanic> + Send + 'static,
{
    let stage = spawn::<FuturesUnordered<_>, _, _, _, _, _, _>(
        stream,
        concurrency,
        f,
        "concurrent_map_unordered",
    )?;
    Ok(ConcurrentMapUnordered { stage })
}

/// The stream returned by [`concurrent_map`] (results in input order).
#[must_use = "streams do nothing unless polled"]
pub struct ConcurrentMap<Y, E> {
    stage: StageEnd<Y, E>,
}

/// The stream returned by [`concurrent_map_unordered`] (results in
/// completion order).
#[must_use = "streams do nothing unless polled"]
pub struct ConcurrentMapUnordered<Y, E> {
    stage: StageEnd<Y, E>,
}

/// The consumer's end of a concurrent stage: the channel, and the set
/// holding the stage task, which aborts it when dropped.
struct StageEnd<Y, E> {
    rx: mpsc::Receiver<Result<Y, E>>,
    _abort_on_drop: JoinSet<()>,
    concurrency: usize,
}

impl<Y, E> StageEnd<Y, E> {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Y, E>>> {
        self.rx.poll_recv(cx)
    }

    /// Whether the stage task ended and every result it sent was taken.
    fn is_terminated(&self) -> bool {
        self.rx.is_closed() && self.rx.is_empty()
    }

    fn fmt(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("concurrency", &self.concurrency)
            .field("ready", &self.rx.len())
            .finish_non_exhaustive()
    }
}

impl<Y, E> Stream for ConcurrentMap<Y, E> {
    type Item = Result<Y, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stage.poll_next(cx)
    }
}

impl<Y, E> Stream for ConcurrentMapUnordered<Y, E> {
    type Item = Result<Y, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stage.poll_next(cx)
    }
}

impl<Y, E> FusedStream for ConcurrentMap<Y, E> {
    fn is_terminated(&self) -> bool {
        self.stage.is_terminated()
    }
}

impl<Y, E> FusedStream for ConcurrentMapUnordered<Y, E> {
    fn is_terminated(&self) -> bool {
        self.stage.is_terminated()
    }
}

impl<Y, E> fmt::Debug for ConcurrentMap<Y, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.stage.fmt("ConcurrentMap", f)
    }
}

impl<Y, E> fmt::Debug for ConcurrentMapUnordered<Y, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.stage.fmt("ConcurrentMapUnordered", f)
    }
}

/// The set of futures in flight: ordered or not.
trait InFlight<Fut: Future>: Stream<Item = Fut::Output> + Default + Unpin {
    fn push(&mut self, future: Fut);
    fn len(&self) -> usize;
}

impl<Fut: Future> InFlight<Fut> for FuturesOrdered<Fut> {
    fn push(&mut self, future: Fut) {
        self.push_back(future);
    }
    fn len(&self) -> usize {
        FuturesOrdered::len(self)
    }
}

impl<Fut: Future> InFlight<Fut> for FuturesUnordered<Fut> {
    fn push(&mut self, future: Fut) {
        FuturesUnordered::push(self, future);
    }
    fn len(&self) -> usize {
        FuturesUnordered::len(self)
    }
}

/// A future in flight, tagged with its item's position: `f`'s future with
/// its panic caught, or an error standing in its place.
type Job<Fut> = Either<
    Join<Ready<u64>, CatchUnwind<AssertUnwindSafe<Fut>>>,
    Ready<(u64, std::thread::Result<<Fut as Future>::Output>)>,
>;

/// A job that is already finished with `result`.
fn done<Fut: Future>(item: u64, result: Fut::Output) -> Job<Fut> {
    Either::Right(ready((item, Ok(result))))
}

fn spawn<Q, S, X, Y, E, F, Fut>(
    stream: S,
    concurrency: usize,
    f: F,
    function: &'static str,
) -> Result<StageEnd<Y, E>, Error>
where
    Q: InFlight<Job<Fut>> + Send + 'static,
    S: Stream<Item = Result<X, E>> + Send + 'static,
    F: FnMut(X) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Y, E>> + Send + 'static,
    X: Send + 'static,
    Y: Send + 'static,
    E: From<StagePanic> + Send + 'static,
{
    Error::check_capacity(function, "concurrency", concurrency)?;
    let handle = Error::runtime(function)?;
    let (tx, rx) = mpsc::channel(concurrency);
    let task = run_concurrent::<Q, _, _, _, _, _, _>(stream, f, tx, concurrency, function);
    // The task catches every panic of user code and reports it through the
    // channel. It ends when its input and its futures are done, when the
    // consumer's end of the channel is gone, or when it is aborted: dropping
    // the stream drops this JoinSet, which aborts it (tokio drops the task's
    // future, with the futures in flight and `stream`, at its next wait).
    // Aborting, not a cancellation token polled by the task's `select!`,
    // keeps the hot path to the work itself.
    let mut task_set = JoinSet::new();
    task_set.spawn_on(as_stage_task(task), &handle);
    Ok(StageEnd {
        rx,
        _abort_on_drop: task_set,
        concurrency,
    })
}

/// The body of a concurrent stage task.
///
/// One `select!` loop drives three things at once, so none waits on
/// another: pulling input (only while fewer than `concurrency` items are in
/// flight or waiting), polling the futures in flight, and handing finished
/// results to the channel as it has room.
async fn run_concurrent<Q, S, X, Y, E, F, Fut>(
    stream: S,
    mut f: F,
    tx: mpsc::Sender<Result<Y, E>>,
    concurrency: usize,
    function: &'static str,
) where
    Q: InFlight<Job<Fut>>,
    S: Stream<Item = Result<X, E>>,
    F: FnMut(X) -> Fut,
    Fut: Future<Output = Result<Y, E>> + Send + 'static,
    Y: Send + 'static,
    E: From<StagePanic> + Send + 'static,
{
    let mut stream = pin!(stream);
    let mut in_flight = Q::default();
    let mut finished: VecDeque<Result<Y, E>> = VecDeque::new();
    let mut input_done = false;
    let mut pulled: u64 = 0;
    loop {
        let room = in_flight.len() + finished.len() < concurrency;
        if input_done && in_flight.len() == 0 && finished.is_empty() {
            return;
        }
        tokio::select! {
            biased;
            permit = tx.reserve(), if !finished.is_empty() => match permit {
                Ok(permit) => {
                    if let Some(result) = finished.pop_front() {
                        permit.send(result);
                    }
                }
                // The consumer dropped the stream.
                Err(_) => return,
            },
            Some((item, out)) = in_flight.next(), if in_flight.len() > 0 => {
                finished.push_back(out.unwrap_or_else(|payload| {
                    let stage = format!("{function} (item {item})");
                    Err(E::from(StagePanic::new(stage, &*payload)))
                }));
            }
            next = AssertUnwindSafe(stream.next()).catch_unwind(), if room && !input_done => {
                let item = pulled;
                pulled += 1;
                let job = match next {
                    Ok(Some(Ok(x))) => match std::panic::catch_unwind(AssertUnwindSafe(|| f(x))) {
                        Ok(future) => {
                            Either::Left(join(ready(item), AssertUnwindSafe(future).catch_unwind()))
                        }
                        Err(payload) => {
                            let stage = format!("{function} (item {item})");
                            done::<Fut>(item, Err(E::from(StagePanic::new(stage, &*payload))))
                        }
                    },
                    Ok(Some(Err(error))) => done::<Fut>(item, Err(error)),
                    Ok(None) => {
                        input_done = true;
                        continue;
                    }
                    Err(payload) => {
                        input_done = true;
                        let stage = format!("{function} input stream");
                        done::<Fut>(item, Err(E::from(StagePanic::new(stage, &*payload))))
                    }
                };
                in_flight.push(job);
            },
        }
    }
}

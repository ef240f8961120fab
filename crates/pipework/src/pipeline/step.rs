//! The [`Step`] trait: a unit of work with per-thread state and hooks.

use std::time::Duration;

use super::emitter::Emitter;
use super::error::BoxError;

/// Where a step thread sits: which step, and which of its threads.
#[derive(Debug, Clone)]
pub struct ThreadInfo {
    pub(crate) step: String,
    pub(crate) index: usize,
    pub(crate) threads: usize,
}

impl ThreadInfo {
    /// The step's name.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// This thread's index among the step's threads, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many threads the step runs.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

/// One step of a threaded pipeline, with the full set of hooks.
///
/// This is paipa's `AbstractStep` the Rust way. One value of the type is
/// shared (through an `Arc`) by all the step's threads: its fields are the
/// *storage shared by a step's threads* (use atomics or a `Mutex` in them).
/// Each thread also owns a [`Step::State`], made on that thread by
/// [`thread_init`](Step::thread_init), for what must not be shared (a
/// connection, a buffer, a counter).
///
/// The hooks run in this order:
///
/// | hook | runs | paipa |
/// |---|---|---|
/// | [`setup`](Step::setup) | once, before the step's threads start | `step_initialize` |
/// | [`thread_init`](Step::thread_init) | once on each thread | `initialize` + `thread_initialize` |
/// | [`process`](Step::process) | once per item (more on retries) | `process` |
/// | [`idle`](Step::idle) | when no item came for [`idle_timeout`](Step::idle_timeout) after one did | `TimedChunk`'s timer |
/// | [`thread_shutdown`](Step::thread_shutdown) | once on each thread when its input is done | `thread_shutdown` |
/// | [`teardown`](Step::teardown) | once, after the step's last thread | `step_shutdown` |
///
/// `thread_shutdown` may still emit items (a chunking step flushes its last
/// partial chunk there). It is skipped when the pipeline is cancelled.
///
/// The closures given to [`Pipeline::map`](crate::pipeline::Pipeline::map),
/// [`filter_map`](crate::pipeline::Pipeline::filter_map) and
/// [`flat_map`](crate::pipeline::Pipeline::flat_map) are steps too; implement
/// this trait when a step needs state or hooks.
///
/// # Examples
///
/// A step that numbers items per thread and counts them across threads:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use pipework::pipeline::{BoxError, Emitter, Pipeline, Step, ThreadInfo};
///
/// #[derive(Default)]
/// struct Tag { total: AtomicU64 }
///
/// impl Step for Tag {
///     type In = u32;
///     type Out = (usize, u32);
///     type State = usize; // this thread's index
///
///     fn thread_init(&self, thread: &ThreadInfo) -> Result<usize, BoxError> {
///         Ok(thread.index())
///     }
///
///     fn process(&self, index: &mut usize, item: u32, out: &mut Emitter<'_, (usize, u32)>)
///         -> Result<(), BoxError>
///     {
///         self.total.fetch_add(1, Ordering::Relaxed);
///         out.emit((*index, item))?;
///         Ok(())
///     }
/// }
///
/// let mut pipeline = Pipeline::new().step(Tag::default()).threads(4);
/// pipeline.put_all(0..100);
/// pipeline.finish();
/// let report = pipeline.run()?;
/// assert_eq!(report.outputs(), 100);
/// # Ok::<(), pipework::pipeline::Error>(())
/// ```
pub trait Step: Send + Sync + 'static {
    /// What the step takes.
    type In: Send + 'static;
    /// What the step emits.
    type Out: Send + 'static;
    /// What each of the step's threads owns.
    type State;

    /// Runs once, on the thread that starts the pipeline, before any of this
    /// step's threads start. An error stops the pipeline before it runs.
    fn setup(&self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Runs once on each of the step's threads, before its first item, and
    /// makes that thread's state.
    fn thread_init(&self, thread: &ThreadInfo) -> Result<Self::State, BoxError>;

    /// Processes one item, emitting 0..n outputs through `out`.
    ///
    /// Returning an error fails the item: it is retried if the step has
    /// retries left, then handled by the step's
    /// [`OnError`](crate::pipeline::OnError) policy. A panic is handled the
    /// same way. Outputs emitted before a failure stay emitted, so a step
    /// with retries that emits more than once per item should emit only once
    /// it can no longer fail.
    fn process(
        &self,
        state: &mut Self::State,
        item: Self::In,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<(), BoxError>;

    /// How long a thread may wait for its next item before [`idle`](Step::idle)
    /// runs; `None` (the default) never calls it.
    fn idle_timeout(&self) -> Option<Duration> {
        None
    }

    /// Runs on a thread when no item has come for
    /// [`idle_timeout`](Step::idle_timeout) since the last one it processed,
    /// once per quiet spell (the next call needs another item first); may
    /// emit, as a timed chunking step flushes its partial chunk here.
    ///
    /// Not called in an [`ordered`](crate::pipeline::Pipeline::ordered)
    /// pipeline, where an output must follow the input it came from. An
    /// error or panic stops the pipeline as [`Error::HookFailed`](crate::pipeline::Error::HookFailed).
    fn idle(
        &self,
        state: &mut Self::State,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<(), BoxError> {
        let _ = (state, out);
        Ok(())
    }

    /// Runs once on each thread after its input is exhausted; may emit.
    fn thread_shutdown(
        &self,
        state: Self::State,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<(), BoxError> {
        let _ = (state, out);
        Ok(())
    }

    /// Runs once, after the last of the step's threads has shut down.
    fn teardown(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

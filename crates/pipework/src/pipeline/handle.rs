//! A running pipeline: [`PipelineHandle`] feeds, watches, stops and joins it.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::control::Control;
use super::error::{Error, PutError};
use super::feed::{spawn_feeder, Feed};
use super::input::{Input, InputState};
use super::report::{Report, StepCounters, StepStats};
use crate::internal::lock;

/// What the pipeline keeps of one running step.
pub(crate) struct StepRuntime {
    pub(crate) name: String,
    pub(crate) threads: usize,
    pub(crate) capacity: usize,
    pub(crate) counters: Arc<StepCounters>,
    pub(crate) queue_len: Box<dyn Fn() -> usize + Send + Sync>,
}

impl StepRuntime {
    pub(crate) fn stats(&self) -> StepStats {
        StepStats::read(
            &self.name,
            self.threads,
            &self.counters,
            (self.queue_len)(),
            self.capacity,
        )
    }
}

/// Every thread and channel of one run.
pub(crate) struct Running<In> {
    pub(crate) control: Arc<Control>,
    /// `put`'s way in, shared with every [`Input`].
    pub(crate) input: Arc<InputState<In>>,
    /// Closes when the input is finished: feeders of external channels stop.
    pub(crate) stop_rx: crossbeam_channel::Receiver<()>,
    pub(crate) feeders: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) workers: Vec<JoinHandle<()>>,
    pub(crate) steps: Arc<Vec<StepRuntime>>,
    pub(crate) started: Instant,
    pub(crate) daemon: bool,
    #[cfg(feature = "progress")]
    pub(crate) progress: Option<super::progress::ProgressMonitor>,
}

impl<In: Send + 'static> Running<In> {
    fn finish(&self) {
        self.input.finish();
    }

    fn join(mut self) -> Result<Report, Error> {
        let feeders = std::mem::take(&mut *lock(&self.feeders));
        for h in feeders.into_iter().chain(std::mem::take(&mut self.workers)) {
            if let Err(payload) = h.join() {
                // Every thread body catches user panics, so this is a bug in
                // pipework itself; still report it rather than lose it.
                self.control.fail(Error::StepPanicked {
                    step: "pipework internal".to_string(),
                    message: crate::internal::panic_message(&*payload),
                });
            }
        }
        let elapsed = self.started.elapsed();
        #[cfg(feature = "progress")]
        if let Some(p) = self.progress.take() {
            p.finish();
        }
        let report = Report {
            steps: self.steps.iter().map(StepRuntime::stats).collect(),
            elapsed,
        };
        match self.control.take_error() {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

/// A pipeline running in the background, from
/// [`Pipeline::spawn`](super::Pipeline::spawn).
///
/// Dropping the handle runs [`stop`](PipelineHandle::stop) and logs its
/// error, if any (like paipa's `with pipeline:`); while the thread is
/// unwinding from a panic it runs [`abort`](PipelineHandle::abort)
/// instead, so a panic never waits on an endless input. The handle of a
/// daemon pipeline only closes the input on drop and leaves the threads to
/// finish on their own; whatever is still queued when the process exits is
/// lost.
#[must_use = "dropping the handle stops the pipeline and waits for it"]
pub struct PipelineHandle<In: Send + 'static> {
    running: Option<Running<In>>,
}

impl<In: Send + 'static> fmt::Debug for PipelineHandle<In> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineHandle")
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl<In: Send + 'static> PipelineHandle<In> {
    pub(crate) fn new(running: Running<In>) -> Self {
        PipelineHandle {
            running: Some(running),
        }
    }

    fn running(&self) -> &Running<In> {
        self.running
            .as_ref()
            .expect("a handle is only emptied when consumed")
    }

    /// Puts one item, waiting while the first step's queue is full.
    ///
    /// # Errors
    ///
    /// Gives the item back in a [`PutError`] if the pipeline was finished,
    /// stopped or has failed.
    pub fn put(&self, item: In) -> Result<(), PutError<In>> {
        self.running().input.put(item)
    }

    /// A cloneable [`Input`] to put items from other threads, even while
    /// this handle is busy (say, inside an [`Outputs`](super::Outputs) being
    /// iterated).
    pub fn input(&self) -> Input<In> {
        Input::new(Arc::clone(&self.running().input))
    }

    /// Puts every item of `items`, in order.
    ///
    /// # Errors
    ///
    /// The first item not accepted, as for [`put`](PipelineHandle::put); the
    /// rest of `items` is not pulled.
    pub fn put_all<I: IntoIterator<Item = In>>(&self, items: I) -> Result<(), PutError<In>> {
        items.into_iter().try_for_each(|item| self.put(item))
    }

    /// Pulls `iter` lazily on a new feeder thread; [`stop`](PipelineHandle::stop)
    /// waits until it is exhausted.
    ///
    /// # Errors
    ///
    /// [`Error::InputClosed`] if the pipeline was finished or stopped, and
    /// [`Error::ThreadSpawn`] if the feeder thread could not start.
    pub fn put_iter<I>(&self, iter: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = In>,
        I::IntoIter: Send + 'static,
    {
        let running = self.running();
        let Some(inlet) = running.input.inlet() else {
            return Err(Error::InputClosed);
        };
        let h = spawn_feeder(
            vec![Feed::Iter(Box::new(iter.into_iter()))],
            inlet,
            running.stop_rx.clone(),
            Arc::new(running.control.for_thread()),
        )?;
        lock(&running.feeders).push(h);
        Ok(())
    }

    /// Closes the input: `put` fails from now on, external channels are
    /// pulled only for the items they already hold; iterators given to
    /// `put_iter` are still pulled to their end. The pipeline then drains
    /// and its threads end.
    pub fn finish(&self) {
        self.running().finish();
    }

    /// Whether the pipeline is still working: no step has failed and it was
    /// not stopped, and some of its threads still run.
    pub fn is_alive(&self) -> bool {
        let running = self.running();
        !running.control.is_cancelled() && running.workers.iter().any(|h| !h.is_finished())
    }

    /// A snapshot of every step's counters and queue depth, in order.
    pub fn stats(&self) -> Vec<StepStats> {
        self.running()
            .steps
            .iter()
            .map(StepRuntime::stats)
            .collect()
    }

    /// Finishes the input, waits until everything queued is processed and
    /// every thread has ended, and reports.
    ///
    /// An iterator given to `put_iter` is pulled to its end first; for an
    /// endless one, use [`abort`](PipelineHandle::abort).
    ///
    /// # Errors
    ///
    /// The first error of the run, naming its step (see [`Error`]).
    pub fn stop(mut self) -> Result<Report, Error> {
        let running = self
            .running
            .take()
            .expect("a handle is only emptied when consumed");
        running.finish();
        running.join()
    }

    /// Stops at once: nothing more is pulled or processed, queued items are
    /// dropped; then waits for every thread and reports what was done.
    ///
    /// # Errors
    ///
    /// A step error that happened before the abort.
    pub fn abort(mut self) -> Result<Report, Error> {
        let running = self
            .running
            .take()
            .expect("a handle is only emptied when consumed");
        running.finish();
        running.control.cancel();
        running.join()
    }
}

impl<In: Send + 'static> Drop for PipelineHandle<In> {
    fn drop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        running.finish();
        if running.daemon {
            // Abandoned on purpose: threads finish on their own or die with
            // the process.
            return;
        }
        if std::thread::panicking() {
            // Unwinding past the handle: waiting for the input to drain
            // could wait forever (an endless `put_iter`), so stop at once.
            running.control.cancel();
        }
        if let Err(error) = running.join() {
            tracing::error!(%error, "pipeline dropped after failing");
        }
    }
}

//! [`Outputs`]: the last step's outputs as an iterator.

use std::collections::VecDeque;
use std::fmt;

use super::error::Error;
use super::handle::PipelineHandle;
use super::input::Input;
use super::queue::{Envelope, Receiver, MAX_CHUNK};
use super::report::Report;

/// The outputs of a running pipeline's last step, from
/// [`Pipeline::outputs`](super::Pipeline::outputs).
///
/// Yields `Ok(item)` for each output, in completion order, or in input order
/// for an [`ordered`](super::Pipeline::ordered) pipeline. If the pipeline
/// fails, the last item is `Err` with the failure. After the end,
/// [`report`](Outputs::report) has the run's report.
///
/// Dropping `Outputs` before its end stops the pipeline: what is queued is
/// dropped, then every thread is joined.
#[must_use = "iterators do nothing unless consumed"]
pub struct Outputs<In: Send + 'static, Out> {
    rx: Option<Receiver<Envelope<Out>>>,
    /// Outputs taken from the queue in one chunk, handed out one by one.
    chunk: VecDeque<Envelope<Out>>,
    handle: Option<PipelineHandle<In>>,
    report: Option<Report>,
}

impl<In: Send + 'static, Out> fmt::Debug for Outputs<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outputs")
            .field("done", &self.rx.is_none())
            .finish_non_exhaustive()
    }
}

impl<In: Send + 'static, Out> Outputs<In, Out> {
    pub(crate) fn new(rx: Receiver<Envelope<Out>>, handle: PipelineHandle<In>) -> Self {
        Outputs {
            rx: Some(rx),
            chunk: VecDeque::new(),
            handle: Some(handle),
            report: None,
        }
    }

    /// The running pipeline, to put more input or watch it; `None` once the
    /// outputs have ended. To put from another thread while iterating, take
    /// an [`input`](Outputs::input) instead.
    pub fn handle(&self) -> Option<&PipelineHandle<In>> {
        self.handle.as_ref()
    }

    /// A cloneable [`Input`] to put more items while the outputs are being
    /// iterated (see its example); `None` once the outputs have ended.
    ///
    /// A loop that consumes outputs and puts on the same thread can
    /// deadlock: its `put` waits for room in the first queue while every
    /// queue after it is full of items waiting for that loop to take them.
    /// Keep fewer items in flight than the pipeline holds (the sum of its
    /// queue capacities and threads), or put from another thread.
    pub fn input(&self) -> Option<Input<In>> {
        self.handle.as_ref().map(PipelineHandle::input)
    }

    /// The run's report, once the outputs have ended without an error.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }
}

impl<In: Send + 'static, Out> Iterator for Outputs<In, Out> {
    type Item = Result<Out, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(env) = self.chunk.pop_front() {
            return Some(Ok(env.item));
        }
        let rx = self.rx.as_mut()?;
        // No cancel check: the outputs end when the last step's threads
        // are all gone, after what they sent, as a channel's would.
        match rx.recv_chunk(&mut self.chunk, MAX_CHUNK, None, None) {
            Ok(()) => self.chunk.pop_front().map(|env| Ok(env.item)),
            Err(_) => {
                // The last step's threads have all ended: the run is over.
                self.rx = None;
                let handle = self.handle.take()?;
                match handle.stop() {
                    Ok(report) => {
                        self.report = Some(report);
                        None
                    }
                    Err(e) => Some(Err(e)),
                }
            }
        }
    }
}

impl<In: Send + 'static, Out> Drop for Outputs<In, Out> {
    fn drop(&mut self) {
        // Drop the receiver first: a last step blocked on a full output
        // queue then sees its consumer gone and the run is cancelled, so the
        // handle's drop below does not wait forever.
        self.rx = None;
        self.chunk.clear();
        if let Some(handle) = self.handle.take() {
            if let Err(error) = handle.abort() {
                tracing::debug!(%error, "pipeline outputs dropped after a failure");
            }
        }
    }
}

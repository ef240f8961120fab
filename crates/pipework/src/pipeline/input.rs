//! [`Input`]: a cloneable way to put items into a running pipeline from any
//! thread.
//!
//! [`PipelineHandle::put`](super::PipelineHandle::put) needs the handle, and
//! [`Outputs`](super::Outputs) owns the handle while it is being iterated, so
//! a thread consuming the outputs could not lend it to a thread producing
//! input. An `Input` is what both can hold: a crawler's consumer, for one,
//! feeds the links it finds back in. An `Input` does not keep the pipeline
//! open: once the input is finished (by any `Input`, the handle, `stop` or
//! `abort`), every `put` fails and the pipeline drains.

use std::fmt;
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;

use super::error::PutError;
use super::feed::FirstQueue;
use crate::internal::lock;

/// The input side of one run: the inlet `put` writes to, and the signal
/// that stops feeders of external channels. Finishing drops both.
pub(crate) struct InputState<In> {
    /// `None` once finished. Feeder threads hold their own `Arc<FirstQueue>`; the
    /// first step's queue closes when the last one is dropped.
    inlet: Mutex<Option<Arc<FirstQueue<In>>>>,
    /// Dropped on finish: feeders pulling external channels stop.
    stop_tx: Mutex<Option<Sender<()>>>,
}

impl<In> InputState<In> {
    pub(crate) fn new(inlet: Option<Arc<FirstQueue<In>>>, stop_tx: Sender<()>) -> Self {
        InputState {
            inlet: Mutex::new(inlet),
            stop_tx: Mutex::new(Some(stop_tx)),
        }
    }

    /// The inlet, unless the input is finished.
    pub(crate) fn inlet(&self) -> Option<Arc<FirstQueue<In>>> {
        lock(&self.inlet).clone()
    }

    pub(crate) fn put(&self, item: In) -> Result<(), PutError<In>> {
        // A clone of the inlet, not the lock, is held while waiting for room,
        // so `finish` from another thread never waits behind a full queue.
        match self.inlet() {
            Some(inlet) => inlet.put(item).map_err(PutError),
            None => Err(PutError(item)),
        }
    }

    pub(crate) fn finish(&self) {
        drop(lock(&self.inlet).take());
        drop(lock(&self.stop_tx).take());
    }

    pub(crate) fn is_finished(&self) -> bool {
        lock(&self.inlet).is_none()
    }
}

/// Puts items into a running pipeline; clone it to put from several threads.
///
/// Get one from [`PipelineHandle::input`](super::PipelineHandle::input) or
/// [`Outputs::input`](super::Outputs::input). Items put from one thread keep
/// their order; an [`ordered`](super::Pipeline::ordered) pipeline numbers
/// them in the order they enter the queue.
///
/// # Examples
///
/// Feed the outputs back in: each number below 100 comes back doubled
/// until it is not.
///
/// ```
/// use pipework::pipeline::Pipeline;
///
/// let mut pipeline = Pipeline::new().map(|x: u64| x * 2);
/// pipeline.put(1);
/// let mut outputs = pipeline.outputs()?;
/// let input = outputs.input().expect("the pipeline is running");
/// let mut seen = Vec::new();
/// for x in &mut outputs {
///     let x = x?;
///     seen.push(x);
///     if x < 100 {
///         input.put(x).expect("not finished yet");
///     } else {
///         input.finish();
///     }
/// }
/// assert_eq!(seen, [2, 4, 8, 16, 32, 64, 128]);
/// # Ok::<(), pipework::pipeline::Error>(())
/// ```
pub struct Input<In> {
    side: Arc<InputState<In>>,
}

impl<In> Input<In> {
    pub(crate) fn new(side: Arc<InputState<In>>) -> Self {
        Input { side }
    }

    /// Puts one item, waiting while the first step's queue is full.
    ///
    /// # Errors
    ///
    /// Gives the item back in a [`PutError`] if the input was finished or
    /// the pipeline stopped or failed.
    pub fn put(&self, item: In) -> Result<(), PutError<In>> {
        self.side.put(item)
    }

    /// Puts every item of `items`, in order.
    ///
    /// # Errors
    ///
    /// The first item not accepted, as for [`put`](Input::put); the rest of
    /// `items` is not pulled.
    pub fn put_all<I: IntoIterator<Item = In>>(&self, items: I) -> Result<(), PutError<In>> {
        items.into_iter().try_for_each(|item| self.put(item))
    }

    /// Closes the input for every holder: `put` fails from now on, and the
    /// pipeline drains and ends (iterators given to `put_iter` are still
    /// pulled to their end).
    pub fn finish(&self) {
        self.side.finish();
    }

    /// Whether the input was finished.
    pub fn is_finished(&self) -> bool {
        self.side.is_finished()
    }
}

impl<In> Clone for Input<In> {
    fn clone(&self) -> Self {
        Input {
            side: Arc::clone(&self.side),
        }
    }
}

impl<In> fmt::Debug for Input<In> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("finished", &self.is_finished())
            .finish()
    }
}

//! [`Emitter`]: how a step hands its outputs to the next step.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use std::collections::VecDeque;

use super::control::Control;
use super::error::Stopped;
use super::queue::{Envelope, Sender};

/// Where a step's outputs go.
pub(crate) enum Target<T> {
    /// The last step of a pipeline run without an output iterator: outputs
    /// are counted and dropped.
    Discard,
    /// The next step's input queue (or the output iterator's).
    Queue(Sender<Envelope<T>>),
}

/// The outputs a thread holds back until the end of its chunk (see
/// `queue.rs`), and how many it may hold: one per input of the chunk it
/// has started, so what it holds never outnumbers the inputs it took.
pub(crate) struct Pending<'a, T> {
    pub(crate) outputs: &'a mut VecDeque<Envelope<T>>,
    pub(crate) cover: usize,
}

enum Mode<'a, T> {
    Direct {
        target: &'a Target<T>,
        control: &'a Control,
        pending: Option<Pending<'a, T>>,
    },
    /// Ordered mode: outputs of one input are collected, then released in
    /// input order by the step's reorder buffer.
    Collect(&'a mut Vec<T>),
}

/// Hands a step's outputs on to the next step.
///
/// [`emit`](Emitter::emit) blocks while the next step's queue is full: this
/// is the pipeline's backpressure.
pub struct Emitter<'a, T> {
    mode: Mode<'a, T>,
    emitted: &'a AtomicU64,
    stopped: bool,
}

impl<T> fmt::Debug for Emitter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl<'a, T> Emitter<'a, T> {
    pub(crate) fn direct(
        target: &'a Target<T>,
        control: &'a Control,
        emitted: &'a AtomicU64,
    ) -> Self {
        Emitter {
            mode: Mode::Direct {
                target,
                control,
                pending: None,
            },
            emitted,
            stopped: false,
        }
    }

    /// Like [`direct`](Emitter::direct), but outputs wait in `pending`
    /// (up to its cover) for the thread to hand them on together.
    pub(crate) fn chunked(
        target: &'a Target<T>,
        control: &'a Control,
        emitted: &'a AtomicU64,
        pending: Pending<'a, T>,
    ) -> Self {
        Emitter {
            mode: Mode::Direct {
                target,
                control,
                pending: Some(pending),
            },
            emitted,
            stopped: false,
        }
    }

    pub(crate) fn collect(buffer: &'a mut Vec<T>, emitted: &'a AtomicU64) -> Self {
        Emitter {
            mode: Mode::Collect(buffer),
            emitted,
            stopped: false,
        }
    }

    /// Sends one output to the next step, waiting while its queue is full.
    ///
    /// # Errors
    ///
    /// [`Stopped`] with the item when the pipeline is stopping; the step
    /// should return.
    pub fn emit(&mut self, item: T) -> Result<(), Stopped<T>> {
        if self.stopped {
            return Err(Stopped(item));
        }
        match &mut self.mode {
            Mode::Direct {
                target,
                control,
                pending,
            } => match (target, pending) {
                (Target::Discard, _) => {
                    if control.is_cancelled() {
                        self.stopped = true;
                        return Err(Stopped(item));
                    }
                }
                (Target::Queue(tx), None) => {
                    if let Err(refused) = control.send(tx, Envelope { seq: 0, item }) {
                        self.stopped = true;
                        return Err(Stopped(refused.item));
                    }
                }
                (Target::Queue(tx), Some(pending)) => {
                    // More outputs than inputs taken (a fan-out): hand on
                    // what waits first, so the thread holds no more items
                    // than one at a time would.
                    if pending.outputs.len() >= pending.cover
                        && control.send_all(tx, pending.outputs).is_err()
                    {
                        self.stopped = true;
                        return Err(Stopped(item));
                    }
                    if control.is_cancelled() {
                        self.stopped = true;
                        return Err(Stopped(item));
                    }
                    pending.outputs.push_back(Envelope { seq: 0, item });
                }
            },
            Mode::Collect(buffer) => buffer.push(item),
        }
        self.emitted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Emits every item of `items` in turn.
    ///
    /// # Errors
    ///
    /// [`Stopped`] with the item that could not be emitted, as for
    /// [`emit`](Emitter::emit); the rest of `items` is not pulled.
    pub fn emit_all<I: IntoIterator<Item = T>>(&mut self, items: I) -> Result<(), Stopped<T>> {
        for item in items {
            self.emit(item)?;
        }
        Ok(())
    }

    /// Forgets what this emitter collected for the current item, so a retried
    /// item in ordered mode does not emit twice.
    pub(crate) fn discard_collected(&mut self) {
        if let Mode::Collect(buffer) = &mut self.mode {
            self.emitted
                .fetch_sub(buffer.len() as u64, Ordering::Relaxed);
            buffer.clear();
        }
    }

    /// Whether an emit found the pipeline stopping.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::{Emitter, Target};
    use crate::pipeline::control::Control;
    use crate::pipeline::{BoxError, Stopped};

    #[test]
    fn emit_gives_the_item_back_once_the_next_step_is_gone() {
        let control = Control::new();
        let (tx, rx) = crate::pipeline::queue::queue(1, &control);
        let target = Target::Queue(tx);
        let emitted = AtomicU64::new(0);
        let mut out = Emitter::direct(&target, &control, &emitted);
        assert!(out.emit(String::from("first")).is_ok());
        drop(rx);
        let refused = out.emit(String::from("second")).unwrap_err();
        assert_eq!(refused.into_inner(), "second");
        assert!(out.is_stopped());
        // Later emits are refused at once, still with their item.
        assert_eq!(out.emit("third".into()), Err(Stopped("third".to_owned())));
        let Err(Stopped(rest)) = out.emit_all(["fourth".to_owned(), "fifth".to_owned()]) else {
            panic!("emit_all on a stopped emitter succeeded");
        };
        assert_eq!(rest, "fourth");
        assert_eq!(emitted.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn emit_on_a_cancelled_run_gives_the_item_back() {
        let control = Control::new();
        control.cancel();
        let target = Target::Discard;
        let emitted = AtomicU64::new(0);
        let mut out = Emitter::direct(&target, &control, &emitted);
        assert_eq!(out.emit(7u8), Err(Stopped(7)));
    }

    #[test]
    fn stopped_converts_into_a_step_error_for_any_item() {
        // `Rc` is neither Send nor Sync; `?` must still work in a step.
        fn step(out: &mut Emitter<'_, std::rc::Rc<u8>>) -> Result<(), BoxError> {
            out.emit(std::rc::Rc::new(1))?;
            Ok(())
        }
        let control = Control::new();
        control.cancel();
        let target = Target::Discard;
        let emitted = AtomicU64::new(0);
        let error = step(&mut Emitter::direct(&target, &control, &emitted)).unwrap_err();
        assert_eq!(error.to_string(), "pipeline stopped");
    }
}

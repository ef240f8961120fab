//! The bounded queues between steps and what travels in them.

use crossbeam_channel::{Receiver, Sender};

/// An item with its position in the input, used only in ordered mode.
#[derive(Debug)]
pub(crate) struct Envelope<T> {
    pub(crate) seq: u64,
    pub(crate) item: T,
}

/// A bounded queue feeding one step: `capacity` items wait in it at most.
pub(crate) fn queue<T>(capacity: usize) -> (Sender<Envelope<T>>, Receiver<Envelope<T>>) {
    crossbeam_channel::bounded(capacity)
}

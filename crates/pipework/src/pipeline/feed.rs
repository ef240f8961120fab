//! Feeding a pipeline: the first queue that `put` writes to, and the feeder
//! threads that pull iterators and external channels into it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;

use super::control::Control;
use super::error::Error;
use super::queue::{Envelope, Sender};
use crate::internal::caught;
use crate::internal::lock;

/// Where a pipeline's input comes from, in the order it was given.
pub(crate) enum Feed<In> {
    /// Items put before the pipeline started (they wait in memory, as in paipa).
    Items(Vec<In>),
    /// An iterator pulled lazily on a feeder thread.
    Iter(Box<dyn Iterator<Item = In> + Send>),
    /// An external channel, pulled until it disconnects or the pipeline is finished.
    Channel(Receiver<In>),
}

/// The first step's input queue, shared by `put` and every feeder thread.
/// The queue closes when the last holder drops its `Arc<FirstQueue>`.
pub(crate) struct FirstQueue<In> {
    tx: Sender<Envelope<In>>,
    /// Next input position; the lock also keeps numbering and sending in
    /// one piece, so ordered mode sees positions in queue order.
    next_seq: Option<Mutex<u64>>,
    control: Arc<Control>,
    /// Items put so far: with the first step's input count, the depth of
    /// its queue.
    pub(crate) sent: Arc<AtomicU64>,
}

impl<In> FirstQueue<In> {
    pub(crate) fn new(tx: Sender<Envelope<In>>, ordered: bool, control: Arc<Control>) -> Self {
        FirstQueue {
            tx,
            next_seq: ordered.then(|| Mutex::new(0)),
            control,
            sent: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Puts one item from a caller's thread, blocking while the queue is
    /// full. Gives it back if the pipeline was cancelled.
    pub(crate) fn put(&self, item: In) -> Result<(), In> {
        self.put_via(item, &self.control)
    }

    /// Puts one item, waiting on `control`'s cancel channel (a feeder's own).
    fn put_via(&self, item: In, control: &Control) -> Result<(), In> {
        match &self.next_seq {
            None => control
                .send(&self.tx, Envelope { seq: 0, item })
                .map_err(|e| e.item)?,
            Some(next) => {
                let mut seq = lock(next);
                control
                    .send(&self.tx, Envelope { seq: *seq, item })
                    .map_err(|e| e.item)?;
                *seq += 1;
            }
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Starts a feeder thread for the sources that end by themselves
/// (items and iterators), pulled in order.
pub(crate) fn spawn_feeder<In: Send + 'static>(
    sources: Vec<Feed<In>>,
    inlet: Arc<FirstQueue<In>>,
    stop: Receiver<()>,
    control: Arc<Control>,
) -> Result<JoinHandle<()>, Error> {
    let name = "pipework-feeder".to_string();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            for source in sources {
                let more = match source {
                    Feed::Items(items) => items
                        .into_iter()
                        .all(|item| inlet.put_via(item, &control).is_ok()),
                    Feed::Iter(iter) => pull_iter(iter, &inlet, &control),
                    Feed::Channel(rx) => pull_channel(&rx, &inlet, &stop, &control),
                };
                if !more {
                    return;
                }
            }
        })
        .map_err(|source| Error::ThreadSpawn { name, source })
}

/// Pulls `iter` one item at a time, only when the queue has room: memory
/// stays flat however long the iterator is. Returns false if the pipeline
/// stopped first.
fn pull_iter<In>(
    mut iter: Box<dyn Iterator<Item = In> + Send>,
    inlet: &FirstQueue<In>,
    control: &Control,
) -> bool {
    loop {
        if control.is_cancelled() {
            return false;
        }
        match caught(|| iter.next()) {
            Ok(Some(item)) => {
                if inlet.put_via(item, control).is_err() {
                    return false;
                }
            }
            Ok(None) => return true,
            Err(message) => {
                control.fail(Error::SourcePanicked { message });
                return false;
            }
        }
    }
}

/// Pulls an external channel until it disconnects or the pipeline is
/// finished. On finish, what already waits in the channel is still taken,
/// up to what it held at that moment (a producer sending faster than the
/// pipeline takes cannot keep it open): `recv_until` picks at random
/// between a ready item and the finish signal, so without this `stop`
/// would drop a random share of the items sent before it.
fn pull_channel<In>(
    rx: &Receiver<In>,
    inlet: &FirstQueue<In>,
    stop: &Receiver<()>,
    control: &Control,
) -> bool {
    while let Some(item) = control.recv_until(rx, stop) {
        if inlet.put_via(item, control).is_err() {
            return false;
        }
    }
    for _ in 0..rx.len() {
        let Ok(item) = rx.try_recv() else { break };
        if inlet.put_via(item, control).is_err() {
            return false;
        }
    }
    !control.is_cancelled()
}

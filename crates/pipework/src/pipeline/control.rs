//! The shutdown protocol shared by every thread of one pipeline run.
//!
//! Cancelling sets a flag that every thread checks before each queue
//! operation, wakes every thread blocked on a queue (each queue is a
//! registered [`Wake`]r, and every queue wait checks the flag under the
//! queue's lock), then every reorder window, and drops the cancel channels'
//! senders (one per feeder of an external channel, which waits in a
//! `select` with it). No thread polls a flag on a timer.
//!
//! Queues are woken before reorder windows: a thread releasing ordered
//! outputs waits for room in the next queue while it holds its window's
//! lock, which the window's wake takes.
//!
//! `tests/pipeline_shutdown_model.rs` models this protocol with shuttle.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crossbeam_channel::{select, Receiver, Sender};

use super::error::Error;
use super::queue::{Empty, Receiver as QueueReceiver, Refused, Sender as QueueSender};
use crate::internal::{lock, FirstError};

/// Never sent: the cancel channel only ever disconnects.
enum Never {}

/// Threads waiting on a condvar (not a channel) that cancelling must wake.
pub(crate) trait Wake: Send + Sync {
    /// Wakes every waiter. Must take the lock under which waiters check
    /// [`Control::is_cancelled`] before notifying: a waiter between its
    /// check and its wait would otherwise miss the wake-up and sleep
    /// forever.
    fn wake(&self);
}

/// Why [`Control::send_quiet`] gave an item back.
pub(crate) enum SendError<T> {
    /// The run was cancelled.
    Cancelled(T),
    /// Every receiver is gone.
    Disconnected(T),
}

/// What every thread of one run shares: the cancel flag, each thread's
/// cancel sender, the first error, and the condvar waiters.
struct Shared {
    cancelled: AtomicBool,
    /// One sender per [`Control`]; dropped on cancel. There is one Control
    /// for the step threads, one for `put`, and one per feeder thread.
    cancel_txs: Mutex<Vec<Sender<Never>>>,
    first_error: FirstError<Error>,
    /// Queues to wake on cancel, woken first; one per step and one for
    /// the outputs, fixed when the pipeline starts.
    queues: Mutex<Vec<Weak<dyn Wake>>>,
    /// What else must be woken on cancel (reorder windows); their count is
    /// at most the number of steps, fixed when the pipeline starts.
    wakers: Mutex<Vec<Weak<dyn Wake>>>,
}

/// Cancellation and the first error of one pipeline run, as seen by one
/// thread.
///
/// Step threads share one (they only read the flag); each thread that waits
/// on the cancel channel (a feeder, the callers of `put`) gets its own from
/// [`for_thread`](Control::for_thread), so such waits never contend on one
/// shared channel's waker list.
pub(crate) struct Control {
    shared: Arc<Shared>,
    cancel_rx: Receiver<Never>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Control {
    pub(crate) fn new() -> Self {
        Self::attach(Arc::new(Shared {
            cancelled: AtomicBool::new(false),
            cancel_txs: Mutex::new(Vec::new()),
            first_error: FirstError::default(),
            queues: Mutex::new(Vec::new()),
            wakers: Mutex::new(Vec::new()),
        }))
    }

    fn attach(shared: Arc<Shared>) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(0);
        {
            // Checked under the lock `cancel` clears the senders under, so a
            // Control made during a cancel is either cleared or born cancelled.
            let mut txs = lock(&shared.cancel_txs);
            if !shared.cancelled.load(Ordering::Acquire) {
                txs.push(tx);
            }
        }
        Control {
            shared,
            cancel_rx: rx,
        }
    }

    /// The same run's control for another thread, with its own cancel channel.
    pub(crate) fn for_thread(&self) -> Self {
        Self::attach(self.shared.clone())
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Acquire)
    }

    /// Stops every thread: nothing more is pulled, queued items are dropped.
    ///
    /// Must not be called while holding a [`Wake`]r's lock (its `wake`
    /// takes it). The cancel channel is dropped first: a thread blocked in
    /// a send while holding such a lock wakes and releases it.
    pub(crate) fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::Release);
        drop(std::mem::take(&mut *lock(&self.shared.cancel_txs)));
        let queues = lock(&self.shared.queues).clone();
        for queue in queues.iter().filter_map(Weak::upgrade) {
            queue.wake();
        }
        for waker in lock(&self.shared.wakers).iter() {
            if let Some(waker) = waker.upgrade() {
                waker.wake();
            }
        }
    }

    /// Records `err` if it is the first one, then cancels.
    pub(crate) fn fail(&self, err: Error) {
        self.shared.first_error.offer(err);
        self.cancel();
    }

    pub(crate) fn take_error(&self) -> Option<Error> {
        self.shared.first_error.take()
    }

    /// Like [`recv`](Control::recv), but also ends when `stop` disconnects:
    /// used to pull an external channel until the pipeline is finished.
    pub(crate) fn recv_until<T, U>(&self, rx: &Receiver<T>, stop: &Receiver<U>) -> Option<T> {
        if self.is_cancelled() {
            return None;
        }
        select! {
            recv(rx) -> msg => msg.ok(),
            recv(stop) -> _ => None,
            recv(self.cancel_rx) -> _ => None,
        }
    }

    pub(crate) fn register_waker(&self, waker: Weak<dyn Wake>) {
        lock(&self.shared.wakers).push(waker);
    }

    /// Registers a queue, to be woken on cancel before the other wakers.
    pub(crate) fn register_queue(&self, queue: Weak<dyn Wake>) {
        lock(&self.shared.queues).push(queue);
    }

    /// Takes up to `max` ready items into `chunk` (see
    /// [`QueueReceiver::recv_chunk`]), giving up after `timeout` if one is
    /// given: `Err(())` if no item came in that time, `Ok(false)` at the end
    /// of the input or on cancel.
    pub(crate) fn recv_chunk<T>(
        &self,
        rx: &mut QueueReceiver<T>,
        chunk: &mut VecDeque<T>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<bool, ()> {
        if self.is_cancelled() {
            return Ok(false);
        }
        match rx.recv_chunk(chunk, max, timeout, Some(self)) {
            Ok(()) => Ok(true),
            Err(Empty::Closed) => Ok(false),
            Err(Empty::TimedOut) => Err(()),
        }
    }

    /// Sends `v`, blocking while the queue is full. Gives `v` back if the
    /// run is cancelled or every receiver is gone; the latter means whoever
    /// consumed the pipeline's output has left, so the run is cancelled.
    pub(crate) fn send<T>(&self, tx: &QueueSender<T>, v: T) -> Result<(), T> {
        match self.send_quiet(tx, v) {
            Ok(()) => Ok(()),
            Err(SendError::Cancelled(v)) => Err(v),
            Err(SendError::Disconnected(v)) => {
                self.cancel();
                Err(v)
            }
        }
    }

    /// Sends every item of `batch` (see [`QueueSender::send_all`]); on
    /// `Err`, what was not sent is left in `batch`, and the run is
    /// cancelled if every receiver is gone.
    pub(crate) fn send_all<T>(
        &self,
        tx: &QueueSender<T>,
        batch: &mut VecDeque<T>,
    ) -> Result<(), ()> {
        match tx.send_all(batch, self) {
            Ok(()) => Ok(()),
            Err(Refused::Cancelled) => Err(()),
            Err(Refused::Disconnected) => {
                self.cancel();
                Err(())
            }
        }
    }

    /// Like [`send`](Control::send), but leaves cancelling the run when
    /// every receiver is gone to the caller: for callers holding a lock
    /// that [`cancel`](Control::cancel) takes.
    pub(crate) fn send_quiet<T>(&self, tx: &QueueSender<T>, v: T) -> Result<(), SendError<T>> {
        if self.is_cancelled() {
            return Err(SendError::Cancelled(v));
        }
        tx.send(v, self).map_err(|(v, why)| match why {
            Refused::Cancelled => SendError::Cancelled(v),
            Refused::Disconnected => SendError::Disconnected(v),
        })
    }
}

//! The shutdown protocol shared by every thread of one pipeline run.
//!
//! Cancelling sets a flag that every thread checks before each queue
//! operation, drops the cancel channels' senders (one per thread), and
//! wakes every registered [`Wake`]r (ordered mode's reorder windows). No
//! thread polls a flag on a timer.
//!
//! Step threads block in plain `recv`/`send` on their queues
//! ([`Control::recv`], [`Control::send`]); a `select` with a cancel channel
//! there would register with two waker lists per wait, which halved the
//! throughput of a trivial pipeline. They wake on cancel because their
//! queue closes: a thread waiting to receive sees its queue close when the
//! threads before it have exited, a thread waiting to send when the threads
//! after it have. The threads that start that cascade — feeders and callers
//! of `put` ([`Control::send_watching`], [`Control::recv_until`]) — do wait
//! on their own cancel channel (after a short plain wait, when sending),
//! and `stop`/`abort` close the `put` side.
//!
//! `tests/pipeline_shutdown_model.rs` models this protocol with shuttle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crossbeam_channel::{select, Receiver, RecvTimeoutError, SendTimeoutError, Sender};

use super::error::Error;
use crate::internal::{lock, FirstError};

/// How long a feeder waits for room in a plain `send` before it waits in a
/// `select` that also watches its cancel channel: the most a cancel can be
/// late for a feeder blocked on a full queue.
const PLAIN_WAIT: Duration = Duration::from_millis(1);

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
    /// What must be woken on cancel (reorder windows); their count is at
    /// most the number of steps, fixed when the pipeline starts.
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

    /// Receives the next item; `None` once the channel is drained and all its
    /// senders are gone, or once the run is cancelled.
    ///
    /// This blocks in a plain `recv`, not a `select` with the cancel channel:
    /// registering with two channels' wakers per wait cost half the
    /// throughput of a trivial pipeline. A thread blocked here on cancel
    /// wakes when every sender of its queue is gone: the threads of the
    /// step before exit on the cancel flag, step by step from the feeders,
    /// whose own waits do watch the cancel channel.
    pub(crate) fn recv<T>(&self, rx: &Receiver<T>) -> Option<T> {
        if self.is_cancelled() {
            return None;
        }
        rx.recv().ok()
    }

    /// Like [`recv`](Control::recv), but gives up after `timeout`: `Err(())`
    /// if no item came in that time, `Ok(None)` at the end of the input or
    /// on cancel.
    pub(crate) fn recv_timeout<T>(
        &self,
        rx: &Receiver<T>,
        timeout: Duration,
    ) -> Result<Option<T>, ()> {
        if self.is_cancelled() {
            return Ok(None);
        }
        match rx.recv_timeout(timeout) {
            Ok(item) => Ok(Some(item)),
            Err(RecvTimeoutError::Timeout) => Err(()),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
        }
    }

    /// Sends `v`, blocking while the channel is full. Gives `v` back if the
    /// run is cancelled or every receiver is gone; the latter means whoever
    /// consumed the pipeline's output has left, so the run is cancelled.
    pub(crate) fn send<T>(&self, tx: &Sender<T>, v: T) -> Result<(), T> {
        match self.send_quiet(tx, v) {
            Ok(()) => Ok(()),
            Err(SendError::Cancelled(v)) => Err(v),
            Err(SendError::Disconnected(v)) => {
                self.cancel();
                Err(v)
            }
        }
    }

    /// Like [`send`](Control::send), but leaves cancelling the run when
    /// every receiver is gone to the caller: for callers holding a lock
    /// that [`cancel`](Control::cancel) takes.
    pub(crate) fn send_quiet<T>(&self, tx: &Sender<T>, v: T) -> Result<(), SendError<T>> {
        if self.is_cancelled() {
            return Err(SendError::Cancelled(v));
        }
        // A plain `send`, as in `recv`: a thread blocked here on cancel
        // wakes when the threads of the next step, which exit on the cancel
        // flag, have all dropped their receivers.
        tx.send(v)
            .map_err(|e| SendError::Disconnected(e.into_inner()))
    }

    /// Sends `v` from a thread that is not a step's (a feeder or a caller of
    /// `put`): waits on the cancel channel too, because such a thread may
    /// be the only one left that holds the queue open.
    ///
    /// It first waits up to [`PLAIN_WAIT`] in a plain `send`, and only then
    /// in a `select` with the cancel channel. A fast source finds its queue
    /// full at nearly every item, and a `select` per item (registering with
    /// two channels' waker lists, whose locks the step thread taking from
    /// the queue contends for) cost a trivial pipeline a third of its
    /// throughput; the plain wait sees room within microseconds. A cancel
    /// that comes during the plain wait is seen when it times out.
    pub(crate) fn send_watching<T>(&self, tx: &Sender<T>, v: T) -> Result<(), T> {
        if self.is_cancelled() {
            return Err(v);
        }
        let result = match tx.send_timeout(v, PLAIN_WAIT) {
            Ok(()) => return Ok(()),
            Err(SendTimeoutError::Disconnected(v)) => Err(v),
            Err(SendTimeoutError::Timeout(v)) if self.is_cancelled() => Err(v),
            Err(SendTimeoutError::Timeout(v)) => {
                let mut sel = crossbeam_channel::Select::new();
                let send_idx = sel.send(tx);
                sel.recv(&self.cancel_rx);
                let op = sel.select();
                if op.index() == send_idx {
                    op.send(tx, v).map_err(|e| e.into_inner())
                } else {
                    // The cancel channel only ever disconnects.
                    let _disconnected = op.recv(&self.cancel_rx);
                    Err(v)
                }
            }
        };
        if result.is_err() {
            self.cancel();
        }
        result
    }
}

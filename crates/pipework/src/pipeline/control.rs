//! The shutdown protocol shared by every thread of one pipeline run.
//!
//! Threads block only inside [`Control::recv`] and [`Control::send`], which
//! wait on the data channel *and* on a cancel channel, or in an ordered
//! step's reorder window (a condvar). Cancelling sets a flag, drops the
//! cancel channel's only sender, so every thread blocked on a channel wakes
//! at once, then wakes every registered [`Wake`]r; no thread polls a flag on
//! a timer.
//!
//! `tests/pipeline_shutdown_model.rs` models this protocol with shuttle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, Weak};

use crossbeam_channel::{select, Receiver, Sender, TryRecvError, TrySendError};

use super::error::Error;

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

/// Cancellation and the first error of one pipeline run.
pub(crate) struct Control {
    cancelled: AtomicBool,
    cancel_tx: Mutex<Option<Sender<Never>>>,
    cancel_rx: Receiver<Never>,
    first_error: Mutex<Option<Error>>,
    /// What must be woken on cancel (reorder windows); their count is at
    /// most the number of steps, fixed when the pipeline starts.
    wakers: Mutex<Vec<Weak<dyn Wake>>>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Pipeline code never panics while holding one of its locks, and user
    // code never runs under one, so a poisoned lock still holds valid data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Control {
    pub(crate) fn new() -> Self {
        let (tx, rx) = crossbeam_channel::bounded(0);
        Control {
            cancelled: AtomicBool::new(false),
            cancel_tx: Mutex::new(Some(tx)),
            cancel_rx: rx,
            first_error: Mutex::new(None),
            wakers: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Stops every thread: nothing more is pulled, queued items are dropped.
    ///
    /// Must not be called while holding a [`Wake`]r's lock (its `wake`
    /// takes it). The cancel channel is dropped first: a thread blocked in
    /// a send while holding such a lock wakes and releases it.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        drop(lock(&self.cancel_tx).take());
        for waker in lock(&self.wakers).iter() {
            if let Some(waker) = waker.upgrade() {
                waker.wake();
            }
        }
    }

    /// Records `err` if it is the first one, then cancels.
    pub(crate) fn fail(&self, err: Error) {
        {
            let mut first = lock(&self.first_error);
            if first.is_none() {
                *first = Some(err);
            }
        }
        self.cancel();
    }

    pub(crate) fn take_error(&self) -> Option<Error> {
        lock(&self.first_error).take()
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
        lock(&self.wakers).push(waker);
    }

    /// Receives the next item; `None` once the channel is drained and all its
    /// senders are gone, or once the run is cancelled.
    pub(crate) fn recv<T>(&self, rx: &Receiver<T>) -> Option<T> {
        if self.is_cancelled() {
            return None;
        }
        match rx.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => select! {
                recv(rx) -> msg => msg.ok(),
                recv(self.cancel_rx) -> _ => None,
            },
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
        match tx.try_send(v) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(v)) => Err(SendError::Disconnected(v)),
            Err(TrySendError::Full(v)) => {
                let mut sel = crossbeam_channel::Select::new();
                let send_idx = sel.send(tx);
                sel.recv(&self.cancel_rx);
                let op = sel.select();
                if op.index() == send_idx {
                    op.send(tx, v)
                        .map_err(|e| SendError::Disconnected(e.into_inner()))
                } else {
                    // The cancel channel only ever disconnects.
                    let _disconnected = op.recv(&self.cancel_rx);
                    Err(SendError::Cancelled(v))
                }
            }
        }
    }
}

//! The shutdown protocol shared by every thread of one pipeline run.
//!
//! Threads block only inside [`Control::recv`] and [`Control::send`], which
//! wait on the data channel *and* on a cancel channel. Cancelling drops the
//! cancel channel's only sender, so every blocked thread wakes at once,
//! wherever it waits; no thread polls a flag on a timer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crossbeam_channel::{select, Receiver, Sender, TryRecvError, TrySendError};

use super::error::Error;

/// Never sent: the cancel channel only ever disconnects.
enum Never {}

/// Cancellation and the first error of one pipeline run.
pub(crate) struct Control {
    cancelled: AtomicBool,
    cancel_tx: Mutex<Option<Sender<Never>>>,
    cancel_rx: Receiver<Never>,
    first_error: Mutex<Option<Error>>,
    /// Condvars that must be woken on cancel (reorder windows); their count is
    /// the number of steps, fixed when the pipeline starts.
    condvars: Mutex<Vec<std::sync::Arc<Condvar>>>,
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
            condvars: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Stops every thread: nothing more is pulled, queued items are dropped.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        drop(lock(&self.cancel_tx).take());
        for cv in lock(&self.condvars).iter() {
            cv.notify_all();
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

    pub(crate) fn register_condvar(&self, cv: std::sync::Arc<Condvar>) {
        lock(&self.condvars).push(cv);
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
        if self.is_cancelled() {
            return Err(v);
        }
        match tx.try_send(v) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(v)) => {
                self.cancel();
                Err(v)
            }
            Err(TrySendError::Full(v)) => {
                let mut sel = crossbeam_channel::Select::new();
                let send_idx = sel.send(tx);
                sel.recv(&self.cancel_rx);
                let op = sel.select();
                if op.index() == send_idx {
                    op.send(tx, v).map_err(|e| {
                        self.cancel();
                        e.into_inner()
                    })
                } else {
                    // The cancel channel only ever disconnects.
                    let _disconnected = op.recv(&self.cancel_rx);
                    Err(v)
                }
            }
        }
    }
}

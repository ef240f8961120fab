//! Ordered mode: releases a multi-threaded step's outputs in input order.
//!
//! Each item carries its input position (`seq`). A thread that finishes item
//! `seq` hands its outputs here; they wait until every earlier item is done,
//! then go to the next queue, renumbered so the next step can reorder too.
//! A thread that runs `window` items ahead of the oldest unfinished one
//! waits, so at most `window` finished items are held per step.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::control::{Control, SendError, Wake};
use super::emitter::Target;
use super::error::Stopped;
use super::queue::Envelope;
use crate::internal::lock;

struct State<T> {
    /// The oldest item not yet released.
    next: u64,
    /// Finished items waiting for `next`.
    pending: BTreeMap<u64, Vec<T>>,
    /// Position numbers given to released outputs.
    out_seq: u64,
    /// Outputs of `thread_shutdown`, released after everything else.
    tails: Vec<T>,
    threads_left: usize,
}

pub(crate) struct Reorder<T> {
    state: Mutex<State<T>>,
    space: Condvar,
    window: u64,
    target: Target<T>,
}

/// Why releasing outputs stopped.
enum Halt {
    /// The run was cancelled.
    Cancelled,
    /// The next queue has no receiver left: the run must be cancelled, once
    /// the state lock is released (`cancel` wakes this window under it).
    Disconnected,
}

impl<T: Send + 'static> Reorder<T> {
    /// A window of `window` items for a step of `threads` threads, woken by
    /// `control` on cancel.
    pub(crate) fn new(
        target: Target<T>,
        window: usize,
        threads: usize,
        control: &Control,
    ) -> Arc<Self> {
        let reorder = Arc::new(Reorder {
            state: Mutex::new(State {
                next: 0,
                pending: BTreeMap::new(),
                out_seq: 0,
                tails: Vec::new(),
                threads_left: threads,
            }),
            space: Condvar::new(),
            window: window.max(1) as u64,
            target,
        });
        let weak = Arc::downgrade(&reorder);
        control.register_waker(weak);
        reorder
    }
}

impl<T: Send> Wake for Reorder<T> {
    fn wake(&self) {
        // Under the lock: a thread in `complete` checks the cancel flag and
        // starts waiting with this lock held, so it cannot be between the
        // two now and miss this notification.
        let _state = lock(&self.state);
        self.space.notify_all();
    }
}

impl<T> Reorder<T> {
    /// Hands over the outputs of input item `seq`.
    pub(crate) fn complete(
        &self,
        seq: u64,
        outputs: Vec<T>,
        control: &Control,
    ) -> Result<(), Stopped> {
        let result = self.complete_locked(seq, outputs, control);
        Self::settle(result, control)
    }

    fn complete_locked(&self, seq: u64, outputs: Vec<T>, control: &Control) -> Result<(), Halt> {
        let mut st = lock(&self.state);
        while seq >= st.next + self.window && !control.is_cancelled() {
            st = self.space.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        if control.is_cancelled() {
            return Err(Halt::Cancelled);
        }
        if seq != st.next {
            st.pending.insert(seq, outputs);
            return Ok(());
        }
        let mut batch = outputs;
        loop {
            self.release(&mut st, batch, control)?;
            st.next += 1;
            let next = st.next;
            match st.pending.remove(&next) {
                Some(b) => batch = b,
                None => break,
            }
        }
        self.space.notify_all();
        Ok(())
    }

    /// Called once by each thread when its input is done, with what its
    /// `thread_shutdown` emitted.
    pub(crate) fn thread_done(&self, tail: Vec<T>, control: &Control) -> Result<(), Stopped> {
        let result = {
            let mut st = lock(&self.state);
            st.tails.extend(tail);
            st.threads_left -= 1;
            if st.threads_left == 0 {
                let tails = std::mem::take(&mut st.tails);
                self.release(&mut st, tails, control)
            } else {
                Ok(())
            }
        };
        Self::settle(result, control)
    }

    /// Cancels the run if the next queue lost its receivers; called with
    /// the state lock released.
    fn settle(result: Result<(), Halt>, control: &Control) -> Result<(), Stopped> {
        match result {
            Ok(()) => Ok(()),
            Err(Halt::Cancelled) => Err(Stopped(())),
            Err(Halt::Disconnected) => {
                control.cancel();
                Err(Stopped(()))
            }
        }
    }

    fn release(&self, st: &mut State<T>, items: Vec<T>, control: &Control) -> Result<(), Halt> {
        match &self.target {
            Target::Discard => {}
            Target::Queue(tx) => {
                for item in items {
                    let seq = st.out_seq;
                    st.out_seq += 1;
                    // Not `send`: it would cancel, which takes this lock.
                    match control.send_quiet(tx, Envelope { seq, item }) {
                        Ok(()) => {}
                        Err(SendError::Cancelled(_)) => return Err(Halt::Cancelled),
                        Err(SendError::Disconnected(_)) => return Err(Halt::Disconnected),
                    }
                }
            }
        }
        Ok(())
    }
}

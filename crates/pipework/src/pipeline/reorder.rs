//! Ordered mode: releases a multi-threaded step's outputs in input order.
//!
//! Each item carries its input position (`seq`). A thread that finishes item
//! `seq` hands its outputs here; they wait until every earlier item is done,
//! then go to the next queue, renumbered so the next step can reorder too.
//! A thread that runs `window` items ahead of the oldest unfinished one
//! waits, so at most `window` finished items are held per step.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};

use super::control::{lock, Control};
use super::emitter::{Stopped, Target};
use super::queue::Envelope;

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
    space: Arc<Condvar>,
    window: u64,
    target: Target<T>,
}

impl<T> Reorder<T> {
    pub(crate) fn new(target: Target<T>, window: usize, threads: usize, control: &Control) -> Self {
        let space = Arc::new(Condvar::new());
        control.register_condvar(space.clone());
        Reorder {
            state: Mutex::new(State {
                next: 0,
                pending: BTreeMap::new(),
                out_seq: 0,
                tails: Vec::new(),
                threads_left: threads,
            }),
            space,
            window: window.max(1) as u64,
            target,
        }
    }

    /// Hands over the outputs of input item `seq`.
    pub(crate) fn complete(
        &self,
        seq: u64,
        outputs: Vec<T>,
        control: &Control,
    ) -> Result<(), Stopped> {
        let mut st = lock(&self.state);
        while seq >= st.next + self.window && !control.is_cancelled() {
            st = self
                .space
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if control.is_cancelled() {
            return Err(Stopped);
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
        let mut st = lock(&self.state);
        st.tails.extend(tail);
        st.threads_left -= 1;
        if st.threads_left == 0 {
            let tails = std::mem::take(&mut st.tails);
            self.release(&mut st, tails, control)?;
        }
        Ok(())
    }

    fn release(&self, st: &mut State<T>, items: Vec<T>, control: &Control) -> Result<(), Stopped> {
        match &self.target {
            Target::Discard => {}
            Target::Queue(tx) => {
                for item in items {
                    let seq = st.out_seq;
                    st.out_seq += 1;
                    control
                        .send(tx, Envelope { seq, item })
                        .map_err(|_| Stopped)?;
                }
            }
        }
        Ok(())
    }
}

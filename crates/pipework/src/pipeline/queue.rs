//! The bounded queues between steps and what travels in them.
//!
//! A queue holds at most `capacity` items, counted in items, and hands
//! them over in **chunks**: a step with one thread takes every item that is
//! ready (up to [`MAX_CHUNK`]) under one lock, and its thread hands the
//! outputs of a chunk on under one lock too (see `worker.rs`). Per item,
//! that leaves a push into and a pop from a `VecDeque`; the lock, and the
//! wake-up of a thread that sleeps on the other side, come once a chunk.
//! A hand-over per item through a channel cost a lock-free exchange and,
//! on a machine with fewer cores than threads, a sleep and a wake-up per
//! item: a hand-written crossbeam pipeline was faster than pipework by
//! 1/0.71 and spent most of its time in the scheduler.
//!
//! # The count
//!
//! A chunk's items leave the queue when they are taken, but only its first
//! item becomes the taking thread's own (the "one item per thread" of the
//! memory bound); the others stay **outstanding**, counted against the
//! queue's capacity, until the thread comes back for its next chunk. So
//! `items + outstanding <= capacity` at any time, and the bound of the
//! module docs (`Σ queues + Σ threads + 1`, in items) holds as it did for
//! one item at a time. A step with several threads takes one item at a
//! time: a chunk would keep items from idle threads while its thread works.
//!
//! A sender may add an item while `items + outstanding < capacity`. A
//! queue of capacity 0 is a rendezvous: there a sender may add an item
//! for each receiver blocked with nothing to take, as with crossbeam's
//! zero-capacity channel; that item is the receiver's own.
//!
//! # Waking
//!
//! Receivers wait on one condvar, senders on another. A sender wakes one
//! receiver when it adds to an empty queue; a receiver wakes one sender
//! when it makes room. A woken thread that leaves work on its side (items,
//! or room, with another thread waiting for it) wakes the next one, so no
//! item waits while a receiver sleeps. Cancelling the run wakes every
//! waiter: each queue is a [`Wake`] registered with the run's
//! [`Control`], and every wait checks the cancel flag under the lock.
//!
//! # Disconnection
//!
//! As with crossbeam's channels: once every [`Sender`] is gone, receivers
//! take what is left, then get `None`; once every [`Receiver`] is gone,
//! what is queued is dropped and sends give their item back.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::control::{Control, Wake};
use crate::internal::lock;

/// The most items a one-thread step takes at once. Its outputs wait in the
/// thread until the chunk is done, so this also bounds the delay an output
/// can see behind the items after it in the same chunk.
pub(crate) const MAX_CHUNK: usize = 32;

/// How many times a thread that finds its queue empty (or full) yields
/// its processor, checking again after each, before it sleeps on the
/// condvar: a thread on the other side that was only waiting to run then
/// gets to act without a sleep and a wake-up on either side.
const YIELDS: usize = 4;

/// An item with its position in the input, used only in ordered mode.
#[derive(Debug)]
pub(crate) struct Envelope<T> {
    pub(crate) seq: u64,
    pub(crate) item: T,
}

struct State<T> {
    items: VecDeque<T>,
    /// Items taken in chunks beyond each taker's first, not yet released.
    outstanding: usize,
    /// Receivers blocked with nothing to take.
    waiting_receivers: usize,
    /// Senders blocked with no room.
    waiting_senders: usize,
    senders: usize,
    receivers: usize,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Receivers wait here for items.
    filled: Condvar,
    /// Senders wait here for room.
    emptied: Condvar,
    capacity: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        lock(&self.state)
    }

    fn has_room(&self, st: &State<T>) -> bool {
        // Only a rendezvous counts waiting receivers, as crossbeam's
        // zero-capacity channel does; a queue with capacity holds at most
        // that many items, whoever waits.
        let rendezvous = if self.capacity == 0 {
            st.waiting_receivers
        } else {
            0
        };
        st.items.len() + st.outstanding < self.capacity + rendezvous
    }

    /// After a sender added items: wake a receiver if one waits.
    fn wake_receiver(&self, st: &State<T>, was_empty: bool) {
        if was_empty && st.waiting_receivers > 0 {
            self.filled.notify_one();
        }
    }

    /// After room was made: wake a sender if one waits.
    fn wake_sender(&self, st: &State<T>) {
        if st.waiting_senders > 0 && self.has_room(st) {
            self.emptied.notify_one();
        }
    }
}

impl<T: Send> Wake for Shared<T> {
    fn wake(&self) {
        // Under the lock: every wait checks the cancel flag with it held.
        let _state = self.lock();
        self.filled.notify_all();
        self.emptied.notify_all();
    }
}

/// A bounded queue of `capacity` items, woken by `control` on cancel.
pub(crate) fn queue<T: Send + 'static>(
    capacity: usize,
    control: &Control,
) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            outstanding: 0,
            waiting_receivers: 0,
            waiting_senders: 0,
            senders: 1,
            receivers: 1,
        }),
        filled: Condvar::new(),
        emptied: Condvar::new(),
        capacity,
    });
    let weak = Arc::downgrade(&shared);
    control.register_queue(weak);
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, taken: 0 },
    )
}

/// Why a send gave its item(s) back.
pub(crate) enum Refused {
    /// The run was cancelled.
    Cancelled,
    /// Every receiver is gone.
    Disconnected,
}

/// The sending side of a queue; clone it for every thread that sends.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.senders -= 1;
        if st.senders == 0 {
            self.shared.filled.notify_all();
        }
    }
}

impl<T> Sender<T> {
    /// Adds `v`, waiting while the queue is full.
    pub(crate) fn send(&self, v: T, control: &Control) -> Result<(), (T, Refused)> {
        let mut st = self.shared.lock();
        loop {
            if control.is_cancelled() {
                return Err((v, Refused::Cancelled));
            }
            if st.receivers == 0 {
                return Err((v, Refused::Disconnected));
            }
            if self.shared.has_room(&st) {
                break;
            }
            st = self.wait_for_room(st, control);
        }
        let was_empty = st.items.is_empty();
        st.items.push_back(v);
        self.shared.wake_receiver(&st, was_empty);
        self.shared.wake_sender(&st);
        Ok(())
    }

    /// Adds every item of `batch` in order, under one lock while there is
    /// room, waiting for room for the rest. On `Err`, what was not added is
    /// left in `batch`.
    pub(crate) fn send_all(
        &self,
        batch: &mut VecDeque<T>,
        control: &Control,
    ) -> Result<(), Refused> {
        let mut st = self.shared.lock();
        while !batch.is_empty() {
            if control.is_cancelled() {
                return Err(Refused::Cancelled);
            }
            if st.receivers == 0 {
                return Err(Refused::Disconnected);
            }
            if !self.shared.has_room(&st) {
                st = self.wait_for_room(st, control);
                continue;
            }
            let was_empty = st.items.is_empty();
            while self.shared.has_room(&st) {
                let Some(v) = batch.pop_front() else { break };
                st.items.push_back(v);
            }
            self.shared.wake_receiver(&st, was_empty);
        }
        self.shared.wake_sender(&st);
        Ok(())
    }

    /// Waits until there may be room; the caller checks again.
    fn wait_for_room<'a>(
        &'a self,
        st: MutexGuard<'a, State<T>>,
        control: &Control,
    ) -> MutexGuard<'a, State<T>> {
        // Give the receivers the processor first: on a machine with fewer
        // cores than threads, the one that would make room is often the
        // one waiting to run, and a sleep and a wake-up cost more than this.
        drop(st);
        for _ in 0..YIELDS {
            std::thread::yield_now();
            let st = self.shared.lock();
            if self.shared.has_room(&st) || st.receivers == 0 {
                return st;
            }
        }
        let mut st = self.shared.lock();
        // The cancel flag is checked again under the lock before sleeping:
        // a cancel during the yields woke no one.
        if self.shared.has_room(&st) || st.receivers == 0 || control.is_cancelled() {
            return st;
        }
        st.waiting_senders += 1;
        let mut st = self
            .shared
            .emptied
            .wait(st)
            .unwrap_or_else(PoisonError::into_inner);
        st.waiting_senders -= 1;
        st
    }
}

/// The receiving side of a queue, one per receiving thread.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Items of this receiver's last chunk beyond its first: outstanding in
    /// the queue until the next take.
    taken: usize,
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.lock().receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            taken: 0,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let dropped = {
            let mut st = self.shared.lock();
            st.outstanding -= std::mem::take(&mut self.taken);
            st.receivers -= 1;
            if st.receivers > 0 {
                self.shared.wake_sender(&st);
                return;
            }
            self.shared.emptied.notify_all();
            std::mem::take(&mut st.items)
        };
        // Dropped outside the lock: an item's `Drop` may do anything.
        drop(dropped);
    }
}

/// How a receive ended without items.
pub(crate) enum Empty {
    /// Every sender is gone and nothing is left, or the run was cancelled.
    Closed,
    /// The timeout passed first.
    TimedOut,
}

impl<T> Receiver<T> {
    /// Takes up to `max` ready items (at least 1) into `chunk`, waiting
    /// until there is one, the queue is closed, the run is cancelled, or
    /// `timeout` passes; without a `control`, only the end of the queue
    /// ends the wait. Releases the previous chunk's outstanding items.
    pub(crate) fn recv_chunk(
        &mut self,
        chunk: &mut VecDeque<T>,
        max: usize,
        timeout: Option<Duration>,
        control: Option<&Control>,
    ) -> Result<(), Empty> {
        let cancelled = || control.is_some_and(Control::is_cancelled);
        let deadline = timeout.map(|t| Instant::now() + t);
        let shared = &*self.shared;
        let mut st = shared.lock();
        st.outstanding -= std::mem::take(&mut self.taken);
        let mut yields = if shared.capacity == 0 { 0 } else { YIELDS };
        loop {
            if cancelled() {
                shared.wake_sender(&st);
                return Err(Empty::Closed);
            }
            if !st.items.is_empty() {
                break;
            }
            if st.senders == 0 {
                return Err(Empty::Closed);
            }
            if yields > 0 && deadline.is_none() {
                yields -= 1;
                shared.wake_sender(&st);
                drop(st);
                std::thread::yield_now();
                st = shared.lock();
                continue;
            }
            // Waiting counts as room for one item (see the module docs).
            st.waiting_receivers += 1;
            shared.wake_sender(&st);
            st = match deadline {
                None => shared
                    .filled
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    shared
                        .filled
                        .wait_timeout(st, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            st.waiting_receivers -= 1;
            if st.items.is_empty() && deadline.is_some_and(|d| Instant::now() >= d) {
                shared.wake_sender(&st);
                return Err(Empty::TimedOut);
            }
        }
        let n = st.items.len().min(max.max(1));
        chunk.extend(st.items.drain(..n));
        self.taken = n - 1;
        st.outstanding += self.taken;
        if !st.items.is_empty() && st.waiting_receivers > 0 {
            shared.filled.notify_one();
        }
        shared.wake_sender(&st);
        Ok(())
    }
}

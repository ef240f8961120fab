//! Running the user's calls as tasks, at most `limit` at a time.
//!
//! This is the one place where `jsonl` spawns tasks; it can be replaced by
//! `pipework::stream::run_bounded` without touching the rest. Each call runs as
//! its own tokio task in a `JoinSet` (so calls run in parallel on a
//! multi-threaded runtime, and dropping the set aborts them), a panic inside a
//! call is caught in its task and comes back as that call's error, and results
//! come back in completion order with the tag they were spawned with.
//!
//! A call is polled once where it is started and spawned only if that does
//! not finish it, as `run_bounded` does: a call answered from a cache, or a
//! trivial one, then costs no task at all (a spawn, a wake-up of a worker and
//! a join notification are most of the cost of a cheap call). The
//! `spawn_every_call` option turns this off.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use futures::FutureExt;
use tokio::task::{JoinError, JoinSet};

use crate::panic_message::panic_message;

/// What a task gave back: its value, or the message of its panic.
pub(crate) type Outcome<T> = Result<T, String>;

/// A set of running calls, each tagged, at most `limit` at once.
#[derive(Debug)]
pub(crate) struct Bounded<K, T> {
    set: JoinSet<(K, Outcome<T>)>,
    /// Calls that finished on their first poll, not yet taken.
    ready: VecDeque<(K, Outcome<T>)>,
    limit: usize,
    /// Spawn calls without polling them first.
    spawn_all: bool,
}

impl<K, T> Bounded<K, T>
where
    K: Send + 'static,
    T: Send + 'static,
{
    /// At most `limit` calls at once; `spawn_all` spawns each call without
    /// polling it first.
    pub(crate) fn new(limit: usize, spawn_all: bool) -> Self {
        Bounded {
            set: JoinSet::new(),
            ready: VecDeque::new(),
            limit,
            spawn_all,
        }
    }

    /// True if another call may start.
    pub(crate) fn has_room(&self) -> bool {
        self.set.len() + self.ready.len() < self.limit
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty() && self.ready.is_empty()
    }

    /// Starts a call. The caller checks [`has_room`](Self::has_room) first,
    /// and calls this inside the runtime (the call's first poll may need its
    /// timers or I/O).
    pub(crate) fn spawn<F>(&mut self, tag: K, call: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let mut call = Box::pin(AssertUnwindSafe(call).catch_unwind());
        // The first poll has no task to wake: if the call is pending, the
        // task it is spawned into polls it again at once with its own waker.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if !self.spawn_all {
            if let Poll::Ready(out) = call.as_mut().poll(&mut cx) {
                let outcome = out.map_err(|payload| panic_message(payload.as_ref()));
                self.ready.push_back((tag, outcome));
                return;
            }
        }
        self.set.spawn(async move {
            let outcome = call
                .await
                .map_err(|payload| panic_message(payload.as_ref()));
            (tag, outcome)
        });
    }

    /// Waits for the next call to finish. `None` if none is running; `Some(Err)`
    /// if a task was cancelled from outside (its runtime is shutting down).
    pub(crate) async fn join_next(&mut self) -> Option<Result<(K, Outcome<T>), JoinError>> {
        if let Some(done) = self.ready.pop_front() {
            return Some(Ok(done));
        }
        self.set.join_next().await
    }

    /// The next finished call, if one has finished already; never waits.
    pub(crate) fn try_join_next(&mut self) -> Option<Result<(K, Outcome<T>), JoinError>> {
        if let Some(done) = self.ready.pop_front() {
            return Some(Ok(done));
        }
        self.set.try_join_next()
    }

    /// Aborts every running call (calls that already finished stay ready).
    pub(crate) fn abort_all(&mut self) {
        self.set.abort_all();
    }
}

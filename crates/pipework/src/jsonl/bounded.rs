//! Running the user's calls as tasks, at most `limit` at a time.
//!
//! This is the one place where `jsonl` spawns tasks; it can be replaced by
//! `pipework::stream::run_bounded` without touching the rest. Each call runs as
//! its own tokio task in a `JoinSet` (so calls run in parallel on a
//! multi-threaded runtime, and dropping the set aborts them), a panic inside a
//! call is caught in its task and comes back as that call's error, and results
//! come back in completion order with the tag they were spawned with.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::task::JoinSet;

use crate::panic_message::panic_message;

/// What a task gave back: its value, or the message of its panic.
pub(crate) type Outcome<T> = Result<T, String>;

/// A set of running calls, each tagged, at most `limit` at once.
#[derive(Debug)]
pub(crate) struct Bounded<K, T> {
    set: JoinSet<(K, Outcome<T>)>,
    limit: usize,
}

impl<K, T> Bounded<K, T>
where
    K: Send + 'static,
    T: Send + 'static,
{
    pub(crate) fn new(limit: usize) -> Self {
        Bounded {
            set: JoinSet::new(),
            limit,
        }
    }

    /// True if another call may start.
    pub(crate) fn has_room(&self) -> bool {
        self.set.len() < self.limit
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Starts a call. The caller checks [`has_room`](Self::has_room) first.
    pub(crate) fn spawn<F>(&mut self, tag: K, call: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.set.spawn(async move {
            let outcome = AssertUnwindSafe(call)
                .catch_unwind()
                .await
                .map_err(|payload| panic_message(payload.as_ref()));
            (tag, outcome)
        });
    }

    /// Waits for the next call to finish. `None` if none is running; `Some(Err)`
    /// if a task was cancelled from outside (its runtime is shutting down).
    pub(crate) async fn join_next(
        &mut self,
    ) -> Option<Result<(K, Outcome<T>), tokio::task::JoinError>> {
        self.set.join_next().await
    }

    /// The next finished call, if one has finished already; never waits.
    pub(crate) fn try_join_next(
        &mut self,
    ) -> Option<Result<(K, Outcome<T>), tokio::task::JoinError>> {
        self.set.try_join_next()
    }

    /// Aborts every running call.
    pub(crate) fn abort_all(&mut self) {
        self.set.abort_all();
    }
}

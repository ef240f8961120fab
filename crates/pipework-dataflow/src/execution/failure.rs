//! The failure flag every worker of a process watches.
//!
//! The first error in any operator is stored here and the flag is raised;
//! every worker thread of the process is unparked, sees the flag between two
//! scheduling steps and unwinds. Unwinding (rather than returning) matters in
//! a cluster: timely marks the channels of a thread that unwinds as poisoned,
//! its network threads then close their sockets without the clean-shutdown
//! message, and the peers' workers fail on their next receive. So one failure
//! stops every worker of every process instead of leaving them waiting for
//! progress that will never come. The sockets to the other processes are
//! also shut down at the first failure, so that peers see the connection
//! close even while this process lives on.

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;

use pipework::internal::{lock, FirstError};

use super::network::shut_down;
use super::RunError;

/// The payload a worker unwinds with once the failure is recorded.
pub(crate) struct Stop;

#[derive(Default)]
pub(crate) struct Failure {
    failed: AtomicBool,
    first: FirstError<RunError>,
    workers: Mutex<Vec<Thread>>,
    /// Sockets to the other processes, shut down on failure.
    sockets: Mutex<Vec<TcpStream>>,
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failure")
            .field("failed", &self.is_failed())
            .finish_non_exhaustive()
    }
}

impl Failure {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Failure::default())
    }

    /// Records `err` if it is the first, raises the flag and wakes every worker.
    pub(crate) fn fail(&self, err: RunError) {
        let text = err.to_string();
        if self.first.offer(err) {
            tracing::error!(error = %text, "dataflow failed");
        }
        self.failed.store(true, Ordering::SeqCst);
        let sockets = std::mem::take(&mut *lock(&self.sockets));
        shut_down(&sockets);
        let workers = lock(&self.workers);
        for worker in workers.iter() {
            worker.unpark();
        }
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Registers the calling worker thread to be woken by [`fail`](Self::fail).
    pub(crate) fn register_current_thread(&self) {
        let mut workers = lock(&self.workers);
        workers.push(std::thread::current());
    }

    /// Keeps the sockets to the other processes, to shut them down on failure.
    pub(crate) fn watch_sockets(&self, sockets: Vec<TcpStream>) {
        *lock(&self.sockets) = sockets;
    }

    /// The text of the first error, leaving it in place.
    pub(crate) fn peek(&self) -> Option<String> {
        self.first.inspect(|first| first.map(ToString::to_string))
    }

    pub(crate) fn take(&self) -> Option<RunError> {
        self.first.take()
    }
}

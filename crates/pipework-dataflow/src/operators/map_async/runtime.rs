//! The tokio runtime a worker's `map_async` calls run on.
//!
//! Timely's worker thread never polls a future: it would block the
//! dataflow on every call. Each worker that has a `map_async` step starts
//! one small runtime (a single tokio thread: the calls are I/O-bound), and
//! all its `map_async` steps share it. Dropping the last step drops the
//! runtime, which is shut down in the background: the worker never waits
//! for a call that ignores cancellation.

use std::fmt;

use tokio::runtime::{Builder, Handle, Runtime};

/// A runtime owned by one worker, shut down without waiting when dropped.
pub(crate) struct WorkerRuntime {
    runtime: Option<Runtime>,
}

impl fmt::Debug for WorkerRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerRuntime").finish_non_exhaustive()
    }
}

impl WorkerRuntime {
    /// Starts the runtime of worker `index`; the error text if the OS
    /// refuses a thread or an event loop.
    pub(crate) fn start(index: usize) -> Result<Self, String> {
        // The runtime's thread ends when the runtime is shut down (below).
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("pipework-async-w{index}"))
            .enable_time()
            .enable_io()
            .build()
            .map_err(|err| format!("cannot start the tokio runtime: {err}"))?;
        Ok(WorkerRuntime {
            runtime: Some(runtime),
        })
    }

    /// A handle to spawn calls with.
    pub(crate) fn handle(&self) -> Option<Handle> {
        self.runtime
            .as_ref()
            .map(|runtime| runtime.handle().clone())
    }
}

impl Drop for WorkerRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Tasks still running are cancelled at their next await; a
            // call blocking its thread is left to end on its own.
            runtime.shutdown_background();
        }
    }
}

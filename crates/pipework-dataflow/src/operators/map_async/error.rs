//! What can go wrong in a `map_async` step.

use std::time::Duration;

use crate::inputs::BoxError;

/// Why a `map_async` call (or the step) failed. With [`OnError::Raise`](super::OnError::Raise)
/// it is the source of the [`RunError::Step`](crate::RunError::Step) that
/// names the step; with [`OnError::Skip`](super::OnError::Skip) it is logged.
///
/// `item` is the item's JSON (cut after 200 characters).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapAsyncError {
    /// The options give a capacity of 0.
    #[error("the capacity of a map_async step must be at least 1")]
    ZeroCapacity,
    /// Every attempt returned an error; this is the last one.
    #[error("call for item {item} failed after {attempts} attempt(s): {source}")]
    Failed {
        /// The item, as JSON.
        item: String,
        /// How many attempts were made.
        attempts: usize,
        /// The last attempt's error.
        #[source]
        source: BoxError,
    },
    /// The last attempt took longer than the timeout.
    #[error("call for item {item} timed out after {timeout:?} ({attempts} attempt(s))")]
    TimedOut {
        /// The item, as JSON.
        item: String,
        /// How many attempts were made.
        attempts: usize,
        /// The timeout of one attempt.
        timeout: Duration,
    },
    /// The function or its future panicked (never retried).
    #[error("call for item {item} panicked: {message}")]
    Panicked {
        /// The item, as JSON.
        item: String,
        /// The panic message.
        message: String,
    },
    /// The runtime could not be started, or stopped under the call.
    #[error("the async runtime failed: {message}")]
    Runtime {
        /// What went wrong.
        message: String,
    },
}

impl MapAsyncError {
    /// Whether the call panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, MapAsyncError::Panicked { .. })
    }

    /// Whether the last attempt timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, MapAsyncError::TimedOut { .. })
    }
}

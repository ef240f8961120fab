//! Errors of the batching helpers.

/// Why a batching helper could not be built, or why an epoch went wrong.
///
/// A size or epoch count of 0 is rejected when the helper is built (it could
/// only ever loop forever or yield nothing); a short epoch is reported by the
/// [`Batches`](crate::batch::Batches) iterator when that epoch ends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A batch size of 0 was asked for.
    #[error("{helper}: batch size must be at least 1, got 0")]
    ZeroSize {
        /// The helper that was called (`batch`, `batches`, `batch_getter`, ...).
        helper: &'static str,
    },
    /// An epoch count of 0 was asked for.
    #[error("batches: epochs must be at least 1, got 0")]
    ZeroEpochs,
    /// A later pass over the iterable yielded fewer items than the first one.
    ///
    /// This usually means a one-shot iterator (a file handle, a channel, a
    /// generator) was given where a re-iterable collection was meant.
    #[error(
        "batches: epoch {epoch} yielded {got} items, fewer than the {expected} items of epoch 0"
    )]
    ShortEpoch {
        /// The 0-based index of the short epoch.
        epoch: usize,
        /// How many items epoch 0 yielded.
        expected: usize,
        /// How many items this epoch yielded.
        got: usize,
    },
}

impl Error {
    /// Whether this error rejected a size or epoch count of 0 (a usage error
    /// detected before any item was pulled).
    #[must_use]
    pub fn is_zero_argument(&self) -> bool {
        matches!(self, Error::ZeroSize { .. } | Error::ZeroEpochs)
    }

    /// Whether this error reports an epoch shorter than the first.
    #[must_use]
    pub fn is_short_epoch(&self) -> bool {
        matches!(self, Error::ShortEpoch { .. })
    }
}

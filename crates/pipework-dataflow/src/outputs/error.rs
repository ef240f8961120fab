//! Errors raised by sinks and their partitions.

use std::path::PathBuf;

use crate::inputs::BoxError;

/// An error from building, writing or closing a sink partition.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Writing, opening or truncating a file failed.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `build_part` was asked for a partition the sink does not have.
    #[error("unknown output partition `{part}`")]
    UnknownPart {
        /// The partition key asked for.
        part: String,
    },
    /// A sink was configured with no partitions.
    #[error("a partitioned sink needs at least one partition")]
    NoParts,
    /// An error from a user-written sink.
    #[error(transparent)]
    User(BoxError),
}

impl SinkError {
    /// Wraps any error from user code.
    pub fn user(err: impl Into<BoxError>) -> Self {
        SinkError::User(err.into())
    }
}

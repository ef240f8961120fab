//! Errors raised by sources and their partitions.

use std::path::PathBuf;

pub use pipework::BoxError;

/// An error from listing, building or reading a source partition.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The partition asked the dataflow to abort (bytewax's `AbortExecution`);
    /// see [`AbortExecution`](crate::inputs::AbortExecution).
    #[error("execution aborted by the source")]
    Abort,
    /// Reading or opening a file failed.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An input path does not exist.
    #[error("input path `{}` does not exist", path.display())]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// An input directory is not a directory.
    #[error("input directory `{}` is not a directory", path.display())]
    NotADirectory {
        /// The path that is not a directory.
        path: PathBuf,
    },
    /// A glob pattern is not valid.
    #[error("invalid glob pattern `{pattern}`: {message}")]
    InvalidGlob {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A CSV row could not be read.
    #[error("{}:{line}: invalid csv: {message}", path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The 1-based line where the bad record starts.
        line: u64,
        /// What the CSV reader reported.
        message: String,
    },
    /// `build_part` was asked for a partition the source does not have.
    #[error("unknown partition `{part}`")]
    UnknownPart {
        /// The partition key asked for.
        part: String,
    },
    /// A resume state does not fit this partition (for example an offset past the end of a file).
    #[error("invalid resume state for partition `{part}`: {message}")]
    InvalidResumeState {
        /// The partition key.
        part: String,
        /// What is wrong with the state.
        message: String,
    },
    /// A source was configured with a value it cannot use (a batch size of 0).
    #[error("invalid source configuration: {message}")]
    InvalidConfig {
        /// What is wrong.
        message: String,
    },
    /// An error from a user-written source.
    #[error(transparent)]
    User(BoxError),
}

impl SourceError {
    /// Wraps any error from user code.
    pub fn user(err: impl Into<BoxError>) -> Self {
        SourceError::User(err.into())
    }

    /// Whether this is the [`SourceError::Abort`] signal.
    pub fn is_abort(&self) -> bool {
        matches!(self, SourceError::Abort)
    }

    /// Refuses a batch size of 0, which would read nothing forever.
    pub(crate) fn check_batch_size(batch_size: usize) -> Result<(), SourceError> {
        if batch_size == 0 {
            return Err(SourceError::InvalidConfig {
                message: "batch size must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Refuses a partition key other than `expected`, the one partition of
    /// a source.
    pub(crate) fn check_only_part(part: &str, expected: &str) -> Result<(), SourceError> {
        if part != expected {
            return Err(SourceError::UnknownPart {
                part: part.to_owned(),
            });
        }
        Ok(())
    }
}

//! Errors of the recovery store: creating, checking, reading and writing
//! the SQLite partition files of a recovery directory.

use std::path::PathBuf;

/// Why a recovery directory cannot be created, resumed from or written.
///
/// Every variant about the store names the directory or the partition file
/// it is about. A run with recovery checks the whole directory before it
/// reads any input, so these come back from [`run`](crate::run) (as
/// [`RunError::Recovery`](crate::RunError::Recovery)) before anything
/// happened; a dataflow never silently starts afresh.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The recovery directory does not exist.
    #[error("recovery directory `{}` does not exist; create it with `pipework recovery init DIR --parts N`", dir.display())]
    NotFound {
        /// The directory given.
        dir: PathBuf,
    },
    /// The path given as a recovery directory is not a directory.
    #[error("recovery directory `{}` is not a directory", dir.display())]
    NotADirectory {
        /// The path given.
        dir: PathBuf,
    },
    /// The directory holds no partition files.
    #[error("no partitions in recovery directory `{}`; create them with `pipework recovery init DIR --parts N`", dir.display())]
    NoPartitions {
        /// The directory.
        dir: PathBuf,
    },
    /// Some of the partition files are missing.
    #[error("missing partitions {missing} of {total} in `{}`: `{}` and any others listed are gone", dir.display(), first.display())]
    MissingPartitions {
        /// The directory.
        dir: PathBuf,
        /// How many partition files are missing.
        missing: usize,
        /// How many there should be.
        total: usize,
        /// The first missing partition file.
        first: PathBuf,
    },
    /// The partition files do not belong together, or one is not a
    /// partition file at all.
    #[error("inconsistent partitions: `{}` {message}", path.display())]
    InconsistentPartitions {
        /// The partition file that disagrees.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A partition file was garbage-collected past the point the others
    /// can resume from (for example one file was restored from an older
    /// backup than the others), so some state a resume needs is gone.
    #[error("partition `{}` was garbage-collected up to epoch {floor}, past the resume epoch {}", path.display(), resume_text(*resume_epoch))]
    GarbageCollected {
        /// The partition file.
        path: PathBuf,
        /// The epoch up to which it dropped older snapshots.
        floor: u64,
        /// The last epoch committed by every partition, if any.
        resume_epoch: Option<u64>,
    },
    /// `init` found partition files already there.
    #[error("recovery directory `{}` is already initialised (`{}` exists)", dir.display(), path.display())]
    AlreadyInitialized {
        /// The directory.
        dir: PathBuf,
        /// A partition file that exists.
        path: PathBuf,
    },
    /// `init` was asked for 0 partitions.
    #[error("a recovery directory needs at least 1 partition")]
    ZeroParts,
    /// Creating the directory or listing it failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed on a partition file.
    #[error("recovery partition `{}`: {source}", path.display())]
    Sqlite {
        /// The partition file.
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored snapshot does not deserialize into the step's state type
    /// (the dataflow changed since it was written).
    #[error("recovery partition `{}`: the snapshot of step `{step}`, key `{key}` does not fit: {message}", path.display())]
    InvalidSnapshot {
        /// The partition file holding it.
        path: PathBuf,
        /// The step id.
        step: String,
        /// The state key (a partition name or a `stateful_map` key).
        key: String,
        /// What serde reported.
        message: String,
    },
    /// A state could not be serialized for a snapshot.
    #[error("step `{step}`: cannot serialize the state of key `{key}`: {message}")]
    Serialize {
        /// The step id.
        step: String,
        /// The state key.
        key: String,
        /// What serde reported.
        message: String,
    },
}

fn resume_text(epoch: Option<u64>) -> String {
    match epoch {
        Some(epoch) => epoch.to_string(),
        None => "(none: nothing was committed by every partition)".to_owned(),
    }
}

impl RecoveryError {
    pub(crate) fn sqlite(path: &std::path::Path) -> impl FnOnce(rusqlite::Error) -> Self + '_ {
        move |source| RecoveryError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }
}

//! Creating a recovery directory.

use std::path::Path;

use super::store::{part_file_name, part_index_of, PartitionFile};
use super::RecoveryError;

/// Creates the recovery directory `dir` (and its parents) with `parts`
/// empty partition files `part-0.sqlite3` … `part-{parts-1}.sqlite3`
/// (bytewax's `init_db_dir`; the CLI's `pipework recovery init DIR --parts N`).
///
/// More partitions spread the writing of snapshots over more workers; the
/// count is fixed for the life of the directory, whatever the worker count
/// of each run.
///
/// From the start, a partition is its file and the file's write-ahead log
/// (`part-{i}.sqlite3-wal`, which holds the schema until SQLite folds it
/// in): copy or move them together.
///
/// # Errors
///
/// [`RecoveryError::ZeroParts`] for 0; [`RecoveryError::AlreadyInitialized`]
/// when `dir` already holds partition files (it is never reset);
/// [`RecoveryError::Io`] / [`RecoveryError::Sqlite`] when creating fails.
///
/// # Examples
///
/// ```
/// use pipework_dataflow::recovery::init_db_dir;
///
/// let dir = tempfile::tempdir()?;
/// init_db_dir(dir.path(), 2)?;
/// assert!(dir.path().join("part-1.sqlite3").exists());
/// assert!(init_db_dir(dir.path(), 2).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn init_db_dir(dir: impl AsRef<Path>, parts: usize) -> Result<(), RecoveryError> {
    let dir = dir.as_ref();
    if parts == 0 {
        return Err(RecoveryError::ZeroParts);
    }
    let io = |source| RecoveryError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if part_index_of(&name).is_some() {
            return Err(RecoveryError::AlreadyInitialized {
                dir: dir.to_path_buf(),
                path: entry.path(),
            });
        }
    }
    for index in 0..parts {
        PartitionFile::create(&dir.join(part_file_name(index)), index, parts)?;
    }
    Ok(())
}

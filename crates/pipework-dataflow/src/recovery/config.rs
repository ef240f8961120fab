//! Where a dataflow keeps its recovery snapshots and how long it keeps old ones.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A recovery directory (made by [`init_db_dir`](super::init_db_dir) or
/// `pipework recovery init`) and the backup interval.
///
/// Give it to [`ExecutionConfig::recovery`](crate::ExecutionConfig::recovery);
/// the epoch interval is then the snapshot interval.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pipework_dataflow::recovery::RecoveryConfig;
///
/// let config = RecoveryConfig::new("/var/lib/flow").backup_interval(Duration::from_secs(30));
/// assert_eq!(config.dir().to_str(), Some("/var/lib/flow"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    dir: PathBuf,
    backup_interval: Duration,
}

impl RecoveryConfig {
    /// Snapshots go to the partition files in `dir`; no backup interval.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        RecoveryConfig {
            dir: dir.as_ref().to_path_buf(),
            backup_interval: Duration::ZERO,
        }
    }

    /// Keeps snapshots this much older than the resume point, so that a
    /// copy of the partition files taken up to this long ago (a delayed
    /// backup) can still be resumed from. Zero (the default) keeps only
    /// what a resume from the files as they are needs.
    pub fn backup_interval(mut self, interval: Duration) -> Self {
        self.backup_interval = interval;
        self
    }

    /// The recovery directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The backup interval.
    pub fn get_backup_interval(&self) -> Duration {
        self.backup_interval
    }
}

//! Checking a recovery directory and loading what a run resumes from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::store::{part_file_name, part_index_of, Meta, PartitionFile};
use super::{RecoveryConfig, RecoveryError};
use crate::routing::stable_hash;

/// What one process resumes from: the last epoch every partition
/// committed, and the newest snapshot of every state as of that epoch.
#[derive(Debug)]
pub(crate) struct Resume {
    /// The partition files, in index order.
    pub(crate) paths: Vec<PathBuf>,
    /// The last epoch committed by every partition; `None` starts afresh.
    pub(crate) epoch: Option<u64>,
    /// Snapshots by step id, then state key: the JSON of the state.
    states: HashMap<String, HashMap<String, String>>,
    /// How many epochs of snapshots to keep beyond the resume point.
    pub(crate) backup_epochs: u64,
}

impl Resume {
    /// Checks every partition file of `config`'s directory, rolls them back
    /// to the last epoch all of them committed, and loads the snapshots.
    /// Nothing is changed unless every check passes. `record` writes an
    /// execution row (one process of a cluster does it).
    pub(crate) fn load(
        config: &RecoveryConfig,
        epoch_interval: Duration,
        worker_count: usize,
        record: bool,
    ) -> Result<Resume, RecoveryError> {
        let dir = config.dir();
        let mut files = open_all(dir)?;
        let metas: Vec<Meta> = files
            .iter()
            .map(PartitionFile::meta)
            .collect::<Result<_, _>>()?;
        check_consistent(dir, &files, &metas)?;
        let epoch = metas.iter().map(|meta| meta.commit_epoch).min().flatten();
        for (file, meta) in files.iter().zip(&metas) {
            if let Some(floor) = meta.gc_floor {
                if epoch.is_none_or(|epoch| epoch < floor) {
                    return Err(RecoveryError::GarbageCollected {
                        path: file.path().to_path_buf(),
                        floor,
                        resume_epoch: epoch,
                    });
                }
            }
        }
        let mut states: HashMap<String, HashMap<String, String>> = HashMap::new();
        let backup_epochs = backup_epochs(config.get_backup_interval(), epoch_interval);
        let floor = epoch.and_then(|epoch| epoch.checked_sub(backup_epochs));
        for file in &mut files {
            file.roll_back_to(epoch)?;
            // Whatever the last run left for its writers to collect.
            if let Some(floor) = floor {
                file.collect_all(floor)?;
            }
            file.newest_snapshots(|step, key, state| {
                states.entry(step).or_default().insert(key, state);
            })?;
        }
        if record {
            if let Some(first) = files.first() {
                first.record_execution(worker_count, epoch)?;
            }
        }
        Ok(Resume {
            paths: files.iter().map(|file| file.path().to_path_buf()).collect(),
            epoch,
            states,
            backup_epochs,
        })
    }

    /// The first epoch of the run: the one after the resume epoch.
    pub(crate) fn start_epoch(&self) -> u64 {
        self.epoch.map_or(0, |epoch| epoch + 1)
    }

    /// The number of partitions.
    pub(crate) fn parts(&self) -> usize {
        self.paths.len()
    }

    /// The snapshots of `step` (state key → JSON).
    pub(crate) fn states_of(&self, step: &str) -> impl Iterator<Item = (&str, &str)> {
        self.states
            .get(step)
            .into_iter()
            .flat_map(|states| states.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The snapshot of `key` in `step`, if one was committed.
    pub(crate) fn state(&self, step: &str, key: &str) -> Option<&str> {
        self.states.get(step)?.get(key).map(String::as_str)
    }

    /// The partition a snapshot of `(step, key)` lives in.
    pub(crate) fn part_of(&self, step: &str, key: &str) -> usize {
        part_of(step, key, self.parts())
    }

    /// The partition file path for errors about `(step, key)`.
    pub(crate) fn path_of(&self, step: &str, key: &str) -> &Path {
        &self.paths[self.part_of(step, key)]
    }
}

/// The partition of `(step, key)`: a stable hash of both, so it does not
/// depend on the worker count.
pub(crate) fn part_of(step: &str, key: &str, parts: usize) -> usize {
    let mut joined = String::with_capacity(step.len() + key.len() + 1);
    joined.push_str(step);
    joined.push('\0');
    joined.push_str(key);
    (stable_hash(&joined) % parts.max(1) as u64) as usize
}

/// Epochs of snapshots to keep for delayed backups: the backup interval in
/// epochs, rounded up (everything, with a zero epoch interval).
fn backup_epochs(backup: Duration, epoch_interval: Duration) -> u64 {
    if backup.is_zero() {
        0
    } else if epoch_interval.is_zero() {
        u64::MAX
    } else {
        let epochs = backup.as_secs_f64() / epoch_interval.as_secs_f64();
        epochs.ceil() as u64
    }
}

/// Opens every `part-N.sqlite3` of `dir`, in index order.
fn open_all(dir: &Path) -> Result<Vec<PartitionFile>, RecoveryError> {
    if !dir.exists() {
        return Err(RecoveryError::NotFound {
            dir: dir.to_path_buf(),
        });
    }
    if !dir.is_dir() {
        return Err(RecoveryError::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    let io = |source| RecoveryError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut found: Vec<(usize, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if let Some(index) = part_index_of(&entry.file_name().to_string_lossy()) {
            found.push((index, entry.path()));
        }
    }
    if found.is_empty() {
        return Err(RecoveryError::NoPartitions {
            dir: dir.to_path_buf(),
        });
    }
    found.sort();
    found
        .iter()
        .map(|(_, path)| PartitionFile::open(path))
        .collect()
}

/// Checks that the files are partitions 0..N of one directory.
fn check_consistent(
    dir: &Path,
    files: &[PartitionFile],
    metas: &[Meta],
) -> Result<(), RecoveryError> {
    let inconsistent = |path: &Path, message: String| RecoveryError::InconsistentPartitions {
        path: path.to_path_buf(),
        message,
    };
    let total = metas.iter().map(|meta| meta.part_count).max().unwrap_or(0);
    for (file, meta) in files.iter().zip(metas) {
        let named = file
            .path()
            .file_name()
            .and_then(|name| part_index_of(&name.to_string_lossy()));
        if named != Some(meta.part_index) {
            return Err(inconsistent(
                file.path(),
                format!("records partition index {}", meta.part_index),
            ));
        }
        if meta.part_count != total {
            return Err(inconsistent(
                file.path(),
                format!(
                    "belongs to a directory of {} partitions, another file to one of {total}",
                    meta.part_count
                ),
            ));
        }
        if meta.part_index >= total {
            return Err(inconsistent(
                file.path(),
                format!("is beyond the {total} partitions of the directory"),
            ));
        }
    }
    if files.len() < total {
        let present: Vec<usize> = metas.iter().map(|meta| meta.part_index).collect();
        let first = (0..total)
            .find(|index| !present.contains(index))
            .unwrap_or(0);
        return Err(RecoveryError::MissingPartitions {
            dir: dir.to_path_buf(),
            missing: total - files.len(),
            total,
            first: dir.join(part_file_name(first)),
        });
    }
    Ok(())
}

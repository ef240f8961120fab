//! Copying recovery partition files the way a backup must.

// Each test binary that includes `support` uses a part of it.
#![allow(dead_code)]

use std::path::Path;

/// Copies partition file `name` from `from` to `to` as a backup is taken:
/// with its write-ahead log (where a fresh partition's schema is, too); the
/// shared-memory index is left to be rebuilt.
pub(crate) fn copy_partition(from: &Path, to: &Path, name: &str) {
    std::fs::copy(from.join(name), to.join(name)).unwrap();
    let wal = format!("{name}-wal");
    if from.join(&wal).exists() {
        std::fs::copy(from.join(&wal), to.join(&wal)).unwrap();
    } else {
        let _ = std::fs::remove_file(to.join(&wal));
    }
    let _ = std::fs::remove_file(to.join(format!("{name}-shm")));
}

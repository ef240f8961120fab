//! One recovery partition: a SQLite file `part-{i}.sqlite3` in WAL mode.
//!
//! Tables:
//! - `meta`: one row, this file's index, the partition count, the last
//!   epoch committed here and the garbage-collection floor;
//! - `snaps`: `(step_id, state_key, epoch) -> state`, the JSON of a
//!   snapshot or NULL for a state that was discarded at that epoch;
//! - `executions`: one row per run that resumed from the directory (the
//!   worker count and resume epoch), for inspection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OptionalExtension};

use super::RecoveryError;

/// How long a writer waits for another process holding the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE meta (
    part_index INTEGER NOT NULL,
    part_count INTEGER NOT NULL,
    commit_epoch INTEGER,
    gc_floor INTEGER
);
CREATE TABLE snaps (
    step_id TEXT NOT NULL,
    state_key TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    state TEXT,
    PRIMARY KEY (step_id, state_key, epoch)
) WITHOUT ROWID;
CREATE INDEX snaps_epoch ON snaps (epoch);
CREATE TABLE executions (
    ex_num INTEGER PRIMARY KEY,
    worker_count INTEGER NOT NULL,
    resume_epoch INTEGER
);
";

/// The file name of partition `index`.
pub(crate) fn part_file_name(index: usize) -> String {
    format!("part-{index}.sqlite3")
}

/// The partition index of a file name, if it is one.
pub(crate) fn part_index_of(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("part-")?.strip_suffix(".sqlite3")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a partition's `meta` row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) part_index: usize,
    pub(crate) part_count: usize,
    pub(crate) commit_epoch: Option<u64>,
    pub(crate) gc_floor: Option<u64>,
}

/// An open partition file.
#[derive(Debug)]
pub(crate) struct PartitionFile {
    path: PathBuf,
    conn: Connection,
}

fn to_sql(epoch: u64) -> i64 {
    // Epochs count intervals since a run started; they never reach 2^63.
    i64::try_from(epoch).unwrap_or(i64::MAX)
}

fn from_sql(epoch: i64) -> u64 {
    u64::try_from(epoch).unwrap_or(0)
}

impl PartitionFile {
    /// Creates partition `index` of `count` at `path` (which must not exist).
    pub(crate) fn create(path: &Path, index: usize, count: usize) -> Result<(), RecoveryError> {
        let err = RecoveryError::sqlite(path);
        let mut conn = Connection::open(path).map_err(RecoveryError::sqlite(path))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(RecoveryError::sqlite(path))?;
        // Leave the schema in the write-ahead log, as every run leaves its
        // commits: folding it into the file on close would empty the log,
        // and the first run's first write would then start a new one,
        // syncing its header and the directory on the run's clock (tens of
        // ms on a busy disk). Like any partition, a fresh one is copied
        // with its `-wal` file.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(RecoveryError::sqlite(path))?;
        let tx = conn.transaction().map_err(RecoveryError::sqlite(path))?;
        tx.execute_batch(SCHEMA)
            .map_err(RecoveryError::sqlite(path))?;
        tx.execute(
            "INSERT INTO meta (part_index, part_count) VALUES (?1, ?2)",
            params![index as i64, count as i64],
        )
        .map_err(RecoveryError::sqlite(path))?;
        tx.commit().map_err(err)
    }

    /// Opens an existing partition file (never creates one).
    pub(crate) fn open(path: &Path) -> Result<Self, RecoveryError> {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(RecoveryError::sqlite(path))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(RecoveryError::sqlite(path))?;
        // A process killed at any moment leaves a WAL that SQLite replays;
        // NORMAL syncs at checkpoints, which is enough against a crash of
        // the process (not of the machine).
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(RecoveryError::sqlite(path))?;
        // Closing need not fold the WAL into the file (an fsync at the end
        // of every run); SQLite checkpoints it as it grows, and reads it
        // back on open. A copy of a partition must include its `-wal` file.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(RecoveryError::sqlite(path))?;
        Ok(PartitionFile {
            path: path.to_path_buf(),
            conn,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the `meta` row; a file without one is not a partition.
    pub(crate) fn meta(&self) -> Result<Meta, RecoveryError> {
        let not_a_partition = |message: String| RecoveryError::InconsistentPartitions {
            path: self.path.clone(),
            message,
        };
        let row = self
            .conn
            .query_row(
                "SELECT part_index, part_count, commit_epoch, gc_floor FROM meta",
                [],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                    ))
                },
            )
            .optional();
        match row {
            Ok(Some((index, count, commit, floor))) => Ok(Meta {
                part_index: usize::try_from(index).unwrap_or(usize::MAX),
                part_count: usize::try_from(count).unwrap_or(0),
                commit_epoch: commit.map(from_sql),
                gc_floor: floor.map(from_sql),
            }),
            Ok(None) => Err(not_a_partition("has no partition record".into())),
            Err(err) => Err(not_a_partition(format!(
                "is not a recovery partition ({err})"
            ))),
        }
    }

    /// Forgets every snapshot after `resume` (all of them for `None`) and
    /// marks the file committed up to `resume`, so that the next execution,
    /// which starts after `resume`, writes on a clean slate.
    pub(crate) fn roll_back_to(&mut self, resume: Option<u64>) -> Result<(), RecoveryError> {
        let later: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM snaps WHERE epoch > ?1)",
                params![resume.map_or(-1, to_sql)],
                |row| row.get(0),
            )
            .map_err(RecoveryError::sqlite(&self.path))?;
        if !later && self.meta()?.commit_epoch == resume {
            // Nothing to undo: spare the write (and its sync).
            return Ok(());
        }
        let tx = self
            .conn
            .transaction()
            .map_err(RecoveryError::sqlite(&self.path))?;
        match resume {
            Some(epoch) => tx.execute("DELETE FROM snaps WHERE epoch > ?1", params![to_sql(epoch)]),
            None => tx.execute("DELETE FROM snaps", []),
        }
        .map_err(RecoveryError::sqlite(&self.path))?;
        tx.execute(
            "UPDATE meta SET commit_epoch = ?1",
            params![resume.map(to_sql)],
        )
        .map_err(RecoveryError::sqlite(&self.path))?;
        tx.commit().map_err(RecoveryError::sqlite(&self.path))
    }

    /// Records an execution starting after `resume` with `workers` workers.
    pub(crate) fn record_execution(
        &self,
        workers: usize,
        resume: Option<u64>,
    ) -> Result<(), RecoveryError> {
        self.conn
            .execute(
                "INSERT INTO executions (worker_count, resume_epoch) VALUES (?1, ?2)",
                params![workers as i64, resume.map(to_sql)],
            )
            .map(|_| ())
            .map_err(RecoveryError::sqlite(&self.path))
    }

    /// The newest snapshot of every `(step, key)`, discarded ones left out:
    /// calls `each(step, key, state)`.
    pub(crate) fn newest_snapshots(
        &self,
        mut each: impl FnMut(String, String, String),
    ) -> Result<(), RecoveryError> {
        let err = RecoveryError::sqlite;
        // SQLite takes the bare columns of an aggregate query from the row
        // holding the MAX.
        let mut statement = self
            .conn
            .prepare(
                "SELECT step_id, state_key, state, MAX(epoch) FROM snaps GROUP BY step_id, state_key",
            )
            .map_err(err(&self.path))?;
        let mut rows = statement.query([]).map_err(err(&self.path))?;
        while let Some(row) = rows.next().map_err(err(&self.path))? {
            let state: Option<String> = row.get(2).map_err(err(&self.path))?;
            if let Some(state) = state {
                each(
                    row.get(0).map_err(err(&self.path))?,
                    row.get(1).map_err(err(&self.path))?,
                    state,
                );
            }
        }
        Ok(())
    }

    /// Writes `snaps` (`(epoch, step, key, state)`) and marks the file
    /// committed up to `commit`, in one transaction; with `collect`, drops
    /// in the same transaction the snapshots its rows make useless.
    pub(crate) fn commit(
        &mut self,
        snaps: &[(u64, &str, &str, Option<&str>)],
        commit: u64,
        collect: Option<Collect<'_>>,
    ) -> Result<(), RecoveryError> {
        let err = RecoveryError::sqlite;
        let tx = self.conn.transaction().map_err(err(&self.path))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO snaps (step_id, state_key, epoch, state) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err(&self.path))?;
            for (epoch, step, key, state) in snaps {
                insert
                    .execute(params![step, key, to_sql(*epoch), state])
                    .map_err(err(&self.path))?;
            }
        }
        // Cached like the other statements of a commit, which runs every
        // epoch: parsing one costs about as much as a small insert.
        tx.prepare_cached("UPDATE meta SET commit_epoch = ?1")
            .and_then(|mut update| update.execute(params![to_sql(commit)]))
            .map_err(err(&self.path))?;
        if let Some(collect) = collect {
            {
                let mut older = tx
                    .prepare_cached(
                        "DELETE FROM snaps WHERE step_id = ?1 AND state_key = ?2 AND epoch < ?3",
                    )
                    .map_err(err(&self.path))?;
                let mut discarded = tx
                    .prepare_cached(
                        "DELETE FROM snaps WHERE step_id = ?1 AND state_key = ?2 AND epoch = ?3 AND state IS NULL",
                    )
                    .map_err(err(&self.path))?;
                for (epoch, step, key, is_discard) in collect.superseding {
                    let epoch = to_sql(*epoch);
                    older
                        .execute(params![step, key, epoch])
                        .map_err(err(&self.path))?;
                    if *is_discard {
                        discarded
                            .execute(params![step, key, epoch])
                            .map_err(err(&self.path))?;
                    }
                }
            }
            set_floor(&tx, collect.floor).map_err(err(&self.path))?;
        }
        tx.commit().map_err(err(&self.path))
    }

    /// Drops every snapshot a resume from `floor` or later cannot need:
    /// per key all but the newest at or before the floor, and that one too
    /// when it records a discarded state. Reads the whole table, so a run
    /// does it once, when it starts.
    pub(crate) fn collect_all(&mut self, floor: u64) -> Result<(), RecoveryError> {
        let err = RecoveryError::sqlite;
        let tx = self.conn.transaction().map_err(err(&self.path))?;
        let floor = to_sql(floor);
        tx.execute(
            "DELETE FROM snaps WHERE epoch < ?1 AND epoch < (
                 SELECT MAX(newer.epoch) FROM snaps AS newer
                 WHERE newer.step_id = snaps.step_id AND newer.state_key = snaps.state_key
                   AND newer.epoch <= ?1)",
            params![floor],
        )
        .map_err(err(&self.path))?;
        tx.execute(
            "DELETE FROM snaps WHERE state IS NULL AND epoch <= ?1",
            params![floor],
        )
        .map_err(err(&self.path))?;
        set_floor(&tx, from_sql(floor)).map_err(err(&self.path))?;
        tx.commit().map_err(err(&self.path))
    }
}

/// What a commit may garbage-collect: the rows written earlier in this run
/// whose epoch is now at or before `floor`, each `(epoch, step, key,
/// is_discard)`; every older snapshot of their keys is useless to a resume
/// from `floor` or later, and so are the discards themselves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Collect<'a> {
    pub(crate) floor: u64,
    pub(crate) superseding: &'a [(u64, &'a str, &'a str, bool)],
}

/// Raises the recorded garbage-collection floor to `floor`.
fn set_floor(tx: &rusqlite::Transaction<'_>, floor: u64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE meta SET gc_floor = MAX(COALESCE(gc_floor, 0), ?1)")?
        .execute(params![to_sql(floor)])
        .map(|_| ())
}

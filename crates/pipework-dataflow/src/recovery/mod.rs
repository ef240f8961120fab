//! Crash recovery: snapshots of every source partition, stateful step and
//! sink partition, committed to SQLite at every epoch, and a resume from
//! the last epoch every partition committed (bytewax's recovery).
//!
//! # The model
//!
//! A *recovery directory* holds N partition files (`part-0.sqlite3` …),
//! made once by [`init_db_dir`] or `pipework recovery init DIR --parts N`.
//! Give it to a run with [`ExecutionConfig::recovery`](crate::ExecutionConfig::recovery)
//! (or `-r DIR` on any binary using [`ExecutionArgs`](crate::ExecutionArgs)).
//!
//! - **Snapshots at epoch close.** When an epoch closes, every input
//!   partition's position, every `stateful_map` key changed in the epoch
//!   and every partitioned sink's position are sent, as JSON (serde), to
//!   the worker owning the store partition of `(step, key)`: a stable
//!   hash of both, so where a state lives does not depend on the worker
//!   count. That worker writes them and the partition's commit epoch in
//!   one transaction once no more of the epoch can come.
//! - **Resume.** A run with recovery first checks the whole directory
//!   (missing, empty, partly missing or mismatched partition files are a
//!   [`RecoveryError`] before any input is read), takes the last epoch
//!   every partition committed, and starts from it: sources are rebuilt
//!   from their positions, `stateful_map` keys from their states (routed by
//!   key to the worker that now owns them, so `-w` and the process count
//!   may change between runs), and file sinks are truncated to their
//!   positions. A resume reads the state, not the input already processed.
//! - **Garbage collection.** Once every partition has committed an epoch,
//!   snapshots that a resume from it can no longer need are deleted, so
//!   the files hold about one snapshot per key, not the history of the
//!   run. A backup interval ([`RecoveryConfig::backup_interval`]) keeps
//!   that much more history, for copies of the files taken late (copy each
//!   file with its `-wal` file, or use SQLite's backup).
//!
//! # Guarantees
//!
//! With a seekable source (files, directories, the testing source) and a
//! [`FixedPartitionedSink`](crate::outputs::FixedPartitionedSink) whose
//! snapshot is durable (`FileSink`, `DirSink`), output after any number of
//! crashes and resumes is exactly the output of one uninterrupted run.
//! Dynamic sinks (`TestingSink`, custom [`DynamicSink`](crate::outputs::DynamicSink)s)
//! have no snapshot: items of the epochs after the last commit are written
//! again on resume (at-least-once).
//!
//! # Cost
//!
//! Each epoch costs one SQLite transaction per partition and a flush and
//! `fsync` of each file sink partition, plus the JSON of every changed
//! state and, once the epoch is older than the backup interval, one
//! indexed delete per changed key; the writers keep the keys of those
//! recent epochs in memory. A run starts by reading every committed
//! snapshot (and collecting what the last run left); with 1 s epochs this is small next to the work (see the
//! `dataflow-recovery` benchmark). Epochs also remain the backpressure:
//! an input reads epoch `e` only after every partition committed the
//! epochs before it.
//!
//! # Example
//!
//! ```
//! use pipework_dataflow::connectors::{TestingItem, TestingSink, TestingSource};
//! use pipework_dataflow::recovery::{init_db_dir, RecoveryConfig};
//! use pipework_dataflow::{run, Dataflow, ExecutionConfig};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir()?;
//! init_db_dir(dir.path(), 2)?;
//! let source = TestingSource::with_markers(vec![
//!     TestingItem::Item(1), TestingItem::Item(2), TestingItem::Eof, TestingItem::Item(3),
//! ]);
//! let out = TestingSink::new();
//! let sink = out.clone();
//! let flow = Dataflow::new("resumable", move |flow| {
//!     flow.input("inp", source.clone()).output("out", sink.clone());
//! });
//! let config = ExecutionConfig::single()
//!     .epoch_interval(Duration::ZERO)
//!     .recovery(RecoveryConfig::new(dir.path()));
//! run(&flow, &config)?;
//! assert_eq!(out.take(), vec![1, 2]);
//! run(&flow, &config)?; // continues after the end marker
//! assert_eq!(out.take(), vec![3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
mod init;
mod record;
mod resume;
mod store;
mod writer;

pub use config::RecoveryConfig;
pub use error::RecoveryError;
pub use init::init_db_dir;
pub(crate) use record::{Record, SnapshotStreams};
pub(crate) use resume::Resume;
pub(crate) use writer::write_snapshots;

//! Ready-made sources and sinks (bytewax's `bytewax.connectors.files` and
//! `bytewax.testing`).
//!
//! | connector | kind | partitions | resume state |
//! |---|---|---|---|
//! | [`FileSource`] | lines of one file, as [`Line`]s | 1 (the path) | byte offset |
//! | [`DirSource`] | lines of each file matching a glob | 1 per file | byte offset |
//! | [`CsvSource`] | rows of a CSV file as maps | 1 (the path) | byte offset and line |
//! | [`TestingSource`] | a `Vec` with EOF / ABORT / PAUSE markers | 1 | index |
//! | [`FileSink`] | lines to one file | 1 | byte offset (truncated to on resume) |
//! | [`DirSink`] | lines to N files, routed by key | N | byte offset per file |
//! | [`TestingSink`] | a shared `Vec` | 1 per worker | none |
//! | `KafkaSource` (feature `kafka`) | messages of topics | 1 per topic-partition | offset |
//! | `KafkaSink` (feature `kafka`) | messages to a topic, routed by key | 1 per topic-partition | none (flushed at each snapshot) |
//!
//! # Example
//!
//! ```
//! use std::time::SystemTime;
//! use pipework_dataflow::connectors::FileSource;
//! use pipework_dataflow::inputs::{FixedPartitionedSource, StatefulSourcePartition};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("in.txt");
//! std::fs::write(&path, "one\ntwo\nthree\n")?;
//! let source = FileSource::new(&path).batch_size(1);
//! let key = &source.list_parts()?[0];
//! let mut part = source.build_part(SystemTime::now(), key, None)?;
//! part.next_batch()?;
//! let offset = part.snapshot(); // after "one"
//! let mut resumed = source.build_part(SystemTime::now(), key, Some(offset))?;
//! assert_eq!(resumed.next_batch()?.unwrap(), ["two"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod csv;
mod dir;
mod files;
#[cfg(feature = "kafka")]
mod kafka;
mod line;
mod lines;
mod testing;

pub use self::csv::{CsvPartition, CsvPosition, CsvRow, CsvSource};
pub use dir::{DirSink, DirSource};
pub use files::{FileSink, FileSinkPartition, FileSource};
#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub use kafka::{
    KafkaError, KafkaMessage, KafkaPartition, KafkaRecord, KafkaSink, KafkaSinkPartition,
    KafkaSource, OnDeserializeError, StartOffset,
};
pub use line::Line;
pub use lines::LinesPartition;
pub use testing::{
    TestingItem, TestingPartition, TestingSink, TestingSinkPartition, TestingSource,
};

//! Sinks: where a dataflow's items go (bytewax's `bytewax.outputs`).
//!
//! # The model
//!
//! Like sources, sinks come in two kinds:
//!
//! - [`FixedPartitionedSink`]: named partitions (files, topics), each written
//!   by one worker. Items are `(key, value)` pairs routed to a partition by
//!   [`part_fn`](FixedPartitionedSink::part_fn) of the key.
//!   [`snapshot`](StatefulSinkPartition::snapshot) returns where writing
//!   stands, and a partition rebuilt from it discards what was written after:
//!   with a seekable source this gives exactly-once output after recovery.
//! - [`DynamicSink`]: one [`StatelessSinkPartition`] per worker, writing what
//!   that worker holds.
//!
//! Partitions are closed when the dataflow completes on finite input, not on
//! error or abort.
//!
//! # Example
//!
//! ```
//! use pipework_dataflow::outputs::{DynamicSink, SinkError, StatelessSinkPartition};
//!
//! /// Prints each item with the worker that wrote it.
//! struct Print;
//! struct PrintPart(usize);
//! impl StatelessSinkPartition for PrintPart {
//!     type Item = String;
//!     fn write_batch(&mut self, items: Vec<String>) -> Result<(), SinkError> {
//!         for item in items {
//!             println!("worker {}: {item}", self.0);
//!         }
//!         Ok(())
//!     }
//! }
//! impl DynamicSink for Print {
//!     type Item = String;
//!     type Partition = PrintPart;
//!     fn build(&self, worker_index: usize, _count: usize) -> Result<PrintPart, SinkError> {
//!         Ok(PrintPart(worker_index))
//!     }
//! }
//!
//! let mut part = Print.build(0, 1)?;
//! part.write_batch(vec!["hello".to_owned()])?;
//! # Ok::<(), SinkError>(())
//! ```

mod dynamic;
mod error;
mod fixed_partitioned;

pub use dynamic::{DynamicSink, StatelessSinkPartition};
pub use error::SinkError;
pub use fixed_partitioned::{FixedPartitionedSink, StatefulSinkPartition};

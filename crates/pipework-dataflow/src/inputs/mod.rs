//! Sources: where a dataflow's items come from (bytewax's `bytewax.inputs`).
//!
//! # The model
//!
//! A source is split into *partitions*; each partition is read by one worker.
//! Two kinds exist:
//!
//! - [`FixedPartitionedSource`]: a fixed set of named partitions
//!   ([`list_parts`](FixedPartitionedSource::list_parts)), dealt evenly and
//!   deterministically to the workers. Each [`StatefulSourcePartition`] can
//!   [`snapshot`](StatefulSourcePartition::snapshot) where its next read starts,
//!   and [`build_part`](FixedPartitionedSource::build_part) takes that state
//!   back to resume: this is what makes exactly-once recovery possible.
//! - [`DynamicSource`]: one [`StatelessSourcePartition`] per worker, built with
//!   the worker's index and count, with no resume state (at-most-once).
//!
//! # Polling
//!
//! A worker runs many operators on one thread, so `next_batch` must never
//! block. It returns what is ready (maybe nothing), `Ok(None)` at the end of
//! input, or an error. `next_awake` tells when to call it next; with no awake
//! time and an empty batch the partition is polled again after 1 ms, so an
//! idle source does not spin. [`SimplePollingSource`] wraps a blocking
//! fetch-one-item function called at a fixed interval.
//!
//! The batching helpers of `bytewax.inputs` are re-exported here from
//! `pipework::batch`: [`batch`] cuts an iterator into batches, and
//! [`batch_getter`] turns a non-blocking getter into exactly what
//! `next_batch` returns (a possibly empty batch, or `None` at the end):
//!
//! ```
//! use std::sync::mpsc::{self, TryRecvError};
//! use pipework_dataflow::inputs::{batch_getter, Get, SourceError, StatelessSourcePartition};
//!
//! /// Reads whatever a channel holds, up to 100 items a batch.
//! struct ChannelPart<G>(pipework_dataflow::inputs::BatchGetter<G>);
//!
//! impl<G: FnMut() -> Get<u32>> StatelessSourcePartition for ChannelPart<G> {
//!     type Item = u32;
//!     fn next_batch(&mut self) -> Result<Option<Vec<u32>>, SourceError> {
//!         Ok(self.0.next())
//!     }
//! }
//!
//! let (tx, rx) = mpsc::channel();
//! let getter = move || match rx.try_recv() {
//!     Ok(item) => Get::Item(item),
//!     Err(TryRecvError::Empty) => Get::NotYet,
//!     Err(TryRecvError::Disconnected) => Get::End,
//! };
//! let mut part = ChannelPart(batch_getter(getter, 100).expect("a non-zero size"));
//! tx.send(7).expect("the receiver is alive");
//! assert_eq!(part.next_batch()?, Some(vec![7]));
//! assert_eq!(part.next_batch()?, Some(vec![])); // nothing yet: polled again in 1 ms
//! drop(tx);
//! assert_eq!(part.next_batch()?, None);
//! # Ok::<(), SourceError>(())
//! ```
//!
//! # Example
//!
//! ```
//! use std::time::SystemTime;
//! use pipework_dataflow::inputs::{FixedPartitionedSource, SourceError, StatefulSourcePartition};
//!
//! /// Counts up to a limit; the resume state is the next number.
//! struct Count { limit: u64 }
//! struct CountPart { next: u64, limit: u64 }
//!
//! impl StatefulSourcePartition for CountPart {
//!     type Item = u64;
//!     type State = u64;
//!     fn next_batch(&mut self) -> Result<Option<Vec<u64>>, SourceError> {
//!         if self.next >= self.limit {
//!             return Ok(None);
//!         }
//!         self.next += 1;
//!         Ok(Some(vec![self.next - 1]))
//!     }
//!     fn snapshot(&self) -> u64 { self.next }
//! }
//!
//! impl FixedPartitionedSource for Count {
//!     type Item = u64;
//!     type State = u64;
//!     type Partition = CountPart;
//!     fn list_parts(&self) -> Result<Vec<String>, SourceError> { Ok(vec!["only".into()]) }
//!     fn build_part(&self, _now: SystemTime, _part: &str, resume: Option<u64>)
//!         -> Result<CountPart, SourceError> {
//!         Ok(CountPart { next: resume.unwrap_or(0), limit: self.limit })
//!     }
//! }
//!
//! let source = Count { limit: 3 };
//! let mut part = source.build_part(SystemTime::now(), "only", None)?;
//! assert_eq!(part.next_batch()?, Some(vec![0]));
//! let state = part.snapshot();
//! let mut resumed = source.build_part(SystemTime::now(), "only", Some(state))?;
//! assert_eq!(resumed.next_batch()?, Some(vec![1]));
//! # Ok::<(), SourceError>(())
//! ```

mod abort;
mod dynamic;
mod error;
mod fixed_partitioned;
mod polling;

pub use abort::AbortExecution;
pub use dynamic::{DynamicSource, StatelessSourcePartition};
pub use error::{BoxError, SourceError};
pub use fixed_partitioned::{FixedPartitionedSource, StatefulSourcePartition};
pub use pipework::batch::{
    batch, batch_getter, batch_getter_ex, Batch, BatchGetter, BatchGetterEx, Error as BatchError,
    Get, GetError,
};
pub use polling::{Polled, Poller, SimplePollingPartition, SimplePollingSource};

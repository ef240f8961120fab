//! Sinks with a fixed set of named partitions, each with resume state.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::SinkError;

/// One partition of a [`FixedPartitionedSink`], written by one worker.
pub trait StatefulSinkPartition {
    /// The values written.
    type Item;
    /// Where writing resumes; given back to [`FixedPartitionedSink::build_part`].
    type State;

    /// Writes a batch of values.
    ///
    /// # Errors
    ///
    /// Any [`SinkError`] stops the dataflow; [`run`](crate::run) returns it
    /// naming the output step.
    fn write_batch(&mut self, items: Vec<Self::Item>) -> Result<(), SinkError>;

    /// Makes everything written so far durable and returns the position after
    /// it. A partition rebuilt from this state continues exactly there,
    /// discarding anything written after the snapshot.
    ///
    /// # Errors
    ///
    /// When flushing fails.
    fn snapshot(&mut self) -> Result<Self::State, SinkError>;

    /// Flushes and releases the partition when the dataflow completes.
    ///
    /// # Errors
    ///
    /// When flushing fails.
    fn close(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A sink made of a fixed set of partitions. Items are `(key, value)` pairs;
/// [`part_fn`](Self::part_fn) of the key picks the partition (modulo the
/// number of partitions), and each partition is written by the one worker it
/// is assigned to, so the items are exchanged to that worker.
pub trait FixedPartitionedSink {
    /// The values written.
    type Item;
    /// The resume state of one partition.
    type State: Serialize + DeserializeOwned + 'static;
    /// The partition type this sink builds.
    type Partition: StatefulSinkPartition<Item = Self::Item, State = Self::State> + 'static;

    /// The keys of all partitions; the same on every worker.
    fn list_parts(&self) -> Vec<String>;

    /// The partition index (taken modulo the partition count) for an item key.
    /// Must give the same answer on every worker and in every process.
    fn part_fn(&self, item_key: &str) -> usize;

    /// Builds partition `part`, anew or resuming from `resume_state`.
    ///
    /// # Errors
    ///
    /// [`SinkError::UnknownPart`] for a key not listed, or whatever opening
    /// the partition reports.
    fn build_part(
        &self,
        part: &str,
        resume_state: Option<Self::State>,
    ) -> Result<Self::Partition, SinkError>;
}

//! Sources that build one stateless partition per worker.

use std::time::SystemTime;

use super::SourceError;

/// A partition of a [`DynamicSource`]: one per worker, with no resume state.
pub trait StatelessSourcePartition {
    /// The items this partition emits.
    type Item;

    /// Reads the next batch of items that are ready now; never blocks.
    ///
    /// `Ok(Some(vec![]))` means nothing yet, `Ok(None)` the end of input.
    ///
    /// # Errors
    ///
    /// Any [`SourceError`] stops the dataflow, as for
    /// [`StatefulSourcePartition::next_batch`](super::StatefulSourcePartition::next_batch).
    fn next_batch(&mut self) -> Result<Option<Vec<Self::Item>>, SourceError>;

    /// When to call [`next_batch`](Self::next_batch) next; `None` means as
    /// soon as possible (1 ms after an empty batch).
    fn next_awake(&self) -> Option<SystemTime> {
        None
    }

    /// Cleans up when the input is exhausted; not called on abort or error.
    ///
    /// # Errors
    ///
    /// A failure to release resources.
    fn close(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
}

/// A source where every worker reads its own share of the items.
///
/// It keeps no resume state, so after a crash it can only be at-most-once.
/// The source must give disjoint data to each worker (by `worker_index`),
/// or the dataflow sees duplicates.
pub trait DynamicSource {
    /// The items the partitions emit.
    type Item;
    /// The partition type this source builds.
    type Partition: StatelessSourcePartition<Item = Self::Item> + 'static;

    /// Builds the partition of worker `worker_index` out of `worker_count`;
    /// called once on each worker.
    ///
    /// # Errors
    ///
    /// Whatever opening the partition reports.
    fn build(
        &self,
        now: SystemTime,
        worker_index: usize,
        worker_count: usize,
    ) -> Result<Self::Partition, SourceError>;
}

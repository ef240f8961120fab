//! Sinks that build one stateless partition per worker.

use super::SinkError;

/// A partition of a [`DynamicSink`]: one per worker, no resume state.
pub trait StatelessSinkPartition {
    /// The items written.
    type Item;

    /// Writes a batch of items.
    ///
    /// # Errors
    ///
    /// Any [`SinkError`] stops the dataflow.
    fn write_batch(&mut self, items: Vec<Self::Item>) -> Result<(), SinkError>;

    /// Flushes and releases the partition when the dataflow completes.
    ///
    /// # Errors
    ///
    /// When flushing fails.
    fn close(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A sink where each worker writes the items it holds, without routing.
pub trait DynamicSink {
    /// The items written.
    type Item;
    /// The partition type this sink builds.
    type Partition: StatelessSinkPartition<Item = Self::Item> + 'static;

    /// Builds the partition of worker `worker_index` out of `worker_count`.
    ///
    /// # Errors
    ///
    /// Whatever opening the partition reports.
    fn build(&self, worker_index: usize, worker_count: usize)
        -> Result<Self::Partition, SinkError>;
}

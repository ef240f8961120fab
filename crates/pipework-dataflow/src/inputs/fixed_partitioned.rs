//! Sources with a fixed set of named partitions, each with resume state.

use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::SourceError;

/// One partition of a [`FixedPartitionedSource`]: reads items and knows where
/// it is, so that it can be rebuilt from a snapshot.
///
/// A partition lives on one worker thread and is never moved, so it need not be
/// `Send`.
pub trait StatefulSourcePartition {
    /// The items this partition emits.
    type Item;
    /// Where the next read starts; given back to
    /// [`FixedPartitionedSource::build_part`] on resume.
    type State;

    /// Reads the next batch of items that are ready now.
    ///
    /// Must never block: return `Ok(Some(vec![]))` when nothing is ready yet.
    /// Returns `Ok(None)` at the end of input (bytewax raises `StopIteration`);
    /// the partition is then closed and never called again.
    ///
    /// # Errors
    ///
    /// Any [`SourceError`] stops the dataflow and is returned from
    /// [`run`](crate::run) naming the input step; [`SourceError::Abort`] stops
    /// it as a simulated crash.
    fn next_batch(&mut self) -> Result<Option<Vec<Self::Item>>, SourceError>;

    /// When to call [`next_batch`](Self::next_batch) next.
    ///
    /// Called after building and after each batch. `None` means "as soon as
    /// possible", except that after an empty batch the partition is polled
    /// again after 1 ms rather than spun.
    fn next_awake(&self) -> Option<SystemTime> {
        None
    }

    /// The position of the next read: building a partition from this state
    /// must resume *after* the last item returned, never repeat it.
    fn snapshot(&self) -> Self::State;

    /// Cleans up when the input is exhausted.
    ///
    /// Not called on abort or on an error elsewhere in the dataflow.
    ///
    /// # Errors
    ///
    /// A failure to release resources, reported like a read error.
    fn close(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
}

/// A source made of a fixed number of independent partitions, each read by
/// exactly one worker and each resumable from its own snapshot.
///
/// Every worker calls [`list_parts`](Self::list_parts); the partition keys are
/// sorted and dealt round-robin to the workers, so the assignment is the same
/// on every worker and no worker gets two more than another. A worker builds
/// only the partitions assigned to it. `list_parts` must return the same keys
/// on every worker (for files: a path every worker can read).
///
/// If a partition can seek (files, Kafka offsets), a dataflow reading it can be
/// exactly-once with a recovery store; each partition must hold distinct data.
pub trait FixedPartitionedSource {
    /// The items the partitions emit.
    type Item;
    /// The resume state of one partition. Serializable so that a recovery store
    /// can keep it.
    type State: Serialize + DeserializeOwned + 'static;
    /// The partition type this source builds.
    type Partition: StatefulSourcePartition<Item = Self::Item, State = Self::State> + 'static;

    /// The keys of all partitions.
    ///
    /// # Errors
    ///
    /// When the partitions cannot be listed (for a directory: it does not exist).
    fn list_parts(&self) -> Result<Vec<String>, SourceError>;

    /// Builds partition `part` anew (`resume_state` is `None`) or resumes it
    /// from a snapshot. `now` is the current time, passed in so that tests can
    /// control it.
    ///
    /// Derive all of a partition's state from `resume_state`; do not keep it in
    /// the source.
    ///
    /// # Errors
    ///
    /// [`SourceError::UnknownPart`] for a key not listed, or whatever opening
    /// the partition reports.
    fn build_part(
        &self,
        now: SystemTime,
        part: &str,
        resume_state: Option<Self::State>,
    ) -> Result<Self::Partition, SourceError>;
}

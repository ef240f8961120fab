//! A source over a `Vec` with EOF / ABORT / PAUSE markers, and a sink that
//! collects into a shared `Vec` (bytewax's `bytewax.testing`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pipework::internal::lock;

use crate::inputs::{FixedPartitionedSource, SourceError, StatefulSourcePartition};
use crate::outputs::{DynamicSink, SinkError, StatelessSinkPartition};

/// One entry of a [`TestingSource`]: an item or a marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestingItem<T> {
    /// An item to emit.
    Item(T),
    /// End the input here; a run resumed from a later snapshot continues
    /// after this marker.
    Eof,
    /// Abort the execution here (once: a resumed run skips it). Only use it
    /// with one worker reading the source; every worker stops either way.
    Abort,
    /// Emit nothing for this long.
    Pause(Duration),
}

impl<T> From<T> for TestingItem<T> {
    fn from(item: T) -> Self {
        TestingItem::Item(item)
    }
}

/// A source over a `Vec`, for tests: one partition (`"iterable"`), so one
/// worker reads it; the resume state is the index of the next entry.
///
/// Batches hold up to `batch_size` items (default 1) and end early at a
/// marker. [`TestingItem::Eof`] ends the input; [`TestingItem::Abort`] makes
/// `next_batch` fail with [`SourceError::Abort`] the first time it is reached
/// across all clones of this source, and is skipped afterwards;
/// [`TestingItem::Pause`] sets an awake time that far ahead.
///
/// Clones share the items and the abort flags, so clone the source into each
/// dataflow run.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use pipework_dataflow::connectors::TestingSource;
/// use pipework_dataflow::inputs::{FixedPartitionedSource, StatefulSourcePartition};
///
/// let source = TestingSource::new(0..5).batch_size(2);
/// let mut part = source.build_part(SystemTime::now(), "iterable", None)?;
/// assert_eq!(part.next_batch()?, Some(vec![0, 1]));
/// let state = part.snapshot();
/// let mut resumed = source.build_part(SystemTime::now(), "iterable", Some(state))?;
/// assert_eq!(resumed.next_batch()?, Some(vec![2, 3]));
/// assert_eq!(resumed.next_batch()?, Some(vec![4]));
/// assert_eq!(resumed.next_batch()?, None);
/// # Ok::<(), pipework_dataflow::inputs::SourceError>(())
/// ```
#[derive(Debug)]
pub struct TestingSource<T> {
    entries: Arc<Vec<TestingItem<T>>>,
    triggered: Arc<Vec<AtomicBool>>,
    batch_size: usize,
}

impl<T> Clone for TestingSource<T> {
    fn clone(&self) -> Self {
        TestingSource {
            entries: Arc::clone(&self.entries),
            triggered: Arc::clone(&self.triggered),
            batch_size: self.batch_size,
        }
    }
}

impl<T> TestingSource<T> {
    /// A source emitting `items`, one per batch.
    pub fn new(items: impl IntoIterator<Item = T>) -> Self {
        Self::with_markers(items.into_iter().map(TestingItem::Item))
    }

    /// A source over items and markers.
    pub fn with_markers(entries: impl IntoIterator<Item = TestingItem<T>>) -> Self {
        let entries: Vec<TestingItem<T>> = entries.into_iter().collect();
        let triggered = entries.iter().map(|_| AtomicBool::new(false)).collect();
        TestingSource {
            entries: Arc::new(entries),
            triggered: Arc::new(triggered),
            batch_size: 1,
        }
    }

    /// Sets the largest number of items per batch (at least 1).
    pub fn batch_size(mut self, items: usize) -> Self {
        self.batch_size = items;
        self
    }
}

impl<T: Clone + 'static> FixedPartitionedSource for TestingSource<T> {
    type Item = T;
    type State = usize;
    type Partition = TestingPartition<T>;

    fn list_parts(&self) -> Result<Vec<String>, SourceError> {
        Ok(vec!["iterable".to_owned()])
    }

    fn build_part(
        &self,
        _now: SystemTime,
        part: &str,
        resume_state: Option<usize>,
    ) -> Result<TestingPartition<T>, SourceError> {
        SourceError::check_only_part(part, "iterable")?;
        SourceError::check_batch_size(self.batch_size)?;
        let next = resume_state.unwrap_or(0);
        if next > self.entries.len() {
            return Err(SourceError::InvalidResumeState {
                part: part.to_owned(),
                message: format!(
                    "index {next} is past the end ({} entries)",
                    self.entries.len()
                ),
            });
        }
        Ok(TestingPartition {
            source: self.clone(),
            next,
            pending: None,
            next_awake: None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Eof,
    Abort,
}

/// The partition of a [`TestingSource`].
#[derive(Debug)]
pub struct TestingPartition<T> {
    source: TestingSource<T>,
    next: usize,
    pending: Option<Pending>,
    next_awake: Option<SystemTime>,
}

impl<T: Clone> StatefulSourcePartition for TestingPartition<T> {
    type Item = T;
    type State = usize;

    fn next_batch(&mut self) -> Result<Option<Vec<T>>, SourceError> {
        match self.pending {
            Some(Pending::Eof) => return Ok(None),
            Some(Pending::Abort) => return Err(SourceError::Abort),
            None => {}
        }
        self.next_awake = None;
        let mut batch = Vec::new();
        while let Some(entry) = self.source.entries.get(self.next) {
            let index = self.next;
            self.next += 1;
            match entry {
                TestingItem::Item(item) => {
                    batch.push(item.clone());
                    if batch.len() >= self.source.batch_size {
                        break;
                    }
                }
                TestingItem::Eof => {
                    self.pending = Some(Pending::Eof);
                    break;
                }
                TestingItem::Abort => {
                    if !self.source.triggered[index].swap(true, Ordering::SeqCst) {
                        self.pending = Some(Pending::Abort);
                        break;
                    }
                }
                TestingItem::Pause(duration) => {
                    self.next_awake = Some(SystemTime::now() + *duration);
                    break;
                }
            }
        }
        // A marker ends the batch early; the end or the abort is reported by
        // the next call, so the items before it are delivered first.
        if !batch.is_empty() || self.pending.is_some() || self.next_awake.is_some() {
            Ok(Some(batch))
        } else {
            Ok(None)
        }
    }

    fn next_awake(&self) -> Option<SystemTime> {
        self.next_awake
    }

    fn snapshot(&self) -> usize {
        self.next
    }
}

/// A sink appending every item to a `Vec` shared by all workers of this
/// process (bytewax's `TestingSink`). Clones share the `Vec`; it is not
/// cleared between runs.
///
/// # Examples
///
/// ```
/// use pipework_dataflow::connectors::TestingSink;
/// use pipework_dataflow::outputs::{DynamicSink, StatelessSinkPartition};
///
/// let sink = TestingSink::new();
/// let mut part = sink.build(0, 1)?;
/// part.write_batch(vec![1, 2])?;
/// assert_eq!(sink.items(), vec![1, 2]);
/// # Ok::<(), pipework_dataflow::outputs::SinkError>(())
/// ```
#[derive(Debug)]
pub struct TestingSink<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T> Clone for TestingSink<T> {
    fn clone(&self) -> Self {
        TestingSink {
            items: Arc::clone(&self.items),
        }
    }
}

impl<T> Default for TestingSink<T> {
    fn default() -> Self {
        TestingSink {
            items: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl<T: Clone> TestingSink<T> {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the items written so far, in write order.
    pub fn items(&self) -> Vec<T> {
        lock(&self.items).clone()
    }

    /// Removes and returns the items written so far.
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *lock(&self.items))
    }
}

impl<T: 'static> DynamicSink for TestingSink<T> {
    type Item = T;
    type Partition = TestingSinkPartition<T>;

    fn build(
        &self,
        _worker_index: usize,
        _worker_count: usize,
    ) -> Result<TestingSinkPartition<T>, SinkError> {
        Ok(TestingSinkPartition {
            items: Arc::clone(&self.items),
        })
    }
}

/// The partition of a [`TestingSink`].
#[derive(Debug)]
pub struct TestingSinkPartition<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T> StatelessSinkPartition for TestingSinkPartition<T> {
    type Item = T;

    fn write_batch(&mut self, items: Vec<T>) -> Result<(), SinkError> {
        // A panic elsewhere while holding the lock cannot leave the Vec
        // half-updated (extend either ran or not), so keep collecting.
        lock(&self.items).extend(items);
        Ok(())
    }
}

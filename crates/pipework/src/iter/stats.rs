//! Per-step statistics for iterator pipelines (paipa's
//! `PipelineRuntimeDebugger`): items, time and throughput per step.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::internal::lock;

#[derive(Debug)]
struct Cell {
    name: String,
    count: AtomicU64,
    /// Time spent inside `next` of this step, including the steps before it.
    inclusive_nanos: AtomicU64,
}

/// Collects the statistics of every step wrapped with
/// [`IteratorExt::stats`](super::IteratorExt::stats).
///
/// Wrap each step in pipeline order, right after it: a step's own time is
/// then the time spent in its `next` minus the time spent in the previous
/// wrapped step's `next`.
///
/// # Examples
///
/// ```
/// use pipework::iter::{IteratorExt, StatsRecorder};
///
/// let stats = StatsRecorder::new();
/// let total: u64 = (0..1000u64)
///     .stats(&stats, "source")
///     .map(|n| n * 2)
///     .stats(&stats, "double")
///     .filter(|n| n % 3 == 0)
///     .stats(&stats, "filter")
///     .sum();
/// assert_eq!(total, 333_666);
/// let report = stats.snapshot();
/// assert_eq!(report[1].name, "double");
/// assert_eq!(report[1].count, 1000);
/// assert_eq!(report[2].count, 334);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StatsRecorder {
    cells: Arc<Mutex<Vec<Arc<Cell>>>>,
}

/// One step's statistics at the time of a snapshot.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IterStats {
    /// The step's name.
    pub name: String,
    /// Items the step yielded.
    pub count: u64,
    /// Time spent in this step alone.
    pub time: Duration,
}

impl IterStats {
    /// Items per second of this step's own time.
    pub fn throughput(&self) -> f64 {
        let secs = self.time.as_secs_f64();
        if secs > 0.0 {
            self.count as f64 / secs
        } else {
            f64::INFINITY
        }
    }
}

impl fmt::Display for IterStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: count {} time {:.3?} {:.1}/s",
            self.name,
            self.count,
            self.time,
            self.throughput()
        )
    }
}

impl StatsRecorder {
    /// A recorder with no steps yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn register(&self, name: &str) -> Arc<Cell> {
        let cell = Arc::new(Cell {
            name: name.to_string(),
            count: AtomicU64::new(0),
            inclusive_nanos: AtomicU64::new(0),
        });
        lock(&self.cells).push(cell.clone());
        cell
    }

    /// Every step's statistics so far, in the order they were wrapped.
    pub fn snapshot(&self) -> Vec<IterStats> {
        let cells = lock(&self.cells);
        let mut before = 0;
        cells
            .iter()
            .map(|c| {
                let inclusive = c.inclusive_nanos.load(Ordering::Relaxed);
                let own = inclusive.saturating_sub(before);
                before = inclusive;
                IterStats {
                    name: c.name.clone(),
                    count: c.count.load(Ordering::Relaxed),
                    time: Duration::from_nanos(own),
                }
            })
            .collect()
    }

    /// Logs the snapshot at info level through `tracing`, one line per step.
    pub fn log(&self) {
        for s in self.snapshot() {
            tracing::info!(target: "pipework::iter", "{s}");
        }
    }
}

/// An iterator that counts and times its items into a [`StatsRecorder`].
/// Made by [`IteratorExt::stats`](super::IteratorExt::stats).
#[must_use = "iterators do nothing unless consumed"]
#[derive(Debug)]
pub struct Stats<I> {
    iter: I,
    cell: Arc<Cell>,
}

impl<I> Stats<I> {
    pub(crate) fn new(iter: I, recorder: &StatsRecorder, name: &str) -> Self {
        Stats {
            iter,
            cell: recorder.register(name),
        }
    }
}

impl<I: Iterator> Iterator for Stats<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let start = Instant::now();
        let item = self.iter.next();
        let nanos = start.elapsed().as_nanos() as u64;
        self.cell
            .inclusive_nanos
            .fetch_add(nanos, Ordering::Relaxed);
        if item.is_some() {
            self.cell.count.fetch_add(1, Ordering::Relaxed);
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

//! Counters read while a pipeline runs, and the report it returns.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of one step, updated by its threads.
#[derive(Debug, Default)]
#[repr(align(128))] // cache lines of its own: a step's threads write it per item
pub(crate) struct StepCounters {
    pub(crate) input: AtomicU64,
    pub(crate) output: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) threads_done: AtomicU64,
}

impl StepCounters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of one step's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepStats {
    /// The step's name.
    pub name: String,
    /// How many threads the step runs.
    pub threads: usize,
    /// Items taken from the step's input queue.
    pub input: u64,
    /// Items the step emitted.
    pub output: u64,
    /// Items the step dropped on purpose (filtered out, or [`SkipEntry`](crate::pipeline::SkipEntry)).
    pub skipped: u64,
    /// Items that failed after their retries (counted under both policies).
    pub failed: u64,
    /// Retry attempts made.
    pub retried: u64,
    /// Items waiting in the step's input queue when the snapshot was taken.
    pub queued: usize,
    /// The capacity of the step's input queue.
    pub capacity: usize,
    /// How many of the step's threads have finished.
    pub threads_done: usize,
}

impl StepStats {
    pub(crate) fn read(
        name: &str,
        threads: usize,
        counters: &StepCounters,
        queued: usize,
        capacity: usize,
    ) -> Self {
        StepStats {
            name: name.to_string(),
            threads,
            input: counters.input.load(Ordering::Relaxed),
            output: counters.output.load(Ordering::Relaxed),
            skipped: counters.skipped.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            retried: counters.retried.load(Ordering::Relaxed),
            queued,
            capacity,
            threads_done: counters.threads_done.load(Ordering::Relaxed) as usize,
        }
    }
}

/// What a finished pipeline did: per-step counts and the time it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub(crate) steps: Vec<StepStats>,
    pub(crate) elapsed: Duration,
}

impl Report {
    /// Each step's final counters, in pipeline order.
    pub fn steps(&self) -> &[StepStats] {
        &self.steps
    }

    /// The counters of the step called `name`.
    pub fn step(&self, name: &str) -> Option<&StepStats> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Items the last step emitted: the pipeline's output count (paipa's
    /// `pipeline.count`).
    pub fn outputs(&self) -> u64 {
        self.steps.last().map_or(0, |s| s.output)
    }

    /// Items the first step took in.
    pub fn inputs(&self) -> u64 {
        self.steps.first().map_or(0, |s| s.input)
    }

    /// Items that failed in any step and were skipped under
    /// [`OnError::Skip`](crate::pipeline::OnError::Skip).
    pub fn failed(&self) -> u64 {
        self.steps.iter().map(|s| s.failed).sum()
    }

    /// Wall-clock time from start to the last thread's end.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pipeline finished in {:.3?}", self.elapsed)?;
        for s in &self.steps {
            writeln!(
                f,
                "  {:<20} x{:<3} in {:>10} out {:>10} skipped {:>8} failed {:>8} retried {:>8}",
                s.name, s.threads, s.input, s.output, s.skipped, s.failed, s.retried
            )?;
        }
        Ok(())
    }
}

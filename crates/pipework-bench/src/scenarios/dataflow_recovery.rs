//! `dataflow-recovery`: the `dataflow-file` flow (a file of N lines, map
//! each line to its length, count and sum) with and without recovery.
//!
//! The count goes to a partitioned sink whose snapshot is the count and
//! sum so far, so with recovery the totals are exactly-once across a crash
//! and every system reports the same check. Systems:
//!
//! - `pipework-w1`: one worker, recovery off (10 s epochs, the default);
//! - `pipework-w1-recovery`: one worker, recovery on with 1 s epochs (a
//!   store of one partition in a temporary directory);
//! - `pipework-w1-resume`: the run with recovery fails (a step returns an
//!   error) after 90% of the lines, untimed; the figure is the time of the
//!   resume that completes it. Compare its seconds with the full run's:
//!   a resume reads from the last committed epoch, not from the start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipework_dataflow::connectors::{FileSource, Line};
use pipework_dataflow::outputs::{FixedPartitionedSink, SinkError, StatefulSinkPartition};
use pipework_dataflow::recovery::{init_db_dir, RecoveryConfig};
use pipework_dataflow::{run, Dataflow, ExecutionConfig};

use super::dataflow_file::{check, write_input};
use crate::measure::{Job, Measurement};
use crate::scenario::{Runner, Scenario, System};

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "dataflow-recovery",
    work: "dataflow-file with recovery (1 s epochs), without, and a resume after a late crash",
    sizes: &[12_000_000],
    quick_sizes: &[20_000],
    ideal_seconds: None,
    check,
    input: Some(write_input),
    systems: &[
        System {
            name: "pipework-w1",
            runner: Runner::Rust(without_recovery),
        },
        System {
            name: "pipework-w1-recovery",
            runner: Runner::Rust(with_recovery),
        },
        System {
            name: "pipework-w1-resume",
            runner: Runner::Rust(resume_after_late_crash),
        },
    ],
};

/// The snapshot interval of the recovery systems.
const EPOCH: Duration = Duration::from_secs(1);

fn without_recovery(job: &Job) -> anyhow::Result<Measurement> {
    let totals = Totals::default();
    let flow = count_flow(job, &totals, None)?;
    let start = Instant::now();
    run(&flow, &ExecutionConfig::single())?;
    Ok(totals.measurement(start))
}

fn with_recovery(job: &Job) -> anyhow::Result<Measurement> {
    let store = tempfile::tempdir()?;
    init_db_dir(store.path(), 1)?;
    let totals = Totals::default();
    let flow = count_flow(job, &totals, None)?;
    let config = recovery_config(store.path());
    let start = Instant::now();
    run(&flow, &config)?;
    Ok(totals.measurement(start))
}

fn resume_after_late_crash(job: &Job) -> anyhow::Result<Measurement> {
    let store = tempfile::tempdir()?;
    init_db_dir(store.path(), 1)?;
    let config = recovery_config(store.path());
    let crash_at = job.items - job.items / 10;
    let crashed = run(
        &count_flow(job, &Totals::default(), Some(crash_at))?,
        &config,
    );
    anyhow::ensure!(crashed.is_err(), "the run meant to crash completed");
    let totals = Totals::default();
    let flow = count_flow(job, &totals, None)?;
    let start = Instant::now();
    run(&flow, &config)?;
    Ok(totals.measurement(start))
}

fn recovery_config(dir: &std::path::Path) -> ExecutionConfig {
    ExecutionConfig::single()
        .epoch_interval(EPOCH)
        .recovery(RecoveryConfig::new(dir))
}

/// `FileSource -> map(len) -> count`, failing at line `crash_at` if given.
fn count_flow(job: &Job, totals: &Totals, crash_at: Option<u64>) -> anyhow::Result<Dataflow> {
    let path = job.input()?.clone();
    let sink = CountSink(totals.clone());
    Ok(Dataflow::new("dataflow-recovery", move |flow| {
        let mut seen = 0u64;
        flow.input("lines", FileSource::new(&path))
            .try_map("len", move |line: Line| {
                seen += 1;
                if Some(seen) == crash_at {
                    return Err("simulated crash");
                }
                Ok((String::new(), line.len() as u64))
            })
            .output_partitioned("count", sink.clone());
    }))
}

/// The totals the sink publishes when it closes.
#[derive(Debug, Clone, Default)]
struct Totals {
    count: Arc<AtomicU64>,
    sum: Arc<AtomicU64>,
}

impl Totals {
    fn measurement(&self, start: Instant) -> Measurement {
        Measurement {
            items: self.count.load(Ordering::Acquire),
            check: self.sum.load(Ordering::Acquire),
            seconds: start.elapsed().as_secs_f64(),
            bytes: None,
        }
    }
}

/// A one-partition sink counting and summing, resumable from its totals.
#[derive(Debug, Clone)]
struct CountSink(Totals);

/// The partition of [`CountSink`]: adds locally, publishes on close.
#[derive(Debug)]
struct CountPartition {
    totals: Totals,
    count: u64,
    sum: u64,
}

impl FixedPartitionedSink for CountSink {
    type Item = u64;
    type State = (u64, u64);
    type Partition = CountPartition;

    fn list_parts(&self) -> Vec<String> {
        vec!["count".to_owned()]
    }

    fn part_fn(&self, _key: &str) -> usize {
        0
    }

    fn build_part(
        &self,
        _part: &str,
        resume: Option<(u64, u64)>,
    ) -> Result<CountPartition, SinkError> {
        let (count, sum) = resume.unwrap_or_default();
        Ok(CountPartition {
            totals: self.0.clone(),
            count,
            sum,
        })
    }
}

impl StatefulSinkPartition for CountPartition {
    type Item = u64;
    type State = (u64, u64);

    fn write_batch(&mut self, items: Vec<u64>) -> Result<(), SinkError> {
        self.count += items.len() as u64;
        self.sum += items.iter().sum::<u64>();
        Ok(())
    }

    fn snapshot(&mut self) -> Result<(u64, u64), SinkError> {
        Ok((self.count, self.sum))
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.totals.count.store(self.count, Ordering::Release);
        self.totals.sum.store(self.sum, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_counts_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines");
        write_input(5000, &path).unwrap();
        let job = Job {
            items: 5000,
            input: Some(path),
        };
        for work in [without_recovery, with_recovery, resume_after_late_crash] {
            let measured = work(&job).unwrap();
            assert_eq!((measured.items, measured.check), (5000, check(5000)));
        }
    }
}

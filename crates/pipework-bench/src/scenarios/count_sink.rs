//! A sink that only counts and sums `u64` items, so that a dataflow
//! scenario measures its source and operators, not a sink.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pipework_dataflow::outputs::{DynamicSink, SinkError, StatelessSinkPartition};

/// Items and their sum added up by every worker's sink partition.
#[derive(Debug, Clone, Default)]
pub(crate) struct Totals {
    pub(crate) count: Arc<AtomicU64>,
    pub(crate) sum: Arc<AtomicU64>,
}

/// A sink that only counts and sums, so the figure is the dataflow's.
#[derive(Debug, Clone)]
pub(crate) struct CountSink(pub(crate) Totals);

/// One worker's part of [`CountSink`]: adds locally, publishes on close.
#[derive(Debug)]
pub(crate) struct CountPartition {
    totals: Totals,
    count: u64,
    sum: u64,
}

impl DynamicSink for CountSink {
    type Item = u64;
    type Partition = CountPartition;

    fn build(&self, _worker: usize, _workers: usize) -> Result<CountPartition, SinkError> {
        Ok(CountPartition {
            totals: self.0.clone(),
            count: 0,
            sum: 0,
        })
    }
}

impl StatelessSinkPartition for CountPartition {
    type Item = u64;

    fn write_batch(&mut self, items: Vec<u64>) -> Result<(), SinkError> {
        self.count += items.len() as u64;
        self.sum += items.iter().sum::<u64>();
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.totals.count.fetch_add(self.count, Ordering::AcqRel);
        self.totals.sum.fetch_add(self.sum, Ordering::AcqRel);
        Ok(())
    }
}

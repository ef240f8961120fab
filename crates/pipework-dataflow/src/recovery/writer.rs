//! The operator that writes snapshots into the partition files and commits
//! epochs, and the probe that tells inputs which epochs are committed.
//!
//! Every worker runs one writer. Snapshot records are routed to the worker
//! owning their partition (partition `p` belongs to worker `p % workers`).
//! A writer buffers records by epoch; when its input frontier passes an
//! epoch, no more records of it can come, so it writes them and the new
//! commit epoch of each of its partitions in one transaction per file.
//! It holds a capability at the first epoch it has not committed, so its
//! output frontier is the commit frontier of all partitions; inputs wait
//! on it (the epoch gate) before reading the next epoch, and the writers
//! use it as the point older snapshots can be dropped from.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{Operator, OutputBuilder};
use timely::dataflow::{Scope, StreamVec};

use super::record::Record;
use super::resume::Resume;
use super::store::{Collect, PartitionFile};
use crate::execution::RunError;
use crate::flow::WorkerContext;

/// Records of one partition waiting for their epoch to close:
/// `(step, key) -> state`, the last one of the epoch winning.
type Waiting = HashMap<(String, String), Option<String>>;

/// Adds the writer and the commit probe for `records` to this worker.
pub(crate) fn write_snapshots<'scope>(
    scope: Scope<'scope, u64>,
    records: StreamVec<'scope, u64, Record>,
    ctx: &WorkerContext,
    resume: &Arc<Resume>,
) {
    let failure = Arc::clone(&ctx.failure);
    let workers = ctx.worker_count;
    let mut files: Vec<(usize, PartitionFile)> = Vec::new();
    for (index, path) in resume.paths.iter().enumerate() {
        if index % workers != ctx.worker_index {
            continue;
        }
        match PartitionFile::open(path) {
            Ok(file) => files.push((index, file)),
            Err(err) => failure.fail(RunError::Recovery(err)),
        }
    }
    let start = resume.start_epoch();
    let backup_epochs = resume.backup_epochs;
    // All partitions have committed every epoch before this one.
    let committed_everywhere = Rc::new(Cell::new(start));

    let mut builder = OperatorBuilder::new("recovery-writer".to_owned(), scope);
    let route = Exchange::new(move |record: &Record| record.worker(workers));
    let mut input = builder.new_input(records, route);
    let (output, commits) = builder.new_output();
    let mut output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<()>>>::from(output);
    let everywhere = Rc::clone(&committed_everywhere);
    builder.build(move |mut capabilities| {
        let mut capability = capabilities.pop();
        if let Some(cap) = capability.as_mut() {
            cap.downgrade(&start);
        }
        let mut waiting: BTreeMap<u64, HashMap<usize, Waiting>> = BTreeMap::new();
        let mut last_epoch: Option<u64> = None;
        let mut committed_next = start;
        // Rows committed in this run, by epoch, until the garbage-collection
        // floor passes them: `(partition, step, key, is_discard)`.
        let mut written: BTreeMap<u64, Vec<(usize, String, String, bool)>> = BTreeMap::new();
        let mut collected_to: Option<u64> = None;
        move |frontiers| {
            let _output = output.activate();
            input.for_each(|cap, data| {
                let Some(&epoch) = cap.least() else { return };
                last_epoch = Some(last_epoch.map_or(epoch, |last| last.max(epoch)));
                for record in data.drain(..) {
                    if let Record::State {
                        part,
                        step,
                        key,
                        state,
                    } = record
                    {
                        waiting
                            .entry(epoch)
                            .or_default()
                            .entry(part)
                            .or_default()
                            .insert((step, key), state);
                    }
                }
            });
            // Never commit once the run failed: the epochs "closed" by
            // stopped steps are not complete.
            if failure.is_failed() || capability.is_none() {
                return;
            }
            let frontier = &frontiers[0];
            let done = frontier.is_empty();
            let closed_below = match frontier.frontier().iter().min() {
                Some(&least) => least,
                None => last_epoch.map_or(committed_next, |last| last + 1),
            }
            .max(committed_next);
            if closed_below > committed_next {
                let later = waiting.split_off(&closed_below);
                let closing = std::mem::replace(&mut waiting, later);
                // Every partition committed the epochs before
                // `everywhere`, so no resume goes back further than the one
                // before it (less the backup interval).
                let floor = everywhere
                    .get()
                    .checked_sub(1)
                    .and_then(|committed| committed.checked_sub(backup_epochs))
                    .filter(|floor| collected_to.is_none_or(|done| *floor > done));
                let passed = match floor {
                    Some(floor) => {
                        let later = written.split_off(&(floor + 1));
                        std::mem::replace(&mut written, later)
                    }
                    None => BTreeMap::new(),
                };
                for (index, file) in files.iter_mut() {
                    let mut rows: Vec<(u64, &str, &str, Option<&str>)> = Vec::new();
                    for (epoch, parts) in &closing {
                        if let Some(states) = parts.get(index) {
                            for ((step, key), state) in states {
                                rows.push((*epoch, step, key, state.as_deref()));
                            }
                        }
                    }
                    let superseding: Vec<(u64, &str, &str, bool)> = passed
                        .iter()
                        .flat_map(|(epoch, rows)| {
                            rows.iter().filter(|(part, ..)| part == index).map(
                                |(_, step, key, discard)| {
                                    (*epoch, step.as_str(), key.as_str(), *discard)
                                },
                            )
                        })
                        .collect();
                    let collect = floor.map(|floor| Collect {
                        floor,
                        superseding: &superseding,
                    });
                    if let Err(err) = file.commit(&rows, closed_below - 1, collect) {
                        failure.fail(RunError::Recovery(err));
                        return;
                    }
                }
                if floor.is_some() {
                    collected_to = floor;
                }
                // With a backup interval of every epoch (a zero epoch
                // interval), nothing is ever collected: keep no list.
                let keeps_all = backup_epochs == u64::MAX;
                for (epoch, parts) in closing.into_iter().filter(|_| !keeps_all) {
                    let rows = written.entry(epoch).or_default();
                    for (part, states) in parts {
                        for ((step, key), state) in states {
                            rows.push((part, step, key, state.is_none()));
                        }
                    }
                }
                committed_next = closed_below;
            }
            if done {
                capability = None;
            } else if let Some(cap) = capability.as_mut() {
                cap.downgrade(&committed_next);
            }
        }
    });

    let gate = Rc::clone(&ctx.gate);
    let slot = gate.add_output();
    commits.sink(Pipeline, "recovery-commits", move |(input, frontier)| {
        input.for_each(|_, _| {});
        let least = frontier.frontier().iter().min().copied();
        if let Some(least) = least {
            committed_everywhere.set(least);
        }
        gate.advance_output(slot, least);
    });
}

//! Output steps: write items to a sink.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{Operator, OutputBuilder};
use timely::dataflow::operators::Capability;
use timely::ExchangeData;

use crate::execution::RunError;
use crate::flow::{guarded, Stream};
use crate::outputs::{
    DynamicSink, FixedPartitionedSink, SinkError, StatefulSinkPartition, StatelessSinkPartition,
};
use crate::recovery::{Record, RecoveryError};
use crate::routing::assign_parts;

use super::dirty::{to_json, Dirty};
use super::epoch_queue::EpochQueue;

impl<'scope, T: 'static> Stream<'scope, T> {
    /// Writes every item to a [`DynamicSink`]: each worker builds its own
    /// partition and writes the items it holds. Partitions are closed when
    /// the input is exhausted.
    ///
    /// Errors building, writing or closing stop the run with
    /// [`RunError::Sink`] naming `step_id`.
    pub fn output<S>(self, step_id: &str, sink: S)
    where
        S: DynamicSink<Item = T>,
    {
        self.ctx.register_step(step_id);
        let failure = Arc::clone(&self.ctx.failure);
        let step = step_id.to_owned();
        let sink_error = move |source| RunError::Sink {
            step: step.clone(),
            part: None,
            source,
        };
        let (index, count) = (self.ctx.worker_index, self.ctx.worker_count);
        let build = || {
            if failure.is_failed() {
                // The run is already over; do not open anything.
                return None;
            }
            guarded(&failure, step_id, || sink.build(index, count))
        };
        let mut part = match build() {
            Some(Ok(part)) => Some(part),
            Some(Err(err)) => {
                failure.fail(sink_error(err));
                None
            }
            None => None,
        };
        let name = step_id.to_owned();
        let gate = Rc::clone(&self.ctx.gate);
        let slot = gate.add_output();
        self.inner
            .sink(Pipeline, step_id, move |(input, frontier)| {
                input.for_each(|_capability, data| {
                    let batch = std::mem::take(data);
                    let Some(part) = part.as_mut() else { return };
                    if failure.is_failed() {
                        return;
                    }
                    if let Some(Err(err)) = guarded(&failure, &name, || part.write_batch(batch)) {
                        failure.fail(sink_error(err));
                    }
                });
                gate.advance_output(slot, frontier.frontier().iter().min().copied());
                if frontier.frontier().is_empty() && !failure.is_failed() {
                    if let Some(mut done) = part.take() {
                        if let Some(Err(err)) = guarded(&failure, &name, || done.close()) {
                            failure.fail(sink_error(err));
                        }
                    }
                }
            });
    }
}

impl<'scope, V: ExchangeData> Stream<'scope, (String, V)> {
    /// Writes `(key, value)` items to a [`FixedPartitionedSink`].
    ///
    /// The partitions are dealt to workers as source partitions are; each
    /// item goes to partition `part_fn(key) % parts` on the worker that owns
    /// it (across processes too), which writes its value. Each worker builds
    /// its partitions when the run starts (from their committed snapshots,
    /// with recovery on) and closes them at the end.
    ///
    /// With recovery on, the values of an epoch are written once every
    /// earlier epoch has closed here, and each partition written in an
    /// epoch is snapshotted when the epoch closes, so a resumed partition
    /// holds exactly the output of the committed epochs.
    ///
    /// Errors stop the run with [`RunError::Sink`] naming `step_id` and the
    /// partition; a sink with no partitions is [`SinkError::NoParts`].
    pub fn output_partitioned<S>(self, step_id: &str, sink: S)
    where
        S: FixedPartitionedSink<Item = V> + 'static,
    {
        self.ctx.register_step(step_id);
        let failure = Arc::clone(&self.ctx.failure);
        let step = step_id.to_owned();
        let sink_error = move |part: Option<&str>, source| RunError::Sink {
            step: step.clone(),
            part: part.map(str::to_owned),
            source,
        };
        let resume = self.ctx.recovery.clone();
        let sink = Rc::new(sink);
        let parts = guarded(&failure, step_id, || sink.list_parts()).unwrap_or_default();
        if parts.is_empty() && !failure.is_failed() {
            failure.fail(sink_error(None, SinkError::NoParts));
        }
        let owner_by_name: HashMap<String, usize> = assign_parts(&parts, self.ctx.worker_count)
            .into_iter()
            .collect();
        let owners: Rc<Vec<usize>> = Rc::new(
            parts
                .iter()
                .map(|part| owner_by_name.get(part).copied().unwrap_or(0))
                .collect(),
        );
        // Duplicate names share one partition: map each position to the first one.
        let canonical: Vec<usize> = parts
            .iter()
            .map(|part| parts.iter().position(|other| other == part).unwrap_or(0))
            .collect();
        let mut built: HashMap<usize, S::Partition> = HashMap::new();
        for (position, part) in parts.iter().enumerate() {
            // After a failure (say, a missing input) do not create or
            // truncate output files: the run is over.
            if failure.is_failed() {
                break;
            }
            if owners[position] != self.ctx.worker_index || canonical[position] != position {
                continue;
            }
            let resume_state = match &resume {
                None => None,
                Some(resume) => match resume.state(step_id, part).map(serde_json::from_str) {
                    None => None,
                    Some(Ok(state)) => Some(state),
                    Some(Err(err)) => {
                        failure.fail(RunError::Recovery(RecoveryError::InvalidSnapshot {
                            path: resume.path_of(step_id, part).to_path_buf(),
                            step: step_id.to_owned(),
                            key: part.clone(),
                            message: err.to_string(),
                        }));
                        break;
                    }
                },
            };
            match guarded(&failure, step_id, || sink.build_part(part, resume_state)) {
                Some(Ok(partition)) => {
                    built.insert(position, partition);
                }
                Some(Err(err)) => failure.fail(sink_error(Some(part), err)),
                None => {}
            }
        }
        let count = parts.len().max(1);
        let (route_sink, route_owners) = (Rc::clone(&sink), Rc::clone(&owners));
        let (route_failure, route_name) = (Arc::clone(&failure), step_id.to_owned());
        let route = Exchange::new(move |(key, _): &(String, V)| {
            let owner = guarded(&route_failure, &route_name, || {
                route_owners.get(route_sink.part_fn(key) % count).copied()
            });
            owner.flatten().unwrap_or(0) as u64
        });
        let name = step_id.to_owned();
        let mut buckets: HashMap<usize, Vec<V>> = HashMap::new();
        let gate = Rc::clone(&self.ctx.gate);
        let slot = gate.add_output();
        let recovering = resume.is_some();
        let Stream {
            inner,
            ctx: _,
            snapshots,
        } = self;
        let mut builder = OperatorBuilder::new(step_id.to_owned(), inner.scope());
        let mut input = builder.new_input(inner, route);
        let (snap_out, snaps) = builder.new_output();
        let mut snap_out =
            OutputBuilder::<u64, CapacityContainerBuilder<Vec<Record>>>::from(snap_out);
        builder.build(move |_capabilities| {
            let mut queue: EpochQueue<(String, V)> = EpochQueue::new(1);
            // Per epoch written: a capability to send snapshots at it and
            // the partitions written.
            let mut dirty: Dirty<usize> = Dirty::new();
            // Capabilities of an epoch a failure interrupted, never
            // released, so that the epoch does not look complete.
            let mut stuck: Vec<Capability<u64>> = Vec::new();
            move |frontiers| {
                let mut snap_output = snap_out.activate();
                input.for_each(|capability, data| queue.push(&capability, data));
                let frontier = frontiers[0].frontier().iter().min().copied();
                if failure.is_failed() || parts.is_empty() {
                    return;
                }
                // Without recovery nothing is snapshotted: write everything now.
                let ready = if recovering {
                    queue.ready(frontier)
                } else {
                    queue.ready(None)
                };
                for (epoch, held) in ready {
                    if let Some(resume) = &resume {
                        if let Err(err) =
                            dirty.flush(Some(epoch), &name, resume, &mut snap_output, |position| {
                                part_snapshot(&mut built, &parts, &name, position)
                            })
                        {
                            failure.fail(err);
                            return;
                        }
                    }
                    let routed = guarded(&failure, &name, || {
                        for (key, value) in held.items {
                            let position = canonical[sink.part_fn(&key) % count];
                            buckets.entry(position).or_default().push(value);
                        }
                    });
                    if routed.is_none() {
                        stuck.extend(held.caps);
                        return;
                    }
                    let mut written = HashSet::new();
                    for (position, values) in buckets.iter_mut() {
                        if values.is_empty() {
                            continue;
                        }
                        let part_name = &parts[*position];
                        let Some(partition) = built.get_mut(position) else {
                            let err = SinkError::UnknownPart {
                                part: part_name.clone(),
                            };
                            failure.fail(sink_error(Some(part_name), err));
                            stuck.extend(held.caps);
                            return;
                        };
                        let values = std::mem::take(values);
                        if let Some(Err(err)) =
                            guarded(&failure, &name, || partition.write_batch(values))
                        {
                            failure.fail(sink_error(Some(part_name), err));
                            stuck.extend(held.caps);
                            return;
                        }
                        written.insert(*position);
                    }
                    if recovering {
                        if let Some(cap) = held.caps.into_iter().next() {
                            dirty.mark(epoch, cap, written);
                        }
                    }
                }
                if let Some(resume) = &resume {
                    if let Err(err) =
                        dirty.flush(frontier, &name, resume, &mut snap_output, |position| {
                            part_snapshot(&mut built, &parts, &name, position)
                        })
                    {
                        failure.fail(err);
                        return;
                    }
                }
                gate.advance_output(slot, frontier);
                if frontier.is_none() && !failure.is_failed() {
                    for (position, mut partition) in built.drain() {
                        if let Some(Err(err)) = guarded(&failure, &name, || partition.close()) {
                            failure.fail(sink_error(Some(&parts[position]), err));
                        }
                    }
                }
            }
        });
        if recovering {
            snapshots.borrow_mut().push(snaps);
        }
    }
}

/// The snapshot of sink partition `position`, named by its part, for
/// [`Dirty::flush`]; nothing for a partition this worker does not hold.
fn part_snapshot<P>(
    built: &mut HashMap<usize, P>,
    parts: &[String],
    step: &str,
    position: usize,
) -> Result<Option<(String, Option<String>)>, RunError>
where
    P: StatefulSinkPartition,
    P::State: Serialize,
{
    let part = &parts[position];
    let Some(partition) = built.get_mut(&position) else {
        return Ok(None);
    };
    let state = partition.snapshot().map_err(|source| RunError::Sink {
        step: step.to_owned(),
        part: Some(part.clone()),
        source,
    })?;
    Ok(Some((part.clone(), Some(to_json(step, part, &state)?))))
}

//! A map with state per key.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::ExchangeData;

use super::dirty::{to_json, Dirty};
use super::epoch_queue::EpochQueue;
use crate::execution::RunError;
use crate::flow::{guarded, Stream};
use crate::recovery::{Record, RecoveryError};
use crate::routing::stable_hash;

impl<'scope, V: ExchangeData> Stream<'scope, (String, V)> {
    /// Maps each value with state kept per key (bytewax's `stateful_map`).
    ///
    /// Items are routed by a stable hash of the key, so all values of a key
    /// meet on one worker (in any process), in the order they reach it. For
    /// each value `mapper(state, value)` gets the key's state (`None` the
    /// first time) and returns the new state (`None` forgets the key) and the
    /// output, emitted as `(key, output)`.
    ///
    /// Values cross threads and processes, so they must be
    /// [`ExchangeData`] (`Send + Serialize + Deserialize`). The state is
    /// serialized (as JSON) at each epoch close when recovery is on, and
    /// on resume each key's state goes to the worker that now owns the key.
    /// With recovery on, the values of an epoch are applied once every
    /// earlier epoch has closed at this step, so that a snapshot holds
    /// exactly its epochs; without it, values are applied as they come.
    pub fn stateful_map<S, W, F>(self, step_id: &str, mut mapper: F) -> Stream<'scope, (String, W)>
    where
        S: Serialize + DeserializeOwned + 'static,
        W: 'static,
        F: FnMut(Option<S>, V) -> (Option<S>, W) + 'static,
    {
        self.ctx.register_step(step_id);
        let failure = Arc::clone(&self.ctx.failure);
        let name = step_id.to_owned();
        let Stream {
            inner,
            ctx,
            snapshots,
        } = self;
        let (index, workers) = (ctx.worker_index, ctx.worker_count);
        let resume = ctx.recovery.clone();
        // The keys this worker owns now (the exchange sends key k to
        // worker `hash(k) % workers`), with their committed states.
        let mut states: HashMap<String, S> = HashMap::new();
        if let Some(resume) = &resume {
            for (key, json) in resume.states_of(step_id) {
                if stable_hash(key) % workers as u64 != index as u64 {
                    continue;
                }
                match serde_json::from_str(json) {
                    Ok(state) => {
                        states.insert(key.to_owned(), state);
                    }
                    Err(err) => failure.fail(RunError::Recovery(RecoveryError::InvalidSnapshot {
                        path: resume.path_of(step_id, key).to_path_buf(),
                        step: step_id.to_owned(),
                        key: key.to_owned(),
                        message: err.to_string(),
                    })),
                }
            }
        }

        let recovering = resume.is_some();
        let mut builder = OperatorBuilder::new(step_id.to_owned(), inner.scope());
        let route = Exchange::new(|(key, _): &(String, V)| stable_hash(key));
        let mut input = builder.new_input(inner, route);
        let (data_out, data) = builder.new_output();
        let (snap_out, snaps) = builder.new_output();
        let mut data_out =
            OutputBuilder::<u64, CapacityContainerBuilder<Vec<(String, W)>>>::from(data_out);
        let mut snap_out =
            OutputBuilder::<u64, CapacityContainerBuilder<Vec<Record>>>::from(snap_out);
        builder.build(move |_capabilities| {
            let mut queue: EpochQueue<(String, V)> = EpochQueue::new(2);
            let mut dirty: Dirty<String> = Dirty::new();
            let mut produced = Vec::new();
            // Capabilities of an epoch a panic interrupted, never released.
            let mut stuck: Vec<Capability<u64>> = Vec::new();
            move |frontiers| {
                let mut data_session = data_out.activate();
                let mut snap_session = snap_out.activate();
                input.for_each(|capability, batch| queue.push(&capability, batch));
                if failure.is_failed() {
                    return;
                }
                let frontier = frontiers[0].frontier().iter().min().copied();
                // Without recovery nothing is snapshotted: apply everything now.
                let ready = if recovering {
                    queue.ready(frontier)
                } else {
                    queue.ready(None)
                };
                for (epoch, held) in ready {
                    if let Some(resume) = &resume {
                        let flushed =
                            dirty.flush(Some(epoch), &name, resume, &mut snap_session, |key| {
                                key_snapshot(&states, &name, key)
                            });
                        if let Err(err) = flushed {
                            failure.fail(err);
                            return;
                        }
                    }
                    let mut caps = held.caps.into_iter();
                    let (Some(data_cap), Some(snap_cap)) = (caps.next(), caps.next()) else {
                        continue;
                    };
                    let mut touched = HashSet::new();
                    let done = guarded(&failure, &name, || {
                        for (key, value) in held.items {
                            let (state, out) = mapper(states.remove(&key), value);
                            if let Some(state) = state {
                                states.insert(key.clone(), state);
                            }
                            // A key repeated in the epoch is copied once.
                            if recovering && !touched.contains(&key) {
                                touched.insert(key.clone());
                            }
                            produced.push((key, out));
                        }
                    });
                    if done.is_none() {
                        // Hold the epoch open: its snapshot will never be
                        // sent, so it must not look complete to anyone.
                        stuck.extend([data_cap, snap_cap]);
                        return;
                    }
                    if !produced.is_empty() {
                        data_session
                            .session(&data_cap)
                            .give_container(&mut produced);
                    }
                    produced.clear();
                    dirty.mark(epoch, snap_cap, touched);
                }
                if let Some(resume) = &resume {
                    if let Err(err) =
                        dirty.flush(frontier, &name, resume, &mut snap_session, |key| {
                            key_snapshot(&states, &name, key)
                        })
                    {
                        failure.fail(err);
                    }
                }
            }
        });
        if recovering {
            snapshots.borrow_mut().push(snaps);
        }
        Stream {
            inner: data,
            ctx,
            snapshots,
        }
    }
}

/// The snapshot of `key` for [`Dirty::flush`]: its state now, or a
/// discard if the mapper dropped it.
fn key_snapshot<S: Serialize>(
    states: &HashMap<String, S>,
    step: &str,
    key: String,
) -> Result<Option<(String, Option<String>)>, RunError> {
    let state = match states.get(&key) {
        Some(state) => Some(to_json(step, &key, state)?),
        None => None,
    };
    Ok(Some((key, state)))
}

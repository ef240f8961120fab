//! What a snapshotting step changed in each open epoch, and the flush that
//! sends those snapshots once the epoch closes there.
//!
//! `stateful_map` (keys) and `output_partitioned` (sink partitions) both
//! snapshot only what an epoch changed, at the epoch it changed in, so a
//! writer commits exactly the state after that epoch.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::OutputBuilderSession;
use timely::dataflow::operators::Capability;

use crate::execution::RunError;
use crate::recovery::{Record, RecoveryError, Resume};

/// The session of a step's snapshot output.
pub(crate) type SnapSession<'a> =
    OutputBuilderSession<'a, u64, CapacityContainerBuilder<Vec<Record>>>;

/// The things (keys, partitions) changed per epoch not yet flushed, each
/// epoch with a capability to send their snapshots at it.
pub(crate) struct Dirty<K> {
    epochs: BTreeMap<u64, (Capability<u64>, HashSet<K>)>,
}

impl<K: Hash + Eq> Dirty<K> {
    pub(crate) fn new() -> Self {
        Dirty {
            epochs: BTreeMap::new(),
        }
    }

    /// Records `changed` in `epoch`; `cap` (at `epoch`) is kept to send
    /// their snapshots, or dropped if the epoch already holds one.
    pub(crate) fn mark(&mut self, epoch: u64, cap: Capability<u64>, changed: HashSet<K>) {
        if changed.is_empty() {
            return;
        }
        match self.epochs.get_mut(&epoch) {
            Some((_, held)) => held.extend(changed),
            None => {
                self.epochs.insert(epoch, (cap, changed));
            }
        }
    }

    /// Sends the snapshots of what changed in the epochs before `below`
    /// (all of them for `None`), each at its epoch. `snapshot` gives the
    /// name of a changed thing and its state now (`None`: discarded), or
    /// nothing to skip it.
    pub(crate) fn flush(
        &mut self,
        below: Option<u64>,
        step: &str,
        resume: &Resume,
        output: &mut SnapSession<'_>,
        mut snapshot: impl FnMut(K) -> Result<Option<(String, Option<String>)>, RunError>,
    ) -> Result<(), RunError> {
        let closed = match below {
            Some(below) => {
                let later = self.epochs.split_off(&below);
                std::mem::replace(&mut self.epochs, later)
            }
            None => std::mem::take(&mut self.epochs),
        };
        for (_epoch, (cap, changed)) in closed {
            let mut session = output.session(&cap);
            for thing in changed {
                let Some((key, state)) = snapshot(thing)? else {
                    continue;
                };
                session.give(Record::State {
                    part: resume.part_of(step, &key),
                    step: step.to_owned(),
                    key,
                    state,
                });
            }
        }
        Ok(())
    }
}

/// The JSON of the state of `key` in `step`, or the recovery error
/// naming both.
pub(crate) fn to_json<S: Serialize>(step: &str, key: &str, state: &S) -> Result<String, RunError> {
    serde_json::to_string(state).map_err(|err| {
        RunError::Recovery(RecoveryError::Serialize {
            step: step.to_owned(),
            key: key.to_owned(),
            message: err.to_string(),
        })
    })
}

//! The items a `map_async` step holds on one worker, and the epochs (the
//! capabilities) they keep open.
//!
//! An item is *waiting* from the moment it arrives until a slot is free,
//! then it holds a *slot* until its result is emitted: with
//! [`Order::Unordered`] when its call ends, with [`Order::Ordered`] when
//! every earlier item's result has been. At most `capacity` slots exist.
//!
//! Every item lives at an epoch: the one it arrived with, or — with
//! recovery on, once that epoch was closed here with the item still held —
//! the epoch it was carried to. Its results are emitted at that epoch, and
//! the step holds a capability at each epoch something lives at.
//!
//! Without recovery an epoch stays open here until its last item's result
//! is emitted, so its outputs are complete when it closes downstream. With
//! recovery, an epoch `e` closes once the input has moved past it and none
//! of its items is still waiting: the items of epochs up to `e` that still
//! hold a slot (at most `capacity`) go into the snapshot at `e`, and live
//! on at the next epoch. A resume from `e` calls them again; one from a
//! later epoch finds their results already emitted. Waiting items keep
//! their epoch open, which is the backpressure: the inputs do not read past
//! an epoch the step has not taken in.

use std::collections::{BTreeMap, VecDeque};

use timely::dataflow::operators::Capability;

use super::error::MapAsyncError;
use super::options::Order;
use crate::execution::RunError;

/// The capabilities of one epoch: results, and snapshot records.
pub(super) struct Caps {
    pub(super) data: Capability<u64>,
    pub(super) snap: Capability<u64>,
}

impl Caps {
    fn delayed(&self, epoch: u64) -> Caps {
        Caps {
            data: self.data.delayed(&epoch),
            snap: self.snap.delayed(&epoch),
        }
    }
}

/// An item without a slot yet.
struct Waiting<T> {
    arrival: u64,
    item: T,
}

/// An item whose call was started.
struct Slot<T, U> {
    arrival: u64,
    /// A copy of the input, kept for snapshots (with recovery on).
    input: Option<T>,
    /// The call's outcome, once it ended.
    result: Option<Result<Vec<U>, MapAsyncError>>,
}

/// One call's outcome, ready to emit at `epoch`.
pub(super) type Ready<U> = (u64, Result<Vec<U>, MapAsyncError>);

/// See the module doc.
pub(super) struct Pending<T, U> {
    waiting: VecDeque<Waiting<T>>,
    /// How many waiting items arrived with each epoch.
    waiting_epochs: BTreeMap<u64, usize>,
    /// The slots, by sequence number (the order items arrived in).
    slots: BTreeMap<u64, Slot<T, U>>,
    next_seq: u64,
    capacity: usize,
    order: Order,
    keeps_inputs: bool,
    /// Every epoch before this one was closed here (with recovery on).
    closed_below: u64,
    caps: BTreeMap<u64, Caps>,
}

impl<T: Clone, U> Pending<T, U> {
    /// Nothing held yet; the first epoch is `start`. `keeps_inputs` keeps
    /// a copy of every started input for snapshots.
    pub(super) fn new(capacity: usize, order: Order, keeps_inputs: bool, start: u64) -> Self {
        Pending {
            waiting: VecDeque::new(),
            waiting_epochs: BTreeMap::new(),
            slots: BTreeMap::new(),
            next_seq: 0,
            capacity,
            order,
            keeps_inputs,
            closed_below: start,
            caps: BTreeMap::new(),
        }
    }

    /// Takes in `items` of `epoch`; `caps` makes the epoch's capabilities
    /// if none is held yet.
    pub(super) fn receive(
        &mut self,
        epoch: u64,
        caps: impl FnOnce() -> Caps,
        items: impl IntoIterator<Item = T>,
    ) {
        // Items never arrive before `closed_below`: it never passes the
        // input frontier.
        let epoch = epoch.max(self.closed_below);
        self.caps.entry(epoch).or_insert_with(caps);
        let mut count = 0;
        for item in items {
            self.waiting.push_back(Waiting {
                arrival: epoch,
                item,
            });
            count += 1;
        }
        if count > 0 {
            *self.waiting_epochs.entry(epoch).or_default() += count;
        }
    }

    /// The next item to call, if a slot is free: its sequence number and
    /// the item.
    pub(super) fn start_next(&mut self) -> Option<(u64, T)> {
        if self.slots.len() >= self.capacity {
            return None;
        }
        let Waiting { arrival, item } = self.waiting.pop_front()?;
        if let Some(count) = self.waiting_epochs.get_mut(&arrival) {
            *count -= 1;
            if *count == 0 {
                self.waiting_epochs.remove(&arrival);
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let input = self.keeps_inputs.then(|| item.clone());
        self.slots.insert(
            seq,
            Slot {
                arrival,
                input,
                result: None,
            },
        );
        Some((seq, item))
    }

    /// Records the outcome of call `seq`.
    pub(super) fn finish(&mut self, seq: u64, result: Result<Vec<U>, MapAsyncError>) {
        if let Some(slot) = self.slots.get_mut(&seq) {
            slot.result = Some(result);
        }
    }

    /// Takes the error of an ended call, if any, wherever it is in the
    /// order: a run that stops on errors does not wait for earlier calls.
    pub(super) fn take_error(&mut self) -> Option<MapAsyncError> {
        let seq = self
            .slots
            .iter()
            .find(|(_, slot)| matches!(slot.result, Some(Err(_))))
            .map(|(seq, _)| *seq)?;
        match self.slots.remove(&seq)?.result {
            Some(Err(err)) => Some(err),
            _ => None,
        }
    }

    /// Takes the outcomes that can be emitted now (all ended calls, or in
    /// order the ended ones before the first running one), each with the
    /// epoch to emit it at; their slots are freed.
    pub(super) fn take_ready(&mut self) -> Vec<Ready<U>> {
        let ended: Vec<u64> = match self.order {
            Order::Unordered => self
                .slots
                .iter()
                .filter(|(_, slot)| slot.result.is_some())
                .map(|(seq, _)| *seq)
                .collect(),
            Order::Ordered => self
                .slots
                .iter()
                .take_while(|(_, slot)| slot.result.is_some())
                .map(|(seq, _)| *seq)
                .collect(),
        };
        let mut ready = Vec::with_capacity(ended.len());
        for seq in ended {
            if let Some(Slot {
                arrival,
                result: Some(result),
                ..
            }) = self.slots.remove(&seq)
            {
                ready.push((arrival.max(self.closed_below), result));
            }
        }
        ready
    }

    /// The results capability of `epoch`, which something lives at.
    pub(super) fn data_cap(&self, epoch: u64) -> Option<&Capability<u64>> {
        self.caps.get(&epoch).map(|caps| &caps.data)
    }

    /// Without recovery: drops the capabilities of epochs nothing lives
    /// at any more, so that they close downstream.
    pub(super) fn release_idle(&mut self) {
        let closed_below = self.closed_below;
        let waiting = &self.waiting_epochs;
        let slots = &self.slots;
        self.caps.retain(|epoch, _| {
            waiting.contains_key(epoch)
                || slots
                    .values()
                    .any(|slot| slot.arrival.max(closed_below) == *epoch)
        });
    }

    /// With recovery: closes every epoch the input has moved past
    /// (`frontier`, `None` once it ended) whose items have all been
    /// started. For each, `snapshot(epoch, cap, inputs)` gets the inputs of
    /// the epochs up to it that still hold a slot, in arrival order; they
    /// then live at the next epoch. An epoch with items still in flight
    /// stays open once the input ended: they finish in it.
    ///
    /// # Errors
    ///
    /// The first error `snapshot` returns; the epoch is then left open.
    pub(super) fn close_epochs(
        &mut self,
        frontier: Option<u64>,
        mut snapshot: impl FnMut(u64, &Capability<u64>, Vec<&T>) -> Result<(), RunError>,
    ) -> Result<(), RunError> {
        while let Some((&epoch, _)) = self.caps.first_key_value() {
            if frontier.is_some_and(|least| epoch >= least) {
                break;
            }
            if self
                .waiting_epochs
                .first_key_value()
                .is_some_and(|(&first, _)| first <= epoch)
            {
                break;
            }
            // `epoch` is the first one held, so every slot of an epoch up
            // to it lives at it.
            let carried = self.slots.values().any(|slot| slot.arrival <= epoch);
            let next = match frontier {
                None if carried => break,
                None => epoch + 1,
                Some(least) => match self.caps.range(epoch + 1..).next() {
                    Some((&held, _)) => held.min(least),
                    None => least,
                },
            };
            let inputs: Vec<&T> = self
                .slots
                .values()
                .filter(|slot| slot.arrival <= epoch)
                .filter_map(|slot| slot.input.as_ref())
                .collect();
            let caps = &self.caps[&epoch];
            snapshot(epoch, &caps.snap, inputs)?;
            let Some(caps) = self.caps.remove(&epoch) else {
                break;
            };
            if carried && !self.caps.contains_key(&next) {
                self.caps.insert(next, caps.delayed(next));
            }
            self.closed_below = next;
        }
        Ok(())
    }
}

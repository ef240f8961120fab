//! Holding a step's input back until the epochs before it have closed.
//!
//! A snapshot taken when epoch `e` closes must reflect exactly the items
//! of epochs up to `e`. Items of a later epoch can reach a step before
//! epoch `e` has closed there (from another worker, say), so steps that
//! snapshot apply the items of epoch `t` only once the input frontier has
//! reached `t`: no item of an earlier epoch can still come. With the epoch
//! gate in front of the inputs this rarely holds anything back.

use std::collections::BTreeMap;

use timely::dataflow::operators::{Capability, InputCapability};

/// The items of one epoch and capabilities to emit at it on each output.
pub(crate) struct Held<D> {
    pub(crate) caps: Vec<Capability<u64>>,
    pub(crate) items: Vec<D>,
}

/// Items held by epoch until the input frontier reaches it.
pub(crate) struct EpochQueue<D> {
    pending: BTreeMap<u64, Held<D>>,
    outputs: usize,
}

impl<D> EpochQueue<D> {
    /// A queue for an operator with `outputs` output ports.
    pub(crate) fn new(outputs: usize) -> Self {
        EpochQueue {
            pending: BTreeMap::new(),
            outputs,
        }
    }

    /// Holds `items`, received with `cap`. Items sent without a capability
    /// (an empty stamp: none of the steps here do that) are dropped.
    pub(crate) fn push(&mut self, cap: &InputCapability<u64>, items: &mut Vec<D>) {
        let Some(&epoch) = cap.least() else {
            items.clear();
            return;
        };
        let outputs = self.outputs;
        let held = self.pending.entry(epoch).or_insert_with(|| Held {
            caps: (0..outputs).map(|port| cap.delayed(&epoch, port)).collect(),
            items: Vec::new(),
        });
        held.items.append(items);
    }

    /// Takes, in epoch order, the held epochs at or before `frontier` (the
    /// least epoch that may still arrive; `None` once the input is done).
    pub(crate) fn ready(&mut self, frontier: Option<u64>) -> Vec<(u64, Held<D>)> {
        let later = match frontier {
            Some(least) => self.pending.split_off(&(least.saturating_add(1))),
            None => BTreeMap::new(),
        };
        std::mem::replace(&mut self.pending, later)
            .into_iter()
            .collect()
    }
}

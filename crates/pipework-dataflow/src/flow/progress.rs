//! Backpressure by epoch: inputs read epoch `e` only once every output has
//! finished all epochs before it (as bytewax does).
//!
//! Each output step records the least epoch it may still receive (its input
//! frontier, which timely computes over all workers) and wakes the inputs
//! of its worker when that changes. An input about to read checks that no
//! output is still below its current epoch; otherwise it waits, without a
//! timer, for an output to wake it. So at most about one epoch of input is
//! in flight, and a slow step (or a slow worker across an exchange) slows
//! the sources instead of letting queues grow.

use std::cell::RefCell;

use timely::scheduling::Activator;

/// One worker's record of output frontiers and input activators.
#[derive(Debug, Default)]
pub(crate) struct EpochGate {
    /// Per output step: the least epoch it may still see; `None` once done.
    outputs: RefCell<Vec<Option<u64>>>,
    inputs: RefCell<Vec<Activator>>,
}

impl EpochGate {
    /// Registers an output step; returns its slot.
    pub(crate) fn add_output(&self) -> usize {
        let mut outputs = self.outputs.borrow_mut();
        outputs.push(Some(0));
        outputs.len() - 1
    }

    /// Registers the activator of an input step.
    pub(crate) fn add_input(&self, activator: Activator) {
        self.inputs.borrow_mut().push(activator);
    }

    /// Records output `slot`'s least pending epoch, waking inputs if it moved.
    pub(crate) fn advance_output(&self, slot: usize, least: Option<u64>) {
        let moved = {
            let mut outputs = self.outputs.borrow_mut();
            match outputs.get_mut(slot) {
                Some(current) if *current != least => {
                    *current = least;
                    true
                }
                _ => false,
            }
        };
        if moved {
            for input in self.inputs.borrow().iter() {
                input.activate();
            }
        }
    }

    /// Whether every output has finished all epochs before `epoch`.
    pub(crate) fn drained_before(&self, epoch: u64) -> bool {
        self.outputs
            .borrow()
            .iter()
            .all(|least| least.is_none_or(|least| least >= epoch))
    }
}

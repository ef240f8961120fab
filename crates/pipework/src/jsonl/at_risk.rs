//! Counting the work that a crash would lose: started, but not yet written.
//!
//! A unit of work (a key's call, a generated row) is *unwritten* from the
//! moment it starts until the writer acknowledges the batch that holds its
//! first row. The engines start new work only while fewer than their limit
//! are unwritten, which bounds what a crash costs; they wait for
//! acknowledgements with [`Writer::written`](super::write::Writer::written)
//! while [`is_waiting`](AtRisk::is_waiting) is true.

use std::collections::VecDeque;

/// Work started but not yet written, and the batches that will write it.
#[derive(Debug, Default)]
pub(crate) struct AtRisk {
    /// Batches sent but not yet acknowledged: sequence number, and how many
    /// units of work the batch writes.
    batches: VecDeque<(u64, usize)>,
    unwritten: usize,
}

impl AtRisk {
    /// A unit of work started.
    pub(crate) fn start(&mut self) {
        self.unwritten += 1;
    }

    /// A unit of work ended with nothing to write (it failed).
    pub(crate) fn drop_one(&mut self) {
        self.unwritten -= 1;
    }

    /// Batch `seq` was sent and writes `units` units of work.
    pub(crate) fn sent(&mut self, seq: u64, units: usize) {
        if units > 0 {
            self.batches.push_back((seq, units));
        }
    }

    /// Every batch up to `seq` is written.
    pub(crate) fn acked(&mut self, seq: u64) {
        while let Some(&(sent, units)) = self.batches.front() {
            if sent > seq {
                break;
            }
            self.batches.pop_front();
            self.unwritten -= units;
        }
    }

    /// Units of work started and not yet written.
    pub(crate) fn unwritten(&self) -> usize {
        self.unwritten
    }

    /// True if an acknowledgement from the writer would free some work.
    pub(crate) fn is_waiting(&self) -> bool {
        !self.batches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_unwritten_until_its_batch_is_acknowledged() {
        let mut at_risk = AtRisk::default();
        for _ in 0..3 {
            at_risk.start();
        }
        at_risk.drop_one();
        at_risk.sent(1, 1);
        at_risk.sent(2, 0);
        at_risk.sent(3, 1);
        assert_eq!(at_risk.unwritten(), 2);
        assert!(at_risk.is_waiting());
        at_risk.acked(2);
        assert_eq!(at_risk.unwritten(), 1);
        at_risk.acked(3);
        assert_eq!(at_risk.unwritten(), 0);
        assert!(!at_risk.is_waiting());
    }

    #[test]
    fn a_batch_that_writes_no_work_waits_for_no_acknowledgement() {
        let mut at_risk = AtRisk::default();
        // Rows of work already safe (a resumed key's, say): their ack frees nothing.
        at_risk.sent(1, 0);
        assert!(!at_risk.is_waiting());
        at_risk.start();
        at_risk.sent(2, 1);
        at_risk.sent(3, 0);
        at_risk.acked(2);
        assert_eq!(at_risk.unwritten(), 0);
        assert!(!at_risk.is_waiting());
    }
}

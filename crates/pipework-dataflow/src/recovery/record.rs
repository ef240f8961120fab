//! What stateful steps send to the recovery writers.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use timely::dataflow::StreamVec;

/// One message on the way to a recovery writer; its timely timestamp is
/// the epoch it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Record {
    /// The state of `key` in `step` at the end of the epoch (`None`: the
    /// state was discarded), to be stored in partition `part`.
    State {
        part: usize,
        step: String,
        key: String,
        state: Option<String>,
    },
    /// An input step finished in this epoch; one is sent to every worker,
    /// so that every writer knows the last epoch of the run.
    Finished {
        /// The worker it is for.
        worker: usize,
    },
}

impl Record {
    /// The worker that writes this record: the owner of its partition
    /// (partitions are dealt round-robin), or the addressee.
    pub(crate) fn worker(&self, workers: usize) -> u64 {
        let workers = workers.max(1);
        match self {
            Record::State { part, .. } => (part % workers) as u64,
            Record::Finished { worker } => (worker % workers) as u64,
        }
    }
}

/// The snapshot streams of one worker's dataflow, gathered while it is
/// built and wired to the writer at the end.
pub(crate) type SnapshotStreams<'scope> = Rc<RefCell<Vec<StreamVec<'scope, u64, Record>>>>;

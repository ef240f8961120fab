//! The handle a dataflow's build function receives on each worker.

use std::fmt;
use std::rc::Rc;

use timely::dataflow::Scope;

use super::WorkerContext;
use crate::recovery::SnapshotStreams;

/// One worker's builder: add inputs with [`Flow::input`] or
/// [`Flow::input_dynamic`], then chain operators on the returned
/// [`Stream`](super::Stream)s.
pub struct Flow<'scope> {
    pub(crate) scope: Scope<'scope, u64>,
    pub(crate) ctx: Rc<WorkerContext>,
    /// Where stateful steps put their snapshot streams (with recovery on).
    pub(crate) snapshots: SnapshotStreams<'scope>,
}

impl fmt::Debug for Flow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("flow", &self.ctx.flow)
            .field("worker_index", &self.ctx.worker_index)
            .field("worker_count", &self.ctx.worker_count)
            .finish()
    }
}

impl<'scope> Flow<'scope> {
    /// The global index of the worker building this copy.
    pub fn worker_index(&self) -> usize {
        self.ctx.worker_index
    }

    /// The total number of workers across all processes.
    pub fn worker_count(&self) -> usize {
        self.ctx.worker_count
    }

    /// The dataflow's name.
    pub fn name(&self) -> &str {
        &self.ctx.flow
    }
}

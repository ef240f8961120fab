//! A stream of items between two steps.

use std::fmt;
use std::rc::Rc;

use timely::dataflow::StreamVec;

use super::WorkerContext;
use crate::recovery::SnapshotStreams;

/// The items flowing out of a step, on one worker. Operators
/// ([`map`](Stream::map), [`key_on`](Stream::key_on),
/// [`stateful_map`](Stream::stateful_map), [`output`](Stream::output), …)
/// consume it and return the next stream.
///
/// A stream of `(String, V)` is a *keyed* stream: `stateful_map` and
/// `output_partitioned` route its items by key.
pub struct Stream<'scope, T> {
    pub(crate) inner: StreamVec<'scope, u64, T>,
    pub(crate) ctx: Rc<WorkerContext>,
    pub(crate) snapshots: SnapshotStreams<'scope>,
}

/// Cloning a stream sends every item to both copies, so items must be `Clone`.
impl<T: Clone + 'static> Clone for Stream<'_, T> {
    fn clone(&self) -> Self {
        Stream {
            inner: self.inner.clone(),
            ctx: Rc::clone(&self.ctx),
            snapshots: Rc::clone(&self.snapshots),
        }
    }
}

impl<T> fmt::Debug for Stream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("flow", &self.ctx.flow)
            .finish_non_exhaustive()
    }
}

impl<'scope, T: 'static> Stream<'scope, T> {
    /// The underlying timely stream (timestamps are epochs), to use timely's
    /// own operators. Errors and panics in those are not caught per step.
    pub fn into_timely(self) -> StreamVec<'scope, u64, T> {
        self.inner
    }
}

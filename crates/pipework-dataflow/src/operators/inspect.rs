//! Looking at items without changing them.

use crate::flow::Stream;

impl<'scope, T: 'static> Stream<'scope, T> {
    /// Calls `f` on each item and passes the items on unchanged, for logging
    /// and debugging. A panic in `f` fails the run naming `step_id`.
    pub fn inspect(self, step_id: &str, mut f: impl FnMut(&T) + 'static) -> Stream<'scope, T> {
        self.unary_step(step_id, move |batch, out| {
            batch.iter().for_each(&mut f);
            *out = batch;
            Ok(())
        })
    }
}

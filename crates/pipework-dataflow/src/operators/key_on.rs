//! Making a keyed stream.

use crate::flow::Stream;

impl<'scope, T: 'static> Stream<'scope, T> {
    /// Pairs each item with the key `key` computes, giving a keyed stream of
    /// `(key, item)` for [`stateful_map`](Stream::stateful_map) and
    /// [`output_partitioned`](Stream::output_partitioned).
    pub fn key_on(
        self,
        step_id: &str,
        mut key: impl FnMut(&T) -> String + 'static,
    ) -> Stream<'scope, (String, T)> {
        self.unary_step(step_id, move |batch, out| {
            out.extend(batch.into_iter().map(|item| (key(&item), item)));
            Ok(())
        })
    }
}

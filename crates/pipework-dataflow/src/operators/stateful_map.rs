//! A map with state per key.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::ExchangeData;

use crate::flow::{guarded, Stream};
use crate::routing::stable_hash;

impl<'scope, V: ExchangeData> Stream<'scope, (String, V)> {
    /// Maps each value with state kept per key (bytewax's `stateful_map`).
    ///
    /// Items are routed by a stable hash of the key, so all values of a key
    /// meet on one worker (in any process), in the order they reach it. For
    /// each value `mapper(state, value)` gets the key's state (`None` the
    /// first time) and returns the new state (`None` forgets the key) and the
    /// output, emitted as `(key, output)`.
    ///
    /// Values cross threads and processes, so they must be
    /// [`ExchangeData`] (`Send + Serialize + Deserialize`); the state must be
    /// serializable so that a recovery store can snapshot it.
    pub fn stateful_map<S, W, F>(self, step_id: &str, mut mapper: F) -> Stream<'scope, (String, W)>
    where
        S: Serialize + DeserializeOwned + 'static,
        W: 'static,
        F: FnMut(Option<S>, V) -> (Option<S>, W) + 'static,
    {
        self.ctx.register_step(step_id);
        let failure = Arc::clone(&self.ctx.failure);
        let name = step_id.to_owned();
        let route = Exchange::new(|(key, _): &(String, V)| stable_hash(key));
        let Stream { inner, ctx } = self;
        let inner = inner.unary::<CapacityContainerBuilder<Vec<(String, W)>>, _, _, _>(
            route,
            step_id,
            move |_capability, _info| {
                let mut states: HashMap<String, S> = HashMap::new();
                let mut produced = Vec::new();
                move |input, output| {
                    input.for_each(|capability, data| {
                        let batch = std::mem::take(data);
                        if failure.is_failed() {
                            return;
                        }
                        let done = guarded(&failure, &name, || {
                            for (key, value) in batch {
                                let (state, out) = mapper(states.remove(&key), value);
                                if let Some(state) = state {
                                    states.insert(key.clone(), state);
                                }
                                produced.push((key, out));
                            }
                        });
                        if done.is_some() && !produced.is_empty() {
                            output.session(&capability).give_container(&mut produced);
                        }
                        produced.clear();
                    });
                }
            },
        );
        Stream { inner, ctx }
    }
}

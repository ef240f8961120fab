//! The guarded record-by-record operator that `map`, `filter`, `flat_map`,
//! `inspect` and `key_on` are built on.

use std::sync::Arc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

use crate::execution::RunError;
use crate::flow::{guarded, Stream};
use crate::inputs::BoxError;

impl<'scope, T: 'static> Stream<'scope, T> {
    /// A step that turns each batch of items into a batch of outputs on the
    /// worker where they are. An error or panic in `logic` fails the run
    /// naming `step`; once the run has failed, batches are dropped.
    pub(crate) fn unary_step<U: 'static>(
        self,
        step: &str,
        mut logic: impl FnMut(Vec<T>, &mut Vec<U>) -> Result<(), BoxError> + 'static,
    ) -> Stream<'scope, U> {
        self.ctx.register_step(step);
        let failure = Arc::clone(&self.ctx.failure);
        let name = step.to_owned();
        let Stream {
            inner,
            ctx,
            snapshots,
        } = self;
        let inner = inner.unary::<CapacityContainerBuilder<Vec<U>>, _, _, _>(
            Pipeline,
            step,
            move |_capability, _info| {
                let mut produced = Vec::new();
                move |input, output| {
                    input.for_each(|capability, data| {
                        let batch = std::mem::take(data);
                        if failure.is_failed() {
                            return;
                        }
                        match guarded(&failure, &name, || logic(batch, &mut produced)) {
                            Some(Ok(())) if !produced.is_empty() => {
                                output.session(&capability).give_container(&mut produced);
                            }
                            Some(Ok(())) | None => {}
                            Some(Err(source)) => failure.fail(RunError::Step {
                                step: name.clone(),
                                source,
                            }),
                        }
                        produced.clear();
                    });
                }
            },
        );
        Stream {
            inner,
            ctx,
            snapshots,
        }
    }
}

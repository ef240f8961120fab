//! Spreading items evenly over all workers.

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::ExchangeData;

use crate::flow::Stream;

impl<'scope, T: ExchangeData> Stream<'scope, T> {
    /// Deals items round-robin to all workers (bytewax's `redistribute`).
    ///
    /// Use it after a source with fewer partitions than workers and before
    /// CPU-heavy steps, so that every worker shares the work. Items cross
    /// threads and processes, so they must be [`ExchangeData`]; their order
    /// is not kept.
    pub fn redistribute(self, step_id: &str) -> Stream<'scope, T> {
        self.ctx.register_step(step_id);
        let Stream {
            inner,
            ctx,
            snapshots,
        } = self;
        let mut next = ctx.worker_index as u64;
        let deal = Exchange::new(move |_: &T| {
            next = next.wrapping_add(1);
            next
        });
        let inner = inner.unary::<CapacityContainerBuilder<Vec<T>>, _, _, _>(
            deal,
            step_id,
            |_capability, _info| {
                |input, output| {
                    input.for_each(|capability, data| {
                        output.session(&capability).give_container(data);
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

//! Building dataflows: a [`Dataflow`] is a name and a function that wires
//! steps on a [`Flow`]; each step returns a [`Stream`].
//!
//! # The model
//!
//! A dataflow is a graph of *steps*, each with an id unique in the dataflow
//! (errors name it). It starts at one or more inputs (sources), goes through
//! operators, and ends at outputs (sinks). The build function runs on every
//! worker, so the same graph exists on each; sources are split into
//! partitions dealt to workers, record-by-record steps run where the item
//! is, and keyed steps route each key to one worker.
//!
//! # Epochs
//!
//! Inputs stamp items with an *epoch*, a timely timestamp that advances every
//! epoch interval ([`ExecutionConfig::epoch_interval`](crate::ExecutionConfig::epoch_interval)).
//! An epoch closes when every input has moved past it; that is where a
//! recovery layer snapshots source partitions, stateful steps and sinks
//! together. Operators here do not wait for epochs to close: items flow on
//! as soon as they are read (with recovery on, `stateful_map` and
//! partitioned outputs apply an epoch's items once the epochs before it
//! have closed there, so that each snapshot holds exactly its epochs). Epochs are also the backpressure: an input
//! starts reading epoch `e` only when every output has finished the epochs
//! before it, so about one epoch of input is in flight at most (lower the
//! interval to hold less).
//!
//! # Example
//!
//! ```
//! use pipework_dataflow::connectors::{TestingSink, TestingSource};
//! use pipework_dataflow::{run, Dataflow, ExecutionConfig};
//!
//! let out = TestingSink::new();
//! let sink = out.clone();
//! let flow = Dataflow::new("running_sum", move |flow| {
//!     flow.input("inp", TestingSource::new(vec![("a", 1), ("b", 10), ("a", 2)]))
//!         .map("own", |(k, v): (&str, i64)| (k.to_owned(), v))
//!         .stateful_map("sum", |sum: Option<i64>, v: i64| {
//!             let sum = sum.unwrap_or(0) + v;
//!             (Some(sum), sum)
//!         })
//!         .output("out", sink.clone());
//! });
//! run(&flow, &ExecutionConfig::single())?;
//! let mut items = out.items();
//! items.sort();
//! assert_eq!(items, vec![("a".into(), 1), ("a".into(), 3), ("b".into(), 10)]);
//! # Ok::<(), pipework_dataflow::RunError>(())
//! ```

mod builder;
mod context;
mod dataflow;
mod progress;
mod stream;

pub use builder::Flow;
pub(crate) use context::{guarded, WorkerContext};
pub use dataflow::Dataflow;
pub(crate) use progress::EpochGate;
pub use stream::Stream;

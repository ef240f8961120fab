//! The steps of a dataflow, one family per file: inputs (on
//! [`Flow`](crate::Flow)), record-by-record maps, `inspect`, `key_on`,
//! `stateful_map`, `redistribute` and outputs (on [`Stream`](crate::Stream)).
//!
//! Every step takes an id, unique within the dataflow, that errors name.
//! User functions are `'static` closures that run on the worker thread
//! holding the item; they need not be `Send`, because each worker builds its
//! own copy of the dataflow. Items that cross workers (`stateful_map`,
//! `output_partitioned`) must be [`ExchangeData`](timely::ExchangeData).
//! A panic or error in a user function fails the run naming the step.

mod dirty;
mod epoch_queue;
mod input;
mod input_readers;
mod inspect;
mod key_on;
mod map;
mod map_async;
mod output;
mod redistribute;
mod stateful_map;
mod step;

pub(crate) use map_async::WorkerRuntime;
pub use map_async::{
    MapAsyncError, MapAsyncOptions, OnError, Order, SkipCount, DEFAULT_CAPACITY,
    DEFAULT_MAX_RETRY_DELAY,
};

//! Bounded async calls inside a dataflow: [`Stream::map_async`](crate::Stream::map_async)
//! and [`Stream::flat_map_async`](crate::Stream::flat_map_async).
//!
//! A step that calls a service per item (enrich, geocode, classify) would
//! block its worker on every call with `map`: one call at a time, so 10 ms
//! calls cap a worker at 100 items/s. `map_async` runs the calls as tokio
//! tasks, up to a capacity at a time on each worker, as Flink's async I/O
//! operator does, while the worker goes on moving items.
//!
//! The model (calls, capacity and order, epochs and backpressure,
//! recovery, cost) is in the crate docs, section "Calls with `map_async`"
//! (the README).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use pipework_dataflow::connectors::{TestingSink, TestingSource};
//! use pipework_dataflow::{run, Dataflow, ExecutionConfig, MapAsyncOptions, OnError};
//!
//! let out = TestingSink::new();
//! let sink = out.clone();
//! let options = MapAsyncOptions::new().capacity(100).on_error(OnError::Skip);
//! let skipped = options.skipped();
//! let flow = Dataflow::new("geocode", move |flow| {
//!     flow.input("inp", TestingSource::new(0..200u32))
//!         .map_async("lookup", options.clone(), |n: u32| async move {
//!             tokio::time::sleep(Duration::from_millis(5)).await;
//!             if n % 50 == 0 { Err(format!("no place for {n}")) } else { Ok(n) }
//!         })
//!         .output("out", sink.clone());
//! });
//! run(&flow, &ExecutionConfig::single())?;
//! assert_eq!(out.items().len(), 196);
//! assert_eq!(skipped.get(), 4);
//! # Ok::<(), pipework_dataflow::RunError>(())
//! ```

mod call;
mod error;
mod operator;
mod options;
mod pending;
mod runtime;
mod snapshot;

pub use error::MapAsyncError;
pub use options::{
    MapAsyncOptions, OnError, Order, SkipCount, DEFAULT_CAPACITY, DEFAULT_MAX_RETRY_DELAY,
};
pub(crate) use runtime::WorkerRuntime;

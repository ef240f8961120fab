#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]
#![warn(missing_docs)]
#![deny(unused_must_use)]

pub mod connectors;
mod execution;
mod flow;
pub mod inputs;
mod operators;
pub mod outputs;
pub mod recovery;
mod routing;

#[cfg(feature = "cli")]
pub use execution::ExecutionArgs;
pub use execution::{
    run, Cluster, ConfigError, ExecutionConfig, RunError, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_EPOCH_INTERVAL,
};
pub use flow::{Dataflow, Flow, Stream};
pub use operators::{
    MapAsyncError, MapAsyncOptions, OnError, Order, SkipCount, DEFAULT_CAPACITY,
    DEFAULT_MAX_RETRY_DELAY,
};
pub use timely::ExchangeData;

//! Running dataflows on timely-dataflow: one worker in the calling thread,
//! N worker threads, or M processes × N threads over TCP.
//!
//! # Layouts
//!
//! [`ExecutionConfig`] describes the layout; [`ExecutionArgs`] reads it from
//! the command line (`-w`, `-i`, `-a`, as bytewax's `python -m bytewax.run`)
//! or the environment (`PIPEWORK_WORKERS_PER_PROCESS`, `PIPEWORK_PROCESS_ID`,
//! `PIPEWORK_ADDRESSES`), so every dataflow binary scales the same way:
//!
//! ```text
//! my-flow -w 2                                   # 2 threads
//! my-flow -w 2 -i 0 -a "host1:2101;host2:2101"   # on host1
//! my-flow -w 2 -i 1 -a "host1:2101;host2:2101"   # on host2
//! ```
//!
//! Source partitions are dealt to the workers of all processes
//! deterministically and evenly; keyed steps route by a stable hash of the
//! key, the same in every process.
//!
//! # Failure
//!
//! The first error or panic in any step is recorded, every worker of the
//! process stops at its next scheduling step, and [`run`] returns that
//! error naming the step. In a cluster, the failing process drops its
//! connections uncleanly, so the other processes stop too and return
//! [`RunError::PeerFailed`]; a process that dies (killed, crashed) has the
//! same effect. Nothing waits forever for a failed worker. Starting a
//! cluster waits for every process to connect, up to the connect timeout
//! (60 s by default), and checks that all run the same number of workers.
//!
//! # Example
//!
//! ```
//! use pipework_dataflow::connectors::{TestingSink, TestingSource};
//! use pipework_dataflow::{run, Dataflow, ExecutionArgs};
//!
//! let out = TestingSink::new();
//! let sink = out.clone();
//! let flow = Dataflow::new("double", move |flow| {
//!     flow.input("inp", TestingSource::new(0..4))
//!         .map("double", |x: u32| x * 2)
//!         .output("out", sink.clone());
//! });
//! let args = ExecutionArgs::try_parse_from(["double", "-w", "2"]).expect("valid options");
//! run(&flow, &args.to_config()?)?;
//! let mut items = out.items();
//! items.sort();
//! assert_eq!(items, vec![0, 2, 4, 6]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "cli")]
mod args;
mod config;
mod error;
mod failure;
mod network;
mod peer_failure;
mod run;
mod worker;

#[cfg(feature = "cli")]
pub use args::ExecutionArgs;
pub use config::{Cluster, ExecutionConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EPOCH_INTERVAL};
pub use error::{ConfigError, RunError};
pub(crate) use failure::Failure;
pub use run::run;

//! The scenarios of the benchmark contract, one file each. A file holds the
//! workload (sizes, check value, ideal time, input file) and the Rust code
//! of each Rust system; Python peers are scripts in `peers/`. `scaling.rs`
//! lists the larger sizes of a `--scaling` run.

mod bounded_tasks;
mod buffered_sleep;
mod buffered_trivial;
mod cli_per_key;
mod count_sink;
mod dataflow_async;
mod dataflow_file;
#[cfg(feature = "kafka")]
mod dataflow_kafka;
mod dataflow_recovery;
mod jsonl_map;
mod jsonl_map_keys;
mod jsonl_resume;
mod pipeline_endless_rss;
mod pipeline_io;
mod pipeline_trivial;
mod registry;
mod run_bounded_sleep;
mod run_bounded_trivial;
mod scaling;

pub(crate) use registry::{find, names, ALL, WAITING};
pub(crate) use scaling::{Scaling, NOT_RUN};

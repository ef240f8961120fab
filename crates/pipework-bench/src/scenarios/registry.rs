//! The list of scenarios, in the contract's order.

#[cfg(feature = "kafka")]
use super::dataflow_kafka;
use super::{
    buffered_sleep, buffered_trivial, cli_per_key, dataflow_async, dataflow_file,
    dataflow_recovery, jsonl_map, jsonl_map_keys, jsonl_resume, pipeline_endless_rss, pipeline_io,
    pipeline_trivial, run_bounded_sleep, run_bounded_trivial,
};
use crate::scenario::Scenario;

/// Every scenario that has at least one system.
pub(crate) const ALL: &[&Scenario] = &[
    &pipeline_trivial::SCENARIO,
    &pipeline_io::SCENARIO,
    &pipeline_endless_rss::SCENARIO,
    &run_bounded_trivial::SCENARIO,
    &run_bounded_sleep::SCENARIO,
    &buffered_trivial::SCENARIO,
    &buffered_sleep::SCENARIO,
    &jsonl_map::SCENARIO,
    &jsonl_map_keys::SCENARIO,
    &jsonl_resume::SCENARIO,
    &jsonl_resume::WIDE,
    &cli_per_key::SCENARIO,
    &cli_per_key::RERUN,
    &dataflow_file::SCENARIO,
    &dataflow_recovery::SCENARIO,
    &dataflow_async::SCENARIO,
    #[cfg(feature = "kafka")]
    &dataflow_kafka::SCENARIO,
];

/// Contract scenarios with no system yet, and the layer they wait for.
/// Naming one runs nothing (it is not an unknown name).
#[cfg(feature = "kafka")]
pub(crate) const WAITING: &[(&str, &str)] = &[];

/// Contract scenarios with no system yet, and the layer they wait for.
/// Naming one runs nothing (it is not an unknown name).
#[cfg(not(feature = "kafka"))]
pub(crate) const WAITING: &[(&str, &str)] = &[("dataflow-kafka", "the `kafka` feature")];

/// The scenario called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().copied().find(|scenario| scenario.name == name)
}

/// Every scenario name the contract has, runnable or waiting.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter()
        .map(|scenario| scenario.name)
        .chain(WAITING.iter().map(|(name, _)| *name))
}

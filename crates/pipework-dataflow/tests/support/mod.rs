//! Shared test support.

pub(crate) mod bounded_run;
pub(crate) mod cluster;
pub(crate) mod example;
pub(crate) mod partitions;

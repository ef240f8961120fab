//! Shared test support.

pub(crate) mod cluster;

//! What the fault searches (`pipeline_faults_proptest.rs`,
//! `stream_faults_proptest.rs`) plant, and how many cases they run.

#![allow(dead_code, unreachable_pub)]

/// What a planted fault does where it is planted (a step, a stage's
/// stream, a source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// An `Err` instead of the item.
    Error,
    /// A panic at the item.
    Panic,
}

/// Cases per property: `PIPEWORK_FAULT_CASES`, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PIPEWORK_FAULT_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

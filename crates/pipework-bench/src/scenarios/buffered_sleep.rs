//! `buffered-sleep`: the asyncio-buffered-pipeline README example, scaled
//! down: three stages (range, `× 2`, `+ 3`), each sleeping 50 ms per item,
//! 10 items. Unbuffered it takes `3 × 10 × 50 ms` = 1.5 s; with every stage
//! on its own task the ideal is `(10 + 2) × 50 ms` = 0.600 s. The size stays
//! 10 with `--quick`: the run is short already, and the overlap is the point.

use crate::scenario::{Runner, Scenario, System};

/// Stages in the chain.
pub(crate) const STAGES: u64 = 3;
/// Sleep per item in every stage, in seconds.
pub(crate) const SLEEP: f64 = 0.050;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "buffered-sleep",
    work: "3 buffered stages × 50 ms per item",
    sizes: &[10],
    quick_sizes: &[10],
    ideal_seconds: Some(ideal),
    check: super::buffered_trivial::check,
    input: None,
    systems: &[System {
        name: "asyncio-buffered-pipeline",
        runner: Runner::Python {
            script: "asyncio_buffered_pipeline_sleep.py",
            divisor: 1,
        },
    }],
};

fn ideal(items: u64) -> f64 {
    (items + STAGES - 1) as f64 * SLEEP
}

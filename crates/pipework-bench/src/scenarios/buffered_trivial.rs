//! `buffered-trivial`: three buffered stages, the shape of the
//! asyncio-buffered-pipeline README (yield `0..N`, then `× 2`, then `+ 3`),
//! each stage on its own task with a buffer of one. Measures the per-item
//! cost of a stage hand-off.

use crate::scenario::{sum_below, Runner, Scenario, System};

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "buffered-trivial",
    work: "3 buffered stages (range, ×2, +3), buffer 1",
    sizes: &[1_000_000],
    quick_sizes: &[10_000],
    ideal_seconds: None,
    check,
    input: None,
    systems: &[System {
        name: "asyncio-buffered-pipeline",
        runner: Runner::Python {
            script: "asyncio_buffered_pipeline_trivial.py",
            divisor: 10,
        },
    }],
};

/// The sum of the outputs: each input `i` comes out as `2i + 3`.
pub(crate) fn check(n: u64) -> u64 {
    2 * sum_below(n) + 3 * n
}

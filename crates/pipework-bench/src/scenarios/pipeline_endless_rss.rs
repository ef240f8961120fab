//! `pipeline-endless-rss`: does memory stay flat when a lazy source is much
//! longer and faster than the pipeline? A lazy source of N 256-byte payloads
//! feeds one slow step (a serial hash over every byte, about a third of a
//! microsecond); the figure that matters is the peak RSS, which must not
//! grow with N: the 10M-item run against the 10k-item one.

use std::hint::black_box;
use std::time::Instant;

use pipework::pipeline::Pipeline;

use crate::measure::{Job, Measurement, Tally};
use crate::scenario::{Runner, Scenario, System};

/// Bytes per payload.
const PAYLOAD: usize = 256;
/// Sum of the bytes of every payload: byte `j` of payload `i` is
/// `(i + j) mod 256`, so each payload holds every byte value once.
const PAYLOAD_SUM: u64 = 255 * 256 / 2;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "pipeline-endless-rss",
    work: "lazy source of 256-byte items, one slow step; peak RSS vs N",
    sizes: &[10_000, 10_000_000],
    quick_sizes: &[100, 100_000],
    ideal_seconds: None,
    check,
    input: None,
    systems: &[System {
        name: "pipework",
        runner: Runner::Rust(pipework),
    }],
};

fn check(n: u64) -> u64 {
    n * PAYLOAD_SUM
}

fn payload(i: u64) -> Vec<u8> {
    (0..PAYLOAD).map(|j| (i as usize + j) as u8).collect()
}

/// The slow step: an FNV-1a hash over the payload, one multiply per byte in
/// a serial chain, kept alive by `black_box`; returns the byte sum.
fn slow_sum(payload: Vec<u8>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in &payload {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    black_box(hash);
    payload.iter().map(|&byte| u64::from(byte)).sum()
}

fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    let start = Instant::now();
    let mut pipeline = Pipeline::new().map(slow_sum);
    pipeline.put_iter((0..job.items).map(payload));
    Ok(Tally::of(pipeline.outputs()?)?.measurement(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_sums_to_the_same_value() {
        for i in [0, 1, 255, 256, 9_999_999] {
            assert_eq!(slow_sum(payload(i)), PAYLOAD_SUM);
        }
    }
}

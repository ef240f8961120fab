//! `jsonl-map-keys`: `jsonl-map` with as many keys as rows, so a fresh run's
//! memory per key shows: N rows `{"id": i, "text": "row i"}`, the same
//! trivial function, 64 calls at once.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::scenario::{sum_below, Runner, Scenario, System};

use super::jsonl_map;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "jsonl-map-keys",
    work: "map_by_key over N rows, N keys, trivial async f, 64 at once (fresh-run memory per key)",
    sizes: &[1_000_000],
    quick_sizes: &[10_000],
    ideal_seconds: None,
    check,
    input: Some(write_input),
    systems: &[System {
        name: "pipework",
        runner: Runner::Rust(jsonl_map::pipework),
    }],
};

/// The sum of `double` over the output rows.
fn check(rows: u64) -> u64 {
    2 * sum_below(rows)
}

fn write_input(rows: u64, path: &Path) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for i in 0..rows {
        writeln!(out, r#"{{"id": {i}, "text": "row {i}"}}"#)?;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()
}

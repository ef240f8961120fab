//! `jsonl-map`: map a JSONL file by key. The input has N rows
//! `{"id": i % (N / 10), "text": "row i"}` (so N / 10 distinct keys); the
//! async function is called once per key with 64 calls at once and returns
//! `{"double": 2 × id}`; every source row gets an output row with `text`
//! kept. Measures the file, key-cache and ordering machinery around a
//! trivial call.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::scenario::{Runner, Scenario, System};

/// Rows per distinct key.
pub(crate) const ROWS_PER_KEY: u64 = 10;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "jsonl-map",
    work: "map_by_key over N rows, N/10 keys, trivial async f, 64 at once",
    sizes: &[100_000],
    quick_sizes: &[1_000],
    ideal_seconds: None,
    check,
    input: Some(write_input),
    systems: &[System {
        name: "abstractions",
        runner: Runner::Python {
            script: "abstractions_jsonl_map.py",
            divisor: 1,
        },
    }],
};

/// Distinct keys among `rows` rows.
pub(crate) fn keys(rows: u64) -> u64 {
    (rows / ROWS_PER_KEY).max(1)
}

/// The sum of `double` over the output rows.
fn check(rows: u64) -> u64 {
    let keys = keys(rows);
    (0..rows).map(|i| 2 * (i % keys)).sum()
}

fn write_input(rows: u64, path: &Path) -> io::Result<()> {
    let keys = keys(rows);
    let mut out = BufWriter::new(File::create(path)?);
    for i in 0..rows {
        writeln!(out, r#"{{"id": {}, "text": "row {i}"}}"#, i % keys)?;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_has_one_line_per_row_and_a_tenth_as_many_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.jsonl");
        write_input(1000, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<u64> = text
            .lines()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids.len(), 1000);
        let distinct: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
        assert_eq!(distinct.len() as u64, keys(1000));
        assert_eq!(check(1000), ids.iter().map(|id| 2 * id).sum::<u64>());
    }
}

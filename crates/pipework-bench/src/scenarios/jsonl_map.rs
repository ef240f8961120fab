//! `jsonl-map`: map a JSONL file by key. The input has N rows
//! `{"id": i % (N / 10), "text": "row i"}` (so N / 10 distinct keys); the
//! async function is called once per key with 64 calls at once and returns
//! `{"double": 2 × id}`; every source row gets an output row with `text`
//! kept. Measures the file, key-cache and ordering machinery around a
//! trivial call.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use pipework::jsonl::{map_by_key, MapOptions, Row};
use serde_json::Value;

use crate::measure::{Job, Measurement};
use crate::scenario::{Runner, Scenario, System};

/// Calls of the function at once.
const CONCURRENCY: usize = 64;

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
    systems: &[
        System {
            name: "pipework",
            runner: Runner::Rust(pipework),
        },
        System {
            name: "abstractions",
            runner: Runner::Python {
                script: "abstractions_jsonl_map.py",
                divisor: 1,
            },
        },
        System {
            name: "pipework-py",
            runner: Runner::PipeworkPy {
                script: "abstractions_jsonl_map.py",
                divisor: 1,
            },
        },
    ],
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

/// The scenario's function: `{"double": 2 × id}`.
async fn double(row: Row) -> Result<Row, String> {
    let id = row
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("row without a whole-number id: {row:?}"))?;
    let mut out = Row::new();
    out.insert("double".to_owned(), (2 * id).into());
    Ok(out)
}

/// Maps the input with 64 calls at once (shared with `jsonl-map-keys`).
pub(crate) fn pipework(job: &Job) -> anyhow::Result<Measurement> {
    let src = job.input()?;
    let dir = tempfile::Builder::new()
        .prefix("pipework-bench-")
        .tempdir()?;
    let dst = dir.path().join("out.jsonl");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let options = MapOptions::new("id")
        .keep_columns(["text"])
        .concurrency(CONCURRENCY);
    let start = Instant::now();
    runtime.block_on(map_by_key(src, &dst, double, options))?;
    let seconds = start.elapsed().as_secs_f64();
    let (items, check) = read_output(&dst)?;
    Ok(Measurement {
        items,
        check,
        seconds,
        bytes: None,
    })
}

/// Rows in the output and the sum of their `double`.
fn read_output(path: &Path) -> anyhow::Result<(u64, u64)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (mut rows, mut sum) = (0u64, 0u64);
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        let row: Row = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a JSON object", path.display(), number + 1))?;
        let double = row.get("double").and_then(Value::as_u64).with_context(|| {
            format!("{}:{}: no whole-number double", path.display(), number + 1)
        })?;
        rows += 1;
        sum += double;
    }
    Ok((rows, sum))
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

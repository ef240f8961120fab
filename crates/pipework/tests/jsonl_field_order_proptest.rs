//! Property: a resume of `map_by_key` does not depend on the order of the
//! fields in the destination's rows. Whatever tool rewrote them (sorted as
//! `jq -S` writes them, or shuffled), a rerun over a destination cut to any
//! prefix of whole rows writes the rows a fresh run writes and calls no key
//! it already has.
#![cfg(feature = "jsonl")]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use pipework::jsonl::{map_by_key, MapOptions, Row};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::Calls;

/// The key column.
const KEY: &str = "m";

/// Columns a source row may have and a run may keep: `a` and `b` sort
/// before the key, `score` and `tag` are named like fields `f` returns, `z`
/// is neither.
const COLUMNS: [&str; 5] = ["a", "b", "score", "tag", "z"];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// `f`: fields that depend on the row it is given (so a key's later rows
/// can only get them from its first), some named like kept columns, which
/// fields depending on the key.
fn result_of(row: &Row) -> Row {
    let key = row[KEY].as_i64().unwrap_or(0);
    let seen = |name: &str| row.get(name).cloned().unwrap_or(Value::Null);
    let mut out = Row::new();
    out.insert("score".into(), json!([key, seen("z")]));
    if key % 2 == 0 {
        out.insert("tag".into(), json!(format!("t{key}")));
    }
    if key % 3 == 0 {
        out.insert("a".into(), json!({"from f": seen("a")}));
    }
    if key % 4 == 1 {
        out.insert("extra".into(), seen("b"));
    }
    out
}

/// One source row: its key and, for each of [`COLUMNS`], a value or none.
fn source_row() -> impl Strategy<Value = (i64, Vec<Option<u8>>)> {
    (
        0i64..7,
        prop::collection::vec(prop::option::of(0u8..4), COLUMNS.len()),
    )
}

/// How the cut destination's rows are rewritten.
#[derive(Debug, Clone, Copy)]
enum Rewrite {
    /// Fields sorted by name, with `json.dumps`' spacing.
    Sorted,
    /// Fields in an order drawn from this seed.
    Shuffled(u64),
}

fn rewrite_line(line: &str, how: Rewrite, salt: usize) -> String {
    // Without serde_json's `preserve_order`, a parsed row is sorted by name.
    let row: BTreeMap<String, Value> = serde_json::from_str(line).unwrap();
    let mut fields: Vec<(String, Value)> = row.into_iter().collect();
    let separator = match how {
        Rewrite::Sorted => ", ",
        Rewrite::Shuffled(seed) => {
            // A small xorshift: the order is drawn, and shrinks with the seed.
            let mut state = seed
                .wrapping_add(salt as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                | 1;
            for i in (1..fields.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                fields.swap(i, (state % (i as u64 + 1)) as usize);
            }
            ","
        }
    };
    let text: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}: {value}", Value::from(name.as_str())))
        .collect();
    format!("{{{}}}\n", text.join(separator))
}

fn write_source(path: &Path, rows: &[(i64, Vec<Option<u8>>)]) {
    let text: String = rows
        .iter()
        .map(|(key, values)| {
            let mut row = Row::new();
            row.insert(KEY.into(), json!(key));
            for (name, value) in COLUMNS.iter().zip(values) {
                if let Some(v) = value {
                    row.insert((*name).into(), json!(format!("{name}{v}")));
                }
            }
            format!("{}\n", Value::Object(row))
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

fn options(keep: &[&str], cache_bytes: usize) -> MapOptions {
    MapOptions::new(KEY)
        .keep_columns(keep.iter().copied())
        .concurrency(2)
        .cache_bytes(cache_bytes)
}

/// The rows of a file, each as its canonical JSON text, sorted.
fn row_set(text: &str) -> Vec<String> {
    let mut rows: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string())
        .collect();
    rows.sort();
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_resume_writes_a_fresh_runs_rows_whatever_the_order_of_dsts_fields(
        src_rows in prop::collection::vec(source_row(), 1..24),
        keep_mask in prop::collection::vec(any::<bool>(), COLUMNS.len()),
        cut in 0.0f64..=1.0,
        sorted in any::<bool>(),
        seed in any::<u64>(),
        small_cache in any::<bool>(),
    ) {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.jsonl");
        write_source(&src, &src_rows);
        let keep: Vec<&str> = COLUMNS
            .iter()
            .zip(&keep_mask)
            .filter_map(|(name, keep)| keep.then_some(*name))
            .collect();
        // A cache of 0 bytes reads every later row's result back from DST.
        let cache = if small_cache { 0 } else { 1 << 20 };

        let dst = dir.path().join("out.jsonl");
        let f = |row: Row| async move { Ok::<_, std::io::Error>(result_of(&row)) };
        rt.block_on(map_by_key(&src, &dst, f, options(&keep, cache))).unwrap();
        let fresh = std::fs::read_to_string(&dst).unwrap();

        let lines: Vec<&str> = fresh.lines().collect();
        let whole = ((lines.len() as f64) * cut) as usize;
        let how = if sorted { Rewrite::Sorted } else { Rewrite::Shuffled(seed) };
        let prefix: String = lines[..whole]
            .iter()
            .enumerate()
            .map(|(i, line)| rewrite_line(line, how, i))
            .collect();
        std::fs::write(&dst, &prefix).unwrap();
        let present: HashSet<String> = lines[..whole]
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()[KEY].to_string())
            .collect();

        let calls = Calls::default();
        let counted = {
            let calls = calls.clone();
            move |row: Row| {
                calls.record(&row[KEY]);
                async move { Ok::<_, std::io::Error>(result_of(&row)) }
            }
        };
        let report = rt
            .block_on(map_by_key(&src, &dst, counted, options(&keep, cache)))
            .unwrap();
        prop_assert!(report.is_complete());
        let resumed = std::fs::read_to_string(&dst).unwrap();
        prop_assert_eq!(row_set(&resumed), row_set(&fresh));
        // What the rerun wrote is laid out as the fresh run wrote it.
        let written: Vec<&str> = resumed.lines().skip(whole).collect();
        prop_assert_eq!(written, lines[whole..].to_vec());
        for (key, n) in calls.get() {
            prop_assert_eq!(n, 1, "key {} called {} times", key, n);
            prop_assert!(!present.contains(&key), "key {} was in DST and called again", key);
        }
    }
}

//! Property: cutting the destination at any byte (a crash at any moment) and
//! resuming gives exactly the file an uninterrupted run writes.
#![cfg(feature = "jsonl")]

mod support;

use std::path::Path;

use pipework::jsonl::{flatmap_by_key, map_by_key, MapOptions, Row};
use proptest::prelude::*;
use serde_json::json;
use support::write_rows;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

async fn double(row: Row) -> Result<Row, std::io::Error> {
    let key = row["key"].as_i64().unwrap_or(0);
    Ok(support::row(
        json!({"double": key * 2, "tag": format!("k{key}")}),
    ))
}

async fn parts(row: Row) -> Result<Vec<Row>, std::io::Error> {
    let key = row["key"].as_i64().unwrap_or(0);
    Ok((0..key % 3)
        .map(|i| support::row(json!({"part": i})))
        .collect())
}

fn map_opts() -> MapOptions {
    MapOptions::new("key")
        .keep_columns(["n"])
        .concurrency(3)
        .on_skip(|_| ())
}

fn source(dir: &Path, keys: &[i64]) -> std::path::PathBuf {
    let src = dir.join("in.jsonl");
    let rows: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(n, k)| json!({"key": k, "n": n}))
        .collect();
    write_rows(&src, &rows);
    src
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn map_resumed_after_a_cut_at_any_byte_equals_an_uninterrupted_run(
        keys in prop::collection::vec(0i64..8, 1..30),
        cut in 0.0f64..=1.0,
    ) {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path(), &keys);
        let full = dir.path().join("full.jsonl");
        rt.block_on(map_by_key(&src, &full, double, map_opts())).unwrap();
        let expected = std::fs::read(&full).unwrap();

        let at = ((expected.len() as f64) * cut) as usize;
        let dst = dir.path().join("cut.jsonl");
        std::fs::write(&dst, &expected[..at]).unwrap();
        let report = rt.block_on(map_by_key(&src, &dst, double, map_opts())).unwrap();
        prop_assert!(report.is_complete());
        prop_assert_eq!(std::fs::read(&dst).unwrap(), expected);
        let distinct = keys.iter().collect::<std::collections::HashSet<_>>().len() as u64;
        prop_assert!(report.keys_computed + report.keys_reused <= distinct);
    }

    #[test]
    fn flatmap_resumed_after_cuts_of_dst_and_log_equals_an_uninterrupted_run(
        n in 1usize..20,
        cut_dst in 0.0f64..=1.0,
        cut_log in 0.0f64..=1.0,
    ) {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<i64> = (0..n as i64).collect();
        let src = source(dir.path(), &keys);
        let full = dir.path().join("full.jsonl");
        rt.block_on(flatmap_by_key(&src, &full, parts, map_opts())).unwrap();
        let expected = std::fs::read(&full).unwrap();
        let expected_log = std::fs::read(dir.path().join("full.jsonl.done")).unwrap();

        let dst = dir.path().join("cut.jsonl");
        std::fs::write(&dst, &expected[..((expected.len() as f64) * cut_dst) as usize]).unwrap();
        std::fs::write(dir.path().join("cut.jsonl.done"), &expected_log[..((expected_log.len() as f64) * cut_log) as usize]).unwrap();
        let report = rt.block_on(flatmap_by_key(&src, &dst, parts, map_opts())).unwrap();
        prop_assert!(report.is_complete());
        prop_assert_eq!(std::fs::read(&dst).unwrap(), expected);
        prop_assert_eq!(std::fs::read(dir.path().join("cut.jsonl.done")).unwrap(), expected_log);
    }
}

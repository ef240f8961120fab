//! Tests of abstractions' storage module, rewritten in Rust.
//!
//! Source: <https://github.com/arjunguha/py-abstractions/blob/main/test/test_storage.py>
//! (abstractions, BSD-3-Clause, Copyright 2025 Northeastern University).
//! One `mod` per upstream test. Tweaks: `on_error="print"` is `OnError::Skip`;
//! the fixtures `in_trivial.jsonl`, `out_trivial.jsonl`, `in_flatmap.jsonl` and
//! `out_flatmap_trivial.jsonl` are our own files with the rows the upstream
//! docs describe; upstream's line-based `flatmap_jsonl_file` is our key-based
//! `flatmap_by_key`, whose resume record lives in `DST.done`.
#![cfg(feature = "jsonl")]

mod support;

use std::collections::HashMap;

use pipework::jsonl::{
    create_or_resume, flatmap_by_key, map_by_key, CreateOptions, MapOptions, OnError, Row,
};
use serde_json::{json, Value};
use support::{fixture, multiset, rows, write_rows, Calls, Skipped};

/// Holds key 10's call until key 20's has run, so that calls finish out of
/// source order (upstream's `*_out_of_order_finish` tests).
#[derive(Clone)]
struct TwentyBeforeTen(std::sync::Arc<tokio::sync::Semaphore>);

impl TwentyBeforeTen {
    fn new() -> Self {
        TwentyBeforeTen(std::sync::Arc::new(tokio::sync::Semaphore::new(0)))
    }

    async fn pass(&self, key: i64) {
        if key == 10 {
            let _permit = self.0.acquire().await;
        }
        if key == 20 {
            self.0.add_permits(1);
        }
    }
}

async fn letter_row(_key: Value, _index: usize) -> Result<Row, std::io::Error> {
    Ok(Row::new())
}

fn letter_counts(path: &std::path::Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in rows(path) {
        *counts
            .entry(r["letter"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

fn counts(pairs: &[(&str, usize)]) -> HashMap<String, usize> {
    pairs.iter().map(|&(k, n)| (k.to_owned(), n)).collect()
}

fn trivial_opts() -> MapOptions {
    MapOptions::new("key")
        .keep_columns(["other"])
        .concurrency(1)
}

/// `test_create_jsonl_file`
mod create_jsonl_file {
    use super::*;

    #[tokio::test]
    async fn creates_key_count_rows_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.jsonl");
        create_or_resume(
            &path,
            "letter",
            2,
            ["a", "b", "c"],
            letter_row,
            CreateOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            letter_counts(&path),
            counts(&[("a", 2), ("b", 2), ("c", 2)])
        );
    }
}

/// `test_resume_existing_file`
mod resume_existing_file {
    use super::*;

    #[tokio::test]
    async fn appends_only_missing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.jsonl");
        write_rows(
            &path,
            &[
                json!({"letter": "a"}),
                json!({"letter": "a"}),
                json!({"letter": "b"}),
            ],
        );
        let report = create_or_resume(
            &path,
            "letter",
            2,
            ["a", "b", "c"],
            letter_row,
            CreateOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            letter_counts(&path),
            counts(&[("a", 2), ("b", 2), ("c", 2)])
        );
        assert_eq!((report.rows_resumed, report.rows_written), (3, 3));
    }
}

/// `test_invalid_key_raises`
mod invalid_key_raises {
    use super::*;

    #[tokio::test]
    async fn unknown_key_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.jsonl");
        write_rows(&path, &[json!({"letter": "z"})]);
        let err = create_or_resume(
            &path,
            "letter",
            1,
            ["a", "b", "c"],
            letter_row,
            CreateOptions::default(),
        )
        .await
        .unwrap_err()
        .error;
        assert!(
            matches!(err, pipework::jsonl::Error::UnknownKey { line: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("data.jsonl:1: key \"z\""), "{err}");
    }
}

/// `test_map_jsonl_trivial`
mod map_jsonl_trivial {
    use super::*;

    #[tokio::test]
    async fn output_is_a_permutation_of_the_expected_rows() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        map_by_key(
            fixture("in_trivial.jsonl"),
            &dst,
            support::plus_one,
            trivial_opts(),
        )
        .await
        .unwrap();
        assert_eq!(multiset(&dst), multiset(&fixture("out_trivial.jsonl")));
    }
}

/// `test_map_jsonl_out_of_order_finish`
mod map_jsonl_out_of_order_finish {
    use super::*;

    #[tokio::test]
    async fn key_10_waiting_for_key_20_still_gives_the_right_rows() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let order = TwentyBeforeTen::new();
        let task = move |row: Row| {
            let order = order.clone();
            async move {
                let key = row["key"].as_i64().unwrap_or(0);
                order.pass(key).await;
                Ok::<_, std::io::Error>(support::row(json!({"result": key + 1, "key": key})))
            }
        };
        map_by_key(
            fixture("in_trivial.jsonl"),
            &dst,
            task,
            trivial_opts().concurrency(2),
        )
        .await
        .unwrap();
        assert_eq!(multiset(&dst), multiset(&fixture("out_trivial.jsonl")));
    }
}

/// `test_map_jsonl_count_calls`
mod map_jsonl_count_calls {
    use super::*;

    #[tokio::test]
    async fn f_is_called_once_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let calls = Calls::default();
        let counter = calls.clone();
        let task = move |row: Row| {
            counter.record(&row["key"]);
            support::plus_one(row)
        };
        map_by_key(fixture("in_trivial.jsonl"), &dst, task, trivial_opts())
            .await
            .unwrap();
        assert_eq!(multiset(&dst), multiset(&fixture("out_trivial.jsonl")));
        assert_eq!(calls.get(), counts(&[("10", 1), ("20", 1)]));
    }
}

/// `test_resume_does_not_recompute`
mod resume_does_not_recompute {
    use super::*;

    #[tokio::test]
    async fn key_already_in_dst_is_not_computed_again() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        write_rows(&dst, &[json!({"other": "A", "key": 10, "result": 11})]);
        let calls = Calls::default();
        let counter = calls.clone();
        let task = move |row: Row| {
            counter.record(&row["key"]);
            support::plus_one(row)
        };
        map_by_key(fixture("in_trivial.jsonl"), &dst, task, trivial_opts())
            .await
            .unwrap();
        assert_eq!(calls.get(), counts(&[("20", 1)]));
        assert_eq!(multiset(&dst), multiset(&fixture("out_trivial.jsonl")));
    }
}

/// `test_empty_keep_columns`
mod empty_keep_columns {
    use super::*;

    #[tokio::test]
    async fn rows_hold_exactly_key_and_result() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        map_by_key(
            fixture("in_trivial.jsonl"),
            &dst,
            support::plus_one,
            MapOptions::new("key"),
        )
        .await
        .unwrap();
        let out = rows(&dst);
        assert_eq!(out.len(), 3);
        for r in out {
            let mut names: Vec<&str> = r.keys().map(String::as_str).collect();
            names.sort_unstable();
            assert_eq!(names, ["key", "result"]);
        }
    }
}

fn failing_for(
    bad: i64,
) -> impl FnMut(Row) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Row, String>> + Send>>
{
    move |row: Row| {
        Box::pin(async move {
            let key = row["key"].as_i64().unwrap_or(0);
            if key == bad {
                return Err("boom".to_owned());
            }
            Ok(support::row(json!({"result": key + 1, "key": key})))
        })
    }
}

/// `test_f_error_print`
mod f_error_print {
    use super::*;

    #[tokio::test]
    async fn failed_key_rows_are_left_out_under_skip() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let skipped = Skipped::default();
        let opts = trivial_opts()
            .concurrency(2)
            .on_error(OnError::Skip)
            .on_skip(skipped.callback());
        let report = map_by_key(fixture("in_trivial.jsonl"), &dst, failing_for(10), opts)
            .await
            .unwrap();
        let out = rows(&dst);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["key"], json!(20));
        assert_eq!((report.keys_failed, report.rows_failed), (1, 2));
        assert_eq!(skipped.messages(), ["key 10: boom"]);
    }
}

/// `test_f_error_raise`
mod f_error_raise {
    use super::*;

    #[tokio::test]
    async fn error_of_f_is_returned_under_raise() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let always = |_row: Row| async { Err::<Row, _>("boom") };
        let err = map_by_key(fixture("in_trivial.jsonl"), &dst, always, trivial_opts())
            .await
            .unwrap_err()
            .error;
        assert_eq!(err.to_string(), "key 10: boom");
    }
}

/// `test_map_jsonl_error_raise_writes_prior_rows`
mod map_jsonl_error_raise_writes_prior_rows {
    use super::*;

    #[tokio::test]
    async fn rows_written_before_the_error_stay() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let err = map_by_key(
            fixture("in_trivial.jsonl"),
            &dst,
            failing_for(20),
            trivial_opts(),
        )
        .await
        .unwrap_err()
        .error;
        assert_eq!(err.key(), Some(&json!(20)));
        let out = rows(&dst);
        assert!(
            !out.is_empty(),
            "the row of key 10 was written before the failure"
        );
        assert!(out.iter().all(|r| r["key"] == json!(10)));
    }
}

fn two_results(
    row: Row,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Row>, std::io::Error>> + Send>> {
    Box::pin(async move {
        let (k, o) = (row["key"].as_i64().unwrap_or(0), row["other"].clone());
        Ok(vec![
            support::row(json!({"result": k + 1, "key": k, "other": o})),
            support::row(json!({"result": k + 2, "key": k, "other": o})),
        ])
    })
}

/// `test_flatmap_jsonl_trivial`
mod flatmap_jsonl_trivial {
    use super::*;

    #[tokio::test]
    async fn every_result_row_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        flatmap_by_key(
            fixture("in_flatmap.jsonl"),
            &dst,
            two_results,
            trivial_opts(),
        )
        .await
        .unwrap();
        assert_eq!(
            multiset(&dst),
            multiset(&fixture("out_flatmap_trivial.jsonl"))
        );
    }
}

/// `test_flatmap_jsonl_empty_list`
mod flatmap_jsonl_empty_list {
    use super::*;

    #[tokio::test]
    async fn empty_result_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let task = |row: Row| async move {
            let k = row["key"].as_i64().unwrap_or(0);
            if k == 10 {
                return Ok::<_, std::io::Error>(vec![]);
            }
            Ok(vec![support::row(json!({"result": k + 1}))])
        };
        flatmap_by_key(fixture("in_flatmap.jsonl"), &dst, task, trivial_opts())
            .await
            .unwrap();
        let out = rows(&dst);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["key"], json!(20));
    }
}

/// `test_flatmap_jsonl_out_of_order_finish`
mod flatmap_jsonl_out_of_order_finish {
    use super::*;

    #[tokio::test]
    async fn out_of_order_completion_gives_the_right_rows() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let order = TwentyBeforeTen::new();
        let task = move |row: Row| {
            let order = order.clone();
            async move {
                let key = row["key"].as_i64().unwrap_or(0);
                order.pass(key).await;
                two_results(row).await
            }
        };
        flatmap_by_key(
            fixture("in_flatmap.jsonl"),
            &dst,
            task,
            trivial_opts().concurrency(2),
        )
        .await
        .unwrap();
        assert_eq!(
            multiset(&dst),
            multiset(&fixture("out_flatmap_trivial.jsonl"))
        );
    }
}

/// `test_flatmap_resume_does_not_recompute`
mod flatmap_resume_does_not_recompute {
    use super::*;

    #[tokio::test]
    async fn key_recorded_done_is_not_computed_again() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        write_rows(
            &dst,
            &[
                json!({"other": "A", "key": 10, "result": 11}),
                json!({"other": "A", "key": 10, "result": 12}),
            ],
        );
        let end = std::fs::metadata(&dst).unwrap().len();
        write_rows(
            &dir.path().join("out.jsonl.done"),
            &[json!({"key": 10, "rows": 2, "end": end})],
        );
        let calls = Calls::default();
        let counter = calls.clone();
        let task = move |row: Row| {
            counter.record(&row["key"]);
            two_results(row)
        };
        flatmap_by_key(fixture("in_flatmap.jsonl"), &dst, task, trivial_opts())
            .await
            .unwrap();
        assert_eq!(calls.get(), counts(&[("20", 1)]));
        assert_eq!(
            multiset(&dst),
            multiset(&fixture("out_flatmap_trivial.jsonl"))
        );
    }
}

/// `test_flatmap_f_error_print`
mod flatmap_f_error_print {
    use super::*;

    #[tokio::test]
    async fn failed_key_writes_nothing_under_skip() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let task = |row: Row| async move {
            if row["key"] == json!(10) {
                return Err(std::io::Error::other("boom"));
            }
            two_results(row).await
        };
        let opts = trivial_opts()
            .concurrency(2)
            .on_error(OnError::Skip)
            .on_skip(|_| ());
        flatmap_by_key(fixture("in_flatmap.jsonl"), &dst, task, opts)
            .await
            .unwrap();
        let out = rows(&dst);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|r| r["key"] == json!(20)));
    }
}

#[test]
fn fixtures_use_the_same_key_column() {
    for name in [
        "in_trivial.jsonl",
        "out_trivial.jsonl",
        "in_flatmap.jsonl",
        "out_flatmap_trivial.jsonl",
    ] {
        assert!(
            rows(&fixture(name)).iter().all(|r| r.contains_key("key")),
            "{name}"
        );
    }
}

//! Every run ends, and one run at a time writes a destination: failed keys
//! in a row under `Skip`, and a second run on the same destination.
//!
//! The search over random outcomes, concurrency and disk faults is the
//! crate's own `jsonl::liveness_proptest` (it plants faults in the writer).
#![cfg(feature = "jsonl")]

mod support;

use std::time::Duration;

use pipework::jsonl::{
    create_or_resume, flatmap_by_key, map_by_key, CreateOptions, Error, Failed, MapOptions,
    OnError, Report, Row,
};
use serde_json::{json, Value};
use support::{rows, Skipped};

/// Far longer than any of these runs needs: reaching it means a hang.
const BOUND: Duration = Duration::from_secs(30);

async fn bounded<T>(run: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, run)
        .await
        .expect("the run did not end: it hangs")
}

/// `{"ok": key}`, or an error for the keys in `failing`.
fn failing_for(
    failing: &'static [i64],
) -> impl FnMut(Row) -> std::future::Ready<Result<Row, String>> {
    move |row: Row| {
        let key = row["key"].as_i64().unwrap_or(-1);
        std::future::ready(if failing.contains(&key) {
            Err(format!("key {key} fails"))
        } else {
            Ok(support::row(json!({"ok": key})))
        })
    }
}

async fn map_skipping(
    keys: &[i64],
    failing: &'static [i64],
    concurrency: usize,
) -> (Report, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    let rows_in: Vec<Value> = keys.iter().map(|k| json!({"key": k})).collect();
    support::write_rows(&src, &rows_in);
    let skipped = Skipped::default();
    let opts = MapOptions::new("key")
        .concurrency(concurrency)
        .on_error(OnError::Skip)
        .on_skip(skipped.callback());
    let report = bounded(map_by_key(&src, &dst, failing_for(failing), opts))
        .await
        .unwrap();
    assert_eq!(skipped.messages().len() as u64, report.keys_failed);
    let written = rows(&dst).iter().map(|row| row["key"].clone()).collect();
    (report, written)
}

/// The hang of the issue: with one call slot, the failed first key's slot
/// was freed only after the loop had given up placing the next row, and it
/// then waited on nothing.
#[tokio::test]
async fn a_failed_key_under_skip_does_not_stall_the_rows_after_it() {
    let (report, written) = map_skipping(&[1, 2, 3], &[1], 1).await;
    assert_eq!(written, [json!(2), json!(3)]);
    assert_eq!(
        (report.keys_failed, report.rows_failed, report.rows_written),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn as_many_failed_keys_in_a_row_as_call_slots_do_not_stall_the_run() {
    let (report, written) = map_skipping(&[1, 2, 3, 4, 5], &[1, 2], 2).await;
    assert_eq!(written, [json!(3), json!(4), json!(5)]);
    assert_eq!(report.keys_failed, 2);
    let keys: Vec<i64> = (1..=40).collect();
    let failing: &'static [i64] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    let (report, written) = map_skipping(&keys, failing, 16).await;
    assert_eq!(written.len(), 24);
    assert_eq!(report.keys_failed, 16);
}

#[tokio::test]
async fn every_key_failing_under_skip_ends_with_nothing_written() {
    let (report, written) = map_skipping(&[1, 2, 1, 3], &[1, 2, 3], 1).await;
    assert!(written.is_empty());
    assert_eq!((report.keys_failed, report.rows_failed), (3, 4));
}

#[tokio::test]
async fn flatmap_with_failed_keys_under_skip_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    support::write_rows(
        &src,
        &[json!({"key": 1}), json!({"key": 2}), json!({"key": 3})],
    );
    let f = |row: Row| async move {
        let key = row["key"].as_i64().unwrap_or(-1);
        if key == 1 {
            return Err("fails".to_string());
        }
        Ok(vec![
            support::row(json!({"n": 0})),
            support::row(json!({"n": 1})),
        ])
    };
    let opts = MapOptions::new("key")
        .concurrency(1)
        .on_error(OnError::Skip)
        .on_skip(|_| {});
    let report = bounded(flatmap_by_key(&src, &dst, f, opts)).await.unwrap();
    assert_eq!((report.keys_failed, report.lines_written), (1, 4));
}

/// A run that cannot start a call because the function panics on being
/// called (not in its future) ends as well.
#[tokio::test]
async fn a_function_panicking_when_called_under_skip_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    support::write_rows(&src, &[json!({"key": 1}), json!({"key": 2})]);
    let f = |row: Row| -> std::future::Ready<Result<Row, String>> {
        assert_ne!(row["key"], json!(1), "no call for key 1");
        std::future::ready(Ok(Row::new()))
    };
    let opts = MapOptions::new("key")
        .concurrency(1)
        .on_error(OnError::Skip)
        .on_skip(|_| {});
    let report = bounded(map_by_key(&src, &dst, f, opts)).await.unwrap();
    assert_eq!((report.keys_failed, report.rows_written), (1, 1));
}

/// Two runs on one destination would both compute and append every row:
/// the second one is refused at once, names the holder and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_destination_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    support::write_rows(&src, &[json!({"key": 1}), json!({"key": 2})]);
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let (open, signal) = (gate.clone(), started.clone());
    let held = move |row: Row| {
        let (open, signal) = (open.clone(), signal.clone());
        async move {
            signal.notify_one();
            open.acquire().await.map(|permit| permit.forget()).ok();
            support::plus_one(row).await
        }
    };
    let first = tokio::spawn({
        let (src, dst) = (src.clone(), dst.clone());
        async move { map_by_key(&src, &dst, held, MapOptions::new("key").concurrency(1)).await }
    });
    bounded(started.notified()).await;

    let second = bounded(map_by_key(
        &src,
        &dst,
        support::plus_one,
        MapOptions::new("key"),
    ))
    .await
    .map_err(Failed::into_error);
    match second {
        Err(Error::Locked { path, pid }) => {
            assert_eq!(path, dst);
            assert_eq!(pid, Some(std::process::id()));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let flat = |_row: Row| async { Ok::<_, String>(Vec::new()) };
    let third = bounded(flatmap_by_key(&src, &dst, flat, MapOptions::new("key"))).await;
    assert!(
        matches!(&third, Err(failed) if matches!(failed.error, Error::Locked { .. })),
        "{third:?}"
    );
    let generate = |_key: Value, _index: usize| async { Ok::<_, String>(Row::new()) };
    let fourth = bounded(create_or_resume(
        &dst,
        "key",
        1,
        [1],
        generate,
        CreateOptions::default(),
    ))
    .await;
    let fourth = fourth.unwrap_err();
    assert!(matches!(fourth.error, Error::Locked { .. }), "{fourth:?}");
    // Nothing was done, and the message says who holds the destination.
    assert_eq!(fourth.report, Report::default());
    assert!(fourth
        .to_string()
        .contains("is in use by another pipework run (pid "));

    gate.add_permits(2);
    let report = bounded(first).await.unwrap().unwrap();
    assert_eq!(report.rows_written, 2);
    assert_eq!(rows(&dst).len(), 2, "nothing was written twice");
    // Once the first run has ended, the destination is free again.
    let again = bounded(map_by_key(
        &src,
        &dst,
        support::plus_one,
        MapOptions::new("key"),
    ))
    .await
    .unwrap();
    assert_eq!(again.rows_resumed, 2);
}

/// A run that fails part way gives back, with its error, the counts of what
/// it did: rows written stay, and the report says how many.
#[tokio::test]
async fn a_failed_run_reports_what_it_wrote_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    std::fs::write(&src, "{\"key\": 1}\n{\"key\": 2}\n{\"key\": 1}\nnot json\n").unwrap();
    let failed = bounded(map_by_key(
        &src,
        &dst,
        support::plus_one,
        MapOptions::new("key"),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(failed.error, Error::InvalidJson { line: 4, .. }),
        "{failed}"
    );
    assert_eq!(
        (failed.report.rows_written, failed.report.keys_computed),
        (3, 2)
    );
    assert_eq!(rows(&dst).len(), 3);
}

//! Bad input, failing and panicking calls, and bad options: clear errors that
//! say where, never a panic or a hang.
#![cfg(feature = "jsonl")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pipework::jsonl::{
    create_or_resume, flatmap_by_key, map_by_key, CreateOptions, Error, MapOptions, OnError, Row,
};
use serde_json::{json, Value};
use support::{rows, Skipped};

async fn run_map(
    src_text: &str,
    opts: MapOptions,
) -> (Result<pipework::jsonl::Report, Error>, Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    std::fs::write(&src, src_text).unwrap();
    let result = map_by_key(&src, &dst, support::plus_one, opts).await;
    (result.map_err(|failed| failed.error), rows(&dst))
}

/// A bad row under Raise ends the run, but the calls already running for
/// the rows before it are paid for: they finish and their rows are written
/// before the error comes back. Nothing after the bad row is called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_under_raise_lets_the_running_calls_finish_and_keeps_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    std::fs::write(&src, "{\"key\": 1}\n{\"key\": 2}\nnot json\n{\"key\": 3}\n").unwrap();
    let calls = support::Calls::default();
    let record = calls.clone();
    let slow = move |row: Row| {
        record.record(&row["key"]);
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            support::plus_one(row).await
        }
    };
    let err = map_by_key(&src, &dst, slow, MapOptions::new("key"))
        .await
        .unwrap_err()
        .error;
    assert!(matches!(err, Error::InvalidJson { line: 3, .. }), "{err}");
    let keys: Vec<_> = rows(&dst).iter().map(|row| row["key"].clone()).collect();
    assert_eq!(keys, [json!(1), json!(2)]);
    assert_eq!(calls.total(), 2);
}

#[tokio::test]
async fn invalid_json_names_file_and_line() {
    let (result, _) = run_map("{\"key\": 1}\n{\"key\": 2\n", MapOptions::new("key")).await;
    let err = result.unwrap_err();
    assert!(matches!(err, Error::InvalidJson { line: 2, .. }), "{err}");
    assert!(
        err.to_string().contains("in.jsonl:2: invalid json: "),
        "{err}"
    );
}

#[tokio::test]
async fn row_that_is_not_an_object_names_file_and_line() {
    let (result, _) = run_map("{\"key\": 1}\n\n[1, 2]\n", MapOptions::new("key")).await;
    let err = result.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("in.jsonl:3: expected a json object, found an array"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_key_column_names_file_line_and_column() {
    let (result, _) = run_map("{\"id\": 1}\n", MapOptions::new("key")).await;
    let err = result.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("in.jsonl:1: missing key column \"key\""),
        "{err}"
    );
}

#[tokio::test]
async fn key_that_is_not_a_scalar_is_rejected() {
    for (text, found) in [
        ("{\"key\": null}\n", "null"),
        ("{\"key\": [1]}\n", "an array"),
        ("{\"key\": {}}\n", "an object"),
    ] {
        let (result, _) = run_map(text, MapOptions::new("key")).await;
        let err = result.unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "holds {found}, expected a string, number or boolean"
            )),
            "{err}"
        );
    }
}

#[tokio::test]
async fn bad_rows_are_reported_and_skipped_under_skip() {
    let skipped = Skipped::default();
    let opts = MapOptions::new("key")
        .on_error(OnError::Skip)
        .on_skip(skipped.callback());
    let (result, out) = run_map(
        "{\"key\": 1}\nnot json\n{\"key\": null}\n{\"key\": 2}\n",
        opts,
    )
    .await;
    let report = result.unwrap();
    assert_eq!((report.rows_written, report.rows_invalid), (2, 2));
    assert!(!report.is_complete());
    assert_eq!(out.len(), 2);
    let messages = skipped.messages();
    assert_eq!(messages.len(), 2);
    assert!(
        messages[0].contains("in.jsonl:2: invalid json"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("in.jsonl:3: key column"),
        "{messages:?}"
    );
}

#[tokio::test]
async fn bad_line_in_dst_names_dst_under_raise() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    std::fs::write(
        &dst,
        "{\"key\": 10, \"result\": 11}\n[]\n{\"key\": 20, \"result\": 21}\n",
    )
    .unwrap();
    let err = map_by_key(
        support::fixture("in_trivial.jsonl"),
        &dst,
        support::plus_one,
        MapOptions::new("key"),
    )
    .await
    .unwrap_err()
    .error;
    assert!(
        err.to_string()
            .contains("out.jsonl:2: expected a json object"),
        "{err}"
    );
}

/// Under `Skip`, a bad line in the middle of DST is reported and passed over:
/// the resume counts the rows around it, and reads key 10's result back for
/// its later row without calling anything.
#[tokio::test]
async fn bad_line_in_dst_is_skipped_under_skip() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let stored = "{\"key\": 10, \"other\": \"A\", \"result\": 11}\n[]\n{\"key\": 20, \"other\": \"B\", \"result\": 21}\n";
    std::fs::write(&dst, stored).unwrap();
    let skipped = Skipped::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = {
        let calls = Arc::clone(&calls);
        move |row: Row| {
            calls.fetch_add(1, Ordering::SeqCst);
            support::plus_one(row)
        }
    };
    let opts = MapOptions::new("key")
        .keep_columns(["other"])
        .on_error(OnError::Skip)
        .on_skip(skipped.callback());
    let report = map_by_key(support::fixture("in_trivial.jsonl"), &dst, counted, opts)
        .await
        .unwrap();
    assert_eq!(
        (
            report.rows_resumed,
            report.rows_written,
            report.keys_computed
        ),
        (2, 1, 0)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let messages = skipped.messages();
    assert!(
        messages.len() == 1 && messages[0].contains("out.jsonl:2: expected a json object"),
        "{messages:?}"
    );
    let written = std::fs::read_to_string(&dst).unwrap();
    assert_eq!(
        written,
        format!("{stored}{{\"key\":10,\"other\":\"C\",\"result\":11}}\n")
    );
}

/// Maps the trivial fixture with a call that panics for key 20, before its
/// first `.await` (so in its first poll, where it starts) or after one (on
/// the task it then runs as), and returns the error.
async fn panic_for_key_20(after_an_await: bool) -> Error {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let f = move |row: Row| async move {
        if after_an_await {
            tokio::task::yield_now().await;
        }
        if row["key"] == json!(20) {
            panic!("kaboom");
        }
        support::plus_one(row).await
    };
    map_by_key(
        support::fixture("in_trivial.jsonl"),
        &dst,
        f,
        MapOptions::new("key"),
    )
    .await
    .unwrap_err()
    .error
}

#[tokio::test]
async fn panic_in_the_future_is_that_keys_error() {
    let err = panic_for_key_20(false).await;
    assert!(
        matches!(&err, Error::CallPanicked { key, message } if *key == json!(20) && message == "kaboom"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_after_the_first_await_is_that_keys_error() {
    let err = panic_for_key_20(true).await;
    assert!(
        matches!(&err, Error::CallPanicked { key, message } if *key == json!(20) && message == "kaboom"),
        "{err}"
    );
}

#[tokio::test]
async fn panic_while_making_the_future_is_that_keys_error() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let f = |row: Row| {
        assert!(row["key"] != json!(10), "no ten");
        support::plus_one(row)
    };
    let skipped = Skipped::default();
    let opts = MapOptions::new("key")
        .on_error(OnError::Skip)
        .on_skip(skipped.callback());
    let report = map_by_key(support::fixture("in_trivial.jsonl"), &dst, f, opts)
        .await
        .unwrap();
    assert_eq!(
        (report.keys_failed, report.rows_failed, report.rows_written),
        (1, 2, 1)
    );
    assert_eq!(
        skipped.messages(),
        ["key 10: the function panicked: no ten"]
    );
}

#[tokio::test]
async fn result_that_changes_the_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let f = |_row: Row| async { Ok::<_, String>(support::row(json!({"key": "other"}))) };
    let err = map_by_key(
        support::fixture("in_trivial.jsonl"),
        &dst,
        f,
        MapOptions::new("key"),
    )
    .await
    .unwrap_err()
    .error;
    assert_eq!(
        err.to_string(),
        "key 10: the result sets the key column \"key\" to \"other\""
    );
}

/// A flatmap row may repeat its key but not change it: the key's rows are
/// not written, and the error names the key and the column.
#[tokio::test]
async fn a_flatmap_row_that_changes_the_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    std::fs::write(&src, "{\"key\": 1}\n").unwrap();
    let f = |_row: Row| async {
        Ok::<_, String>(vec![
            support::row(json!({"key": 1, "part": 0})),
            support::row(json!({"key": 2, "part": 1})),
        ])
    };
    let failed = flatmap_by_key(&src, &dst, f, MapOptions::new("key"))
        .await
        .unwrap_err();
    assert_eq!(
        failed.error.to_string(),
        "key 1: the result sets the key column \"key\" to 2"
    );
    assert_eq!(failed.report.lines_written, 0);
    assert_eq!(std::fs::read_to_string(&dst).unwrap_or_default(), "");
}

/// A generated row may carry its key column if it leaves the value as it
/// is; a row that sets it to another key is an error naming both, and is
/// not written.
#[tokio::test]
async fn a_generated_row_that_changes_the_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    let generate = |key: Value, index: usize| async move {
        let key = if index == 1 { json!("b") } else { key };
        Ok::<_, String>(support::row(json!({"k": key, "i": index})))
    };
    // One call at a time, so the first row is on disk before the second
    // call starts.
    let opts = CreateOptions::default().limit(1);
    let failed = create_or_resume(&path, "k", 2, ["a"], generate, opts)
        .await
        .unwrap_err();
    assert_eq!(
        failed.error.to_string(),
        "key \"a\": the result sets the key column \"k\" to \"b\""
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"i\":0,\"k\":\"a\"}\n"
    );
}

/// A map writes one line per source row, and says so.
#[tokio::test]
async fn a_map_reports_one_line_written_per_row() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let f = |_row: Row| async { Ok::<_, String>(support::row(json!({"n": 1}))) };
    let report = map_by_key(
        support::fixture("in_trivial.jsonl"),
        &dst,
        f,
        MapOptions::new("key"),
    )
    .await
    .unwrap();
    let lines = std::fs::read_to_string(&dst).unwrap().lines().count() as u64;
    assert_eq!((report.rows_written, report.lines_written), (lines, lines));
}

#[tokio::test]
async fn zero_concurrency_is_rejected_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let err = map_by_key(
        support::fixture("in_trivial.jsonl"),
        &dst,
        support::plus_one,
        MapOptions::new("key").concurrency(0),
    )
    .await
    .unwrap_err()
    .error;
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                name: "concurrency",
                ..
            }
        ),
        "{err}"
    );
    assert!(!dst.exists());
    let generate = |_k: Value, _i: usize| async { Ok::<_, String>(Row::new()) };
    let err = create_or_resume(
        dir.path().join("g.jsonl"),
        "k",
        1,
        ["a"],
        generate,
        CreateOptions::default().limit(0),
    )
    .await
    .unwrap_err()
    .error;
    assert!(
        matches!(err, Error::InvalidOption { name: "limit", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn zero_read_ahead_is_rejected_before_any_work() {
    // With no room to read a single row, the run would never end (the
    // timeout turns that into a failure).
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let run = map_by_key(
        support::fixture("in_trivial.jsonl"),
        &dst,
        support::plus_one,
        MapOptions::new("key").read_ahead(0),
    );
    let err = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("read_ahead(0) was accepted and the run hung")
        .unwrap_err()
        .error;
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                name: "read_ahead",
                ..
            }
        ),
        "{err}"
    );
    assert!(!dst.exists());
}

/// Under either policy: `Skip` passes over bad rows, not a source that
/// cannot be read.
#[tokio::test]
async fn missing_source_is_an_io_error_naming_it() {
    for on_error in [OnError::Raise, OnError::Skip] {
        let dir = tempfile::tempdir().unwrap();
        let err = map_by_key(
            dir.path().join("nope.jsonl"),
            dir.path().join("out.jsonl"),
            support::plus_one,
            MapOptions::new("key").on_error(on_error).on_skip(|_| ()),
        )
        .await
        .unwrap_err()
        .error;
        assert!(matches!(err, Error::Io { .. }), "{on_error:?}: {err}");
        assert!(
            err.to_string().starts_with("opening ") && err.to_string().contains("nope.jsonl"),
            "{on_error:?}: {err}"
        );
    }
}

#[tokio::test]
async fn duplicate_key_in_flatmap_names_both_lines() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    std::fs::write(&src, "{\"key\": 1}\n{\"key\": 2}\n{\"key\": 1}\n").unwrap();
    let f = |_row: Row| async { Ok::<_, String>(vec![Row::new()]) };
    let err = flatmap_by_key(
        &src,
        dir.path().join("out.jsonl"),
        f,
        MapOptions::new("key"),
    )
    .await
    .unwrap_err()
    .error;
    assert!(
        err.to_string().ends_with(
            "in.jsonl:3: key 1 already appeared on line 1 (a flatmap needs unique keys)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn surplus_rows_in_create_or_resume_are_an_error_under_raise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    std::fs::write(&path, "{\"k\": \"a\"}\n{\"k\": \"a\"}\n").unwrap();
    let generate = |_k: Value, _i: usize| async { Ok::<_, String>(Row::new()) };
    let err = create_or_resume(&path, "k", 1, ["a"], generate, CreateOptions::default())
        .await
        .unwrap_err()
        .error;
    assert_eq!(
        err.to_string(),
        format!("{}:2: key \"a\" has more than 1 rows", path.display())
    );
}

/// Under `Skip`, a bad line already in the file (not JSON, no key, a key
/// not asked for) is passed to the callback
/// (naming file and line), counted as invalid and left in place; the rows
/// around it still count, so nothing is generated twice.
#[tokio::test]
async fn a_bad_line_in_create_or_resume_is_skipped_and_counted_under_skip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    let before = "{\"k\": \"a\"}\nnot json\n{\"k\": \"b\"}\n{\"x\": 1}\n{\"k\": \"z\"}\n";
    std::fs::write(&path, before).unwrap();
    let calls = support::Calls::default();
    let generate = {
        let calls = calls.clone();
        move |key: Value, _i: usize| {
            calls.record(&key);
            async { Ok::<_, String>(Row::new()) }
        }
    };
    let skipped = support::Skipped::default();
    let opts = CreateOptions::default()
        .on_error(OnError::Skip)
        .on_skip(skipped.callback());
    let report = create_or_resume(&path, "k", 2, ["a", "b"], generate, opts)
        .await
        .unwrap();
    assert_eq!(
        (
            report.rows_resumed,
            report.rows_invalid,
            report.rows_written
        ),
        (2, 3, 2)
    );
    assert_eq!(calls.total(), 2);
    let messages = skipped.messages();
    let file = path.display().to_string();
    assert!(
        messages.len() == 3
            && messages[0].starts_with(&format!("{file}:2: "))
            && messages[1].starts_with(&format!("{file}:4: "))
            && messages[2].starts_with(&format!("{file}:5: ")),
        "{messages:?}"
    );
    assert!(std::fs::read_to_string(&path).unwrap().starts_with(before));
}

#[tokio::test]
async fn panicking_progress_callback_is_an_error() {
    let opts = MapOptions::new("key").progress(|_| panic!("bad bar"));
    let (result, _) = run_map("{\"key\": 1}\n", opts).await;
    let err = result.unwrap_err();
    assert_eq!(err.to_string(), "the progress callback panicked: bad bar");
}

#[tokio::test]
async fn destination_that_is_the_source_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("same.jsonl");
    std::fs::write(&path, "{\"key\": 1}\n").unwrap();
    let err = map_by_key(&path, &path, support::plus_one, MapOptions::new("key"))
        .await
        .unwrap_err()
        .error;
    assert!(
        matches!(err, Error::InvalidOption { name: "dst", .. }),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"key\": 1}\n");
}

#[tokio::test]
async fn create_or_resume_rejects_keys_that_are_not_scalars() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |_k: Value, _i: usize| async { Ok::<_, String>(Row::new()) };
    let err = create_or_resume(
        dir.path().join("g.jsonl"),
        "k",
        1,
        [json!(["a"])],
        generate,
        CreateOptions::default(),
    )
    .await
    .unwrap_err()
    .error;
    assert!(
        matches!(err, Error::InvalidOption { name: "keys", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn rows_ready_when_a_call_fails_under_raise_are_still_written() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    std::fs::write(&src, "{\"key\": 1}\n{\"key\": 2}\n{\"key\": 3}\n").unwrap();
    let others_done = Arc::new(tokio::sync::Semaphore::new(0));
    let f = move |row: Row| {
        let others_done = others_done.clone();
        async move {
            if row["key"] == json!(2) {
                let _permits = others_done.acquire_many(2).await;
                return Err("late failure".to_owned());
            }
            others_done.add_permits(1);
            Ok(support::row(json!({"ok": true})))
        }
    };
    let err = map_by_key(&src, &dst, f, MapOptions::new("key").concurrency(3))
        .await
        .unwrap_err()
        .error;
    assert_eq!(err.to_string(), "key 2: late failure");
    let keys: Vec<Value> = rows(&dst).into_iter().map(|r| r["key"].clone()).collect();
    assert_eq!(keys, [json!(1), json!(3)]);
}

/// A call failing under Raise ends the run, but the other calls already
/// running are paid for: they finish and their rows are written (the failed
/// key's rows are left out, for a rerun to retry) before the error comes
/// back. No new call starts after the failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_under_raise_lets_the_other_running_calls_finish() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    let text: String = (1..=6).map(|k| format!("{{\"key\": {k}}}\n")).collect();
    std::fs::write(&src, text).unwrap();
    let calls = support::Calls::default();
    let record = calls.clone();
    let f = move |row: Row| {
        record.record(&row["key"]);
        async move {
            if row["key"] == json!(2) {
                return Err("fails at once".to_owned());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Ok(support::row(json!({"ok": true})))
        }
    };
    let err = map_by_key(&src, &dst, f, MapOptions::new("key").concurrency(3))
        .await
        .unwrap_err()
        .error;
    assert_eq!(err.to_string(), "key 2: fails at once");
    let keys: Vec<Value> = rows(&dst).into_iter().map(|r| r["key"].clone()).collect();
    assert_eq!(keys, [json!(1), json!(3)]);
    assert_eq!(calls.total(), 3, "{:?}", calls.get());
}

/// The same for `create_or_resume`: the generators already running when one
/// fails under Raise finish, and their rows are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_generator_under_raise_lets_the_running_ones_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    let generate = |key: Value, _index: usize| async move {
        if key == json!("b") {
            return Err("fails at once".to_owned());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Ok(Row::new())
    };
    let opts = CreateOptions::default().limit(3);
    let err = create_or_resume(&path, "k", 1, ["a", "b", "c", "d"], generate, opts)
        .await
        .unwrap_err()
        .error;
    assert_eq!(err.to_string(), "key \"b\": fails at once");
    // Rows come in completion order.
    let mut keys: Vec<String> = rows(&path)
        .into_iter()
        .map(|r| r["k"].as_str().unwrap_or_default().to_owned())
        .collect();
    keys.sort();
    assert_eq!(keys, ["a", "c"]);
}

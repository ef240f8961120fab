//! Resuming `map_by_key`, `flatmap_by_key` and `create_or_resume` after
//! failures, crashes and stops.
#![cfg(feature = "jsonl")]

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pipework::jsonl::{
    create_or_resume, flatmap_by_key, map_by_key, CreateOptions, Error, MapOptions, OnError,
    Report, Row,
};
use serde_json::{json, Value};
use support::{fixture, multiset, rows, write_rows, Calls, Skipped};
use tokio_util::sync::CancellationToken;

fn opts() -> MapOptions {
    MapOptions::new("key")
        .keep_columns(["other"])
        .concurrency(2)
}

fn counting(
    calls: &Calls,
) -> impl FnMut(
    Row,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Row, std::io::Error>> + Send>,
> {
    let calls = calls.clone();
    move |row: Row| {
        calls.record(&row["key"]);
        Box::pin(support::plus_one(row))
    }
}

#[tokio::test]
async fn resume_after_skip_retries_only_the_failed_keys() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let flaky = |row: Row| async move {
        if row["key"] == json!(10) {
            return Err(std::io::Error::other("quota exceeded"));
        }
        support::plus_one(row).await
    };
    let first = map_by_key(
        fixture("in_trivial.jsonl"),
        &dst,
        flaky,
        opts().on_error(OnError::Skip).on_skip(|_| ()),
    )
    .await
    .unwrap();
    assert!(!first.is_complete());

    let calls = Calls::default();
    let second = map_by_key(fixture("in_trivial.jsonl"), &dst, counting(&calls), opts())
        .await
        .unwrap();
    assert!(second.is_complete());
    assert_eq!(calls.total(), 1);
    assert_eq!(calls.get().get("10"), Some(&1));
    assert_eq!((second.rows_resumed, second.rows_written), (1, 2));
    assert_eq!(multiset(&dst), multiset(&fixture("out_trivial.jsonl")));
}

#[tokio::test]
async fn second_run_over_a_complete_dst_calls_nothing_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    map_by_key(fixture("in_trivial.jsonl"), &dst, support::plus_one, opts())
        .await
        .unwrap();
    let before = std::fs::read(&dst).unwrap();
    let calls = Calls::default();
    let report = map_by_key(fixture("in_trivial.jsonl"), &dst, counting(&calls), opts())
        .await
        .unwrap();
    assert_eq!(calls.total(), 0);
    assert_eq!(
        (report.rows_resumed, report.rows_written, report.keys_reused),
        (3, 0, 2)
    );
    assert_eq!(std::fs::read(&dst).unwrap(), before);
}

/// Before the first row, the progress callback hears how far the check of
/// DST is, from nothing to all of it, every few MiB in between.
#[tokio::test]
async fn a_resume_reports_how_far_its_check_of_dst_is_before_the_first_row() {
    const MIB: u64 = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    let rows = 200_000u64;
    let text: String = (0..rows).map(|i| format!("{{\"key\": {i}}}\n")).collect();
    std::fs::write(&src, &text).unwrap();
    let padded: String = (0..rows)
        .map(|i| format!("{{\"key\":{i},\"pad\":\"{}\"}}\n", "p".repeat(40)))
        .collect();
    std::fs::write(&dst, &padded).unwrap();
    let size = padded.len() as u64;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let opts = MapOptions::new("key").progress(move |report| {
        let entry = report.checking.map(|c| (c.bytes_read, c.bytes_total));
        log.lock().unwrap().push((entry, report.rows_done()));
    });
    let report = map_by_key(&src, &dst, support::plus_one, opts)
        .await
        .unwrap();
    assert_eq!(report.rows_resumed, rows);
    assert_eq!(report.checking, None);
    let seen = seen.lock().unwrap();
    let checks: Vec<(u64, u64)> = seen.iter().filter_map(|(c, _)| *c).collect();
    assert_eq!(checks.first(), Some(&(0, size)));
    assert_eq!(checks.last(), Some(&(size, size)));
    assert!(checks.len() >= 3, "{checks:?}");
    // Every few MiB: not once a line (200,000 calls), and no long silence.
    assert!(checks.len() as u64 <= size / MIB + 2, "{checks:?}");
    assert!(
        checks
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[1].0 - w[0].0 <= 5 * MIB),
        "{checks:?}"
    );
    let first_row = seen.iter().position(|(c, _)| c.is_none()).unwrap();
    assert!(seen[..first_row]
        .iter()
        .all(|(c, done)| c.is_some() && *done == 0));
    assert!(seen[first_row..].iter().all(|(c, _)| c.is_none()));
}

#[tokio::test]
async fn partly_written_key_reuses_its_result_from_dst() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    // Key 10 occurs twice in the source; only its first row made it.
    write_rows(&dst, &[json!({"key": 10, "other": "A", "result": 11})]);
    let calls = Calls::default();
    map_by_key(fixture("in_trivial.jsonl"), &dst, counting(&calls), opts())
        .await
        .unwrap();
    assert_eq!(calls.get().keys().collect::<Vec<_>>(), ["20"]);
    assert_eq!(multiset(&dst), multiset(&fixture("out_trivial.jsonl")));
}

#[tokio::test]
async fn torn_last_line_is_cut_on_resume_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    std::fs::write(
        &dst,
        "{\"key\":10,\"other\":\"A\",\"result\":11}\n{\"key\":20,\"oth",
    )
    .unwrap();
    let skipped = Skipped::default();
    let calls = Calls::default();
    map_by_key(
        fixture("in_trivial.jsonl"),
        &dst,
        counting(&calls),
        opts().on_skip(skipped.callback()),
    )
    .await
    .unwrap();
    assert_eq!(multiset(&dst), multiset(&fixture("out_trivial.jsonl")));
    assert_eq!(calls.total(), 1);
    let messages = skipped.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].ends_with(
            "out.jsonl:2: cut off a torn last line (14 bytes) left by an interrupted run"
        ),
        "{messages:?}"
    );
}

/// A source of two keys whose second row carries a long text (a model's
/// output, say), and the destination row a finished run writes for it.
fn long_row_source(dir: &std::path::Path, text: &str) -> (std::path::PathBuf, String) {
    let src = dir.join("in.jsonl");
    write_rows(
        &src,
        &[
            json!({"key": 10, "other": "A"}),
            json!({"key": 20, "other": text}),
        ],
    );
    let done = json!({"key": 20, "other": text, "result": 21}).to_string();
    (src, done)
}

#[tokio::test]
async fn torn_last_line_longer_than_64_kib_is_cut_on_resume() {
    // A crash while appending a ~100 KB row leaves most of it, with no
    // newline: the cut must reach back past the last 64 KiB to the line's
    // start, or the rest of the row stays behind as line 2.
    let dir = tempfile::tempdir().unwrap();
    let (src, done) = long_row_source(dir.path(), &"x".repeat(100_000));
    let dst = dir.path().join("out.jsonl");
    let first = "{\"key\":10,\"other\":\"A\",\"result\":11}\n";
    let torn = &done[..done.len() - 10];
    std::fs::write(&dst, format!("{first}{torn}")).unwrap();
    let skipped = Skipped::default();
    let calls = Calls::default();
    map_by_key(
        &src,
        &dst,
        counting(&calls),
        opts().on_skip(skipped.callback()),
    )
    .await
    .unwrap();
    let expected: Vec<Row> = [first.trim_end(), &done]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(rows(&dst) == expected, "the long row is not whole");
    assert_eq!(calls.get().keys().collect::<Vec<_>>(), ["20"]);
    let messages = skipped.messages();
    let notice = format!(
        "out.jsonl:2: cut off a torn last line ({} bytes) left by an interrupted run",
        torn.len()
    );
    assert!(
        messages.len() == 1 && messages[0].ends_with(&notice),
        "{messages:?}"
    );
}

#[tokio::test]
async fn torn_line_after_more_than_64_kib_of_rows_names_its_line() {
    // The notice names the torn line, counted over every row before it,
    // however many reads of the file that takes.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let text = "x".repeat(30_000);
    let keys = [10, 20, 30, 40];
    write_rows(&src, &keys.map(|key| json!({"key": key, "other": text})));
    let dst = dir.path().join("out.jsonl");
    let done: String = keys[..3]
        .iter()
        .map(|key| {
            format!(
                "{}\n",
                json!({"key": key, "other": text, "result": key + 1})
            )
        })
        .collect();
    let torn = "{\"key\":40,\"oth";
    std::fs::write(&dst, format!("{done}{torn}")).unwrap();
    let skipped = Skipped::default();
    let calls = Calls::default();
    map_by_key(
        &src,
        &dst,
        counting(&calls),
        opts().on_skip(skipped.callback()),
    )
    .await
    .unwrap();
    assert_eq!(calls.get().keys().collect::<Vec<_>>(), ["40"]);
    assert_eq!(rows(&dst).len(), 4);
    let messages = skipped.messages();
    let notice = format!(
        "out.jsonl:4: cut off a torn last line ({} bytes) left by an interrupted run",
        torn.len()
    );
    assert!(
        messages.len() == 1 && messages[0].ends_with(&notice),
        "{messages:?}"
    );
}

#[tokio::test]
async fn whole_last_line_longer_than_64_kib_is_kept_on_resume() {
    // A finished ~100 KB last row is valid JSON: only a look at the whole
    // line tells it from a torn one, so none of it may be cut.
    let dir = tempfile::tempdir().unwrap();
    let (src, done) = long_row_source(dir.path(), &"x".repeat(100_000));
    let dst = dir.path().join("out.jsonl");
    let text = format!("{{\"key\":10,\"other\":\"A\",\"result\":11}}\n{done}\n");
    std::fs::write(&dst, &text).unwrap();
    let skipped = Skipped::default();
    let calls = Calls::default();
    let report = map_by_key(
        &src,
        &dst,
        counting(&calls),
        opts().on_skip(skipped.callback()),
    )
    .await
    .unwrap();
    assert_eq!(calls.total(), 0);
    assert_eq!(report.rows_resumed, 2);
    assert_eq!(skipped.messages(), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), text);
}

#[tokio::test]
async fn garbage_last_line_with_newline_is_cut_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    std::fs::write(
        &dst,
        "{\"key\":10,\"other\":\"A\",\"result\":11}\n\0\0\0\0\n",
    )
    .unwrap();
    map_by_key(
        fixture("in_trivial.jsonl"),
        &dst,
        support::plus_one,
        opts().on_skip(|_| ()),
    )
    .await
    .unwrap();
    assert_eq!(multiset(&dst), multiset(&fixture("out_trivial.jsonl")));
}

#[tokio::test]
async fn stop_token_lets_running_calls_finish_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    let source: Vec<Value> = (0..50)
        .map(|i| json!({"key": i % 20, "other": i}))
        .collect();
    write_rows(&src, &source);

    let token = CancellationToken::new();
    let started = Arc::new(AtomicUsize::new(0));
    let f = {
        let (token, started) = (token.clone(), started.clone());
        move |row: Row| {
            if started.fetch_add(1, Ordering::SeqCst) == 2 {
                token.cancel();
            }
            support::plus_one(row)
        }
    };
    let report = map_by_key(
        &src,
        &dst,
        f,
        MapOptions::new("key").concurrency(3).stop_token(token),
    )
    .await
    .unwrap();
    assert!(report.stopped);
    assert!(!report.is_complete());
    let first_calls = started.load(Ordering::SeqCst);
    assert!((3..20).contains(&first_calls), "{first_calls} calls");
    assert_eq!(report.keys_computed as usize, first_calls);

    let calls = Calls::default();
    let rerun = map_by_key(&src, &dst, counting(&calls), MapOptions::new("key"))
        .await
        .unwrap();
    assert!(rerun.is_complete());
    assert_eq!(first_calls + calls.total(), 20);
    let out = rows(&dst);
    assert_eq!(out.len(), 50);
    for (i, r) in out.iter().enumerate() {
        let key = r["key"].as_i64().unwrap_or(-1);
        assert_eq!(r["result"], json!(key + 1), "row {i}");
    }
}

/// A call of a flatmap in these tests.
type SplitCall =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Row>, std::io::Error>> + Send>>;

fn split(row: Row) -> SplitCall {
    Box::pin(async move {
        let k = row["key"].as_i64().unwrap_or(0);
        let n = (k % 3) as usize;
        Ok((0..n).map(|i| support::row(json!({"part": i}))).collect())
    })
}

/// `split`, recording each call's key in `calls`.
fn counting_split(calls: &Calls) -> impl FnMut(Row) -> SplitCall {
    let calls = calls.clone();
    move |row: Row| {
        calls.record(&row["key"]);
        split(row)
    }
}

/// Runs the flatmap `split` to the end over keys `0..keys` in `dir`, and
/// returns the source, the destination and its done log.
async fn split_complete(dir: &Path, keys: u64) -> (PathBuf, PathBuf, PathBuf) {
    let (src, dst) = (dir.join("in.jsonl"), dir.join("out.jsonl"));
    write_rows(
        &src,
        &(0..keys).map(|k| json!({"key": k})).collect::<Vec<_>>(),
    );
    flatmap_by_key(&src, &dst, split, MapOptions::new("key"))
        .await
        .unwrap();
    (src, dst, dir.join("out.jsonl.done"))
}

/// Runs the flatmap `split` over `src` into `dst` again, with the calls
/// and the notices it makes recorded.
async fn rerun_split(src: &Path, dst: &Path) -> (Report, Calls, Skipped) {
    let (calls, skipped) = (Calls::default(), Skipped::default());
    let opts = MapOptions::new("key").on_skip(skipped.callback());
    let report = flatmap_by_key(src, dst, counting_split(&calls), opts)
        .await
        .unwrap();
    (report, calls, skipped)
}

#[tokio::test]
async fn flatmap_key_with_no_rows_is_not_called_again() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    write_rows(&src, &(0..9).map(|k| json!({"key": k})).collect::<Vec<_>>());
    let first = flatmap_by_key(&src, &dst, split, MapOptions::new("key"))
        .await
        .unwrap();
    assert_eq!((first.rows_written, first.lines_written), (9, 9));
    let calls = Calls::default();
    let counted = counting_split(&calls);
    let second = flatmap_by_key(&src, &dst, counted, MapOptions::new("key"))
        .await
        .unwrap();
    assert_eq!(calls.total(), 0);
    assert_eq!(second.rows_resumed, 9);
    assert_eq!(rows(&dst).len(), 9);
}

#[tokio::test]
async fn flatmap_cuts_rows_of_a_key_not_recorded_done() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    write_rows(&src, &[json!({"key": 2}), json!({"key": 5})]);
    flatmap_by_key(&src, &dst, split, MapOptions::new("key"))
        .await
        .unwrap();
    let complete = std::fs::read(&dst).unwrap();
    // Forget that key 5 finished: its rows are now uncommitted.
    let log = dir.path().join("out.jsonl.done");
    let first_record = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    std::fs::write(&log, format!("{first_record}\n")).unwrap();

    let (_, calls, skipped) = rerun_split(&src, &dst).await;
    assert_eq!(calls.total(), 1);
    assert_eq!(std::fs::read(&dst).unwrap(), complete);
    // The notice says how much was cut: the rows past the first record's end.
    let end = serde_json::from_str::<Value>(&first_record).unwrap()["end"]
        .as_u64()
        .unwrap();
    let cut = format!(
        "cut {} bytes of rows whose key was not recorded as done",
        complete.len() as u64 - end
    );
    assert!(
        skipped.messages().len() == 1 && skipped.messages()[0].contains(&cut),
        "{:?}",
        skipped.messages()
    );
}

/// A rerun over a complete flatmap has nothing to repair: it calls nothing
/// and the skip callback hears no notice.
#[tokio::test]
async fn flatmap_rerun_over_a_complete_dst_reports_no_repair() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, log) = split_complete(dir.path(), 6).await;
    let (complete, complete_log) = (std::fs::read(&dst).unwrap(), std::fs::read(&log).unwrap());
    let (report, calls, skipped) = rerun_split(&src, &dst).await;
    assert_eq!((report.rows_resumed, calls.total()), (6, 0));
    assert_eq!(skipped.messages(), Vec::<String>::new());
    assert_eq!(std::fs::read(&dst).unwrap(), complete);
    assert_eq!(std::fs::read(&log).unwrap(), complete_log);
}

/// An empty destination with no done log (created, then the run died before
/// finishing a key) holds nothing to guess about: the run starts afresh.
#[tokio::test]
async fn flatmap_over_an_empty_dst_without_its_done_log_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    std::fs::write(&dst, "").unwrap();
    let report = flatmap_by_key(
        fixture("in_flatmap.jsonl"),
        &dst,
        split,
        MapOptions::new("key"),
    )
    .await
    .unwrap();
    assert_eq!((report.rows_written, report.lines_written), (2, 3));
    assert_eq!(rows(&dst).len(), 3);
}

/// A bad record in the middle of the done log is an error naming the log
/// and its line, never guessed around.
#[tokio::test]
async fn flatmap_bad_done_log_record_names_the_log_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, log) = split_complete(dir.path(), 6).await;
    let records: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(records.len() >= 3, "{records:?}");
    let mut bad = records.clone();
    bad[1] = "{\"key\": 1, \"rows\"".to_owned();
    std::fs::write(&log, bad.join("\n") + "\n").unwrap();
    let err = flatmap_by_key(&src, &dst, split, MapOptions::new("key"))
        .await
        .unwrap_err()
        .error;
    assert!(
        matches!(&err, Error::InvalidJson { path, line: 2, .. } if *path == log),
        "{err}"
    );
}

#[tokio::test]
async fn flatmap_without_its_done_log_refuses_to_guess() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    write_rows(&dst, &[json!({"key": 10, "result": 11})]);
    let err = flatmap_by_key(
        fixture("in_flatmap.jsonl"),
        &dst,
        split,
        MapOptions::new("key"),
    )
    .await
    .unwrap_err()
    .error;
    assert!(matches!(err, Error::MissingDoneLog { .. }), "{err}");
}

/// The done log is append-only, so a record past the end of the destination
/// makes every record after it suspect too: all are dropped, even those whose
/// rows are present, and their keys computed again.
#[tokio::test]
async fn flatmap_drops_every_done_record_after_one_past_the_end_of_dst() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    write_rows(&src, &(0..6).map(|k| json!({"key": k})).collect::<Vec<_>>());
    flatmap_by_key(&src, &dst, split, MapOptions::new("key"))
        .await
        .unwrap();
    let complete = multiset(&dst);
    let log = dir.path().join("out.jsonl.done");
    let mut records: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 6);
    records[1]["end"] = json!(1u64 << 40);
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();

    let (report, calls, skipped) = rerun_split(&src, &dst).await;
    assert_eq!((report.rows_resumed, calls.total()), (1, 5));
    let messages = skipped.messages();
    assert!(
        messages.iter().any(|m| m.contains("dropped 5 records")),
        "{messages:?}"
    );
    assert_eq!(multiset(&dst), complete);
}

/// A destination that cannot be read (here a symlink to itself) is an error
/// naming it, and its done log is left as it was: it is not taken for an
/// empty destination whose log ran ahead, which would drop every record.
#[cfg(unix)]
#[tokio::test]
async fn flatmap_over_an_unreadable_dst_is_an_error_and_keeps_its_done_log() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, log) = split_complete(dir.path(), 4).await;
    let kept_log = std::fs::read(&log).unwrap();
    std::fs::remove_file(&dst).unwrap();
    std::os::unix::fs::symlink(&dst, &dst).unwrap();

    let skipped = Skipped::default();
    let err = flatmap_by_key(
        &src,
        &dst,
        split,
        MapOptions::new("key")
            .on_error(OnError::Skip)
            .on_skip(skipped.callback()),
    )
    .await
    .unwrap_err()
    .error;
    assert!(
        matches!(&err, Error::Io { path, .. } if *path == dst),
        "{err}"
    );
    assert_eq!(std::fs::read(&log).unwrap(), kept_log);
    assert_eq!(skipped.messages(), Vec::<String>::new());
}

#[tokio::test]
async fn create_or_resume_repairs_a_torn_line_and_fills_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    std::fs::write(&path, "{\"letter\":\"a\"}\n{\"letter\":\"b\"").unwrap();
    let skipped = Skipped::default();
    let generate = |_key: Value, index: usize| async move {
        Ok::<_, std::io::Error>(support::row(json!({"i": index})))
    };
    let report = create_or_resume(
        &path,
        "letter",
        2,
        ["a", "b"],
        generate,
        CreateOptions::default().on_skip(skipped.callback()),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.rows_resumed,
            report.rows_written,
            report.lines_written,
            report.keys_computed
        ),
        (1, 3, 3, 3)
    );
    assert_eq!(skipped.messages().len(), 1);
    let mut got: Vec<String> = rows(&path)
        .into_iter()
        .map(|r| Value::Object(r).to_string())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            r#"{"i":0,"letter":"b"}"#,
            r#"{"i":1,"letter":"a"}"#,
            r#"{"i":1,"letter":"b"}"#,
            r#"{"letter":"a"}"#,
        ]
    );
}

/// Keys and existing rows are numbered and counted in batches of 1024: a
/// file and a key list spanning several batches resume exactly, with
/// repeated keys in the list counted once.
#[tokio::test]
async fn create_or_resume_over_thousands_of_keys_generates_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    let existing: String = (0..2500)
        .map(|i| format!("{{\"k\": \"k{i}\"}}\n"))
        .collect();
    std::fs::write(&path, &existing).unwrap();
    let keys: Vec<String> = (0..3000).chain(0..3000).map(|i| format!("k{i}")).collect();
    let calls = Calls::default();
    let generate = {
        let calls = calls.clone();
        move |key: Value, _i: usize| {
            calls.record(&key);
            async { Ok::<_, String>(Row::new()) }
        }
    };
    let report = create_or_resume(&path, "k", 1, keys, generate, CreateOptions::default())
        .await
        .unwrap();
    assert_eq!((report.rows_resumed, report.rows_written), (2500, 500));
    let called = calls.get();
    assert_eq!(called.len(), 500);
    assert!(
        (2500..3000).all(|i| called.get(&json!(format!("k{i}")).to_string()) == Some(&1)),
        "{called:?}"
    );
}

#[tokio::test]
async fn create_or_resume_after_skipped_failures_generates_only_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    let flaky = |key: Value, index: usize| async move {
        if key == json!("b") && index == 1 {
            return Err(std::io::Error::other("flaky"));
        }
        Ok(Row::new())
    };
    let keys = ["a", "b", "c"];
    let first = create_or_resume(
        &path,
        "letter",
        3,
        keys,
        flaky,
        CreateOptions::default()
            .on_error(OnError::Skip)
            .on_skip(|_| ()),
    )
    .await
    .unwrap();
    assert_eq!(
        (first.rows_written, first.rows_failed, first.keys_failed),
        (8, 1, 1)
    );
    let second = create_or_resume(
        &path,
        "letter",
        3,
        keys,
        |_k: Value, _i: usize| async { Ok::<_, String>(Row::new()) },
        CreateOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!((second.rows_resumed, second.rows_written), (8, 1));
    assert_eq!(rows(&path).len(), 9);
}

#[tokio::test]
async fn fsync_durability_writes_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let (flushed, synced) = (
        dir.path().join("flush.jsonl"),
        dir.path().join("fsync.jsonl"),
    );
    map_by_key(
        fixture("in_trivial.jsonl"),
        &flushed,
        support::plus_one,
        opts(),
    )
    .await
    .unwrap();
    let fsync = opts().durability(pipework::jsonl::Durability::Fsync);
    map_by_key(
        fixture("in_trivial.jsonl"),
        &synced,
        support::plus_one,
        fsync,
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(&flushed).unwrap(),
        std::fs::read(&synced).unwrap()
    );
}

/// Rows of keys 0..50, each three times, with a kept column that differs per row.
fn overriding_source(dir: &std::path::Path) -> std::path::PathBuf {
    let src = dir.join("in.jsonl");
    let text: String = (0..150)
        .map(|i| format!("{{\"other\": \"src{i}\", \"key\": {}}}\n", i % 50))
        .collect();
    std::fs::write(&src, text).unwrap();
    src
}

/// A result that supplies the key column (unchanged) and the kept column.
async fn overriding(row: Row) -> Result<Row, std::io::Error> {
    let mut out = Row::new();
    out.insert("z".into(), json!(1));
    out.insert("other".into(), json!("from f"));
    out.insert("key".into(), row["key"].clone());
    Ok(out)
}

/// The options of the runs with [`overriding`]: its kept column is `other`.
fn overriding_options() -> MapOptions {
    MapOptions::new("key")
        .keep_columns(["other"])
        .concurrency(2)
}

/// A result dropped from the cache and read back from DST keeps the columns
/// it supplied itself: the output is byte for byte what a run keeping every
/// result writes.
#[tokio::test]
async fn results_read_back_from_dst_keep_the_columns_they_supplied() {
    let dir = tempfile::tempdir().unwrap();
    let src = overriding_source(dir.path());
    let opts = overriding_options;
    let (kept, dropped) = (
        dir.path().join("kept.jsonl"),
        dir.path().join("dropped.jsonl"),
    );
    map_by_key(&src, &kept, overriding, opts()).await.unwrap();
    map_by_key(&src, &dropped, overriding, opts().cache_bytes(0))
        .await
        .unwrap();
    let kept = std::fs::read_to_string(&kept).unwrap();
    assert!(kept.contains("from f"));
    assert_eq!(std::fs::read_to_string(&dropped).unwrap(), kept);
}

/// A resume learns from the replaced log beside DST which kept columns `f`
/// supplied, not from where they stand in a row: after DST is cut and its
/// rows' fields sorted (the kept column `other` now comes before `key`, as
/// `jq -S` writes it), rows written after it carry `f`'s value, as a fresh
/// run's do, and keep the fresh run's field order.
#[tokio::test]
async fn a_resume_writes_what_a_fresh_run_writes_when_f_supplies_a_kept_column() {
    let dir = tempfile::tempdir().unwrap();
    let src = overriding_source(dir.path());
    let opts = overriding_options;
    let dst = dir.path().join("out.jsonl");
    map_by_key(&src, &dst, overriding, opts()).await.unwrap();
    let fresh = std::fs::read_to_string(&dst).unwrap();
    // Each row's fields in reverse order: the kept column before the key.
    let sorted: String = fresh
        .lines()
        .take(50)
        .map(|line| {
            let row: Row = serde_json::from_str(line).unwrap();
            let fields: Vec<String> = row
                .iter()
                .rev()
                .map(|(name, value)| format!("{}: {value}", Value::from(name.as_str())))
                .collect();
            format!("{{{}}}\n", fields.join(", "))
        })
        .collect();
    assert!(sorted.starts_with("{\"z\": 1, \"other\": \"from f\", \"key\": 0}"));
    std::fs::write(&dst, &sorted).unwrap();
    let report = map_by_key(&src, &dst, overriding, opts()).await.unwrap();
    assert_eq!((report.keys_computed, report.rows_resumed), (0, 50));
    let resumed = std::fs::read_to_string(&dst).unwrap();
    let rest: String = fresh.lines().skip(50).map(|l| format!("{l}\n")).collect();
    assert_eq!(resumed, format!("{sorted}{rest}"));
}

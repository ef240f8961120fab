//! How many calls `map_by_key` and `create_or_resume` run at once, and how
//! much finished work can wait unwritten.
#![cfg(feature = "jsonl")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pipework::jsonl::{create_or_resume, map_by_key, CreateOptions, Durability, MapOptions, Row};
use serde_json::{json, Value};
use support::{rows, write_rows};
use tokio::sync::Semaphore;

#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl InFlight {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_concurrency_calls_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    write_rows(
        &src,
        &(0..400)
            .map(|i| json!({"key": i % 100}))
            .collect::<Vec<_>>(),
    );
    let flight = Arc::new(InFlight::default());
    let f = {
        let flight = flight.clone();
        move |row: Row| {
            let flight = flight.clone();
            async move {
                flight.enter();
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
                flight.leave();
                support::plus_one(row).await
            }
        }
    };
    let report = map_by_key(&src, &dst, f, MapOptions::new("key").concurrency(8))
        .await
        .unwrap();
    assert_eq!((report.keys_computed, report.rows_written), (100, 400));
    let max = flight.max.load(Ordering::SeqCst);
    assert!((2..=8).contains(&max), "max in flight {max}");
    // Output keeps source order.
    let keys: Vec<i64> = rows(&dst)
        .iter()
        .map(|r| r["key"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(keys, (0..400).map(|i| i % 100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_first_key_holds_back_new_calls_so_a_crash_loses_at_most_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    write_rows(
        &src,
        &(0..100).map(|i| json!({"key": i})).collect::<Vec<_>>(),
    );
    let gate = Arc::new(Semaphore::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let f = {
        let (gate, started) = (gate.clone(), started.clone());
        move |row: Row| {
            let gate = gate.clone();
            started.fetch_add(1, Ordering::SeqCst);
            async move {
                if row["key"] == json!(0) {
                    let _permit = gate.acquire().await;
                }
                support::plus_one(row).await
            }
        }
    };
    let run = tokio::spawn(map_by_key(
        src,
        dst.clone(),
        f,
        MapOptions::new("key").concurrency(4),
    ));
    // Keys 1..3 finish at once but cannot be written before key 0: no fifth
    // call may start. Give the run ample time to (wrongly) start more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(started.load(Ordering::SeqCst), 4);
    assert!(std::fs::read(&dst).map(|b| b.is_empty()).unwrap_or(true));
    gate.add_permits(1);
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.keys_computed, 100);
    assert_eq!(started.load(Ordering::SeqCst), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_or_resume_runs_at_most_limit_generators() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    let flight = Arc::new(InFlight::default());
    let generate = {
        let flight = flight.clone();
        move |_key: Value, index: usize| {
            let flight = flight.clone();
            async move {
                flight.enter();
                tokio::time::sleep(Duration::from_millis(1)).await;
                flight.leave();
                Ok::<_, String>(support::row(json!({"i": index})))
            }
        }
    };
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let report = create_or_resume(
        &path,
        "key",
        5,
        keys,
        generate,
        CreateOptions::default().limit(6),
    )
    .await
    .unwrap();
    assert_eq!(report.rows_written, 100);
    assert_eq!(rows(&path).len(), 100);
    let max = flight.max.load(Ordering::SeqCst);
    assert!((2..=6).contains(&max), "max in flight {max}");
}

/// A generated row stays at risk until it is on disk, and at most `limit`
/// are: a call starts only while fewer than `limit` rows are started and
/// not yet written. So each call finds on disk all the rows of the calls
/// before it but `limit - 1` at most, however fast the calls are and however
/// slow the writer; with several batches in flight, a batch counts as
/// written only once the writer says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_or_resume_starts_a_call_only_while_fewer_than_limit_rows_are_unwritten() {
    for limit in [1, 2, 4] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.jsonl");
        let started = Arc::new(AtomicUsize::new(0));
        let at_risk = Arc::new(AtomicUsize::new(0));
        let generate = {
            let (path, started, at_risk) = (path.clone(), started.clone(), at_risk.clone());
            move |_key: Value, index: usize| {
                // The call starts here, on the run's thread: count what is
                // on disk before its future exists.
                let on_disk = std::fs::read(&path)
                    .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
                    .unwrap_or(0);
                let now = started.fetch_add(1, Ordering::SeqCst) + 1;
                at_risk.fetch_max(now - on_disk.min(now), Ordering::SeqCst);
                // Calls that end at different times make batches of their
                // own, several of them waiting for an fsync at once.
                let wait = Duration::from_micros(300 * (now % 4) as u64);
                async move {
                    tokio::time::sleep(wait).await;
                    Ok::<_, String>(support::row(json!({"i": index})))
                }
            }
        };
        let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let opts = CreateOptions::default()
            .limit(limit)
            .durability(Durability::Fsync);
        let report = create_or_resume(&path, "key", 3, keys, generate, opts)
            .await
            .unwrap();
        assert_eq!(report.rows_written, 120);
        assert_eq!(started.load(Ordering::SeqCst), 120);
        let most = at_risk.load(Ordering::SeqCst);
        assert!(
            (1..=limit).contains(&most),
            "limit {limit}: {most} rows at risk"
        );
    }
}

/// Where each call's future was first polled: on a task of its own
/// (`Some`), or in place, on the caller's `block_on` (`None`).
async fn first_polls(opts: MapOptions) -> Vec<Option<tokio::task::Id>> {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    let source: Vec<Value> = (0..20).map(|k| json!({"key": k})).collect();
    write_rows(&src, &source);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let f = move |row: Row| {
        let record = Arc::clone(&record);
        async move {
            record.lock().unwrap().push(tokio::task::try_id());
            support::plus_one(row).await
        }
    };
    let report = map_by_key(&src, &dst, f, opts).await.unwrap();
    assert_eq!(report.rows_written, 20);
    let seen = seen.lock().unwrap().clone();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ready_at_once_runs_in_place_unless_every_call_is_spawned() {
    let in_place = first_polls(MapOptions::new("key").concurrency(4)).await;
    assert_eq!(in_place, vec![None; 20]);
    let spawned = first_polls(MapOptions::new("key").concurrency(4).spawn_every_call()).await;
    assert_eq!(spawned.len(), 20);
    assert!(spawned.iter().all(Option::is_some), "{spawned:?}");
}

/// While every source row waits for one blocked call, reading pauses once
/// `read_ahead` rows wait: the rest of the source stays where it is. The
/// source is a named pipe, so a reader that went on would let its writer
/// write every row; one that pauses leaves the writer blocked on a full
/// pipe until the call returns.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_pauses_once_read_ahead_rows_wait_for_a_blocked_call() {
    use std::io::Write;

    // Several times what the buffers between the writer and the waiting
    // rows hold (the pipe, the reader's buffer, its batches: some 15,000
    // rows of this size).
    const ROWS: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    let made = std::process::Command::new("mkfifo")
        .arg(&src)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo: {made}");
    let (written_tx, written_rx) = tokio::sync::oneshot::channel::<()>();
    let writer = std::thread::spawn({
        let src = src.clone();
        move || {
            let mut pipe = std::io::BufWriter::new(std::fs::File::create(&src)?);
            for _ in 0..ROWS {
                pipe.write_all(b"{\"key\":0}\n")?;
            }
            pipe.flush()?;
            drop(pipe);
            // The run may be over already (a failed test): nobody to tell.
            let _ = written_tx.send(());
            Ok::<_, std::io::Error>(())
        }
    });
    let written = Arc::new(std::sync::Mutex::new(Some(written_rx)));
    let f = move |row: Row| {
        let written = written.lock().unwrap().take();
        async move {
            // The one call holds every row. It waits for the writer to be
            // done, which only a reader that did not pause lets happen, or
            // for ample time to pass (a late scheduler only makes this pass).
            let written = written.expect("one call for the one key");
            let wrote_all = tokio::time::timeout(Duration::from_secs(2), written)
                .await
                .is_ok();
            let mut out = support::plus_one(row).await?;
            out.insert("wrote_all".into(), json!(wrote_all));
            Ok::<_, std::io::Error>(out)
        }
    };
    let report = map_by_key(&src, &dst, f, MapOptions::new("key").read_ahead(16))
        .await
        .unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(report.rows_written, ROWS as u64);
    let first = &rows(&dst)[0];
    assert_eq!(
        first["wrote_all"],
        json!(false),
        "the whole source was read while its rows waited for one call"
    );
}

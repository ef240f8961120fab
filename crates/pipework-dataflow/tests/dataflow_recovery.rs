//! Tests for crash recovery: the SQLite store, commits at epoch close,
//! resume (also with another worker count), garbage collection and the
//! errors of a bad recovery directory.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use pipework_dataflow::connectors::{
    FileSink, FileSource, Line, TestingItem, TestingSink, TestingSource,
};
use pipework_dataflow::recovery::{init_db_dir, RecoveryConfig, RecoveryError};
use pipework_dataflow::{Dataflow, ExecutionConfig, RunError};
use support::bounded_run::run;
use support::partitions::copy_partition;

/// How long any one run may take before the test fails instead of hanging.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `flow` on a thread, failing the test if it takes longer than
/// [`RUN_DEADLINE`].
fn run_bounded(flow: &Dataflow, config: &ExecutionConfig) -> Result<(), RunError> {
    let (flow, config) = (flow.clone(), config.clone());
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        // The receiver is gone only when the test already failed on time.
        let _ = done.send(run(&flow, &config));
    });
    result
        .recv_timeout(RUN_DEADLINE)
        .unwrap_or_else(|_| panic!("the run did not end within {RUN_DEADLINE:?}"))
}

fn recovery(dir: &Path, workers: usize) -> ExecutionConfig {
    ExecutionConfig::threads(workers)
        .unwrap()
        .epoch_interval(Duration::ZERO)
        .recovery(RecoveryConfig::new(dir))
}

fn recovery_err(result: Result<(), RunError>) -> RecoveryError {
    match result {
        Err(RunError::Recovery(err)) => err,
        other => panic!("expected a recovery error, got {other:?}"),
    }
}

/// A flow that must never read: its source panics when listed.
fn never_reads() -> Dataflow {
    struct Unreadable;
    impl pipework_dataflow::inputs::FixedPartitionedSource for Unreadable {
        type Item = u32;
        type State = usize;
        type Partition = pipework_dataflow::connectors::TestingPartition<u32>;
        fn list_parts(&self) -> Result<Vec<String>, pipework_dataflow::inputs::SourceError> {
            panic!("input was read although the recovery directory is bad")
        }
        fn build_part(
            &self,
            _now: std::time::SystemTime,
            _part: &str,
            _state: Option<usize>,
        ) -> Result<Self::Partition, pipework_dataflow::inputs::SourceError> {
            panic!("input was built although the recovery directory is bad")
        }
    }
    Dataflow::new("never_reads", |flow| {
        flow.input("inp", Unreadable)
            .output("out", TestingSink::<u32>::new());
    })
}

#[test]
fn missing_directory_is_an_error_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = recovery_err(run_bounded(&never_reads(), &recovery(&missing, 1)));
    assert!(matches!(err, RecoveryError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn empty_directory_is_no_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let err = recovery_err(run_bounded(&never_reads(), &recovery(dir.path(), 1)));
    assert!(matches!(err, RecoveryError::NoPartitions { .. }), "{err}");
}

#[test]
fn a_removed_partition_is_named_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 3).unwrap();
    std::fs::remove_file(dir.path().join("part-1.sqlite3")).unwrap();
    let err = recovery_err(run_bounded(&never_reads(), &recovery(dir.path(), 1)));
    match &err {
        RecoveryError::MissingPartitions {
            missing,
            total,
            first,
            ..
        } => {
            assert_eq!((*missing, *total), (1, 3));
            assert!(first.ends_with("part-1.sqlite3"));
        }
        other => panic!("expected missing partitions, got {other}"),
    }
    assert!(
        err.to_string().contains("missing partitions 1 of 3"),
        "{err}"
    );
}

#[test]
fn partitions_of_two_directories_are_inconsistent() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    init_db_dir(one.path(), 2).unwrap();
    init_db_dir(two.path(), 3).unwrap();
    copy_partition(two.path(), one.path(), "part-1.sqlite3");
    let err = recovery_err(run_bounded(&never_reads(), &recovery(one.path(), 1)));
    assert!(
        matches!(err, RecoveryError::InconsistentPartitions { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("part-"), "{err}");
}

#[test]
fn a_garbage_file_is_not_a_partition() {
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 2).unwrap();
    std::fs::write(
        dir.path().join("part-1.sqlite3"),
        "not a database at all, clearly",
    )
    .unwrap();
    // Alone: the log of the partition it replaced would mask it.
    for suffix in ["-wal", "-shm"] {
        std::fs::remove_file(dir.path().join(format!("part-1.sqlite3{suffix}"))).unwrap();
    }
    let err = recovery_err(run_bounded(&never_reads(), &recovery(dir.path(), 1)));
    assert!(err.to_string().contains("part-1.sqlite3"), "{err}");
}

#[test]
fn init_refuses_an_initialised_directory_and_zero_parts() {
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 2).unwrap();
    assert!(matches!(
        init_db_dir(dir.path(), 2),
        Err(RecoveryError::AlreadyInitialized { .. })
    ));
    let other = tempfile::tempdir().unwrap();
    assert!(matches!(
        init_db_dir(other.path(), 0),
        Err(RecoveryError::ZeroParts)
    ));
}

/// A partition file restored from an older copy than the others: the
/// others dropped snapshots that a resume from its epoch would need.
#[test]
fn a_partition_older_than_the_collected_ones_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 2).unwrap();
    let old = tempfile::tempdir().unwrap();
    for part in ["part-0.sqlite3", "part-1.sqlite3"] {
        copy_partition(dir.path(), old.path(), part);
    }
    let items: Vec<TestingItem<(String, u64)>> = (0..40)
        .map(|i| TestingItem::Item((format!("k{}", i % 7), i)))
        .collect();
    let flow = keep_max_flow(TestingSource::with_markers(items), TestingSink::new());
    run_bounded(&flow, &recovery(dir.path(), 1)).unwrap();
    // Put back the pristine copy of one partition only.
    copy_partition(old.path(), dir.path(), "part-0.sqlite3");
    let err = recovery_err(run_bounded(&never_reads(), &recovery(dir.path(), 1)));
    assert!(
        matches!(err, RecoveryError::GarbageCollected { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("part-1.sqlite3"), "{err}");
}

type Keyed = (String, u64);

/// bytewax's keep-max flow: the running max of each key.
fn keep_max_flow(source: TestingSource<Keyed>, sink: TestingSink<Keyed>) -> Dataflow {
    Dataflow::new("keep_max", move |flow| {
        flow.input("inp", source.clone())
            .stateful_map("max", |max: Option<u64>, value: u64| {
                let max = max.unwrap_or(0).max(value);
                (Some(max), max)
            })
            .output("out", sink.clone());
    })
}

/// Rows per `(step, key)` in all partition files.
fn rows_per_key(dir: &Path) -> BTreeMap<(String, String), usize> {
    let mut rows = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("sqlite3") {
            continue;
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut statement = conn
            .prepare("SELECT step_id, state_key, COUNT(*) FROM snaps GROUP BY step_id, state_key")
            .unwrap();
        let found = statement
            .query_map([], |row| {
                Ok(((row.get(0)?, row.get(1)?), row.get::<_, i64>(2)? as usize))
            })
            .unwrap();
        for row in found {
            let (key, count) = row.unwrap();
            rows.insert(key, count);
        }
    }
    rows
}

#[test]
fn garbage_collection_keeps_one_snapshot_per_key_after_many_epochs() {
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 2).unwrap();
    let items: Vec<TestingItem<Keyed>> = (0..300)
        .map(|i| TestingItem::Item((format!("k{}", i % 5), i)))
        .collect();
    let flow = keep_max_flow(TestingSource::with_markers(items), TestingSink::new());
    run_bounded(&flow, &recovery(dir.path(), 2)).unwrap();
    let rows = rows_per_key(dir.path());
    // 5 keys of `max` and the one input partition.
    assert_eq!(rows.len(), 6, "{rows:?}");
    for (key, count) in &rows {
        // The newest snapshot, and at most the ones of the last epochs
        // not yet known to be committed everywhere.
        assert!(
            *count <= 3,
            "{key:?} has {count} snapshots after 300 epochs"
        );
    }
}

#[test]
fn backup_interval_keeps_older_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 1).unwrap();
    let items: Vec<TestingItem<Keyed>> = (0..100)
        .map(|i| TestingItem::Item(("k".to_owned(), i)))
        .collect();
    let flow = keep_max_flow(TestingSource::with_markers(items), TestingSink::new());
    let config = ExecutionConfig::single()
        .epoch_interval(Duration::from_millis(1))
        .recovery(RecoveryConfig::new(dir.path()).backup_interval(Duration::from_secs(3600)));
    run_bounded(&flow, &config).unwrap();
    let rows = rows_per_key(dir.path());
    let kept = rows[&("max".to_owned(), "k".to_owned())];
    assert!(
        kept > 3,
        "only {kept} snapshots kept with a one-hour backup interval"
    );
}

/// A stateful flow into a file: killed (aborted) mid-run, then resumed
/// with another worker count, the file holds exactly the lines of an
/// uninterrupted run.
#[test]
fn resume_into_a_file_sink_is_exactly_once_with_another_worker_count() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    let text: String = (0..500).map(|i| format!("w{}\n", i % 13)).collect();
    std::fs::write(&input, &text).unwrap();
    let expected_out = work.path().join("expected.txt");
    let out = work.path().join("out.txt");
    let build = |path: std::path::PathBuf, abort_at: Option<usize>| {
        let input = input.clone();
        let aborted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        Dataflow::new("count_into_file", move |flow| {
            let aborted = std::sync::Arc::clone(&aborted);
            let seen = std::cell::Cell::new(0usize);
            flow.input("read", FileSource::new(&input).batch_size(7))
                .map("bomb", move |line: Line| {
                    seen.set(seen.get() + 1);
                    if abort_at == Some(seen.get())
                        && !aborted.swap(true, std::sync::atomic::Ordering::SeqCst)
                    {
                        panic!("simulated crash");
                    }
                    line.into_string()
                })
                .key_on("key", |word: &String| word.clone())
                .stateful_map("count", |seen: Option<u64>, _word: String| {
                    let seen = seen.unwrap_or(0) + 1;
                    (Some(seen), seen)
                })
                .map("format", |(word, n): (String, u64)| {
                    (String::new(), format!("{word}\t{n}"))
                })
                .output_partitioned("write", FileSink::new(&path));
        })
    };
    run_bounded(
        &build(expected_out.clone(), None),
        &ExecutionConfig::single(),
    )
    .unwrap();

    let dir = work.path().join("recovery");
    init_db_dir(&dir, 3).unwrap();
    let config = |workers| {
        ExecutionConfig::threads(workers)
            .unwrap()
            .epoch_interval(Duration::from_millis(1))
            .recovery(RecoveryConfig::new(&dir))
    };
    let crashed = run_bounded(&build(out.clone(), Some(300)), &config(1));
    assert!(
        matches!(crashed, Err(RunError::Panicked { .. })),
        "{crashed:?}"
    );
    let partial = std::fs::read_to_string(&out).unwrap();
    assert!(partial.lines().count() < 500);
    run_bounded(&build(out.clone(), None), &config(3)).unwrap();

    let mut got: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut want: Vec<String> = std::fs::read_to_string(&expected_out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_finished_run_resumes_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 2).unwrap();
    let out = TestingSink::new();
    let items: Vec<TestingItem<Keyed>> = vec![
        TestingItem::Item(("a".into(), 3)),
        TestingItem::Item(("b".into(), 1)),
    ];
    let flow = keep_max_flow(TestingSource::with_markers(items), out.clone());
    let config = ExecutionConfig::single()
        .epoch_interval(Duration::from_secs(3600))
        .recovery(RecoveryConfig::new(dir.path()));
    run_bounded(&flow, &config).unwrap();
    assert_eq!(out.take().len(), 2);
    run_bounded(&flow, &config).unwrap();
    assert_eq!(out.take(), Vec::<Keyed>::new());
}

/// A source that records, at each read, how many of its items the sink
/// has not written yet.
struct Watched {
    written: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

struct WatchedPart {
    emitted: usize,
    written: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl pipework_dataflow::inputs::StatefulSourcePartition for WatchedPart {
    type Item = (String, usize);
    type State = usize;
    fn next_batch(
        &mut self,
    ) -> Result<Option<Vec<(String, usize)>>, pipework_dataflow::inputs::SourceError> {
        use std::sync::atomic::Ordering::SeqCst;
        let in_flight = self.emitted - self.written.load(SeqCst);
        self.max_in_flight.fetch_max(in_flight, SeqCst);
        if self.emitted >= 300 {
            return Ok(None);
        }
        self.emitted += 10;
        Ok(Some(
            (self.emitted - 10..self.emitted)
                .map(|i| (format!("k{}", i % 4), i))
                .collect(),
        ))
    }
    fn snapshot(&self) -> usize {
        self.emitted
    }
}

impl pipework_dataflow::inputs::FixedPartitionedSource for Watched {
    type Item = (String, usize);
    type State = usize;
    type Partition = WatchedPart;
    fn list_parts(&self) -> Result<Vec<String>, pipework_dataflow::inputs::SourceError> {
        Ok(vec!["only".into()])
    }
    fn build_part(
        &self,
        _now: std::time::SystemTime,
        _part: &str,
        resume: Option<usize>,
    ) -> Result<WatchedPart, pipework_dataflow::inputs::SourceError> {
        Ok(WatchedPart {
            emitted: resume.unwrap_or(0),
            written: std::sync::Arc::clone(&self.written),
            max_in_flight: std::sync::Arc::clone(&self.max_in_flight),
        })
    }
}

/// With recovery on, an input still reads epoch `e` only after the outputs
/// finished the epochs before it (and every partition committed them): a
/// slow step on another worker holds the source back.
#[test]
fn epoch_backpressure_holds_with_recovery_on() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 2).unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let (w, m) = (Arc::clone(&written), Arc::clone(&max_in_flight));
    let flow = Dataflow::new("backpressure", move |flow| {
        let rounds = if flow.worker_index() == 1 {
            100_000usize
        } else {
            0
        };
        let w = Arc::clone(&w);
        flow.input(
            "inp",
            Watched {
                written: Arc::clone(&w),
                max_in_flight: Arc::clone(&m),
            },
        )
        .stateful_map("slow_sum", move |sum: Option<usize>, x: usize| {
            let spin = (0..rounds).fold(x, |acc, i| std::hint::black_box(acc ^ i));
            std::hint::black_box(spin);
            let sum = sum.unwrap_or(0) + x;
            (Some(sum), sum)
        })
        .inspect("count", move |_item: &(String, usize)| {
            w.fetch_add(1, SeqCst);
        })
        .output("out", TestingSink::new());
    });
    run_bounded(&flow, &recovery(dir.path(), 2)).unwrap();
    assert_eq!(written.load(SeqCst), 300);
    assert_eq!(
        max_in_flight.load(SeqCst),
        0,
        "the source read before the last batch was written"
    );
}

/// A state discarded by `stateful_map` (it returned `None`) stays
/// discarded after a resume: the older snapshot of the key is not used.
#[test]
fn a_discarded_state_stays_discarded_after_resume() {
    let dir = tempfile::tempdir().unwrap();
    init_db_dir(dir.path(), 2).unwrap();
    let out = TestingSink::new();
    let sink = out.clone();
    let source = TestingSource::with_markers(vec![
        TestingItem::Item(("a".to_owned(), 4u64)),
        TestingItem::Item(("a".to_owned(), 0)),
        TestingItem::Abort,
        TestingItem::Item(("a".to_owned(), 2)),
    ]);
    // 0 resets the key's max (the state is dropped).
    let flow = Dataflow::new("reset_max", move |flow| {
        flow.input("inp", source.clone())
            .stateful_map("max", |max: Option<u64>, value: u64| {
                if value == 0 {
                    return (None, 0);
                }
                let max = max.unwrap_or(0).max(value);
                (Some(max), max)
            })
            .output("out", sink.clone());
    });
    let err = run_bounded(&flow, &recovery(dir.path(), 1)).unwrap_err();
    assert!(err.is_abort(), "{err}");
    assert_eq!(out.take(), vec![("a".to_owned(), 4), ("a".to_owned(), 0)]);
    run_bounded(&flow, &recovery(dir.path(), 1)).unwrap();
    // Not 4: the reset was committed before the abort.
    assert_eq!(out.take(), vec![("a".to_owned(), 2)]);
}

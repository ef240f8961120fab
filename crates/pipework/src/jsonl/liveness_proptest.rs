//! A search for runs that hang, write a row twice or lose one.
//!
//! Each case draws a source (repeated keys in any order), an outcome per key
//! (a result, an error, a panic in the call or in its future, a slow
//! result; zero to three rows for a flatmap), a concurrency, an error policy,
//! the function (`map_by_key`, `flatmap_by_key`, `create_or_resume`) and
//! maybe a disk fault planted in the writer (a failing write after some bytes
//! with ENOSPC, EIO, EROFS or EFBIG, or a failing `fsync`). The run must end
//! within a generous bound, with the result its outcomes allow; then a rerun
//! in which every call succeeds must complete the destination with every row
//! exactly once and call no key whose rows were already there.
//!
//! The default run tries [`CASES`] cases; `cargo test -p pipework --lib
//! liveness -- --ignored` tries [`MANY_CASES`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

use super::within::within;
use super::write_fault::WriteFault;
use super::{
    create_or_resume, flatmap_by_key, map_by_key, CreateOptions, Error, Failed, MapOptions,
    OnError, Report, Row,
};

const CASES: u32 = 256;
const MANY_CASES: u32 = 4000;
/// Far longer than any case needs (a few milliseconds; a second on a busy
/// machine): reaching it is a hang.
const BOUND: Duration = Duration::from_secs(5);
/// Far longer than the default search needs (five seconds; twenty on a busy
/// machine): reaching it is a run that spins, or a failure whose shrinking
/// keeps reaching [`BOUND`] (run the test alone to see its case).
const SEARCH_BOUND: Duration = Duration::from_secs(60);
/// The text of every panic planted here, so the panic hook can keep quiet.
const PLANTED: &str = "planted panic";

#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// A result (for a flatmap, this many rows).
    Ok(u8),
    /// A slow result: the call sleeps this many milliseconds first.
    Slow(u8),
    Err,
    /// The function panics when called, before it returns a future.
    PanicOnCall,
    /// The call's future panics.
    PanicInFuture,
}

impl Outcome {
    fn fails(self) -> bool {
        matches!(
            self,
            Outcome::Err | Outcome::PanicOnCall | Outcome::PanicInFuture
        )
    }

    fn rows(self) -> u8 {
        match self {
            Outcome::Ok(n) | Outcome::Slow(n) => n,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Function {
    Map,
    Flatmap,
    Create { key_count: usize },
}

#[derive(Debug, Clone)]
struct Case {
    function: Function,
    /// The source's keys in order (for a flatmap, each key once).
    keys: Vec<u8>,
    /// By key.
    outcomes: Vec<Outcome>,
    concurrency: usize,
    on_error: OnError,
    fault: Option<WriteFault>,
    multi_thread: bool,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        6 => (0u8..4).prop_map(Outcome::Ok),
        2 => (0u8..4).prop_map(Outcome::Slow),
        3 => Just(Outcome::Err),
        1 => Just(Outcome::PanicOnCall),
        1 => Just(Outcome::PanicInFuture),
    ]
}

fn fault() -> impl Strategy<Value = Option<WriteFault>> {
    let errno = prop_oneof![
        Just(libc::ENOSPC),
        Just(libc::EIO),
        Just(libc::EROFS),
        Just(libc::EFBIG),
    ];
    prop_oneof![
        3 => Just(None),
        1 => (prop_oneof![0u64..200, 0u64..3000], errno.clone()).prop_map(|(after_bytes, errno)| Some(WriteFault {
            after_bytes,
            on_sync: false,
            errno,
        })),
        1 => errno.prop_map(|errno| Some(WriteFault {
            after_bytes: 0,
            on_sync: true,
            errno,
        })),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let function = prop_oneof![
        2 => Just(Function::Map),
        1 => Just(Function::Flatmap),
        1 => (1usize..4).prop_map(|key_count| Function::Create { key_count }),
    ];
    (
        function,
        1usize..50,
        1usize..200,
        prop_oneof![1usize..3, 1usize..17],
        prop_oneof![Just(OnError::Raise), Just(OnError::Skip)],
        fault(),
        any::<bool>(),
    )
        .prop_flat_map(
            |(function, distinct, rows, concurrency, on_error, fault, multi_thread)| {
                let keys: BoxedStrategy<Vec<u8>> = match function {
                    Function::Map => proptest::collection::vec(0..distinct as u8, rows).boxed(),
                    _ => Just((0..distinct as u8).collect::<Vec<u8>>())
                        .prop_shuffle()
                        .boxed(),
                };
                (
                    keys,
                    proptest::collection::vec(outcome(), distinct),
                    Just((function, concurrency, on_error, fault, multi_thread)),
                )
            },
        )
        .prop_map(
            |(keys, outcomes, (function, concurrency, on_error, fault, multi_thread))| Case {
                function,
                keys,
                outcomes,
                concurrency,
                on_error,
                fault,
                multi_thread,
            },
        )
}

/// Counts calls by key.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<HashMap<u8, usize>>>);

impl Calls {
    fn record(&self, key: u8) {
        let mut calls = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *calls.entry(key).or_insert(0) += 1;
    }

    fn keys(&self) -> HashSet<u8> {
        let calls = self.0.lock().unwrap_or_else(|p| p.into_inner());
        calls.keys().copied().collect()
    }
}

/// Runs the function of `case` once; `outcomes` decide each call.
async fn run_once(
    case: &Case,
    src: &Path,
    dst: &Path,
    outcomes: Arc<Vec<Outcome>>,
    fault: Option<WriteFault>,
    calls: Calls,
) -> Result<Report, Failed> {
    let skips = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&skips);
    let on_skip = move |_: &Error| {
        counted.fetch_add(1, Ordering::SeqCst);
    };
    match case.function {
        Function::Map | Function::Flatmap => {
            // With no cache every later row of a key reads its result back
            // from the destination, right after the writer acknowledged it.
            let cache = if case.concurrency.is_multiple_of(2) {
                0
            } else {
                super::DEFAULT_CACHE_BYTES
            };
            let mut opts = MapOptions::new("key")
                .concurrency(case.concurrency)
                .cache_bytes(cache)
                .on_error(case.on_error)
                .on_skip(on_skip);
            opts.common.write_fault = fault;
            if case.function == Function::Map {
                let f = move |row: Row| {
                    let key = key_of(&row);
                    calls.record(key);
                    let out = outcomes[key as usize];
                    call(out, key, move || json!({"v": u32::from(key) * 10}))
                };
                map_by_key(src, dst, f, opts).await
            } else {
                let f = move |row: Row| {
                    let key = key_of(&row);
                    calls.record(key);
                    let out = outcomes[key as usize];
                    call(out, key, move || {
                        Value::Array((0..out.rows()).map(|i| json!({"i": i})).collect())
                    })
                };
                flatmap_by_key(src, dst, f, opts).await
            }
        }
        Function::Create { key_count } => {
            let mut opts = CreateOptions::default()
                .limit(case.concurrency)
                .on_error(case.on_error)
                .on_skip(on_skip);
            opts.common.write_fault = fault;
            let keys: Vec<u8> = case.keys.clone();
            let generate = move |key: Value, index: usize| {
                let key = key.as_u64().unwrap_or(u64::MAX) as u8;
                calls.record(key);
                let out = outcomes[key as usize];
                call(out, key, move || json!({"i": index}))
            };
            create_or_resume(dst, "key", key_count, keys, generate, opts).await
        }
    }
}

fn key_of(row: &Row) -> u8 {
    row.get("key").and_then(Value::as_u64).unwrap_or(u64::MAX) as u8
}

/// A call that ends as `out` says, with `make`'s value on success.
fn call<T, M>(
    out: Outcome,
    key: u8,
    make: M,
) -> impl std::future::Future<Output = Result<T, String>> + Send + 'static
where
    T: serde::de::DeserializeOwned + Send + 'static,
    M: FnOnce() -> Value + Send + 'static,
{
    if let Outcome::PanicOnCall = out {
        panic!("{PLANTED} calling key {key}");
    }
    async move {
        match out {
            Outcome::Slow(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            Outcome::PanicInFuture => {
                tokio::task::yield_now().await;
                panic!("{PLANTED} in the call of key {key}");
            }
            _ => {}
        }
        if out.fails() {
            return Err(format!("key {key} fails"));
        }
        serde_json::from_value(make()).map_err(|e| e.to_string())
    }
}

/// The complete lines of `dst`, parsed (a torn last line is left out).
fn lines(dst: &Path) -> Vec<Row> {
    let text = std::fs::read(dst).unwrap_or_default();
    let complete = match text.iter().rposition(|&b| b == b'\n') {
        Some(end) => &text[..=end],
        None => &[][..],
    };
    complete
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!("{}: {e}: {}", dst.display(), String::from_utf8_lossy(line))
            })
        })
        .collect()
}

/// The destination's lines as a multiset of their text.
fn multiset(rows: &[Row]) -> BTreeMap<String, usize> {
    let mut set = BTreeMap::new();
    for row in rows {
        *set.entry(Value::Object(row.clone()).to_string())
            .or_insert(0) += 1;
    }
    set
}

/// What the destination holds after a complete run.
fn expected(case: &Case) -> Vec<Row> {
    let row = |value: Value| match value {
        Value::Object(row) => row,
        _ => Row::new(),
    };
    match case.function {
        Function::Map => case
            .keys
            .iter()
            .map(|&k| row(json!({"key": k, "v": u32::from(k) * 10})))
            .collect(),
        Function::Flatmap => case
            .keys
            .iter()
            .flat_map(|&k| {
                (0..case.outcomes[k as usize].rows()).map(move |i| row(json!({"key": k, "i": i})))
            })
            .collect(),
        Function::Create { key_count } => case
            .keys
            .iter()
            .flat_map(|&k| (0..key_count).map(move |_| row(json!({"key": k}))))
            .collect(),
    }
}

/// A row as the checks compare it: for `create_or_resume` the index a
/// generated row carries depends on what was there before, so only its key
/// counts.
fn comparable(case: &Case, rows: Vec<Row>) -> Vec<Row> {
    match case.function {
        Function::Create { .. } => rows
            .into_iter()
            .map(|row| {
                let mut only_key = Row::new();
                only_key.insert("key".into(), row["key"].clone());
                only_key
            })
            .collect(),
        _ => rows,
    }
}

fn quiet_planted_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let planted = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|message| message.starts_with(PLANTED));
            if !planted {
                previous(info);
            }
        }));
    });
}

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("no runtime: {e}"))
}

fn check(case: Case) -> Result<(), TestCaseError> {
    quiet_planted_panics();
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    let text: String = case
        .keys
        .iter()
        .map(|k| format!("{{\"key\": {k}}}\n"))
        .collect();
    std::fs::write(&src, text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let full = comparable(&case, expected(&case));
    let rt = runtime(case.multi_thread);

    // The first run, with its outcomes and fault.
    let outcomes = Arc::new(case.outcomes.clone());
    let first = rt.block_on(async {
        tokio::time::timeout(
            BOUND,
            run_once(&case, &src, &dst, outcomes, case.fault, Calls::default()),
        )
        .await
    });
    let first = first
        .map_err(|_| TestCaseError::fail("the first run hangs"))?
        .map_err(|failed| failed.error);
    let failing: HashSet<u8> = case
        .keys
        .iter()
        .copied()
        .filter(|&k| case.outcomes[k as usize].fails())
        .collect();
    match &first {
        Ok(report) => {
            prop_assert!(
                case.on_error == OnError::Skip || failing.is_empty(),
                "a failing key under Raise, and no error: {report:?}"
            );
            prop_assert_eq!(report.keys_failed as usize, keys_failed(&case, &failing));
            prop_assert!(
                case.fault.is_none_or(|f| !f.on_sync),
                "a failing fsync, and no error"
            );
            // A disk that fills after `after_bytes` ends any run that
            // writes more.
            let appended = std::fs::metadata(&dst).map_or(0, |m| m.len());
            prop_assert!(
                case.fault
                    .is_none_or(|f| f.on_sync || appended <= f.after_bytes),
                "{} bytes written past a full disk, and no error",
                appended
            );
            // Every successful key's rows are there, exactly once.
            let successful: Vec<Row> = full
                .iter()
                .filter(|row| !failing.contains(&(row["key"].as_u64().unwrap_or(0) as u8)))
                .cloned()
                .collect();
            let written = comparable(&case, lines(&dst));
            prop_assert_eq!(multiset(&written), multiset(&successful));
        }
        Err(Error::Io { path, cause, .. }) => {
            prop_assert!(case.fault.is_some(), "an I/O error with no fault: {cause}");
            prop_assert_eq!(path, &dst);
            prop_assert_eq!(cause.raw_os_error(), case.fault.map(|f| f.errno));
        }
        Err(error @ (Error::Call { .. } | Error::CallPanicked { .. })) => {
            prop_assert_eq!(case.on_error, OnError::Raise, "{}", error);
            let key = error.key().and_then(Value::as_u64).unwrap_or(u64::MAX) as u8;
            prop_assert!(failing.contains(&key), "{}", error);
        }
        Err(error) => prop_assert!(false, "unexpected error: {}", error),
    }
    // Whatever the first run wrote is a part of the full output.
    let before = comparable(&case, lines(&dst));
    let (full_set, before_set) = (multiset(&full), multiset(&before));
    for (line, &n) in &before_set {
        prop_assert!(
            full_set.get(line).is_some_and(|&m| n <= m),
            "{line} written {n} times"
        );
    }

    // The rerun: every call succeeds, nothing fails on disk.
    let fixed: Vec<Outcome> = case
        .outcomes
        .iter()
        .map(|&out| Outcome::Ok(out.rows()))
        .collect();
    let fixed_case = Case {
        outcomes: fixed.clone(),
        ..case.clone()
    };
    let full = comparable(&fixed_case, expected(&fixed_case));
    let calls = Calls::default();
    let second = rt.block_on(async {
        tokio::time::timeout(
            BOUND,
            run_once(
                &fixed_case,
                &src,
                &dst,
                Arc::new(fixed),
                None,
                calls.clone(),
            ),
        )
        .await
    });
    let second = second.map_err(|_| TestCaseError::fail("the rerun hangs"))?;
    let report = second.map_err(|e| TestCaseError::fail(format!("the rerun failed: {e}")))?;
    prop_assert!(report.is_complete(), "{:?}", report);
    let after = comparable(&case, lines(&dst));
    prop_assert_eq!(multiset(&after), multiset(&full));
    // A map key whose rows were there is never paid for again.
    if case.function == Function::Map {
        let done: HashSet<u8> = before
            .iter()
            .map(|row| row["key"].as_u64().unwrap_or(0) as u8)
            .collect();
        let paid_twice: Vec<u8> = calls.keys().intersection(&done).copied().collect();
        prop_assert!(paid_twice.is_empty(), "called again: {:?}", paid_twice);
    }
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// How many calls fail in a complete run under `Skip`.
fn keys_failed(case: &Case, failing: &HashSet<u8>) -> usize {
    match case.function {
        Function::Create { key_count } => failing.len() * key_count,
        _ => failing.len(),
    }
}

/// A hang costs [`BOUND`] per try, so shrinking one is kept short.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    }
}

/// The default search runs on a thread of its own, bounded as a whole by
/// [`SEARCH_BOUND`]: a run that spins where [`BOUND`] cannot fire (on a
/// current-thread runtime the timer never gets a turn) fails the test
/// instead of hanging it.
#[test]
fn every_run_ends_with_every_row_once() {
    let searched = within(SEARCH_BOUND, || {
        let mut config = config(CASES);
        config.source_file = Some(file!());
        let mut runner = TestRunner::new(config);
        runner
            .run(&case(), check)
            .map_err(|failure| format!("{failure}\n{runner}"))
    });
    if let Err(failure) = searched {
        panic!("{failure}");
    }
}

proptest! {
    #![proptest_config(config(MANY_CASES))]

    #[test]
    #[ignore = "thousands of cases; run with --ignored"]
    fn every_run_ends_with_every_row_once_many_cases(case in case()) {
        check(case)?;
    }
}

/// The disk fills up while the run waits for the writer to acknowledge the
/// rows of its only call slot: the writer's death must end that wait.
#[test]
fn a_full_disk_while_waiting_for_the_writer_ends_the_run() {
    for function in [
        Function::Map,
        Function::Flatmap,
        Function::Create { key_count: 2 },
    ] {
        let case = Case {
            function,
            keys: vec![0, 1, 2, 3],
            outcomes: vec![Outcome::Ok(2); 4],
            concurrency: 1,
            on_error: OnError::Raise,
            fault: Some(WriteFault {
                after_bytes: 5,
                on_sync: false,
                errno: libc::ENOSPC,
            }),
            multi_thread: false,
        };
        if let Err(e) = check(case) {
            panic!("{function:?}: {e}");
        }
    }
}

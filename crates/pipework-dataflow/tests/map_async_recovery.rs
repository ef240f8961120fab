//! `map_async` with recovery: the inputs of calls in flight go into the
//! snapshots, a resume (with another worker count) calls them again, and
//! what reaches a stateful step and a file sink downstream is exactly-once
//! across aborts and `kill -9`.
//!
//! The crash trial prints its seed; set `PIPEWORK_CRASH_SEED` to replay it.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipework_dataflow::connectors::{DirSource, FileSink, Line, TestingItem, TestingSource};
use pipework_dataflow::recovery::{init_db_dir, RecoveryConfig};
use pipework_dataflow::{Dataflow, ExecutionArgs, ExecutionConfig, MapAsyncOptions, Order};
use support::bounded_run::run;
use support::cluster::{wait_all, FLOW_VAR, OUT_VAR};

const ENTRY: &str = "child_entry";

/// The newest committed state of every key of `step` in the recovery
/// directory `dir`: what a resume would start from.
fn committed_states(dir: &Path, step: &str) -> BTreeMap<String, String> {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sqlite3"))
        .collect();
    let connections: Vec<rusqlite::Connection> = files
        .iter()
        .map(|path| rusqlite::Connection::open(path).unwrap())
        .collect();
    let resume_epoch: i64 = connections
        .iter()
        .map(|conn| {
            conn.query_row("SELECT commit_epoch FROM meta", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .unwrap()
            .unwrap_or(-1)
        })
        .min()
        .unwrap();
    let mut newest: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
    for conn in &connections {
        let mut rows = conn
            .prepare("SELECT state_key, epoch, state FROM snaps WHERE step_id = ?1 AND epoch <= ?2")
            .unwrap();
        let found = rows
            .query_map(rusqlite::params![step, resume_epoch], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get(2)?))
            })
            .unwrap();
        for row in found {
            let (key, epoch, state) = row.unwrap();
            if newest.get(&key).is_none_or(|(seen, _)| *seen < epoch) {
                newest.insert(key, (epoch, state));
            }
        }
    }
    newest
        .into_iter()
        .filter_map(|(key, (_, state))| state.map(|state| (key, state)))
        .collect()
}

/// Items 0..30, a pause (epochs close and commit while items 20..29 hang
/// in their calls), an abort, then items 30..40.
fn hanging_flow(
    order: Order,
    hang: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<u32>>>,
    out_file: PathBuf,
    seen: Arc<Mutex<Vec<u32>>>,
) -> Dataflow {
    let mut entries: Vec<TestingItem<u32>> = (0..30).map(TestingItem::Item).collect();
    entries.push(TestingItem::Pause(Duration::from_millis(600)));
    entries.push(TestingItem::Abort);
    entries.extend((30..40).map(TestingItem::Item));
    let source = TestingSource::with_markers(entries);
    Dataflow::new("hanging", move |flow| {
        let (hang, calls) = (Arc::clone(&hang), Arc::clone(&calls));
        let options = MapAsyncOptions::new().capacity(4).order(order);
        flow.input("inp", source.clone())
            .redistribute("spread")
            .map_async("call", options, move |n: u32| {
                calls.lock().unwrap().push(n);
                let hangs = hang.load(Ordering::SeqCst) && n >= 20;
                async move {
                    if hangs {
                        // Ended by the abort, which aborts every call.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    Ok::<_, std::io::Error>(n)
                }
            })
            .inspect("seen", {
                let seen = Arc::clone(&seen);
                move |n: &u32| seen.lock().unwrap().push(*n)
            })
            .key_on("key", |n: &u32| (n % 5).to_string())
            .stateful_map("count", |count: Option<u32>, _n: u32| {
                let count = count.unwrap_or(0) + 1;
                (Some(count), count)
            })
            .map("format", |(key, count): (String, u32)| {
                (String::new(), format!("{key}\t{count}"))
            })
            .output_partitioned("write", FileSink::new(&out_file));
    })
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The running counts of keys `n % 5` over `items` items, sorted.
fn expected_counts(items: u32) -> Vec<String> {
    let mut counts: HashMap<u32, u32> = HashMap::new();
    let mut lines: Vec<String> = (0..items)
        .map(|n| {
            let count = counts.entry(n % 5).or_insert(0);
            *count += 1;
            format!("{}\t{count}", n % 5)
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn calls_in_flight_are_snapshotted_and_called_again_on_fewer_workers() {
    for order in [Order::Unordered, Order::Ordered] {
        let work = tempfile::tempdir().unwrap();
        let recovery = work.path().join("recovery");
        init_db_dir(&recovery, 3).unwrap();
        let out_file = work.path().join("counts.tsv");
        let hang = Arc::new(AtomicBool::new(true));
        let calls: Arc<Mutex<Vec<u32>>> = Arc::default();
        let seen: Arc<Mutex<Vec<u32>>> = Arc::default();
        let flow = hanging_flow(
            order,
            Arc::clone(&hang),
            Arc::clone(&calls),
            out_file.clone(),
            Arc::clone(&seen),
        );
        let config = |workers: usize| {
            ExecutionConfig::threads(workers)
                .unwrap()
                .epoch_interval(Duration::from_millis(20))
                .recovery(RecoveryConfig::new(&recovery))
        };
        let err = run(&flow, &config(3)).unwrap_err();
        assert!(err.is_abort(), "{err}");
        // Every hanging input is in a committed snapshot, in one list per
        // worker that holds some.
        let states = committed_states(&recovery, "call");
        let mut snapshotted: Vec<u32> = Vec::new();
        for (key, list) in &states {
            assert!(key.starts_with("worker-"), "{key}");
            snapshotted.extend(serde_json::from_str::<Vec<u32>>(list).unwrap());
        }
        snapshotted.sort();
        assert_eq!(
            snapshotted,
            (20..30).collect::<Vec<_>>(),
            "{order:?}: {states:?}"
        );
        assert!(states.len() > 1, "{order:?}: {states:?}");
        let mut first: Vec<u32> = std::mem::take(&mut *seen.lock().unwrap());
        first.sort();
        assert_eq!(first, (0..20).collect::<Vec<_>>(), "{order:?}");

        // Resume on 2 workers: the 3 old lists are adopted and called again.
        hang.store(false, Ordering::SeqCst);
        calls.lock().unwrap().clear();
        run(&flow, &config(2)).unwrap();
        let mut again: Vec<u32> = calls.lock().unwrap().clone();
        again.sort();
        assert_eq!(again, (20..40).collect::<Vec<_>>(), "{order:?}");
        let mut second: Vec<u32> = std::mem::take(&mut *seen.lock().unwrap());
        second.sort();
        assert_eq!(second, (20..40).collect::<Vec<_>>(), "{order:?}");
        assert_eq!(sorted_lines(&out_file), expected_counts(40), "{order:?}");
        // The adopted lists were discarded: nothing is left to call again.
        assert_eq!(committed_states(&recovery, "call"), BTreeMap::new());
    }
}

// ---- kill -9 ----

/// A small deterministic generator (xorshift64*) for the kill moments.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn seed() -> u64 {
    match std::env::var("PIPEWORK_CRASH_SEED") {
        Ok(text) => text.parse().unwrap(),
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        }
    }
}

const FILES: usize = 4;
const LINES: usize = 1_200;

/// Writes `FILES` files of `LINES` numbered lines into `dir`.
fn write_inputs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for file in 0..FILES {
        let text: String = (0..LINES)
            .map(|line| format!("{}\n", file * LINES + line))
            .collect();
        std::fs::write(dir.join(format!("in-{file}.txt")), text).unwrap();
    }
}

/// `input|calls dir|order`: each line through `map_async` (2 ms calls on
/// average, each appended to a log in the calls directory), counted per
/// key `n % 5`, to the file sink `out`.
fn crash_flow(spec: &str, out: &Path) -> Dataflow {
    let mut parts = spec.split('|');
    let input = PathBuf::from(parts.next().unwrap());
    let calls = PathBuf::from(parts.next().unwrap());
    let order = match parts.next().unwrap() {
        "ordered" => Order::Ordered,
        _ => Order::Unordered,
    };
    let out = out.to_path_buf();
    Dataflow::new("crash", move |flow| {
        let log = calls.join(format!("calls-{}.log", std::process::id()));
        let options = MapAsyncOptions::new().capacity(8).order(order);
        flow.input("read", DirSource::new(&input).batch_size(16))
            .map_async("call", options, move |line: Line| {
                let log = log.clone();
                async move {
                    let n: u32 = line.trim().parse().unwrap();
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&log)
                        .unwrap();
                    // One short write per call: O_APPEND keeps lines whole.
                    file.write_all(format!("{n}\n").as_bytes()).unwrap();
                    let micros = u64::from(n.wrapping_mul(2_654_435_761) % 4_000);
                    tokio::time::sleep(Duration::from_micros(micros)).await;
                    Ok::<_, std::io::Error>(n)
                }
            })
            .key_on("key", |n: &u32| (n % 5).to_string())
            .stateful_map("count", |count: Option<u32>, _n: u32| {
                let count = count.unwrap_or(0) + 1;
                (Some(count), count)
            })
            .map("format", |(key, count): (String, u32)| {
                (String::new(), format!("{key}\t{count}"))
            })
            .output_partitioned("write", FileSink::new(&out));
    })
}

#[test]
#[ignore = "entry point of the child processes the crash test starts"]
fn child_entry() {
    let spec = std::env::var(FLOW_VAR).expect("run by the crash test");
    let out = PathBuf::from(std::env::var(OUT_VAR).expect("run by the crash test"));
    let config = ExecutionArgs::try_parse_from(["child"])
        .unwrap()
        .to_config()
        .unwrap();
    if let Err(err) = run(&crash_flow(&spec, &out), &config) {
        eprintln!("run failed: {err}");
        std::process::exit(3);
    }
}

/// Every number in the call logs of `dir`, with how often it was called.
fn calls_made(dir: &Path) -> BTreeMap<u32, usize> {
    let mut made = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            *made.entry(line.parse().unwrap()).or_insert(0) += 1;
        }
    }
    made
}

fn crash_trial(order: &str) {
    let seed = seed();
    eprintln!("map_async crash trial ({order}): PIPEWORK_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in");
    write_inputs(&input);
    let items = (FILES * LINES) as u32;

    // The uninterrupted run, in this process: its output and duration.
    let reference_calls = work.path().join("reference-calls");
    std::fs::create_dir_all(&reference_calls).unwrap();
    let reference = work.path().join("reference.tsv");
    let spec = format!("{}|{}|{order}", input.display(), reference_calls.display());
    let clock = Instant::now();
    run(&crash_flow(&spec, &reference), &ExecutionConfig::single()).unwrap();
    let full_run = clock.elapsed();
    let expected = sorted_lines(&reference);
    assert_eq!(expected, expected_counts(items));

    let calls = work.path().join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    let recovery = work.path().join("recovery");
    init_db_dir(&recovery, 3).unwrap();
    let out = work.path().join("counts.tsv");
    let spec = format!("{}|{}|{order}", input.display(), calls.display());
    let me = std::env::current_exe().unwrap();
    let started = Instant::now();
    let mut kills = 0;
    for attempt in 0.. {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "seed {seed}: not done after {attempt} attempts"
        );
        let workers = 1 + rng.below(3) as usize;
        let child = Command::new(&me)
            .args(["--ignored", "--exact", ENTRY, "--nocapture"])
            .env(FLOW_VAR, &spec)
            .env(OUT_VAR, &out)
            .env("PIPEWORK_WORKERS_PER_PROCESS", workers.to_string())
            .env("PIPEWORK_RECOVERY_DIRECTORY", &recovery)
            .env("PIPEWORK_SNAPSHOT_INTERVAL", "0.02")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The first kill comes before a run would be half done (the child
        // also starts up first), so every trial is interrupted.
        let kill_after = (attempt < 4).then(|| {
            let share = if attempt == 0 {
                10 + rng.below(40)
            } else {
                rng.below(100)
            };
            full_run.mul_f64(share as f64 / 100.0)
        });
        let outcome = match kill_after {
            Some(delay) => {
                std::thread::sleep(delay);
                // SIGKILL: no chance to clean up, as in a crash.
                let _ = Command::new("kill")
                    .args(["-9", &child.id().to_string()])
                    .status();
                wait_all(vec![child], Duration::from_secs(60)).remove(0)
            }
            None => wait_all(vec![child], Duration::from_secs(60)).remove(0),
        };
        assert!(outcome.status.is_some(), "seed {seed}: {outcome:?}");
        if outcome.succeeded() {
            eprintln!("seed {seed}: done at attempt {attempt} after {kills} kills");
            break;
        }
        assert!(
            kill_after.is_some(),
            "seed {seed}: an attempt that was not killed failed: {outcome:?}"
        );
        kills += 1;
    }
    assert!(kills > 0, "seed {seed}: no attempt was interrupted");
    assert_eq!(
        sorted_lines(&out),
        expected,
        "seed {seed}: the output differs from an uninterrupted run"
    );
    let made = calls_made(&calls);
    let missing: BTreeSet<u32> = (0..items).filter(|n| !made.contains_key(n)).collect();
    assert!(missing.is_empty(), "seed {seed}: never called: {missing:?}");
}

#[test]
fn killed_unordered_runs_resume_on_other_worker_counts_to_the_uninterrupted_output() {
    crash_trial("unordered");
}

#[test]
fn killed_ordered_runs_resume_on_other_worker_counts_to_the_uninterrupted_output() {
    crash_trial("ordered");
}

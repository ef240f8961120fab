//! Each dataflow here runs three ways — one worker, two threads, two
//! processes on 127.0.0.1 — and the sorted outputs must agree. Failures
//! must stop every process, never hang.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use pipework_dataflow::connectors::{DirSink, DirSource, Line, TestingSource};
use pipework_dataflow::inputs::{DynamicSource, SourceError, StatelessSourcePartition};
use pipework_dataflow::outputs::{DynamicSink, SinkError, StatelessSinkPartition};
use pipework_dataflow::{Dataflow, ExecutionArgs, ExecutionConfig};
use support::bounded_run::run;
use support::cluster::{self, FLOW_VAR, OUT_VAR};

const ENTRY: &str = "child_entry";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The flows the tests run, by name, each writing lines into `out`.
fn flow_named(name: &str, out: &Path) -> Dataflow {
    let out = out.to_path_buf();
    match name {
        "add_one" => Dataflow::new("add_one", move |flow| {
            flow.input("inp", TestingSource::new(0..200u32).batch_size(7))
                .map("add_one", |x: u32| x + 1)
                .map("kv", |x: u32| ((x % 5).to_string(), x.to_string()))
                .output_partitioned("out", DirSink::new(&out, 3));
        }),
        "running_count" => Dataflow::new("running_count", move |flow| {
            let words = "the cat and the dog and the bird saw the cat"
                .split(' ')
                .map(str::to_owned);
            flow.input(
                "inp",
                TestingSource::new(words.collect::<Vec<_>>()).batch_size(3),
            )
            .key_on("key", |w: &String| w.clone())
            .stateful_map("count", |n: Option<u32>, _w: String| {
                let n = n.unwrap_or(0) + 1;
                (Some(n), n)
            })
            .map("fmt", |(w, n): (String, u32)| {
                (w.clone(), format!("{w}\t{n}"))
            })
            .output_partitioned("out", DirSink::new(&out, 2));
        }),
        "dir_lines" => Dataflow::new("dir_lines", move |flow| {
            flow.input("read", DirSource::new(fixture("dir_input")).batch_size(2))
                .map("kv", |line: Line| (line.to_string(), line.to_uppercase()))
                .output_partitioned("out", DirSink::new(&out, 4));
        }),
        "fails" => Dataflow::new("fails", move |flow| {
            flow.input("inp", TestingSource::new(0..100_000u32).batch_size(100))
                .try_map("check", |x: u32| {
                    if x == 5_000 {
                        Err("item 5000 is bad")
                    } else {
                        Ok(x)
                    }
                })
                .key_on("key", |x: &u32| x.to_string())
                .stateful_map("sum", |s: Option<u64>, x: u32| {
                    let s = s.unwrap_or(0) + u64::from(x);
                    (Some(s), s.to_string())
                })
                .output_partitioned("out", DirSink::new(&out, 2));
        }),
        "endless" => Dataflow::new("endless", move |flow| {
            flow.input_dynamic("ticks", Endless)
                .key_on("key", |x: &u64| (x % 7).to_string())
                .stateful_map("count", |n: Option<u64>, _x: u64| {
                    (Some(n.unwrap_or(0) + 1), ())
                })
                .output("out", Announce);
        }),
        other => panic!("unknown flow {other}"),
    }
}

/// Emits an increasing counter every 5 ms, forever.
struct Endless;
struct EndlessPart {
    next: u64,
    awake: SystemTime,
}
impl StatelessSourcePartition for EndlessPart {
    type Item = u64;
    fn next_batch(&mut self) -> Result<Option<Vec<u64>>, SourceError> {
        self.next += 1;
        self.awake = SystemTime::now() + Duration::from_millis(5);
        Ok(Some(vec![self.next]))
    }
    fn next_awake(&self) -> Option<SystemTime> {
        Some(self.awake)
    }
}
impl DynamicSource for Endless {
    type Item = u64;
    type Partition = EndlessPart;
    fn build(
        &self,
        now: SystemTime,
        _index: usize,
        _count: usize,
    ) -> Result<EndlessPart, SourceError> {
        Ok(EndlessPart {
            next: 0,
            awake: now,
        })
    }
}

/// Prints "started" on stderr at the first write, then discards.
struct Announce;
struct AnnouncePart {
    said: bool,
}
impl StatelessSinkPartition for AnnouncePart {
    type Item = (String, ());
    fn write_batch(&mut self, _items: Vec<(String, ())>) -> Result<(), SinkError> {
        if !self.said {
            self.said = true;
            eprintln!("started");
        }
        Ok(())
    }
}
impl DynamicSink for Announce {
    type Item = (String, ());
    type Partition = AnnouncePart;
    fn build(&self, _index: usize, _count: usize) -> Result<AnnouncePart, SinkError> {
        Ok(AnnouncePart { said: false })
    }
}

#[test]
#[ignore = "entry point of the child processes the layout tests start"]
fn child_entry() {
    let name = std::env::var(FLOW_VAR).expect("run by a layout test");
    let out = PathBuf::from(std::env::var(OUT_VAR).expect("run by a layout test"));
    let config = ExecutionArgs::try_parse_from(["child"])
        .unwrap()
        .to_config()
        .unwrap();
    if let Err(err) = run(&flow_named(&name, &out), &config) {
        eprintln!("run failed: {err}");
        std::process::exit(3);
    }
}

/// Runs `name` three ways and checks the outputs agree; returns them.
fn three_ways(name: &str) -> Vec<String> {
    let root = tempfile::tempdir().unwrap();
    let single = cluster::subdir(root.path(), "single");
    run(&flow_named(name, &single), &ExecutionConfig::single()).unwrap();
    let one = cluster::sorted_lines(&single);
    let threads = cluster::subdir(root.path(), "threads");
    run(
        &flow_named(name, &threads),
        &ExecutionConfig::threads(2).unwrap(),
    )
    .unwrap();
    let two_threads = cluster::sorted_lines(&threads);
    let processes = cluster::subdir(root.path(), "processes");
    let two_processes = cluster::run_flow_in_two_processes(ENTRY, name, &processes);
    assert_eq!(one, two_threads, "1 worker vs 2 threads");
    assert_eq!(one, two_processes, "1 worker vs 2 processes");
    one
}

#[test]
fn map_gives_the_same_output_on_every_layout() {
    let lines = three_ways("add_one");
    let mut expected: Vec<String> = (1..=200).map(|x: u32| x.to_string()).collect();
    expected.sort();
    assert_eq!(lines, expected);
}

#[test]
fn stateful_map_gives_the_same_running_counts_on_every_layout() {
    let lines = three_ways("running_count");
    assert_eq!(lines.len(), 11);
    for expected in ["the\t4", "cat\t2", "and\t2", "dog\t1", "bird\t1", "saw\t1"] {
        assert!(
            lines.contains(&expected.to_string()),
            "{expected} missing from {lines:?}"
        );
    }
}

#[test]
fn dir_source_gives_the_same_lines_on_every_layout() {
    let lines = three_ways("dir_lines");
    assert_eq!(lines.len(), 16);
    assert!(lines.contains(&"THREE2".to_string()));
}

#[test]
fn an_error_in_one_process_stops_both_with_the_step_named() {
    let out = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let started = Instant::now();
    let outcomes = cluster::run_processes(
        &me,
        &["--ignored", "--exact", ENTRY, "--nocapture"],
        &[
            (FLOW_VAR, "fails".to_owned()),
            (OUT_VAR, out.path().display().to_string()),
        ],
        2,
        1,
        Duration::from_secs(60),
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    for outcome in &outcomes {
        assert_eq!(
            outcome.status.and_then(|s| s.code()),
            Some(3),
            "{outcome:?}"
        );
    }
    let all: String = outcomes.iter().map(|o| o.stderr.as_str()).collect();
    assert!(
        all.contains("step `check` failed: item 5000 is bad"),
        "{all}"
    );
}

#[test]
fn a_killed_peer_makes_the_other_process_exit_with_an_error() {
    let out = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let addresses = cluster::free_addresses(2);
    let mut children = cluster::spawn_processes(
        &me,
        &["--ignored", "--exact", ENTRY, "--nocapture"],
        &[
            (FLOW_VAR, "endless".to_owned()),
            (OUT_VAR, out.path().display().to_string()),
        ],
        &addresses,
        1,
    );
    // Wait until process 1 has processed items (so the cluster is up).
    let stderr = children[1].stderr.take().unwrap();
    let saw_start = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("started"));
    assert!(saw_start, "process 1 never started");
    children[1].kill().unwrap();
    children[1].wait().unwrap();
    let survivor = children.remove(0);
    let started = Instant::now();
    let outcome = cluster::wait_all(vec![survivor], Duration::from_secs(30)).remove(0);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        outcome.status.and_then(|s| s.code()),
        Some(3),
        "{outcome:?}"
    );
    assert!(
        outcome.stderr.contains("peer process failed"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn two_processes_of_two_threads_agree_with_one_worker() {
    let root = tempfile::tempdir().unwrap();
    let single = cluster::subdir(root.path(), "single");
    run(
        &flow_named("running_count", &single),
        &ExecutionConfig::single(),
    )
    .unwrap();
    let processes = cluster::subdir(root.path(), "processes");
    let me = std::env::current_exe().unwrap();
    let outcomes = cluster::run_processes(
        &me,
        &["--ignored", "--exact", ENTRY, "--nocapture"],
        &[
            (FLOW_VAR, "running_count".to_owned()),
            (OUT_VAR, processes.display().to_string()),
        ],
        2,
        2,
        Duration::from_secs(60),
    );
    assert!(outcomes.iter().all(|o| o.succeeded()), "{outcomes:?}");
    assert_eq!(
        cluster::sorted_lines(&processes),
        cluster::sorted_lines(&single)
    );
}

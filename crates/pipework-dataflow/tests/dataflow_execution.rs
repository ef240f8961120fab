//! Tests for building and running dataflows in one process: operators,
//! routing by key, partition assignment, error and panic propagation.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use pipework_dataflow::connectors::{
    CsvSource, DirSink, DirSource, FileSink, FileSource, Line, TestingItem, TestingSink,
    TestingSource,
};
use pipework_dataflow::inputs::{DynamicSource, SourceError, StatelessSourcePartition};
use pipework_dataflow::{ConfigError, Dataflow, ExecutionArgs, ExecutionConfig, RunError};
use support::bounded_run::run;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn layouts() -> Vec<ExecutionConfig> {
    vec![
        ExecutionConfig::single(),
        ExecutionConfig::threads(2).unwrap(),
        ExecutionConfig::threads(3).unwrap(),
    ]
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

#[test]
fn map_filter_flat_map_and_inspect_compose() {
    for config in layouts() {
        let out = TestingSink::new();
        let seen = Arc::new(Mutex::new(0usize));
        let (sink, counter) = (out.clone(), Arc::clone(&seen));
        let flow = Dataflow::new("compose", move |flow| {
            let counter = Arc::clone(&counter);
            flow.input("inp", TestingSource::new(0..10).batch_size(3))
                .filter("even", |x: &u32| x.is_multiple_of(2))
                .flat_map("twice", |x: u32| [x, x + 100])
                .inspect("count", move |_| *counter.lock().unwrap() += 1)
                .filter_map("small", |x: u32| (x < 105).then_some(x))
                .map("double", |x: u32| x * 2)
                .output("out", sink.clone());
        });
        run(&flow, &config).unwrap();
        assert_eq!(sorted(out.items()), vec![0, 4, 8, 12, 16, 200, 204, 208]);
        assert_eq!(*seen.lock().unwrap(), 10);
    }
}

#[test]
fn stateful_map_keeps_state_per_key_on_any_worker_count() {
    let words = ["a", "b", "a", "c", "a", "b"];
    let mut expected = None;
    for config in layouts() {
        let out = TestingSink::new();
        let sink = out.clone();
        let flow = Dataflow::new("count", move |flow| {
            flow.input(
                "inp",
                TestingSource::new(words.iter().map(|w| w.to_string())),
            )
            .key_on("key", |w: &String| w.clone())
            .stateful_map("count", |n: Option<u32>, _w: String| {
                let n = n.unwrap_or(0) + 1;
                (Some(n), n)
            })
            .output("out", sink.clone());
        });
        run(&flow, &config).unwrap();
        let got = sorted(out.items());
        assert_eq!(got.len(), words.len());
        assert!(got.contains(&("a".to_string(), 3)));
        match &expected {
            None => expected = Some(got),
            Some(first) => assert_eq!(&got, first),
        }
    }
}

#[test]
fn stateful_map_returning_none_forgets_the_key() {
    let out = TestingSink::new();
    let sink = out.clone();
    let flow = Dataflow::new("forget", move |flow| {
        flow.input("inp", TestingSource::new(vec![1, 2, 3, 4]))
            .key_on("key", |_| "k".to_string())
            .stateful_map("pairs", |held: Option<i32>, x: i32| match held {
                None => (Some(x), None),
                Some(first) => (None, Some(first + x)),
            })
            .filter_map("complete", |(_, sum): (String, Option<i32>)| sum)
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::single()).unwrap();
    assert_eq!(out.items(), vec![3, 7]);
}

#[test]
fn error_in_a_step_names_the_step_and_stops_every_worker() {
    const ITEMS: u32 = 100_000;
    /// Not yet failed, in `failed_on`.
    const NONE: usize = usize::MAX;
    for config in layouts() {
        // Which worker failed, and how many items each worker's "check"
        // took on after that: a worker that went on would take thousands.
        let failed_on = Arc::new(AtomicUsize::new(NONE));
        let after: Arc<Vec<AtomicUsize>> = Arc::new(
            (0..config.workers_per_process())
                .map(|_| AtomicUsize::new(0))
                .collect(),
        );
        let (shared_failed_on, shared_after) = (failed_on.clone(), after.clone());
        let flow = Dataflow::new("fails", move |flow| {
            let (failed_on, after) = (shared_failed_on.clone(), shared_after.clone());
            let worker = flow.worker_index();
            flow.input("inp", TestingSource::new(0..ITEMS).batch_size(10))
                .redistribute("spread")
                .try_map("check", move |x: u32| {
                    if failed_on.load(Ordering::SeqCst) != NONE {
                        after[worker].fetch_add(1, Ordering::SeqCst);
                    }
                    if x == 500 {
                        failed_on.store(worker, Ordering::SeqCst);
                        Err(format!("bad item {x}"))
                    } else {
                        Ok(x)
                    }
                })
                .output("out", TestingSink::new());
        });
        let started = Instant::now();
        let err = run(&flow, &config).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(
            matches!(&err, RunError::Step { step, .. } if step == "check"),
            "{err}"
        );
        assert!(err.to_string().contains("bad item 500"), "{err}");
        let after: Vec<usize> = after.iter().map(|n| n.load(Ordering::SeqCst)).collect();
        let failed_on = failed_on.load(Ordering::SeqCst);
        // The failing worker drops the rest of its batch and every batch
        // after it. The others stop at their next batch: they may finish
        // the one they are in, so their count has a loose bound, far below
        // what a worker that went on would reach.
        for (worker, &count) in after.iter().enumerate() {
            let bound = if worker == failed_on { 0 } else { 1_000 };
            assert!(
                count <= bound,
                "worker {worker} checked {count} items after worker {failed_on} failed"
            );
        }
    }
}

#[test]
fn panic_in_a_step_is_an_error_naming_the_step() {
    for config in layouts() {
        let flow = Dataflow::new("panics", move |flow| {
            flow.input("inp", TestingSource::new(0..100))
                .key_on("key", |x: &u32| x.to_string())
                .stateful_map("boom", |_: Option<u8>, x: u32| {
                    assert!(x != 42, "the answer");
                    (None, x)
                })
                .output("out", TestingSink::new());
        });
        let err = run(&flow, &config).unwrap_err();
        assert!(
            matches!(&err, RunError::Panicked { step, message } if step == "boom" && message.contains("the answer")),
            "{err}"
        );
    }
}

#[test]
fn a_panic_while_building_is_reported() {
    let flow = Dataflow::new("bad_build", |_flow| panic!("no wiring today"));
    let err = run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap_err();
    assert!(
        matches!(&err, RunError::Panicked { step, .. } if step == "<build>"),
        "{err}"
    );
}

#[test]
fn a_dataflow_without_input_is_a_clear_error() {
    for config in layouts() {
        let flow = Dataflow::new("empty", |_flow| {});
        let err = run(&flow, &config).unwrap_err();
        assert!(
            matches!(&err, RunError::NoInput { flow } if flow == "empty"),
            "{err}"
        );
        assert!(err.to_string().contains("has no input"));
    }
}

#[test]
fn duplicate_step_ids_are_rejected() {
    let flow = Dataflow::new("dups", |flow| {
        flow.input("same", TestingSource::new(0..3))
            .map("same", |x: i32| x)
            .output("out", TestingSink::new());
    });
    let err = run(&flow, &ExecutionConfig::single()).unwrap_err();
    assert!(
        matches!(&err, RunError::DuplicateStep { step, .. } if step == "same"),
        "{err}"
    );
}

#[test]
fn source_errors_name_the_input_step() {
    let flow = Dataflow::new("missing", |flow| {
        flow.input("read", DirSource::new("/no/such/dir"))
            .output("out", TestingSink::new());
    });
    let err = run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap_err();
    assert!(
        matches!(&err, RunError::Source { step, source: SourceError::NotFound { .. }, .. } if step == "read"),
        "{err}"
    );
}

#[test]
fn abort_marker_stops_the_run_with_an_abort_error() {
    let source = TestingSource::with_markers(vec![
        TestingItem::Item(0),
        TestingItem::Item(1),
        TestingItem::Abort,
        TestingItem::Item(2),
    ]);
    let out = TestingSink::new();
    let (sink, inp) = (out.clone(), source.clone());
    let flow = Dataflow::new("abort", move |flow| {
        flow.input("inp", inp.clone()).output("out", sink.clone());
    });
    let err = run(&flow, &ExecutionConfig::single()).unwrap_err();
    assert!(err.is_abort(), "{err}");
    assert_eq!(out.take(), vec![0, 1]);
    // The abort fires once: a second run reads everything.
    run(&flow, &ExecutionConfig::single()).unwrap();
    assert_eq!(out.take(), vec![0, 1, 2]);
}

#[test]
fn redistribute_spreads_one_partition_over_every_worker() {
    let out = TestingSink::new();
    let sink = out.clone();
    let flow = Dataflow::new("spread", move |flow| {
        let worker = flow.worker_index();
        flow.input("inp", TestingSource::new(0..100u32).batch_size(10))
            .redistribute("spread")
            .map("tag", move |x: u32| (worker, x))
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap();
    let items = out.items();
    let values = sorted(items.iter().map(|(_, x)| *x).collect());
    assert_eq!(values, (0..100).collect::<Vec<_>>());
    for worker in 0..2 {
        let share = items.iter().filter(|(w, _)| *w == worker).count();
        assert!(
            (40..=60).contains(&share),
            "worker {worker} got {share} of 100"
        );
    }
}

#[test]
fn fewer_partitions_than_workers_do_not_stall() {
    let out = TestingSink::new();
    let sink = out.clone();
    let flow = Dataflow::new("sparse", move |flow| {
        flow.input("inp", TestingSource::new(0..5))
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::threads(4).unwrap()).unwrap();
    assert_eq!(sorted(out.items()), vec![0, 1, 2, 3, 4]);
}

#[test]
fn dir_source_partitions_spread_unevenly_over_workers_are_all_read() {
    for config in layouts() {
        let out = TestingSink::new();
        let sink = out.clone();
        let flow = Dataflow::new("dir", move |flow| {
            flow.input("read", DirSource::new(fixture("dir_input")).batch_size(2))
                .output("out", sink.clone());
        });
        run(&flow, &config).unwrap();
        let lines = out.items();
        assert_eq!(lines.len(), 16);
        for expected in ["one6", "two3", "three2", "four1", "five4"] {
            assert!(
                lines.iter().any(|line| line == expected),
                "{expected} missing"
            );
        }
    }
}

#[test]
fn file_to_file_keeps_lines_and_order_with_one_partition() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.txt");
    for config in layouts() {
        let (input, output) = (fixture("blank-lines.txt"), out_path.clone());
        let flow = Dataflow::new("copy", move |flow| {
            flow.input("read", FileSource::new(&input))
                .map("upper", |line: Line| line.to_uppercase())
                .key_on("one_file", |_| String::new())
                .output_partitioned("write", FileSink::new(&output));
        });
        run(&flow, &config).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out_path).unwrap(),
            "ONE\n\nTWO\n\n\nTHREE\nFOUR\n\nFIVE\n"
        );
    }
}

#[test]
fn csv_rows_flow_through_as_maps() {
    let out = TestingSink::new();
    let sink = out.clone();
    let flow = Dataflow::new("csv", move |flow| {
        flow.input("read", CsvSource::new(fixture("readings.csv")))
            .map(
                "sensor",
                |row: std::collections::BTreeMap<String, String>| row["sensor"].clone(),
            )
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap();
    assert_eq!(out.items(), vec!["boiler", "intake", "exhaust"]);
}

#[test]
fn dir_sink_routes_each_key_to_one_file_across_workers() {
    let dir = tempfile::tempdir().unwrap();
    for config in layouts() {
        let path = dir.path().to_path_buf();
        let flow = Dataflow::new("routed", move |flow| {
            flow.input("inp", TestingSource::new(0..30))
                .map("kv", |x: u32| ((x % 3).to_string(), x.to_string()))
                .output_partitioned(
                    "write",
                    DirSink::new(&path, 3).assign_file(|k| k.parse().unwrap_or(0)),
                );
        });
        run(&flow, &config).unwrap();
        for file in 0..3u32 {
            let text = std::fs::read_to_string(dir.path().join(format!("part_{file}"))).unwrap();
            let values: Vec<u32> = text.lines().map(|l| l.parse().unwrap()).collect();
            assert_eq!(values.len(), 10);
            assert!(
                values.iter().all(|v| v % 3 == file),
                "file {file}: {values:?}"
            );
        }
    }
}

/// A dynamic source: each worker emits its own index `count` times, one
/// item per `interval`.
struct Ticks {
    interval: Duration,
    count: u32,
}

struct TicksPart {
    worker: usize,
    left: u32,
    interval: Duration,
    next_awake: SystemTime,
}

impl StatelessSourcePartition for TicksPart {
    type Item = (usize, SystemTime);
    fn next_batch(&mut self) -> Result<Option<Vec<(usize, SystemTime)>>, SourceError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let now = SystemTime::now();
        self.next_awake = now + self.interval;
        Ok(Some(vec![(self.worker, now)]))
    }
    fn next_awake(&self) -> Option<SystemTime> {
        Some(self.next_awake)
    }
}

impl DynamicSource for Ticks {
    type Item = (usize, SystemTime);
    type Partition = TicksPart;
    fn build(
        &self,
        now: SystemTime,
        worker_index: usize,
        _count: usize,
    ) -> Result<TicksPart, SourceError> {
        Ok(TicksPart {
            worker: worker_index,
            left: self.count,
            interval: self.interval,
            next_awake: now,
        })
    }
}

#[test]
fn dynamic_source_runs_one_partition_per_worker_at_its_awake_times() {
    let interval = Duration::from_millis(30);
    let out = TestingSink::new();
    let sink = out.clone();
    let flow = Dataflow::new("ticks", move |flow| {
        flow.input_dynamic("ticks", Ticks { interval, count: 4 })
            .output("out", sink.clone());
    });
    run(
        &flow,
        &ExecutionConfig::threads(2)
            .unwrap()
            .epoch_interval(Duration::from_millis(10)),
    )
    .unwrap();
    let items = out.items();
    assert_eq!(items.len(), 8);
    for worker in 0..2 {
        let times: Vec<SystemTime> = items
            .iter()
            .filter(|(w, _)| *w == worker)
            .map(|(_, t)| *t)
            .collect();
        for pair in times.windows(2) {
            assert!(pair[1].duration_since(pair[0]).unwrap() >= interval);
        }
    }
}

#[test]
fn execution_args_validate_the_layout() {
    let parse = |args: &[&str]| {
        ExecutionArgs::try_parse_from(std::iter::once("t").chain(args.iter().copied())).unwrap()
    };
    assert!(matches!(
        parse(&["-w", "0"]).to_config(),
        Err(ConfigError::ZeroWorkers)
    ));
    assert!(matches!(
        parse(&["-i", "0"]).to_config(),
        Err(ConfigError::MissingAddresses)
    ));
    assert!(matches!(
        parse(&["-a", "h:1"]).to_config(),
        Err(ConfigError::MissingProcessId)
    ));
    assert!(matches!(
        parse(&["-i", "2", "-a", "h:1;h:2"]).to_config(),
        Err(ConfigError::ProcessIdOutOfRange {
            process_id: 2,
            processes: 2
        })
    ));
    assert!(matches!(
        parse(&["-i", "0", "-a", "h1;h:2"]).to_config(),
        Err(ConfigError::MalformedAddress { .. })
    ));
    let config = parse(&[
        "-w",
        "3",
        "-i",
        "1",
        "-a",
        "h:1;h:2",
        "--epoch-interval",
        "0.5",
    ])
    .to_config()
    .unwrap();
    assert_eq!(config.worker_count(), 6);
    assert_eq!(config.get_epoch_interval(), Duration::from_millis(500));
    assert!(ExecutionArgs::try_parse_from(["t", "--epoch-interval", "-1"]).is_err());
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let config = ExecutionConfig::cluster(1, 0, &format!("{address};127.0.0.1:1")).unwrap();
    let flow = Dataflow::new("never", |flow| {
        flow.input("inp", TestingSource::new(0..1))
            .output("out", TestingSink::new());
    });
    let err = run(&flow, &config).unwrap_err();
    assert!(
        matches!(&err, RunError::Config(ConfigError::PortInUse { .. })),
        "{err}"
    );
    assert!(err.to_string().contains(&address), "{err}");
}

/// Returns an empty batch `empties` times, then ends; counts its polls.
struct Idle {
    empties: u32,
    polls: Arc<Mutex<u32>>,
}
struct IdlePart {
    left: u32,
    polls: Arc<Mutex<u32>>,
}
impl StatelessSourcePartition for IdlePart {
    type Item = u32;
    fn next_batch(&mut self) -> Result<Option<Vec<u32>>, SourceError> {
        *self.polls.lock().unwrap() += 1;
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        Ok(Some(Vec::new()))
    }
}
impl DynamicSource for Idle {
    type Item = u32;
    type Partition = IdlePart;
    fn build(
        &self,
        _now: SystemTime,
        _index: usize,
        _count: usize,
    ) -> Result<IdlePart, SourceError> {
        Ok(IdlePart {
            left: self.empties,
            polls: Arc::clone(&self.polls),
        })
    }
}

#[test]
fn an_empty_batch_without_awake_time_is_polled_again_after_a_millisecond() {
    let polls = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&polls);
    let flow = Dataflow::new("idle", move |flow| {
        flow.input_dynamic(
            "idle",
            Idle {
                empties: 30,
                polls: Arc::clone(&counter),
            },
        )
        .output("out", TestingSink::new());
    });
    let started = Instant::now();
    run(&flow, &ExecutionConfig::single()).unwrap();
    assert_eq!(
        *polls.lock().unwrap(),
        31,
        "polled once per batch, not spun"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_pause_marker_delays_the_rest_of_the_input() {
    let out = TestingSink::new();
    let sink = out.clone();
    let flow = Dataflow::new("pause", move |flow| {
        let source = TestingSource::with_markers(vec![
            TestingItem::Item(1),
            TestingItem::Pause(Duration::from_millis(200)),
            TestingItem::Item(2),
        ]);
        flow.input("inp", source)
            .map("stamp", |x: u32| (x, Instant::now()))
            .output("out", sink.clone());
    });
    run(&flow, &ExecutionConfig::single()).unwrap();
    let items = out.items();
    assert_eq!(items.len(), 2);
    assert!(items[1].1.duration_since(items[0].1) >= Duration::from_millis(200));
}

#[test]
fn sink_errors_name_the_output_step_and_partition() {
    let flow = Dataflow::new("no_dir", |flow| {
        flow.input(
            "inp",
            TestingSource::new(vec![("k".to_string(), "v".to_string())]),
        )
        .output_partitioned("write", DirSink::new("/no/such/dir", 2));
    });
    let err = run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap_err();
    assert!(
        matches!(&err, RunError::Sink { step, part: Some(_), .. } if step == "write"),
        "{err}"
    );
    assert!(err.to_string().contains("/no/such/dir/part_"), "{err}");
}

#[test]
fn a_cloned_stream_feeds_two_branches() {
    let (evens, odds) = (TestingSink::new(), TestingSink::new());
    let (even_sink, odd_sink) = (evens.clone(), odds.clone());
    let flow = Dataflow::new("fan_out", move |flow| {
        let numbers = flow.input("inp", TestingSource::new(0..6u32));
        numbers
            .clone()
            .filter("evens", |x: &u32| x.is_multiple_of(2))
            .output("even_out", even_sink.clone());
        numbers
            .filter("odds", |x: &u32| !x.is_multiple_of(2))
            .output("odd_out", odd_sink.clone());
    });
    run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap();
    assert_eq!(sorted(evens.items()), vec![0, 2, 4]);
    assert_eq!(sorted(odds.items()), vec![1, 3, 5]);
}

/// A source that notes, at each read, how many items it emitted that the
/// sink has not written yet.
struct Watched {
    written: Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
}
struct WatchedPart {
    emitted: usize,
    written: Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
}
impl pipework_dataflow::inputs::StatefulSourcePartition for WatchedPart {
    type Item = usize;
    type State = usize;
    fn next_batch(&mut self) -> Result<Option<Vec<usize>>, SourceError> {
        use std::sync::atomic::Ordering::SeqCst;
        let in_flight = self.emitted - self.written.load(SeqCst);
        self.max_in_flight.fetch_max(in_flight, SeqCst);
        if self.emitted >= 500 {
            return Ok(None);
        }
        self.emitted += 10;
        Ok(Some((self.emitted - 10..self.emitted).collect()))
    }
    fn snapshot(&self) -> usize {
        self.emitted
    }
}
impl pipework_dataflow::inputs::FixedPartitionedSource for Watched {
    type Item = usize;
    type State = usize;
    type Partition = WatchedPart;
    fn list_parts(&self) -> Result<Vec<String>, SourceError> {
        Ok(vec!["only".into()])
    }
    fn build_part(
        &self,
        _now: SystemTime,
        _part: &str,
        _resume: Option<usize>,
    ) -> Result<WatchedPart, SourceError> {
        Ok(WatchedPart {
            emitted: 0,
            written: Arc::clone(&self.written),
            max_in_flight: Arc::clone(&self.max_in_flight),
        })
    }
}

/// Counts what it writes into a shared counter.
struct Tally(Arc<std::sync::atomic::AtomicUsize>);
struct TallyPart(Arc<std::sync::atomic::AtomicUsize>);
impl pipework_dataflow::outputs::StatelessSinkPartition for TallyPart {
    type Item = usize;
    fn write_batch(
        &mut self,
        items: Vec<usize>,
    ) -> Result<(), pipework_dataflow::outputs::SinkError> {
        self.0
            .fetch_add(items.len(), std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}
impl pipework_dataflow::outputs::DynamicSink for Tally {
    type Item = usize;
    type Partition = TallyPart;
    fn build(
        &self,
        _i: usize,
        _n: usize,
    ) -> Result<TallyPart, pipework_dataflow::outputs::SinkError> {
        Ok(TallyPart(Arc::clone(&self.0)))
    }
}

#[test]
fn inputs_wait_for_outputs_to_finish_the_previous_epoch() {
    let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let max_in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (w, m) = (Arc::clone(&written), Arc::clone(&max_in_flight));
    let flow = Dataflow::new("backpressure", move |flow| {
        // Worker 1 is slow, so without backpressure worker 0 (which reads
        // the only partition) would read ahead of it.
        let rounds = if flow.worker_index() == 1 {
            200_000usize
        } else {
            0
        };
        flow.input(
            "inp",
            Watched {
                written: Arc::clone(&w),
                max_in_flight: Arc::clone(&m),
            },
        )
        .redistribute("spread")
        .map("slow", move |x: usize| {
            let spin = (0..rounds).fold(x, |acc, i| std::hint::black_box(acc ^ i));
            std::hint::black_box(spin);
            x
        })
        .output("out", Tally(Arc::clone(&w)));
    });
    // A zero interval closes an epoch after every batch.
    run(
        &flow,
        &ExecutionConfig::threads(2)
            .unwrap()
            .epoch_interval(Duration::ZERO),
    )
    .unwrap();
    assert_eq!(written.load(std::sync::atomic::Ordering::SeqCst), 500);
    assert_eq!(
        max_in_flight.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "read before the last batch was written"
    );
}

/// A partition whose `next_awake` panics after its first batch.
struct BadAwake;
struct BadAwakePart {
    reads: u32,
}
impl StatelessSourcePartition for BadAwakePart {
    type Item = u32;
    fn next_batch(&mut self) -> Result<Option<Vec<u32>>, SourceError> {
        self.reads += 1;
        Ok(Some(vec![self.reads]))
    }
    fn next_awake(&self) -> Option<SystemTime> {
        assert!(self.reads == 0, "no idea when");
        None
    }
}
impl DynamicSource for BadAwake {
    type Item = u32;
    type Partition = BadAwakePart;
    fn build(
        &self,
        _now: SystemTime,
        _index: usize,
        _count: usize,
    ) -> Result<BadAwakePart, SourceError> {
        Ok(BadAwakePart { reads: 0 })
    }
}

#[test]
fn a_panic_in_a_partition_names_the_input_step() {
    for config in layouts() {
        let flow = Dataflow::new("bad_awake", |flow| {
            flow.input_dynamic("clock", BadAwake)
                .output("out", TestingSink::new());
        });
        let err = run(&flow, &config).unwrap_err();
        assert!(
            matches!(&err, RunError::Panicked { step, message } if step == "clock" && message.contains("no idea when")),
            "{err}"
        );
    }
}

#[test]
fn a_panic_in_a_sink_routing_function_names_the_output_step() {
    let dir = tempfile::tempdir().unwrap();
    for config in layouts() {
        let path = dir.path().to_path_buf();
        let flow = Dataflow::new("bad_route", move |flow| {
            flow.input(
                "inp",
                TestingSource::new(vec![("k".to_string(), "v".to_string())]),
            )
            .output_partitioned(
                "write",
                DirSink::new(&path, 2).assign_file(|_| panic!("no file for you")),
            );
        });
        let err = run(&flow, &config).unwrap_err();
        assert!(
            matches!(&err, RunError::Panicked { step, .. } if step == "write"),
            "{err}"
        );
    }
}

/// A dynamic source over a channel: worker 0 reads it through
/// `batch_getter`; the other workers have nothing to read.
struct ChannelSource(Arc<Mutex<Option<std::sync::mpsc::Receiver<u32>>>>);

type ChannelGetter = Box<dyn FnMut() -> pipework_dataflow::inputs::Get<u32>>;
struct ChannelPart(pipework_dataflow::inputs::BatchGetter<ChannelGetter>);

impl StatelessSourcePartition for ChannelPart {
    type Item = u32;
    fn next_batch(&mut self) -> Result<Option<Vec<u32>>, SourceError> {
        Ok(self.0.next())
    }
}

impl DynamicSource for ChannelSource {
    type Item = u32;
    type Partition = ChannelPart;
    fn build(
        &self,
        _now: SystemTime,
        index: usize,
        _count: usize,
    ) -> Result<ChannelPart, SourceError> {
        use pipework_dataflow::inputs::{batch_getter, Get};
        use std::sync::mpsc::TryRecvError;
        let receiver = if index == 0 {
            self.0.lock().unwrap().take()
        } else {
            None
        };
        let getter: ChannelGetter = match receiver {
            Some(rx) => Box::new(move || match rx.try_recv() {
                Ok(item) => Get::Item(item),
                Err(TryRecvError::Empty) => Get::NotYet,
                Err(TryRecvError::Disconnected) => Get::End,
            }),
            None => Box::new(|| Get::End),
        };
        Ok(ChannelPart(
            batch_getter(getter, 64).map_err(SourceError::user)?,
        ))
    }
}

#[test]
fn a_channel_source_built_on_batch_getter_reads_until_the_sender_is_gone() {
    let (tx, rx) = std::sync::mpsc::sync_channel(16);
    let receiver = Arc::new(Mutex::new(Some(rx)));
    let out = TestingSink::new();
    let sink = out.clone();
    let flow = Dataflow::new("channel", move |flow| {
        flow.input_dynamic("chan", ChannelSource(Arc::clone(&receiver)))
            .redistribute("spread")
            .map("double", |x: u32| x * 2)
            .output("out", sink.clone());
    });
    let producer = std::thread::spawn(move || {
        for x in 0..1_000u32 {
            tx.send(x).unwrap();
        }
    });
    run(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap();
    producer.join().unwrap();
    assert_eq!(
        sorted(out.items()),
        (0..1_000u32).map(|x| x * 2).collect::<Vec<_>>()
    );
}

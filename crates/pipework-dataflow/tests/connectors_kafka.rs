//! Tests for the Kafka source and sink, all against librdkafka's
//! in-process mock cluster (no Kafka server needed).

#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used)]

#[path = "support/kafka_cluster.rs"]
mod kafka_cluster;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use kafka_cluster::{read_all, Cluster, DEADLINE};
use pipework_dataflow::connectors::{
    FileSink, KafkaError, KafkaMessage, KafkaRecord, KafkaSink, KafkaSource, OnDeserializeError,
    StartOffset, TestingSink,
};
use pipework_dataflow::inputs::{FixedPartitionedSource, SourceError, StatefulSourcePartition};
use pipework_dataflow::recovery::{init_db_dir, RecoveryConfig};
use pipework_dataflow::{run, Dataflow, ExecutionConfig, RunError};

/// Runs `flow` on a thread, failing the test if it takes longer than
/// [`DEADLINE`].
fn run_bounded(flow: &Dataflow, config: &ExecutionConfig) -> Result<(), RunError> {
    let (flow, config) = (flow.clone(), config.clone());
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        // The receiver is gone only when the test already failed on time.
        let _ = done.send(run(&flow, &config));
    });
    result
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("the run did not end within {DEADLINE:?}"))
}

/// `n` messages `m{i}` keyed `k{i % 7}`, dealt round-robin to 3 partitions.
fn messages(n: usize) -> Vec<(i32, String, String)> {
    (0..n)
        .map(|i| ((i % 3) as i32, format!("k{}", i % 7), format!("m{i}")))
        .collect()
}

/// A cluster with topic `events` of 3 partitions holding `messages(n)`.
fn cluster_with(n: usize) -> Cluster {
    let cluster = Cluster::new();
    cluster.topic("events", 3);
    cluster.produce("events", &messages(n));
    cluster
}

fn text(payload: Option<&[u8]>) -> Result<String, pipework_dataflow::inputs::BoxError> {
    Ok(String::from_utf8(payload.unwrap_or_default().to_vec())?)
}

/// Reads `events` to its end into a sorted list of payloads.
fn read_flow(brokers: &str) -> (Dataflow, TestingSink<String>) {
    let out = TestingSink::new();
    let sink = out.clone();
    let source = KafkaSource::new(brokers, ["events"])
        .batch_size(10)
        .stop_at_end(true)
        .deserialize(text);
    let flow = Dataflow::new("read_kafka", move |flow| {
        flow.input("read", source.clone())
            .map("payload", |message: KafkaMessage<String>| message.payload)
            .output("out", sink.clone());
    });
    (flow, out)
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

#[test]
fn messages_over_three_partitions_are_read_exactly_once() {
    let cluster = cluster_with(300);
    let (flow, out) = read_flow(&cluster.brokers());
    run_bounded(&flow, &ExecutionConfig::single()).unwrap();
    let want = sorted(messages(300).into_iter().map(|(_, _, m)| m).collect());
    assert_eq!(sorted(out.items()), want);
}

#[test]
fn items_carry_key_topic_partition_offset_and_timestamp() {
    let cluster = cluster_with(6);
    let mut got = read_all(&cluster.brokers(), "events");
    got.sort_by_key(|m| (m.partition, m.offset));
    let first = &got[0];
    assert_eq!(first.topic, "events");
    assert_eq!((first.partition, first.offset), (0, 0));
    assert_eq!(first.key.as_deref(), Some(&b"k0"[..]));
    assert_eq!(first.payload.as_deref(), Some(&b"m0"[..]));
    assert!(first.timestamp.is_some_and(|t| t > 0));
    let offsets: Vec<(i32, i64)> = got.iter().map(|m| (m.partition, m.offset)).collect();
    assert_eq!(
        offsets,
        vec![(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    );
}

#[test]
fn partitions_are_listed_from_the_metadata_of_every_topic() {
    let cluster = Cluster::new();
    cluster.topic("a", 2);
    cluster.topic("b", 3);
    let source = KafkaSource::new(&cluster.brokers(), ["a", "b"]);
    let parts = source.list_parts().unwrap();
    assert_eq!(parts.len(), 5, "{parts:?}");
    assert!(parts.contains(&"b:00002".to_owned()), "{parts:?}");
}

/// Reads one partition until `n` messages came or it ended.
fn take(
    part: &mut impl StatefulSourcePartition<Item = KafkaMessage<String>>,
    n: usize,
) -> Vec<KafkaMessage<String>> {
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < deadline, "no messages within {DEADLINE:?}");
        match part.next_batch().unwrap() {
            None => break,
            Some(batch) if batch.is_empty() => std::thread::sleep(Duration::from_millis(1)),
            Some(batch) => got.extend(batch),
        }
    }
    got
}

#[test]
fn a_resumed_partition_continues_at_the_snapshot_offset() {
    let cluster = cluster_with(30);
    let source = KafkaSource::new(&cluster.brokers(), ["events"])
        .batch_size(4)
        .stop_at_end(true)
        .deserialize(text);
    let part = "events:00001";
    let mut first = source.build_part(SystemTime::now(), part, None).unwrap();
    let read = take(&mut first, 4);
    assert_eq!(read.len(), 4);
    let state = first.snapshot();
    assert_eq!(state, 4);
    drop(first);

    let mut resumed = source
        .build_part(SystemTime::now(), part, Some(state))
        .unwrap();
    let rest = take(&mut resumed, usize::MAX);
    let offsets: Vec<i64> = rest.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, (4..10).collect::<Vec<_>>());
    assert_eq!(rest[0].payload, "m13");
}

#[test]
fn latest_start_skips_what_is_there_but_a_resume_state_wins() {
    let cluster = cluster_with(9);
    let source = KafkaSource::new(&cluster.brokers(), ["events"])
        .start(StartOffset::Latest)
        .stop_at_end(true)
        .deserialize(text);
    let mut latest = source
        .build_part(SystemTime::now(), "events:00000", None)
        .unwrap();
    assert_eq!(latest.snapshot(), 3);
    assert!(take(&mut latest, usize::MAX).is_empty());
    let mut resumed = source
        .build_part(SystemTime::now(), "events:00000", Some(1))
        .unwrap();
    let payloads: Vec<String> = take(&mut resumed, usize::MAX)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(payloads, vec!["m3", "m6"]);
}

#[test]
fn two_workers_give_the_same_output_as_one() {
    let cluster = cluster_with(200);
    let (flow, out) = read_flow(&cluster.brokers());
    run_bounded(&flow, &ExecutionConfig::single()).unwrap();
    let (flow2, out2) = read_flow(&cluster.brokers());
    run_bounded(&flow2, &ExecutionConfig::threads(2).unwrap()).unwrap();
    assert_eq!(out.items().len(), 200);
    assert_eq!(sorted(out2.items()), sorted(out.items()));
}

#[test]
fn a_bad_payload_raises_by_default_naming_where_it_is() {
    let cluster = Cluster::new();
    cluster.topic("nums", 1);
    let rows: Vec<(i32, String, String)> = ["1", "2", "x", "4", "y"]
        .iter()
        .map(|v| (0, String::new(), v.to_string()))
        .collect();
    cluster.produce("nums", &rows);
    let parse = |payload: Option<&[u8]>| -> Result<u32, pipework_dataflow::inputs::BoxError> {
        Ok(std::str::from_utf8(payload.unwrap_or_default())?.parse()?)
    };
    let source = KafkaSource::new(&cluster.brokers(), ["nums"])
        .stop_at_end(true)
        .deserialize(parse);

    let mut part = source
        .build_part(SystemTime::now(), "nums:00000", None)
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let err = loop {
        assert!(Instant::now() < deadline, "no error within {DEADLINE:?}");
        match part.next_batch() {
            Err(err) => break err,
            Ok(Some(_)) => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => panic!("the bad payload was not reported"),
        }
    };
    let message = err.to_string();
    assert!(message.contains("`nums` partition 0 offset 2"), "{message}");

    let skipping = source.on_deserialize_error(OnDeserializeError::Skip);
    let mut part = skipping
        .build_part(SystemTime::now(), "nums:00000", None)
        .unwrap();
    let got: Vec<u32> = take_all(&mut part).into_iter().map(|m| m.payload).collect();
    assert_eq!(got, vec![1, 2, 4]);
    assert_eq!(skipping.skipped(), 2);
    let shown = format!("{part:?}");
    assert!(
        shown.contains("\"nums\"") && shown.contains("next_offset: 5"),
        "{shown}"
    );
}

fn take_all<P>(
    part: &mut impl StatefulSourcePartition<Item = KafkaMessage<P>>,
) -> Vec<KafkaMessage<P>> {
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while let Some(batch) = part.next_batch().unwrap() {
        assert!(Instant::now() < deadline, "no end within {DEADLINE:?}");
        if batch.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        got.extend(batch);
    }
    got
}

fn kafka_error(err: &SourceError) -> &KafkaError {
    match err {
        SourceError::User(inner) => inner.downcast_ref::<KafkaError>().unwrap(),
        other => panic!("expected a kafka error, got {other:?}"),
    }
}

#[test]
fn an_unknown_topic_is_an_error_before_the_run_reads() {
    let cluster = Cluster::new();
    cluster.topic("events", 1);
    let started = Instant::now();
    let source = KafkaSource::new(&cluster.brokers(), ["nope"]).timeout(Duration::from_secs(5));
    let err = source.list_parts().unwrap_err();
    assert!(
        matches!(kafka_error(&err), KafkaError::UnknownTopic { topic, .. } if topic == "nope"),
        "{err}"
    );
    let sink_err = KafkaSink::connect(
        [("bootstrap.servers", cluster.brokers())],
        "nope",
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(
        matches!(sink_err, KafkaError::UnknownTopic { .. }),
        "{sink_err}"
    );

    let (flow, out) = {
        let out = TestingSink::<KafkaMessage>::new();
        let sink = out.clone();
        let flow = Dataflow::new("unknown", move |flow| {
            flow.input("read", source.clone())
                .output("out", sink.clone());
        });
        (flow, out)
    };
    let err = run_bounded(&flow, &ExecutionConfig::single()).unwrap_err();
    assert!(
        err.to_string().contains("unknown kafka topic `nope`"),
        "{err}"
    );
    assert!(out.items().is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_unreachable_broker_is_an_error_within_the_timeout() {
    // Port 1 on localhost: nothing listens, connections are refused.
    let brokers = "127.0.0.1:1";
    let started = Instant::now();
    let err = KafkaSource::new(brokers, ["events"])
        .timeout(Duration::from_secs(2))
        .list_parts()
        .unwrap_err();
    assert!(
        matches!(kafka_error(&err), KafkaError::Metadata { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    let sink_err = KafkaSink::connect(
        [("bootstrap.servers", brokers)],
        "events",
        Duration::from_secs(2),
    )
    .unwrap_err();
    assert!(
        matches!(sink_err, KafkaError::Metadata { .. }),
        "{sink_err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_sinks_messages_read_back_equal_what_was_sent() {
    let cluster = Cluster::new();
    cluster.topic("out", 3);
    let brokers = cluster.brokers();
    let sink = KafkaSink::new(&brokers, "out").unwrap();
    assert_eq!(sink.partitions(), &[0, 1, 2]);
    let flow = Dataflow::new("write_kafka", move |flow| {
        let items: Vec<u32> = (0..60).collect();
        flow.input(
            "read",
            pipework_dataflow::connectors::TestingSource::new(items),
        )
        .map("record", |i: u32| {
            let record = KafkaRecord::new(format!("v{i}")).key(format!("k{}", i % 5));
            // Every tenth item names its partition explicitly.
            let record = if i.is_multiple_of(10) {
                record.partition(2)
            } else {
                record
            };
            (format!("k{}", i % 5), record)
        })
        .output_partitioned("write", sink.clone());
    });
    run_bounded(&flow, &ExecutionConfig::threads(2).unwrap()).unwrap();

    let got = read_all(&brokers, "out");
    let mut payloads: Vec<String> = got
        .iter()
        .map(|m| String::from_utf8(m.payload.clone().unwrap()).unwrap())
        .collect();
    payloads.sort();
    let mut want: Vec<String> = (0..60).map(|i| format!("v{i}")).collect();
    want.sort();
    assert_eq!(payloads, want);
    // One key, one partition (except the explicitly placed ones), in order.
    let mut partitions_of_key: BTreeMap<Vec<u8>, Vec<i32>> = BTreeMap::new();
    for message in &got {
        let i: u32 = std::str::from_utf8(&message.payload.clone().unwrap()[1..])
            .unwrap()
            .parse()
            .unwrap();
        if i.is_multiple_of(10) {
            assert_eq!(message.partition, 2, "v{i} was placed explicitly");
            continue;
        }
        partitions_of_key
            .entry(message.key.clone().unwrap())
            .or_default()
            .push(message.partition);
    }
    // The keys spread over the partitions (the hash is stable, so this
    // holds run after run): not all of them in one.
    let used: std::collections::BTreeSet<i32> = partitions_of_key.values().map(|p| p[0]).collect();
    assert!(used.len() > 1, "5 keys all went to partitions {used:?}");
    for (key, partitions) in partitions_of_key {
        assert!(
            partitions.windows(2).all(|w| w[0] == w[1]),
            "key {key:?} went to {partitions:?}"
        );
    }
}

/// A sink part exists only for the sink's topic and one of its partitions,
/// and shows which it is.
#[test]
fn a_sink_part_of_another_topic_or_partition_is_refused() {
    use pipework_dataflow::outputs::{FixedPartitionedSink, SinkError};
    let cluster = Cluster::new();
    cluster.topic("out", 1);
    let sink = KafkaSink::new(&cluster.brokers(), "out").unwrap();
    for part in ["out:00001", "other:00000"] {
        let err = sink.build_part(part, None).unwrap_err();
        let SinkError::User(inner) = &err else {
            panic!("{part}: expected a kafka error, got {err:?}")
        };
        assert!(
            matches!(inner.downcast_ref::<KafkaError>(), Some(KafkaError::InvalidPart { part: p }) if p == part),
            "{part}: {err}"
        );
    }
    let part = sink.build_part("out:00000", None).unwrap();
    let shown = format!("{part:?}");
    assert!(
        shown.contains("\"out\"") && shown.contains("partition: 0"),
        "{shown}"
    );
}

/// When librdkafka's queue is full, a write waits for deliveries to make
/// room (up to the sink's timeout) instead of failing.
#[test]
fn a_full_producer_queue_waits_for_room() {
    use pipework_dataflow::outputs::{FixedPartitionedSink, StatefulSinkPartition};
    let cluster = Cluster::new();
    cluster.topic("out", 1);
    let brokers = cluster.brokers();
    let sink = KafkaSink::connect(
        [
            ("bootstrap.servers", brokers.as_str()),
            ("queue.buffering.max.messages", "1"),
            ("linger.ms", "0"),
        ],
        "out",
        Duration::from_secs(10),
    )
    .unwrap();
    let mut part = sink.build_part("out:00000", None).unwrap();
    let records: Vec<KafkaRecord> = (0..5).map(|i| KafkaRecord::new(format!("v{i}"))).collect();
    part.write_batch(records).unwrap();
    part.snapshot().unwrap();
    let got: Vec<String> = read_all(&brokers, "out")
        .iter()
        .map(|m| String::from_utf8(m.payload.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(got, ["v0", "v1", "v2", "v3", "v4"]);
}

/// Kafka → count per key → file, killed mid-run and resumed with recovery
/// on 2 workers: the file equals that of one uninterrupted run.
#[test]
fn kill_and_resume_with_recovery_is_exactly_once_into_a_file() {
    let cluster = cluster_with(600);
    let brokers = cluster.brokers();
    let work = tempfile::tempdir().unwrap();
    let expected_out = work.path().join("expected.txt");
    let out = work.path().join("out.txt");
    let read = Arc::new(AtomicUsize::new(0));
    let build = |path: std::path::PathBuf, crash_at: Option<usize>| {
        let source = KafkaSource::new(&brokers, ["events"])
            .batch_size(7)
            .stop_at_end(true)
            .deserialize(text);
        let crashed = Arc::new(AtomicBool::new(false));
        let read = Arc::clone(&read);
        Dataflow::new("count_kafka_into_file", move |flow| {
            let crashed = Arc::clone(&crashed);
            let read = Arc::clone(&read);
            let seen = std::cell::Cell::new(0usize);
            flow.input("read", source.clone())
                .map("crash", move |message: KafkaMessage<String>| {
                    read.fetch_add(1, Ordering::SeqCst);
                    seen.set(seen.get() + 1);
                    if crash_at == Some(seen.get()) && !crashed.swap(true, Ordering::SeqCst) {
                        panic!("simulated crash");
                    }
                    message
                })
                .map("key", |m: KafkaMessage<String>| {
                    (String::from_utf8(m.key.unwrap()).unwrap(), m.payload)
                })
                .stateful_map("count", |seen: Option<u64>, _payload: String| {
                    let seen = seen.unwrap_or(0) + 1;
                    (Some(seen), seen)
                })
                .map("format", |(key, n): (String, u64)| {
                    (String::new(), format!("{key}\t{n}"))
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
    init_db_dir(&dir, 2).unwrap();
    let config = |workers| {
        ExecutionConfig::threads(workers)
            .unwrap()
            .epoch_interval(Duration::from_millis(1))
            .recovery(RecoveryConfig::new(&dir))
    };
    let crashed = run_bounded(&build(out.clone(), Some(250)), &config(1));
    assert!(
        matches!(crashed, Err(RunError::Panicked { .. })),
        "{crashed:?}"
    );
    let partial = std::fs::read_to_string(&out).unwrap();
    assert!(partial.lines().count() < 600);
    read.store(0, Ordering::SeqCst);
    run_bounded(&build(out.clone(), None), &config(2)).unwrap();
    // The resume started at the committed offsets, not at the beginning.
    let reread = read.load(Ordering::SeqCst);
    assert!(
        reread < 600 - 100,
        "the resume read {reread} of 600 messages"
    );

    let lines = |path: &std::path::Path| {
        sorted(
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect(),
        )
    };
    let want = lines(&expected_out);
    assert_eq!(want.len(), 600);
    assert_eq!(lines(&out), want);
}

/// Kafka → Kafka with recovery, killed mid-run and resumed: every message
/// is in the output topic at least once, and no more than the epochs after
/// the last commit are written twice.
#[test]
fn kill_and_resume_into_the_kafka_sink_is_at_least_once() {
    let cluster = cluster_with(300);
    cluster.topic("copies", 2);
    let brokers = cluster.brokers();
    let sink = KafkaSink::new(&brokers, "copies").unwrap();
    let build = |crash_at: Option<usize>| {
        let source = KafkaSource::new(&brokers, ["events"])
            .batch_size(5)
            .stop_at_end(true)
            .deserialize(text);
        let sink = sink.clone();
        let crashed = Arc::new(AtomicBool::new(false));
        Dataflow::new("copy_kafka", move |flow| {
            let crashed = Arc::clone(&crashed);
            let seen = std::cell::Cell::new(0usize);
            flow.input("read", source.clone())
                .map("copy", move |message: KafkaMessage<String>| {
                    seen.set(seen.get() + 1);
                    if crash_at == Some(seen.get()) && !crashed.swap(true, Ordering::SeqCst) {
                        panic!("simulated crash");
                    }
                    let key = String::from_utf8(message.key.unwrap()).unwrap();
                    (key, KafkaRecord::new(message.payload))
                })
                .output_partitioned("write", sink.clone());
        })
    };
    let work = tempfile::tempdir().unwrap();
    init_db_dir(work.path(), 2).unwrap();
    let config = ExecutionConfig::single()
        .epoch_interval(Duration::from_millis(1))
        .recovery(RecoveryConfig::new(work.path()));
    let crashed = run_bounded(&build(Some(200)), &config);
    assert!(
        matches!(crashed, Err(RunError::Panicked { .. })),
        "{crashed:?}"
    );
    run_bounded(&build(None), &config).unwrap();

    let mut copies: Vec<String> = read_all(&brokers, "copies")
        .into_iter()
        .map(|m| String::from_utf8(m.payload.unwrap()).unwrap())
        .collect();
    copies.sort();
    let distinct = {
        let mut d = copies.clone();
        d.dedup();
        d
    };
    let want = sorted(messages(300).into_iter().map(|(_, _, m)| m).collect());
    assert_eq!(distinct, want, "every message is copied at least once");
    assert!(copies.len() < 300 + 200, "{} copies", copies.len());
}

#[test]
fn a_broker_error_while_reading_names_topic_and_partition() {
    let cluster = cluster_with(9);
    cluster.fail_fetches(
        rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        50,
    );
    let source = KafkaSource::new(&cluster.brokers(), ["events"]).stop_at_end(true);
    let mut part = source
        .build_part(SystemTime::now(), "events:00001", None)
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let err = loop {
        assert!(Instant::now() < deadline, "no error within {DEADLINE:?}");
        match part.next_batch() {
            Err(err) => break err,
            Ok(Some(_)) => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => panic!("the partition ended without reporting the broker error"),
        }
    };
    assert!(
        matches!(
            kafka_error(&err),
            KafkaError::Partition { partition: 1, .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`events` partition 1"), "{err}");
}

#[test]
fn a_failed_delivery_is_an_error_at_the_next_snapshot() {
    use pipework_dataflow::outputs::{FixedPartitionedSink, SinkError, StatefulSinkPartition};
    let cluster = Cluster::new();
    cluster.topic("out", 1);
    let sink = KafkaSink::new(&cluster.brokers(), "out").unwrap();
    let mut part = sink.build_part("out:00000", None).unwrap();
    part.write_batch(vec![KafkaRecord::new("ok")]).unwrap();
    part.snapshot().unwrap();
    cluster.fail_produces(
        rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        50,
    );
    part.write_batch(vec![KafkaRecord::new("refused")]).unwrap();
    let started = Instant::now();
    let err = part.snapshot().unwrap_err();
    assert!(started.elapsed() < DEADLINE);
    let SinkError::User(inner) = &err else {
        panic!("expected a kafka error, got {err:?}")
    };
    assert!(
        matches!(
            inner.downcast_ref::<KafkaError>(),
            Some(KafkaError::Partition { partition: 0, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`out` partition 0"), "{err}");
}

#[test]
fn debug_output_does_not_show_property_values() {
    let source = KafkaSource::new("broker:9092", ["events"]).set("sasl.password", "hunter2");
    let shown = format!("{source:?}");
    assert!(
        shown.contains("broker:9092") && shown.contains("sasl.password"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn next_batch_on_an_idle_partition_returns_at_once() {
    let cluster = Cluster::new();
    cluster.topic("idle", 1);
    let source = KafkaSource::new(&cluster.brokers(), ["idle"]);
    let mut part = source
        .build_part(SystemTime::now(), "idle:00000", None)
        .unwrap();
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(part.next_batch().unwrap().map(|b| b.len()), Some(0));
        let took = started.elapsed();
        assert!(took < Duration::from_millis(50), "next_batch took {took:?}");
    }
    assert_eq!(part.snapshot(), 0);
}

//! `dataflow-kafka`: read N messages from a topic of 4 partitions on
//! librdkafka's in-process mock cluster, map each payload to its number,
//! count the messages and sum the numbers.
//!
//! Each child process starts its own mock cluster and fills the topic
//! (message `i` has the payload `i` in decimal, partition `i % 4`) before
//! the clock starts, so the figure is the read: `KafkaSource` (to the end of
//! the topic, 1000 messages a batch) `-> map("parse") -> output` with one
//! worker (`pipework-w1`) and two worker threads, two partitions each
//! (`pipework-w2`). The mock broker runs in the same process and shares
//! its cores, so a real cluster on other machines reads differently; the
//! figure is the connector's cost per message.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use pipework_dataflow::connectors::{KafkaMessage, KafkaSource};
use pipework_dataflow::{run, Dataflow, ExecutionConfig};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

use super::count_sink::{CountSink, Totals};
use crate::measure::{Job, Measurement};
use crate::scenario::{Runner, Scenario, System};

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "dataflow-kafka",
    work: "N messages on a mock-cluster topic (4 partitions) -> parse -> count",
    sizes: &[1_000_000],
    quick_sizes: &[10_000],
    ideal_seconds: None,
    check,
    input: None,
    systems: &[
        System {
            name: "pipework-w1",
            runner: Runner::Rust(pipework_w1),
        },
        System {
            name: "pipework-w2",
            runner: Runner::Rust(pipework_w2),
        },
    ],
};

const TOPIC: &str = "bench";
const PARTITIONS: i32 = 4;

/// The sum of the payloads `0..messages`.
pub(crate) fn check(messages: u64) -> u64 {
    messages * messages.saturating_sub(1) / 2
}

fn pipework_w1(job: &Job) -> anyhow::Result<Measurement> {
    pipework(job, ExecutionConfig::single())
}

fn pipework_w2(job: &Job) -> anyhow::Result<Measurement> {
    pipework(job, ExecutionConfig::threads(2)?)
}

/// Starts a mock cluster holding `messages` messages; it lives as long as
/// the value returned.
fn filled_cluster(
    messages: u64,
) -> anyhow::Result<MockCluster<'static, rdkafka::producer::DefaultProducerContext>> {
    let cluster = MockCluster::new(1).context("starting the mock cluster")?;
    cluster
        .create_topic(TOPIC, PARTITIONS, 1)
        .context("creating the topic")?;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("linger.ms", "5")
        .create()
        .context("creating the producer")?;
    for i in 0..messages {
        let payload = i.to_string();
        let mut record = BaseRecord::<(), str>::to(TOPIC)
            .partition((i % PARTITIONS as u64) as i32)
            .payload(&payload);
        // A full queue: serve deliveries until there is room (bounded by
        // the flush below failing if the broker stops answering).
        while let Err((err, back)) = producer.send(record) {
            anyhow::ensure!(
                matches!(
                    err,
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull
                    )
                ),
                "producing message {i}: {err}"
            );
            record = back;
            producer.poll(Duration::from_millis(10));
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .context("delivering the messages")?;
    Ok(cluster)
}

fn pipework(job: &Job, config: ExecutionConfig) -> anyhow::Result<Measurement> {
    let cluster = filled_cluster(job.items)?;
    let source = KafkaSource::new(&cluster.bootstrap_servers(), [TOPIC])
        .stop_at_end(true)
        .deserialize(|payload| Ok(std::str::from_utf8(payload.unwrap_or_default())?.parse()?));
    let totals = Totals::default();
    let sink = CountSink(totals.clone());
    let flow = Dataflow::new("dataflow-kafka", move |flow| {
        flow.input("read", source.clone())
            .map("parse", |message: KafkaMessage<u64>| message.payload)
            .output("count", sink.clone());
    });
    let start = Instant::now();
    run(&flow, &config)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Measurement {
        items: totals.count.load(Ordering::Acquire),
        check: totals.sum.load(Ordering::Acquire),
        seconds,
        bytes: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_systems_read_every_message_once() {
        let job = Job {
            items: 2000,
            input: None,
        };
        for work in [pipework_w1, pipework_w2] {
            let measured = work(&job).unwrap();
            assert_eq!((measured.items, measured.check), (2000, check(2000)));
        }
    }
}

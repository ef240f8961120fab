//! An in-process Kafka cluster (librdkafka's mock cluster) for the Kafka
//! connector tests, and helpers to write to and read from it.

use std::time::{Duration, Instant};

use pipework_dataflow::connectors::{KafkaMessage, KafkaSource};
use pipework_dataflow::inputs::{FixedPartitionedSource, StatefulSourcePartition};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::ClientConfig;

/// How long any wait on the mock cluster may take before the test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// A mock cluster of one broker, alive as long as this value.
pub(crate) struct Cluster {
    mock: MockCluster<'static, DefaultProducerContext>,
}

impl Cluster {
    /// Starts a cluster.
    pub(crate) fn new() -> Self {
        Cluster {
            mock: MockCluster::new(1).expect("the mock cluster starts"),
        }
    }

    /// Its `bootstrap.servers`.
    pub(crate) fn brokers(&self) -> String {
        self.mock.bootstrap_servers()
    }

    /// Makes the next `count` fetch requests fail with `error`.
    pub(crate) fn fail_fetches(&self, error: rdkafka::types::RDKafkaRespErr, count: usize) {
        self.mock
            .request_errors(rdkafka::types::RDKafkaApiKey::Fetch, &vec![error; count]);
    }

    /// Makes the next `count` produce requests fail with `error`.
    pub(crate) fn fail_produces(&self, error: rdkafka::types::RDKafkaRespErr, count: usize) {
        self.mock
            .request_errors(rdkafka::types::RDKafkaApiKey::Produce, &vec![error; count]);
    }

    /// Creates `topic` with `partitions` partitions.
    pub(crate) fn topic(&self, topic: &str, partitions: i32) {
        self.mock
            .create_topic(topic, partitions, 1)
            .expect("the mock cluster creates the topic");
    }

    /// Writes `(partition, key, payload)` messages to `topic` and waits until
    /// all are delivered.
    pub(crate) fn produce(&self, topic: &str, messages: &[(i32, String, String)]) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .create()
            .expect("a producer");
        for (partition, key, payload) in messages {
            producer
                .send(
                    BaseRecord::to(topic)
                        .partition(*partition)
                        .key(key)
                        .payload(payload),
                )
                .expect("the message is queued");
        }
        producer.flush(DEADLINE).expect("all messages delivered");
    }
}

/// Reads every message of every partition of `topic` up to its current
/// end, without a dataflow; fails the test after [`DEADLINE`].
pub(crate) fn read_all(brokers: &str, topic: &str) -> Vec<KafkaMessage> {
    let source = KafkaSource::new(brokers, [topic]).stop_at_end(true);
    let deadline = Instant::now() + DEADLINE;
    let mut all = Vec::new();
    for part in source.list_parts().expect("the topic is listed") {
        let mut partition = source
            .build_part(std::time::SystemTime::now(), &part, None)
            .expect("the partition is built");
        while let Some(batch) = partition.next_batch().expect("the partition is read") {
            assert!(Instant::now() < deadline, "{part} did not end in time");
            if batch.is_empty() {
                // Nothing fetched yet: ask again in 1 ms, as the engine
                // does; the deadline above ends this.
                std::thread::sleep(Duration::from_millis(1));
            }
            all.extend(batch);
        }
    }
    all
}

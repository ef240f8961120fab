//! Writes to a Kafka topic, one dataflow partition per topic-partition.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pipework::internal::FirstError;

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::Message;

use super::config::{parse_part_key, part_key, Settings, DEFAULT_TIMEOUT};
use super::{KafkaError, KafkaRecord};
use crate::outputs::{FixedPartitionedSink, SinkError, StatefulSinkPartition};
use crate::routing::stable_hash;

/// Writes [`KafkaRecord`]s to one topic (bytewax's `KafkaSink`), for
/// [`Stream::output_partitioned`](crate::Stream::output_partitioned).
///
/// The sink's partitions are the topic's partitions, read from the
/// brokers' metadata when the sink is made (so an unknown topic or an
/// unreachable broker is an error before the run). Items are
/// `(key, record)` pairs: a stable hash of the key picks the partition, so
/// all records of one key go to one Kafka partition in order, written by
/// the one worker that owns it; a record with
/// [`partition`](KafkaRecord::partition) set goes to that partition instead.
///
/// # Delivery
///
/// Each partition has its own librdkafka producer. At every epoch's
/// snapshot (with recovery on) and at the end of the run it waits until
/// librdkafka confirms every message sent so far, or fails with
/// [`KafkaError::DeliveryTimeout`] or [`KafkaError::Partition`]; so no
/// epoch is committed before its output is in Kafka. Output is
/// **at-least-once** across a crash: Kafka cannot take back messages
/// written after the last committed epoch, and a resume writes those
/// epochs again.
///
/// # Examples
///
/// ```no_run
/// use pipework_dataflow::connectors::KafkaSink;
///
/// use std::time::Duration;
///
/// let config = [
///     ("bootstrap.servers", "localhost:9092"),
///     ("compression.type", "gzip"), // any librdkafka property
/// ];
/// let sink = KafkaSink::connect(config, "counts", Duration::from_secs(10))?;
/// # let _ = sink;
/// # Ok::<(), pipework_dataflow::connectors::KafkaError>(())
/// ```
#[derive(Debug, Clone)]
pub struct KafkaSink {
    settings: Settings,
    topic: String,
    partitions: Vec<i32>,
    timeout: Duration,
}

impl KafkaSink {
    /// A sink writing to `topic` on `brokers` (librdkafka's
    /// `bootstrap.servers`), asking them for its partitions and waiting at
    /// most 10 s; use [`connect`](Self::connect) for any other librdkafka
    /// setting.
    ///
    /// # Errors
    ///
    /// [`KafkaError::UnknownTopic`] when the topic does not exist,
    /// [`KafkaError::Metadata`] when the brokers do not answer in time,
    /// [`KafkaError::Client`] for a configuration librdkafka refuses.
    pub fn new(brokers: &str, topic: &str) -> Result<Self, KafkaError> {
        Self::connect([("bootstrap.servers", brokers)], topic, DEFAULT_TIMEOUT)
    }

    /// A sink writing to `topic` with the librdkafka properties `config`
    /// (`bootstrap.servers`, `security.protocol`, `compression.type`, …,
    /// passed through unchanged, and used for the metadata request too),
    /// waiting at most `timeout` for metadata; the same timeout bounds each
    /// delivery wait.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn connect<K, V>(
        config: impl IntoIterator<Item = (K, V)>,
        topic: &str,
        timeout: Duration,
    ) -> Result<Self, KafkaError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut settings = Settings::default();
        for (key, value) in config {
            settings.set(key.as_ref(), value.as_ref());
        }
        let topics = settings.partitions(&[topic.to_owned()], timeout)?;
        let partitions = topics
            .into_iter()
            .flat_map(|(_, partitions)| partitions)
            .collect();
        Ok(KafkaSink {
            settings,
            topic: topic.to_owned(),
            partitions,
            timeout,
        })
    }

    /// The topic's partition numbers.
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }
}

impl FixedPartitionedSink for KafkaSink {
    type Item = KafkaRecord;
    type State = ();
    type Partition = KafkaSinkPartition;

    fn list_parts(&self) -> Vec<String> {
        self.partitions
            .iter()
            .map(|partition| part_key(&self.topic, *partition))
            .collect()
    }

    fn part_fn(&self, item_key: &str) -> usize {
        // The high bits: FNV-1a's low bits mix poorly for short keys.
        (stable_hash(item_key) >> 32) as usize
    }

    /// Makes the producer of one partition; there is nothing to resume.
    ///
    /// # Errors
    ///
    /// [`KafkaError::InvalidPart`] for a key not of this sink,
    /// [`KafkaError::Client`] for a configuration librdkafka refuses.
    fn build_part(
        &self,
        part: &str,
        _resume_state: Option<()>,
    ) -> Result<KafkaSinkPartition, SinkError> {
        let (topic, partition) = parse_part_key(part)?;
        if topic != self.topic || !self.partitions.contains(&partition) {
            return Err(KafkaError::InvalidPart {
                part: part.to_owned(),
            }
            .into());
        }
        let context = Deliveries::default();
        let producer = self
            .settings
            .client_config(&[], &[])
            .create_with_context(context)
            .map_err(|source| KafkaError::Client {
                brokers: self.settings.brokers(),
                source: Box::new(source),
            })?;
        Ok(KafkaSinkPartition {
            producer,
            topic,
            partition,
            timeout: self.timeout,
        })
    }
}

/// Records the first failed delivery, reported by librdkafka's callback.
#[derive(Debug, Default)]
struct Deliveries {
    failed: Arc<FirstError<(i32, RdKafkaError)>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((err, message)) = result {
            self.failed.offer((message.partition(), err.clone()));
        }
    }
}

/// The producer of one topic-partition of a [`KafkaSink`].
pub struct KafkaSinkPartition {
    producer: BaseProducer<Deliveries>,
    topic: String,
    partition: i32,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaSinkPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSinkPartition")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl KafkaSinkPartition {
    fn error(&self, partition: i32, source: RdKafkaError) -> SinkError {
        KafkaError::Partition {
            topic: self.topic.clone(),
            partition,
            source: Box::new(source),
        }
        .into()
    }

    /// Fails with the first delivery error librdkafka reported.
    fn check_deliveries(&self) -> Result<(), SinkError> {
        let failed = self.producer.context().failed.take();
        match failed {
            Some((partition, err)) => Err(self.error(partition, err)),
            None => Ok(()),
        }
    }

    /// Waits until every message sent is delivered or failed; ends when
    /// librdkafka's queue is empty or the timeout passes.
    fn flush(&self) -> Result<(), SinkError> {
        match self.producer.flush(self.timeout) {
            Ok(()) => self.check_deliveries(),
            Err(RdKafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                self.check_deliveries()?;
                Err(KafkaError::DeliveryTimeout {
                    topic: self.topic.clone(),
                    timeout: self.timeout,
                }
                .into())
            }
            Err(err) => Err(self.error(self.partition, err)),
        }
    }
}

impl StatefulSinkPartition for KafkaSinkPartition {
    type Item = KafkaRecord;
    type State = ();

    /// Hands the records to librdkafka without waiting for delivery. When
    /// its queue is full, serves delivery reports until there is room; that
    /// wait ends when a message leaves the queue or after the timeout.
    ///
    /// # Errors
    ///
    /// [`KafkaError::Partition`] for a record librdkafka refuses or an
    /// earlier failed delivery, [`KafkaError::DeliveryTimeout`] when the
    /// queue stays full for the whole timeout.
    fn write_batch(&mut self, items: Vec<KafkaRecord>) -> Result<(), SinkError> {
        self.check_deliveries()?;
        for item in items {
            let partition = item.partition.unwrap_or(self.partition);
            let mut record: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(&self.topic).partition(partition);
            if let Some(key) = &item.key {
                record = record.key(key);
            }
            if let Some(payload) = &item.payload {
                record = record.payload(payload);
            }
            let deadline = Instant::now() + self.timeout;
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        if Instant::now() >= deadline {
                            return Err(KafkaError::DeliveryTimeout {
                                topic: self.topic.clone(),
                                timeout: self.timeout,
                            }
                            .into());
                        }
                        record = back;
                        self.producer.poll(Duration::from_millis(100));
                    }
                    Err((err, _)) => return Err(self.error(partition, err)),
                }
            }
        }
        // Serve delivery callbacks that are ready, without waiting.
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    /// Waits until librdkafka confirms every message written so far.
    ///
    /// # Errors
    ///
    /// As [`close`](Self::close).
    fn snapshot(&mut self) -> Result<(), SinkError> {
        self.flush()
    }

    /// Waits until librdkafka confirms every message written.
    ///
    /// # Errors
    ///
    /// [`KafkaError::DeliveryTimeout`] when messages are still queued after
    /// the timeout, [`KafkaError::Partition`] for a failed delivery.
    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()
    }
}

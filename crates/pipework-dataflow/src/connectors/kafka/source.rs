//! Reads Kafka topics, one dataflow partition per topic-partition.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::config::{parse_part_key, part_key, Settings, DEFAULT_TIMEOUT};
use super::{KafkaError, KafkaMessage};
use crate::inputs::{BoxError, FixedPartitionedSource, SourceError, StatefulSourcePartition};

/// Default number of messages per batch.
const DEFAULT_BATCH_SIZE: usize = 1000;

/// Where a partition starts reading when there is no resume state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StartOffset {
    /// The oldest message the broker keeps (the default).
    #[default]
    Earliest,
    /// The next message produced after the partition is built.
    Latest,
}

/// What the source does with a message its deserializer rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnDeserializeError {
    /// Stop the dataflow with [`KafkaError::Deserialize`] (the default).
    #[default]
    Raise,
    /// Drop the message, count it ([`KafkaSource::skipped`]) and go on.
    Skip,
}

type Deserializer<P> = dyn Fn(Option<&[u8]>) -> Result<P, BoxError> + Send + Sync;

/// Reads one or more Kafka topics (bytewax's `KafkaSource`): one partition
/// per topic-partition, listed from the brokers' metadata, keyed
/// `topic:00002`.
///
/// The resume state of a partition is the offset of its next message, so
/// with a recovery store a dataflow resumes exactly after the last message of
/// the last committed epoch. A partition built afresh starts at the
/// [`StartOffset`] (earliest by default), resolved to a concrete offset when
/// it is built; a resume state always wins over it.
///
/// Messages are read with `assign` at explicit offsets, never through a
/// consumer group: nothing is committed to Kafka, and the recovery store is
/// where positions live. Each partition has its own librdkafka consumer.
/// `next_batch` polls with a zero timeout and returns what librdkafka has
/// already fetched, up to the batch size, so it never blocks.
///
/// Items are [`KafkaMessage`]s whose payload is the raw bytes (`None` for
/// a tombstone) or, with [`deserialize`](Self::deserialize), the
/// deserializer's output.
///
/// # Examples
///
/// ```no_run
/// use pipework_dataflow::connectors::{KafkaSource, StartOffset};
///
/// let source = KafkaSource::new("localhost:9092", ["events"])
///     .set("security.protocol", "plaintext") // any librdkafka property
///     .start(StartOffset::Latest)
///     .deserialize(|payload| Ok(String::from_utf8(payload.unwrap_or_default().to_vec())?));
/// # let _ = source;
/// ```
pub struct KafkaSource<P = Option<Vec<u8>>> {
    settings: Settings,
    topics: Vec<String>,
    start: StartOffset,
    batch_size: usize,
    stop_at_end: bool,
    timeout: Duration,
    deserialize: Arc<Deserializer<P>>,
    on_error: OnDeserializeError,
    skipped: Arc<AtomicU64>,
}

impl<P> Clone for KafkaSource<P> {
    fn clone(&self) -> Self {
        KafkaSource {
            settings: self.settings.clone(),
            topics: self.topics.clone(),
            start: self.start,
            batch_size: self.batch_size,
            stop_at_end: self.stop_at_end,
            timeout: self.timeout,
            deserialize: Arc::clone(&self.deserialize),
            on_error: self.on_error,
            skipped: Arc::clone(&self.skipped),
        }
    }
}

impl<P> std::fmt::Debug for KafkaSource<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("settings", &self.settings)
            .field("topics", &self.topics)
            .field("start", &self.start)
            .field("batch_size", &self.batch_size)
            .field("stop_at_end", &self.stop_at_end)
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

impl KafkaSource {
    /// Reads `topics` from the brokers `brokers` (librdkafka's
    /// `bootstrap.servers`), raw bytes, 1000 messages a batch, from the
    /// earliest offset, without end.
    pub fn new<T: Into<String>>(brokers: &str, topics: impl IntoIterator<Item = T>) -> Self {
        KafkaSource {
            settings: Settings::new(brokers),
            topics: topics.into_iter().map(Into::into).collect(),
            start: StartOffset::Earliest,
            batch_size: DEFAULT_BATCH_SIZE,
            stop_at_end: false,
            timeout: DEFAULT_TIMEOUT,
            deserialize: Arc::new(|payload: Option<&[u8]>| Ok(payload.map(<[u8]>::to_vec))),
            on_error: OnDeserializeError::Raise,
            skipped: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<P> KafkaSource<P> {
    /// Sets any librdkafka consumer property (`security.protocol`,
    /// `sasl.username`, `fetch.max.bytes`, …), passed through unchanged.
    /// The source sets `enable.partition.eof` itself, and by default
    /// `enable.auto.commit=false`, a `group.id` (never joined) and
    /// `auto.offset.reset=earliest` (a resume offset that retention has
    /// deleted reads what remains, rather than skipping to the end).
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.settings.set(key, value);
        self
    }

    /// Where a partition without resume state starts.
    pub fn start(mut self, start: StartOffset) -> Self {
        self.start = start;
        self
    }

    /// Messages per batch at most (at least 1; 0 is an error when a
    /// partition is built).
    pub fn batch_size(mut self, messages: usize) -> Self {
        self.batch_size = messages;
        self
    }

    /// Ends each partition when it reaches the end of what the broker holds
    /// (for batch jobs and tests); by default a partition waits for new
    /// messages forever.
    pub fn stop_at_end(mut self, stop: bool) -> Self {
        self.stop_at_end = stop;
        self
    }

    /// How long metadata and offset requests may wait for the brokers
    /// (10 s by default); past it listing or building fails with
    /// [`KafkaError::Metadata`] or [`KafkaError::Partition`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do with a message the deserializer rejects.
    pub fn on_deserialize_error(mut self, policy: OnDeserializeError) -> Self {
        self.on_error = policy;
        self
    }

    /// Turns each payload (`None` for a tombstone) into a `Q`; an error
    /// goes through the [`OnDeserializeError`] policy.
    pub fn deserialize<Q, F>(self, f: F) -> KafkaSource<Q>
    where
        F: Fn(Option<&[u8]>) -> Result<Q, BoxError> + Send + Sync + 'static,
    {
        KafkaSource {
            settings: self.settings,
            topics: self.topics,
            start: self.start,
            batch_size: self.batch_size,
            stop_at_end: self.stop_at_end,
            timeout: self.timeout,
            deserialize: Arc::new(f),
            on_error: self.on_error,
            skipped: self.skipped,
        }
    }

    /// How many messages were skipped under [`OnDeserializeError::Skip`] by
    /// the partitions of this source (and its clones) in this process.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

impl<P: 'static> FixedPartitionedSource for KafkaSource<P> {
    type Item = KafkaMessage<P>;
    type State = i64;
    type Partition = KafkaPartition<P>;

    /// One key per partition of every topic, from the brokers' metadata.
    ///
    /// # Errors
    ///
    /// [`KafkaError::UnknownTopic`] for a topic the brokers do not have,
    /// [`KafkaError::Metadata`] when they do not answer within the timeout.
    fn list_parts(&self) -> Result<Vec<String>, SourceError> {
        let topics = self.settings.partitions(&self.topics, self.timeout)?;
        Ok(topics
            .iter()
            .flat_map(|(topic, partitions)| partitions.iter().map(|p| part_key(topic, *p)))
            .collect())
    }

    /// Builds the consumer of one topic-partition, assigned at the resume
    /// offset or at the start offset.
    ///
    /// # Errors
    ///
    /// [`KafkaError::InvalidPart`] for a key that is not `topic:partition`
    /// of this source, [`KafkaError::Partition`] when the offsets cannot be
    /// fetched or assigned, [`SourceError::InvalidConfig`] for a batch size
    /// of 0.
    fn build_part(
        &self,
        _now: SystemTime,
        part: &str,
        resume_state: Option<i64>,
    ) -> Result<KafkaPartition<P>, SourceError> {
        SourceError::check_batch_size(self.batch_size)?;
        let (topic, partition) = parse_part_key(part)?;
        if !self.topics.contains(&topic) {
            return Err(KafkaError::InvalidPart {
                part: part.to_owned(),
            }
            .into());
        }
        let eof = if self.stop_at_end { "true" } else { "false" };
        let consumer = self.settings.consumer(&[("enable.partition.eof", eof)])?;
        let partition_error = |source| KafkaError::Partition {
            topic: topic.clone(),
            partition,
            source: Box::new(source),
        };
        let offset = match resume_state {
            Some(offset) => offset,
            None => {
                let (low, high) = consumer
                    .fetch_watermarks(&topic, partition, self.timeout)
                    .map_err(partition_error)?;
                match self.start {
                    StartOffset::Earliest => low,
                    StartOffset::Latest => high,
                }
            }
        };
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&topic, partition, Offset::Offset(offset))
            .map_err(partition_error)?;
        consumer.assign(&assignment).map_err(partition_error)?;
        Ok(KafkaPartition {
            consumer,
            topic,
            partition,
            next_offset: offset,
            batch_size: self.batch_size,
            at_end: false,
            deserialize: Arc::clone(&self.deserialize),
            on_error: self.on_error,
            skipped: Arc::clone(&self.skipped),
        })
    }
}

/// One topic-partition read by a [`KafkaSource`]; its state is the offset
/// of the next message.
pub struct KafkaPartition<P> {
    consumer: BaseConsumer,
    topic: String,
    partition: i32,
    next_offset: i64,
    batch_size: usize,
    at_end: bool,
    deserialize: Arc<Deserializer<P>>,
    on_error: OnDeserializeError,
    skipped: Arc<AtomicU64>,
}

impl<P> std::fmt::Debug for KafkaPartition<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPartition")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("next_offset", &self.next_offset)
            .finish_non_exhaustive()
    }
}

impl<P> KafkaPartition<P> {
    fn error(&self, source: RdKafkaError) -> SourceError {
        KafkaError::Partition {
            topic: self.topic.clone(),
            partition: self.partition,
            source: Box::new(source),
        }
        .into()
    }
}

impl<P> StatefulSourcePartition for KafkaPartition<P> {
    type Item = KafkaMessage<P>;
    type State = i64;

    /// Returns the messages librdkafka has already fetched, up to the batch
    /// size; polls with a zero timeout, so it never blocks.
    ///
    /// # Errors
    ///
    /// [`KafkaError::Partition`] for a broker or consumer error,
    /// [`KafkaError::Deserialize`] for a rejected payload under
    /// [`OnDeserializeError::Raise`].
    fn next_batch(&mut self) -> Result<Option<Vec<KafkaMessage<P>>>, SourceError> {
        if self.at_end {
            return Ok(None);
        }
        let mut batch = Vec::new();
        while batch.len() < self.batch_size {
            let message = match self.consumer.poll(Duration::ZERO) {
                None => break,
                Some(Err(RdKafkaError::PartitionEOF(_))) => {
                    self.at_end = true;
                    break;
                }
                Some(Err(err)) => return Err(self.error(err)),
                Some(Ok(message)) => message,
            };
            let offset = message.offset();
            self.next_offset = offset + 1;
            match (self.deserialize)(message.payload()) {
                Ok(payload) => batch.push(KafkaMessage {
                    key: message.key().map(<[u8]>::to_vec),
                    payload,
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset,
                    timestamp: message.timestamp().to_millis(),
                }),
                Err(source) => match self.on_error {
                    OnDeserializeError::Skip => {
                        self.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    OnDeserializeError::Raise => {
                        return Err(KafkaError::Deserialize {
                            topic: self.topic.clone(),
                            partition: self.partition,
                            offset,
                            source,
                        }
                        .into())
                    }
                },
            }
        }
        if batch.is_empty() && self.at_end {
            return Ok(None);
        }
        Ok(Some(batch))
    }

    fn snapshot(&self) -> i64 {
        self.next_offset
    }
}

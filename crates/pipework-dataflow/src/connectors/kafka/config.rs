//! librdkafka settings shared by the source and the sink, and the metadata
//! look-up both do before a run.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::KafkaError;

/// How long a metadata request or a flush may take by default.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// librdkafka properties as `key=value` pairs, passed through unchanged.
#[derive(Clone, Default)]
pub(crate) struct Settings {
    values: BTreeMap<String, String>,
}

/// Shows the brokers and the names of the other properties only: values
/// may be passwords.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bootstrap.servers", &self.brokers())
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Settings {
    /// Settings with `bootstrap.servers` = `brokers`.
    pub(crate) fn new(brokers: &str) -> Self {
        let mut settings = Settings::default();
        settings.set("bootstrap.servers", brokers);
        settings
    }

    pub(crate) fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_owned(), value.to_owned());
    }

    pub(crate) fn brokers(&self) -> String {
        self.values
            .get("bootstrap.servers")
            .cloned()
            .unwrap_or_default()
    }

    /// A client configuration: `defaults` first, then the user's settings,
    /// then `forced` (what the connector relies on).
    pub(crate) fn client_config(
        &self,
        defaults: &[(&str, &str)],
        forced: &[(&str, &str)],
    ) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.values {
            config.set(key, value);
        }
        for (key, value) in forced {
            config.set(*key, *value);
        }
        config
    }

    /// A consumer that is only used for metadata and reads by `assign`.
    pub(crate) fn consumer(&self, forced: &[(&str, &str)]) -> Result<BaseConsumer, KafkaError> {
        self.client_config(
            &[
                ("group.id", "pipework"),
                ("enable.auto.commit", "false"),
                // A resume offset the broker no longer holds (deleted by
                // retention) reads what remains rather than skipping to the end.
                ("auto.offset.reset", "earliest"),
            ],
            forced,
        )
        .create()
        .map_err(|source| KafkaError::Client {
            brokers: self.brokers(),
            source: Box::new(source),
        })
    }

    /// The partition numbers of each topic, asking the brokers and waiting
    /// at most `timeout` per topic.
    ///
    /// # Errors
    ///
    /// [`KafkaError::Metadata`] when the brokers do not answer in time,
    /// [`KafkaError::UnknownTopic`] when a topic does not exist.
    pub(crate) fn partitions(
        &self,
        topics: &[String],
        timeout: Duration,
    ) -> Result<Vec<(String, Vec<i32>)>, KafkaError> {
        let consumer = self.consumer(&[("allow.auto.create.topics", "false")])?;
        let mut found = Vec::with_capacity(topics.len());
        for topic in topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), timeout)
                .map_err(|source| KafkaError::Metadata {
                    topic: topic.clone(),
                    brokers: self.brokers(),
                    timeout,
                    source: Box::new(source),
                })?;
            let entry = metadata.topics().iter().find(|t| t.name() == topic);
            let partitions: Vec<i32> = match entry {
                Some(entry) if entry.error().is_none() => {
                    entry.partitions().iter().map(|p| p.id()).collect()
                }
                _ => Vec::new(),
            };
            if partitions.is_empty() {
                return Err(KafkaError::UnknownTopic {
                    topic: topic.clone(),
                    brokers: self.brokers(),
                });
            }
            let mut partitions = partitions;
            partitions.sort_unstable();
            found.push((topic.clone(), partitions));
        }
        Ok(found)
    }
}

/// The partition key of `partition` of `topic`: `topic:partition`, with the
/// number zero-padded so that keys sort in partition order.
pub(crate) fn part_key(topic: &str, partition: i32) -> String {
    format!("{topic}:{partition:05}")
}

/// Splits a key made by [`part_key`] back into topic and partition.
pub(crate) fn parse_part_key(part: &str) -> Result<(String, i32), KafkaError> {
    let invalid = || KafkaError::InvalidPart {
        part: part.to_owned(),
    };
    let (topic, partition) = part.rsplit_once(':').ok_or_else(invalid)?;
    let partition = partition.parse().map_err(|_| invalid())?;
    Ok((topic.to_owned(), partition))
}

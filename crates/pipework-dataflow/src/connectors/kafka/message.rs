//! What the Kafka source emits and the Kafka sink writes.

/// A message read by a [`KafkaSource`](super::KafkaSource), with where it
/// came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KafkaMessage<P = Option<Vec<u8>>> {
    /// The message key, if any.
    pub key: Option<Vec<u8>>,
    /// The payload: raw bytes (`None` for a tombstone) or what the source's
    /// deserializer made of them.
    pub payload: P,
    /// The topic.
    pub topic: String,
    /// The partition number.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
    /// The timestamp in milliseconds since the Unix epoch, if the message
    /// has one.
    pub timestamp: Option<i64>,
}

/// A message for a [`KafkaSink`](super::KafkaSink).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct KafkaRecord {
    /// The message key, if any (the routing key of the dataflow item is
    /// separate; see [`KafkaSink`](super::KafkaSink)).
    pub key: Option<Vec<u8>>,
    /// The payload (`None` writes a tombstone).
    pub payload: Option<Vec<u8>>,
    /// Writes to this partition instead of the one the item's key routes
    /// to.
    pub partition: Option<i32>,
}

impl KafkaRecord {
    /// A message with this payload, no key, routed by the item's key.
    pub fn new(payload: impl Into<Vec<u8>>) -> Self {
        KafkaRecord {
            key: None,
            payload: Some(payload.into()),
            partition: None,
        }
    }

    /// Sets the message key.
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Writes to `partition` whatever the item's key.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
}

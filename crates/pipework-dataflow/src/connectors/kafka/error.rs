//! Errors of the Kafka source and sink.

use std::time::Duration;

use crate::inputs::{BoxError, SourceError};
use crate::outputs::SinkError;

/// An error from the Kafka source or sink. It reaches [`run`](crate::run)
/// inside [`SourceError::User`] or [`SinkError::User`]; downcast the boxed
/// error to this type to match on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaError {
    /// librdkafka refused the configuration or could not create a client.
    #[error("creating a kafka client for `{brokers}`: {source}")]
    Client {
        /// The `bootstrap.servers` configured.
        brokers: String,
        /// What librdkafka reported.
        #[source]
        source: Box<rdkafka::error::KafkaError>,
    },
    /// The brokers did not answer a metadata request in time (unreachable,
    /// or refusing connections).
    #[error("no metadata for topic `{topic}` from `{brokers}` within {timeout:?}: {source}")]
    Metadata {
        /// The topic asked about.
        topic: String,
        /// The `bootstrap.servers` configured.
        brokers: String,
        /// The timeout that passed.
        timeout: Duration,
        /// What librdkafka reported.
        #[source]
        source: Box<rdkafka::error::KafkaError>,
    },
    /// The brokers do not know the topic.
    #[error("unknown kafka topic `{topic}` on `{brokers}`")]
    UnknownTopic {
        /// The topic asked about.
        topic: String,
        /// The `bootstrap.servers` configured.
        brokers: String,
    },
    /// Reading, seeking or writing one partition failed.
    #[error("kafka topic `{topic}` partition {partition}: {source}")]
    Partition {
        /// The topic.
        topic: String,
        /// The partition number.
        partition: i32,
        /// What librdkafka reported.
        #[source]
        source: Box<rdkafka::error::KafkaError>,
    },
    /// A message's payload could not be deserialized (under
    /// [`OnDeserializeError::Raise`](super::OnDeserializeError::Raise)).
    #[error(
        "kafka topic `{topic}` partition {partition} offset {offset}: cannot deserialize: {source}"
    )]
    Deserialize {
        /// The topic.
        topic: String,
        /// The partition number.
        partition: i32,
        /// The message's offset.
        offset: i64,
        /// What the deserializer reported.
        #[source]
        source: BoxError,
    },
    /// Messages were still undelivered when the delivery timeout passed.
    #[error("kafka topic `{topic}`: messages not delivered within {timeout:?}")]
    DeliveryTimeout {
        /// The topic written.
        topic: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// A partition key of the source or sink is not `topic:partition`.
    #[error("invalid kafka partition key `{part}` (expected `topic:partition`)")]
    InvalidPart {
        /// The key given.
        part: String,
    },
}

impl From<KafkaError> for SourceError {
    fn from(err: KafkaError) -> Self {
        SourceError::user(err)
    }
}

impl From<KafkaError> for SinkError {
    fn from(err: KafkaError) -> Self {
        SinkError::user(err)
    }
}

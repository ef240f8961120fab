//! A Kafka source and sink on [rdkafka](https://docs.rs/rdkafka) (bytewax's
//! `bytewax.connectors.kafka`), behind the `kafka` feature.
//!
//! - [`KafkaSource`] reads one or more topics, one dataflow partition per
//!   topic-partition, resumable by offset: with a recovery store and a sink
//!   that discards what came after its snapshot (the file sinks), a
//!   dataflow reading Kafka is exactly-once across a crash.
//! - [`KafkaSink`] writes to one topic, one dataflow partition per
//!   topic-partition, routed by key; each epoch's messages are confirmed
//!   before the epoch is committed, and output is at-least-once across a
//!   crash.
//!
//! Both take any librdkafka property with `set(key, value)` (security,
//! SASL, tuning), passed through unchanged; the brokers are
//! `bootstrap.servers`. Only the sync `BaseConsumer` and `BaseProducer`
//! are used, so the feature pulls in no async runtime; librdkafka is built
//! from source (about 1.5 to 7 minutes, once).
//!
//! Errors reach [`run`](crate::run) as [`SourceError::User`] or
//! [`SinkError::User`] around a [`KafkaError`], which names the topic and
//! partition.
//!
//! [`SourceError::User`]: crate::inputs::SourceError::User
//! [`SinkError::User`]: crate::outputs::SinkError::User

mod config;
mod error;
mod message;
mod sink;
mod source;

pub use error::KafkaError;
pub use message::{KafkaMessage, KafkaRecord};
pub use sink::{KafkaSink, KafkaSinkPartition};
pub use source::{KafkaPartition, KafkaSource, OnDeserializeError, StartOffset};

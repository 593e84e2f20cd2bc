//! Share groups (KIP-932, "queues for Kafka"): consumers that share partitions, the broker
//! handing each record to one member at a time and every record acknowledged on its own.
//!
//! | piece | what it does |
//! |---|---|
//! | [`ShareConsumer`] | subscribe, poll, acknowledge (accept / release / reject), commit, close |
//! | [`ShareRecord`] | a record with its delivery count |
//! | [`ShareConsumerConfig`] | Java's `KafkaShareConsumer` property names |
//!
//! The I/O-free cores: `membership` (ShareGroupHeartbeat), `session` (share sessions per
//! broker), `acks` (which records are acknowledged how), `record` (acquired ranges to records
//! and gaps). The shell is `consumer` (public API), `driver` (requests) and `shared` (the state
//! both use).

mod acks;
mod config;
mod consumer;
mod driver;
mod membership;
mod metrics;
mod record;
mod session;
mod shared;

pub use acks::AcknowledgeType;
pub use config::{AcknowledgementMode, ShareConsumerConfig, ShareConsumerConfigBuilder};
pub use consumer::ShareConsumer;
pub use metrics::ShareConsumerMetrics;
pub use record::ShareRecord;
pub use shared::AcknowledgementCommitCallback;

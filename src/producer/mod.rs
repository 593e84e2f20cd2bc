//! The producer: configuration, partitioning, the record accumulator that batches records per
//! partition, the I/O-free send-path state machine, and the async shell on top of them.
//!
//! Start with [`Producer`], [`ProducerConfig`] and [`ProducerRecord`]; each
//! [`Producer::send`] resolves to a [`DeliveryFuture`] whose [`DeliveryResult`] says whether the
//! record is [`Persistence::Persisted`], [`Persistence::PossiblyPersisted`] or
//! [`Persistence::NotPersisted`].

pub(crate) mod accumulator;
pub(crate) mod batch;
mod client;
pub(crate) mod config;
mod coordinator;
mod delivery;
mod metrics;
pub(crate) mod partitioner;
pub(crate) mod record;
mod sender;
mod shared;
pub(crate) mod state;
mod transaction;
pub(crate) mod txn;

pub use client::Producer;
pub use config::{Acks, CompressionType, ProducerConfig, ProducerConfigBuilder};
pub use delivery::{DeliveryError, DeliveryFuture, DeliveryResult, Persistence, RecordMetadata};
pub use metrics::{ProducerMetrics, TopicCounts};
pub use partitioner::{Partitioner, PartitionsInfo};
pub use record::{Header, ProducerRecord};
pub use shared::ErrorHandler;

//! # ferrokafka
//!
//! A pure-Rust Apache Kafka client on tokio. It speaks the Kafka wire protocol itself: there is no
//! librdkafka and no C library to link, so it builds as a static musl binary with nothing but
//! `cargo`. Configuration uses the Java client's property names and defaults.
//!
//! | module | what it gives you |
//! |---|---|
//! | [`producer`] | [`Producer`](producer::Producer): batching (`linger.ms`, `batch.size`, `buffer.memory`), Java-compatible partitioning and custom [`Partitioner`](producer::Partitioner)s, idempotence (KIP-98, KIP-360), retries, `delivery.timeout.ms`, a delivery report per record saying whether it is [`Persisted`](producer::Persistence), and [`ProducerMetrics`](producer::ProducerMetrics). |
//! | [`consumer`] | [`Consumer`](consumer::Consumer): manual `assign` or group-managed `subscribe` (classic protocol, range / roundrobin / cooperative-sticky, static membership, a [`RebalanceListener`](consumer::RebalanceListener)), positions kept apart from committed offsets, seeks, pause/resume, sync/async and auto commits, `poll` / `recv` / `Stream`, [`OrderedProcessor`](consumer::OrderedProcessor) for ordered at-least-once processing, and [`ConsumerMetrics`](consumer::ConsumerMetrics). |
//! | [`admin`] | [`AdminClient`](admin::AdminClient): create, delete, list and describe topics, add partitions, describe the cluster, list offsets, delete records, list / describe / delete consumer groups, read / alter / delete their offsets and their lag, list / describe / delete share groups and read / alter / delete their start offsets, describe and incrementally alter configs, describe log dirs, elect leaders, describe producers and transactions, describe / create / delete ACLs; answers per resource. |
//! | [`share`] | [`ShareConsumer`](share::ShareConsumer): share groups (KIP-932, "queues for Kafka"): members share partitions, each record is acknowledged (accept, release, reject) and carries its delivery count; implicit or explicit acknowledgement. |
//! | [`config`] | [`ClientConfig`](config::ClientConfig), the settings every client shares, as a typed builder or from Java property names. The producer and consumer configs embed it. |
//! | [`types`] | newtypes for offsets, leader epochs, producer ids and epochs and sequences, and [`TopicPartition`](types::TopicPartition). |
//!
//! Errors are one type, [`Error`], whose [`ErrorKind`] says what happened and whose
//! [`ErrorClass`] says what to do about it: retry, refresh metadata and retry, give up on the
//! request, or give up on the client (KIP-1050 classes).
//!
//! ```no_run
//! use ferrokafka::consumer::{Consumer, ConsumerConfig};
//! use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
//! use std::time::Duration;
//!
//! async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     let producer = Producer::new(ProducerConfig::from_properties([
//!         ("bootstrap.servers", "127.0.0.1:9092"),
//!     ])?)?;
//!     let delivery = producer.send(ProducerRecord::new("orders").value("hello")).await?;
//!     let meta = delivery.await?;
//!     println!("written to {meta}"); // "orders-0@42 (persisted)"
//!     producer.close(Duration::from_secs(5)).await?;
//!
//!     let consumer = Consumer::new(ConsumerConfig::from_properties([
//!         ("bootstrap.servers", "127.0.0.1:9092"),
//!         ("group.id", "billing"),
//!         ("auto.offset.reset", "earliest"),
//!     ])?)?;
//!     consumer.subscribe(["orders"])?;
//!     for record in consumer.poll(Duration::from_secs(1)).await? {
//!         println!("{}-{} offset {}", record.topic, record.partition, record.offset);
//!     }
//!     consumer.close().await?;
//!     Ok(())
//! }
//! ```
//!
//! ## What this crate does not do (yet)
//! - No GSSAPI (Kerberos) and no JKS/PKCS12 keystores (PEM only); TLS (rustls, with encrypted
//!   PKCS#8 client keys and `ssl.key.password`) and SASL PLAIN / SCRAM / OAUTHBEARER work.
//! - Share groups (KIP-932, [`share`]) have a consumer (subscribe, poll, acknowledge, commit,
//!   close) and admin calls (list, describe, delete, start offsets), but no share-consumer
//!   metrics, and the admin client reports no share-group lag (DescribeShareGroupOffsets v1 is
//!   not in `kafka-protocol` 0.18); consumer groups speak the classic protocol and KIP-848's
//!   `consumer` protocol (`group.protocol`), with topic lists or patterns.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Without `unstable-internals` nothing re-exports the internals the project's tests, benches and
// fuzz targets drive directly (state machines' accessors, codec helpers), so the compiler sees
// them as unused. The workspace's own builds (tests, clippy, examples) have the feature on, and
// there every unused item is still reported.
#![cfg_attr(not(feature = "unstable-internals"), allow(dead_code, unused_imports))]
// `pub` only on what is reachable from outside (the public API, or `__private` for the project's
// tests); everything else says `pub(crate)`, so a module's visibility tells where it is used.
// Checked with the feature on, where `__private` makes internals reachable on purpose.
#![cfg_attr(feature = "unstable-internals", deny(unreachable_pub))]

pub mod admin;
mod cluster;
pub mod config;
mod connection;
pub mod consumer;
mod error;
mod metrics;
pub mod producer;
mod protocol;
pub mod share;
// Deadline-bounded retries shared by the cluster, producer, consumer and admin layers.
mod retry;
pub mod types;

pub use error::{
    BrokerErrorCode, Error, ErrorClass, ErrorContext, ErrorHandler, ErrorKind, Result, TlsFailure,
};

/// **Not a stable API.** The crate's internals, re-exported for the project's own tests,
/// benchmarks, fuzz targets and tools (`tests/`, `benches/`, `protocol-tests/`, `testcontainers/`)
/// behind the non-default feature `unstable-internals`. Anything here may change or go away in
/// any release; applications use the documented modules.
#[cfg(feature = "unstable-internals")]
#[doc(hidden)]
pub mod __private {
    /// The wire protocol: framing, record batch codec, response guard, produce request writer,
    /// versions.
    pub mod protocol {
        pub use crate::protocol::{
            frame, guard, produce, records, sasl, versions, ApiRequest, ApiVersionTable,
        };
    }
    /// The one exponential backoff with jitter.
    pub mod retry {
        pub use crate::retry::Backoff;
    }
    /// Windowed rate/avg/max primitives behind the metrics snapshots.
    pub mod metrics {
        pub use crate::metrics::*;
    }
    /// Broker connections: one task per socket, pipelining, the pool, reconnect backoff.
    pub mod connection {
        pub use crate::connection::*;
    }
    /// The shared cluster view and its metadata snapshot.
    pub mod cluster {
        pub use crate::cluster::{BrokerInfo, Cluster, ClusterMetadata, TopicSelection};
    }
    /// The producer's accumulator, batches, I/O-free send-path state machine and
    /// Java-compatible key hashing.
    pub mod producer {
        pub use crate::producer::accumulator::{Accumulator, AccumulatorConfig};
        pub use crate::producer::batch::ProducerBatch;
        pub use crate::producer::partitioner::{
            murmur2, partition_for_key, to_positive, StickyPartitioner,
        };
        /// The I/O-free send-path state machine.
        pub mod state {
            pub use crate::producer::state::*;
        }
    }
    /// The consumer's I/O-free cores: the fetch path and classic group membership.
    pub mod consumer {
        /// Fetch planning, positions and committed offsets, fetch sessions.
        pub mod fetch {
            pub use crate::consumer::fetch::*;
        }
        /// Group membership state machine, assignors, the consumer protocol's bytes.
        pub mod group {
            pub use crate::consumer::group::*;
        }
    }
}

// The README's examples compile as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

//! # ferrokafka
//!
//! A pure-Rust Apache Kafka client on tokio. It speaks the Kafka wire protocol itself: there is no
//! librdkafka and no C library to link, so it builds as a static musl binary with nothing but
//! `cargo`.
//!
//! The crate is layered, and each layer depends only on the ones above it in this list:
//!
//! | module | what it does |
//! |---|---|
//! | [`protocol`] | framing, header versions, ApiVersions negotiation, the record batch v2 codec and compression, guarded response decoding. No I/O. |
//! | [`connection`] | one tokio task per broker socket, pipelined requests, timeouts, reconnect backoff, a pool with one connection per purpose. |
//! | [`cluster`] | bootstrap, metadata cache with leader epochs, refresh policy. |
//! | [`admin`] | create, delete and list topics. |
//! | [`producer`] | producer configuration, Java-compatible partitioning, the record accumulator. |
//!
//! Errors are one type, [`Error`], which classifies every failure as retriable, needing a
//! metadata refresh, fatal or permanent (see [`ErrorClass`]).
//!
//! ## What this crate does not do (yet)
//! - No producer or consumer API yet (they build on these layers; see the README's status table).
//! - No TLS or SASL yet: [`connection`] has the seam for it.
//! - No KIP-848 consumer group protocol, no share groups.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod consumer;
mod error;
// Deadline-bounded retries shared by the cluster, producer, consumer and admin layers.
pub mod metrics;
pub mod producer;
pub mod protocol;
mod retry;
pub mod types;

pub use error::{BrokerErrorCode, Error, ErrorClass, ErrorContext, ErrorKind, Result};

// The README's examples compile as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

//! Delivery reports: what [`Producer::send`](super::Producer::send) resolves to.

use super::record::ProducerRecord;
use crate::types::Offset;
use crate::{Error, ErrorKind};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// Whether a record is in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// Never written: it was not sent, or every attempt was rejected by the broker. Sending it
    /// again cannot duplicate it.
    NotPersisted,
    /// Maybe written: an attempt timed out, lost its connection after being sent, or was
    /// appended without enough replicas. Sending it again may duplicate it (downstream dedupe by a unique id header helps); alert on these.
    PossiblyPersisted,
    /// Acknowledged as configured by `acks` (with `acks=all`: by every in-sync replica).
    Persisted,
}

impl std::fmt::Display for Persistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Persistence::NotPersisted => "not persisted",
            Persistence::PossiblyPersisted => "possibly persisted",
            Persistence::Persisted => "persisted",
        })
    }
}

/// Where a record was written.
///
/// Its `Display` is one line: `orders-3@42 (persisted)`, or `orders-3, offset unknown (possibly
/// persisted)` with `acks=0`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordMetadata {
    /// Topic. Shared with the producer's other records of the topic (an `Arc<str>`, not a
    /// `String`: a delivery report allocates nothing per record); it derefs to `&str`.
    pub topic: std::sync::Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset of the record, as the broker acknowledged it. Only without an acknowledgement is
    /// there none: with `acks=0` (the broker answers nothing), and in the rare case of a retry
    /// the broker acknowledged as a duplicate without its offset; then this is
    /// [`Offset::UNKNOWN`] (`-1`, as Java's `RecordMetadata.offset()`) and
    /// [`has_offset`](Self::has_offset) is false.
    pub offset: Offset,
    /// The record's timestamp: the broker's append time for `LogAppendTime` topics, else the
    /// create time the producer stamped.
    pub timestamp: i64,
    /// With `acks=0` nothing is known beyond "written to the socket": this is
    /// [`Persistence::PossiblyPersisted`] then, and [`Persistence::Persisted`] otherwise.
    pub persistence: Persistence,
}

impl RecordMetadata {
    /// Whether the broker returned the record's offset (Java's `hasOffset()`): false only with
    /// `acks=0` or a duplicate-acknowledged retry.
    pub fn has_offset(&self) -> bool {
        self.offset != Offset::UNKNOWN
    }
}

impl std::fmt::Display for RecordMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.has_offset() {
            write!(
                f,
                "{}-{}@{} ({})",
                self.topic, self.partition, self.offset, self.persistence
            )
        } else {
            write!(
                f,
                "{}-{}, offset unknown ({})",
                self.topic, self.partition, self.persistence
            )
        }
    }
}

/// A record that could not be delivered, handed back with the reason.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryError {
    /// Why (classified: [`Error::is_retriable`], [`Error::is_fatal`], …).
    pub error: Error,
    /// Whether the record may be in the log anyway.
    pub persistence: Persistence,
    /// The record, so the application can log it or send it to a dead-letter topic.
    pub record: Box<ProducerRecord>,
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record for {} not delivered ({}): {}",
            self.record.topic, self.persistence, self.error
        )
    }
}

impl std::error::Error for DeliveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The outcome of one record.
pub type DeliveryResult = Result<RecordMetadata, DeliveryError>;

/// Resolves to the record's [`DeliveryResult`] once the broker answered or the producer gave up
/// (at the latest after `delivery.timeout.ms`).
///
/// # Cancel safety
/// Dropping it does not cancel the send; the outcome is then simply not observed.
#[derive(Debug)]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<DeliveryResult>,
    /// For the error when the sender is gone (the accumulator's shared name: no allocation per
    /// record).
    topic: std::sync::Arc<str>,
}

impl DeliveryFuture {
    pub(super) fn new(rx: oneshot::Receiver<DeliveryResult>, topic: std::sync::Arc<str>) -> Self {
        DeliveryFuture { rx, topic }
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            // The sender task ended without completing the record: only when the runtime shut
            // down under it. The record may have been sent.
            Poll::Ready(Err(_)) => Poll::Ready(Err(DeliveryError {
                error: Error::new(ErrorKind::Closed)
                    .with_topic(self.topic.to_string())
                    .with_detail("the producer's sender stopped before the record completed"),
                persistence: Persistence::PossiblyPersisted,
                record: Box::new(ProducerRecord::new(self.topic.to_string())),
            })),
            Poll::Pending => Poll::Pending,
        }
    }
}

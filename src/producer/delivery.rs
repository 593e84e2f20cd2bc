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
        // An empty topic: the record went with a stopped sender task (`sender_stopped`).
        if self.record.topic.is_empty() {
            return write!(
                f,
                "record not delivered ({}): {}",
                self.persistence, self.error
            );
        }
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
}

impl DeliveryFuture {
    pub(super) fn new(rx: oneshot::Receiver<DeliveryResult>) -> Self {
        DeliveryFuture { rx }
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            // The sender task ended without completing the record: only when the runtime shut
            // down under it. The record may have been sent.
            Poll::Ready(Err(_)) => Poll::Ready(Err(sender_stopped())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A delivery callback, as [`Producer::send_with_callback`](super::Producer::send_with_callback)
/// stores it.
type Callback = Box<dyn FnOnce(DeliveryResult) + Send + 'static>;

/// How a buffered record reports its outcome: to a [`DeliveryFuture`] or to a callback. Exactly
/// once: [`complete`](Self::complete) consumes it; one dropped without completing (the sender
/// task dropped when the tokio runtime shut down) still calls its callback, with a `Closed`
/// error, as the future's receiver sees a `Closed` error then. [`disarm`](Self::disarm) is for
/// a record handed back to `send`'s caller, who learns the outcome from `send` itself.
pub(crate) struct Completion(Option<Notify>);

enum Notify {
    Future(oneshot::Sender<DeliveryResult>),
    Callback(Callback),
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Some(Notify::Future(_)) => "Completion::Future",
            Some(Notify::Callback(_)) => "Completion::Callback",
            None => "Completion::Done",
        })
    }
}

impl Completion {
    /// A completion resolving `DeliveryFuture` through a oneshot channel.
    pub(super) fn future() -> (Completion, oneshot::Receiver<DeliveryResult>) {
        let (tx, rx) = oneshot::channel();
        (Completion(Some(Notify::Future(tx))), rx)
    }

    /// A completion calling `f`. A zero-sized closure (one capturing nothing, or only `'static`
    /// references) costs no allocation.
    pub(super) fn callback(f: impl FnOnce(DeliveryResult) + Send + 'static) -> Completion {
        Completion(Some(Notify::Callback(Box::new(f))))
    }

    /// Reports the outcome.
    pub(crate) fn complete(mut self, result: DeliveryResult) {
        match self.0.take() {
            // The future may have been dropped: the outcome is then not observed, as documented.
            Some(Notify::Future(tx)) => {
                let _ = tx.send(result);
            }
            Some(Notify::Callback(f)) => call(f, result),
            None => {}
        }
    }

    /// Drops it without reporting anything.
    pub(super) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(Notify::Callback(f)) = self.0.take() {
            call(f, Err(sender_stopped()));
        }
    }
}

/// The outcome of a record whose completion was dropped: only when the sender task was dropped
/// (the tokio runtime shut down under it). It may have been sent. The record's content went
/// with the task; the error names no topic (carrying it per record would cost a shared
/// reference count on every `send`).
fn sender_stopped() -> DeliveryError {
    DeliveryError {
        error: Error::new(ErrorKind::Closed).with_detail(
            "the producer's sender stopped before the record completed (the tokio runtime shut \
             down?)",
        ),
        persistence: Persistence::PossiblyPersisted,
        record: Box::new(ProducerRecord::new(String::new())),
    }
}

/// Runs a user callback on the sender task: a panic in it is caught and logged, so it cannot
/// take the sender (and every other record's delivery) down with it.
fn call(f: Callback, result: DeliveryResult) {
    let run = std::panic::AssertUnwindSafe(move || f(result));
    if std::panic::catch_unwind(run).is_err() {
        tracing::error!(
            "a delivery callback given to Producer::send_with_callback panicked; the producer \
             goes on (the panic message is above)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    fn recorder() -> (Arc<Mutex<Vec<DeliveryResult>>>, Completion) {
        let seen: Arc<Mutex<Vec<DeliveryResult>>> = Arc::default();
        let s = seen.clone();
        let c = Completion::callback(move |r| s.lock().expect("lock").push(r));
        (seen, c)
    }

    #[test]
    fn a_callback_runs_once_with_the_outcome() {
        let (seen, c) = recorder();
        let meta = RecordMetadata {
            topic: "t".into(),
            partition: 2,
            offset: Offset(7),
            timestamp: 1,
            persistence: Persistence::Persisted,
        };
        c.complete(Ok(meta.clone()));
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].as_ref().ok(), Some(&meta));
    }

    #[test]
    fn a_dropped_completion_reports_closed_possibly_persisted_and_a_disarmed_one_nothing() {
        let (seen, c) = recorder();
        drop(c);
        {
            let seen = seen.lock().expect("lock");
            let e = seen[0].as_ref().expect_err("closed");
            assert_eq!(e.error.kind(), &ErrorKind::Closed);
            assert_eq!(e.persistence, Persistence::PossiblyPersisted);
        }
        let (seen, c) = recorder();
        c.disarm();
        assert!(seen.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_panicking_callback_is_contained() {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let c = Completion::callback(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            panic!("on purpose");
        });
        c.complete(Err(DeliveryError {
            error: Error::new(ErrorKind::Timeout),
            persistence: Persistence::NotPersisted,
            record: Box::new(ProducerRecord::new("t")),
        }));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_future_completion_resolves_its_future() {
        let (c, rx) = Completion::future();
        let f = DeliveryFuture::new(rx);
        drop(c);
        let e = f.await.expect_err("sender gone");
        assert_eq!(e.persistence, Persistence::PossiblyPersisted);
    }
}

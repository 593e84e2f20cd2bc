//! Producer metrics with the Java client's names.

use crate::metrics::Stat;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Live counters, updated by the sender.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub record_send: Stat,
    pub record_error: Stat,
    pub record_retry: Stat,
    pub batch_size: Stat,
    pub records_per_request: Stat,
    pub compression_rate: Stat,
    pub request_latency_ms: Stat,
    pub produce_throttle_time_ms: Stat,
    pub byte_rate: Stat,
    pub topics: Mutex<BTreeMap<String, TopicCounts>>,
    /// Nanoseconds spent in each transactional call (Java's `txn-*-time-ns-total`).
    pub txn_init_ns: AtomicU64,
    pub txn_begin_ns: AtomicU64,
    pub txn_send_offsets_ns: AtomicU64,
    pub txn_commit_ns: AtomicU64,
    pub txn_abort_ns: AtomicU64,
}

/// Adds the time since `started` to a `txn-*-time-ns-total` counter.
pub(crate) fn add_elapsed(counter: &AtomicU64, started: std::time::Instant) {
    let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    counter.fetch_add(ns, Ordering::Relaxed);
}

/// Per-topic totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicCounts {
    /// Records acknowledged (Java's topic-level `record-send-total`).
    pub record_send_total: u64,
    /// Records that failed (`record-error-total`).
    pub record_error_total: u64,
    /// Record retries (`record-retry-total`).
    pub record_retry_total: u64,
}

impl Recorder {
    pub(crate) fn topic(&self, topic: &str, f: impl FnOnce(&mut TopicCounts)) {
        let mut t = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        match t.get_mut(topic) {
            Some(c) => f(c),
            None => f(t.entry(topic.to_owned()).or_default()),
        }
    }
}

/// A snapshot of the producer's metrics, by the Java client's names.
///
/// Rates are per second over the last 30–60 s (Java's two 30 s samples); averages and maxima over
/// the same window are `NaN` when nothing was recorded, as Java reports them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Metric name → value (`record-send-rate`, `record-error-rate`, `record-retry-rate`,
    /// `record-send-total`, `record-error-total`, `record-retry-total`, `batch-size-avg`,
    /// `batch-size-max`, `records-per-request-avg`, `compression-rate-avg`,
    /// `request-latency-avg`, `request-latency-max`, `buffer-available-bytes`,
    /// `buffer-total-bytes`, `produce-throttle-time-avg`, `produce-throttle-time-max`,
    /// `outgoing-byte-rate`).
    pub values: BTreeMap<&'static str, f64>,
    /// Per-topic counts.
    pub topics: BTreeMap<String, TopicCounts>,
}

impl ProducerMetrics {
    /// One metric by its Java name.
    ///
    /// ```
    /// # fn f(m: ferrokafka::producer::ProducerMetrics) {
    /// let rate = m.get("record-send-rate").unwrap_or(0.0);
    /// # }
    /// ```
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }

    pub(crate) fn snapshot(r: &Recorder, buffer_available: usize, buffer_total: usize) -> Self {
        let mut v = BTreeMap::new();
        v.insert("record-send-rate", r.record_send.rate());
        v.insert("record-send-total", r.record_send.total_count() as f64);
        v.insert("record-error-rate", r.record_error.rate());
        v.insert("record-error-total", r.record_error.total_count() as f64);
        v.insert("record-retry-rate", r.record_retry.rate());
        v.insert("record-retry-total", r.record_retry.total_count() as f64);
        v.insert("batch-size-avg", r.batch_size.avg());
        v.insert("batch-size-max", r.batch_size.max());
        v.insert("records-per-request-avg", r.records_per_request.avg());
        v.insert("compression-rate-avg", r.compression_rate.avg());
        v.insert("request-latency-avg", r.request_latency_ms.avg());
        v.insert("request-latency-max", r.request_latency_ms.max());
        v.insert("buffer-available-bytes", buffer_available as f64);
        v.insert("buffer-total-bytes", buffer_total as f64);
        v.insert(
            "produce-throttle-time-avg",
            r.produce_throttle_time_ms.avg(),
        );
        v.insert(
            "produce-throttle-time-max",
            r.produce_throttle_time_ms.max(),
        );
        v.insert("outgoing-byte-rate", r.byte_rate.value_rate());
        for (name, counter) in [
            ("txn-init-time-ns-total", &r.txn_init_ns),
            ("txn-begin-time-ns-total", &r.txn_begin_ns),
            ("txn-send-offsets-time-ns-total", &r.txn_send_offsets_ns),
            ("txn-commit-time-ns-total", &r.txn_commit_ns),
            ("txn-abort-time-ns-total", &r.txn_abort_ns),
        ] {
            v.insert(name, counter.load(Ordering::Relaxed) as f64);
        }
        let topics = r.topics.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ProducerMetrics { values: v, topics }
    }
}

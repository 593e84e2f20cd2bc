//! Share consumer metrics with the Java client's names (`consumer-share-fetch-manager-metrics`
//! and `consumer-share-coordinator-metrics`).

use crate::metrics::Stat;
use std::collections::BTreeMap;

/// Live counters, updated by the share consumer.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub records_consumed: Stat,
    pub bytes_consumed: Stat,
    pub fetch_latency_ms: Stat,
    /// One sample per fetch answer: the records it acquired.
    pub records_per_request: Stat,
    /// One event per acknowledged offset sent (with a fetch or by ShareAcknowledge).
    pub acknowledgements_sent: Stat,
    /// One event per partition whose acknowledgements the broker refused.
    pub acknowledgement_errors: Stat,
    pub heartbeat_latency_ms: Stat,
}

/// A snapshot of the share consumer's metrics, by the Java client's names:
/// `records-consumed-rate`, `records-consumed-total`, `bytes-consumed-rate`,
/// `bytes-consumed-total`, `fetch-latency-avg`, `fetch-latency-max`, `fetch-rate`, `fetch-total`,
/// `records-per-request-avg`, `records-per-request-max`, `acknowledgements-send-rate`,
/// `acknowledgements-send-total`, `acknowledgements-error-rate`, `acknowledgements-error-total`
/// (share fetch manager), `heartbeat-rate`, `heartbeat-total`, `heartbeat-response-time-max`
/// (share coordinator).
///
/// ```
/// # fn f(c: &ferrokafka::share::ShareConsumer) {
/// let m = c.metrics();
/// println!("{} records, {} acknowledgements sent",
///     m.get("records-consumed-total").unwrap_or(0.0),
///     m.get("acknowledgements-send-total").unwrap_or(0.0));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ShareConsumerMetrics {
    /// Metric name → value.
    pub values: BTreeMap<&'static str, f64>,
}

impl ShareConsumerMetrics {
    /// One metric by its Java name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }

    pub(crate) fn snapshot(r: &Recorder) -> Self {
        let mut v = BTreeMap::new();
        v.insert("records-consumed-rate", r.records_consumed.rate());
        v.insert(
            "records-consumed-total",
            r.records_consumed.total_count() as f64,
        );
        v.insert("bytes-consumed-rate", r.bytes_consumed.value_rate());
        v.insert("bytes-consumed-total", r.bytes_consumed.total_sum());
        v.insert("fetch-latency-avg", r.fetch_latency_ms.avg());
        v.insert("fetch-latency-max", r.fetch_latency_ms.max());
        v.insert("fetch-rate", r.fetch_latency_ms.rate());
        v.insert("fetch-total", r.fetch_latency_ms.total_count() as f64);
        v.insert("records-per-request-avg", r.records_per_request.avg());
        v.insert("records-per-request-max", r.records_per_request.max());
        v.insert("acknowledgements-send-rate", r.acknowledgements_sent.rate());
        v.insert(
            "acknowledgements-send-total",
            r.acknowledgements_sent.total_count() as f64,
        );
        v.insert(
            "acknowledgements-error-rate",
            r.acknowledgement_errors.rate(),
        );
        v.insert(
            "acknowledgements-error-total",
            r.acknowledgement_errors.total_count() as f64,
        );
        v.insert("heartbeat-rate", r.heartbeat_latency_ms.rate());
        v.insert(
            "heartbeat-total",
            r.heartbeat_latency_ms.total_count() as f64,
        );
        v.insert("heartbeat-response-time-max", r.heartbeat_latency_ms.max());
        ShareConsumerMetrics { values: v }
    }
}

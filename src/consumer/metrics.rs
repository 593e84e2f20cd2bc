//! Consumer metrics with the Java client's names.

use crate::metrics::Stat;
use std::collections::BTreeMap;

/// Live counters, updated by the consumer.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub records_consumed: Stat,
    pub bytes_consumed: Stat,
    pub fetch_latency_ms: Stat,
    pub commit_latency_ms: Stat,
    /// One sample per completed rebalance: its latency in ms.
    pub rebalances: Stat,
    pub failed_rebalances: Stat,
}

/// A snapshot of the consumer's metrics, by the Java client's names: `records-consumed-rate`,
/// `records-consumed-total`, `bytes-consumed-rate`, `fetch-latency-avg`, `fetch-latency-max`,
/// `fetch-rate`, `records-lag-max`, `commit-rate`, `commit-total`, `commit-latency-avg`,
/// `rebalance-total`, `rebalance-rate-per-hour`, `rebalance-latency-avg`, `rebalance-latency-max`,
/// `failed-rebalance-total`; and one of ferrokafka's own: `fetch-stalled-partitions`, the
/// assigned partitions whose fetches have failed without an answer from their leader for
/// `request.timeout.ms` or longer (a broker down while the metadata still names it; 0 when every
/// partition's leader answers).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Metric name → value.
    pub values: BTreeMap<&'static str, f64>,
}

impl ConsumerMetrics {
    /// One metric by its Java name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }

    pub(crate) fn snapshot(r: &Recorder, lag_max: Option<i64>, stalled: usize) -> Self {
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
        v.insert("records-lag-max", lag_max.map_or(f64::NAN, |l| l as f64));
        v.insert("fetch-stalled-partitions", stalled as f64);
        v.insert("commit-rate", r.commit_latency_ms.rate());
        v.insert("commit-total", r.commit_latency_ms.total_count() as f64);
        v.insert("commit-latency-avg", r.commit_latency_ms.avg());
        v.insert("rebalance-total", r.rebalances.total_count() as f64);
        v.insert("rebalance-rate-per-hour", r.rebalances.rate() * 3600.0);
        v.insert("rebalance-latency-avg", r.rebalances.avg());
        v.insert("rebalance-latency-max", r.rebalances.max());
        v.insert(
            "failed-rebalance-total",
            r.failed_rebalances.total_count() as f64,
        );
        ConsumerMetrics { values: v }
    }
}

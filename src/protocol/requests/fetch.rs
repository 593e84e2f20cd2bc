//! Fetch (v4 to v12, topic names): the consumer's plan as a request, and a decoded response taken
//! apart for the fetch core. Decode responses through the crate's guarded decoder first.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{
    FetchPartition as WirePartition, FetchTopic, ForgottenTopic,
};
use kafka_protocol::messages::{BrokerId as WireBrokerId, FetchRequest, FetchResponse};

use super::{by_topic, topic_name};
use crate::types::{BrokerId, IsolationLevel, LeaderEpoch, Offset, ProducerId, TopicPartition};

/// One partition of a planned Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// `fetch_offset`: the partition's position.
    pub fetch_offset: Offset,
    /// `current_leader_epoch`, from metadata (`-1` if unknown).
    pub current_leader_epoch: LeaderEpoch,
    /// `partition_max_bytes` (`max.partition.fetch.bytes`).
    pub partition_max_bytes: i32,
}

/// A Fetch request to send to one broker. Send `replica_id = -1`, `last_fetched_epoch = -1`,
/// `log_start_offset = -1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    /// The partitions' leader.
    pub broker: BrokerId,
    /// `session_id` (KIP-227).
    pub session_id: i32,
    /// `session_epoch` (0: full fetch).
    pub session_epoch: i32,
    /// `topics`: every partition for a full fetch, only new or changed ones for an incremental one.
    pub partitions: Vec<FetchPartition>,
    /// `forgotten_topics_data`.
    pub forgotten: Vec<TopicPartition>,
    /// `max_wait_ms` (`fetch.max.wait.ms`).
    pub max_wait: Duration,
    /// `min_bytes` (`fetch.min.bytes`).
    pub min_bytes: i32,
    /// `max_bytes` (`fetch.max.bytes`).
    pub max_bytes: i32,
    /// `isolation_level`.
    pub isolation_level: IsolationLevel,
}

/// One partition of a Fetch response, as decoded by the async layer.
#[derive(Debug, Clone)]
pub struct FetchResponsePartition {
    /// The partition.
    pub tp: TopicPartition,
    /// The partition's `error_code`.
    pub error_code: i16,
    /// `high_watermark` (`-1` unknown).
    pub high_watermark: i64,
    /// `last_stable_offset` (`-1` unknown).
    pub last_stable_offset: i64,
    /// `log_start_offset` (`-1` unknown).
    pub log_start_offset: i64,
    /// `aborted_transactions` (read_committed; empty if null).
    pub aborted_transactions: Vec<AbortedTransaction>,
    /// The raw `records` (empty if null).
    pub records: Bytes,
}

impl FetchResponsePartition {
    /// A partition answered with `error_code`, no records and unknown offsets.
    pub fn error(tp: TopicPartition, error_code: i16) -> FetchResponsePartition {
        FetchResponsePartition {
            tp,
            error_code,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted_transactions: Vec::new(),
            records: Bytes::new(),
        }
    }
}

/// A Fetch response's top level and partitions.
#[derive(Debug, Clone, Default)]
pub struct FetchResponseData {
    /// Top-level `error_code` (session errors 70 and 71 arrive here).
    pub error_code: i16,
    /// `session_id`.
    pub session_id: i32,
    /// The partitions in the response.
    pub partitions: Vec<FetchResponsePartition>,
}

/// One aborted transaction listed in a fetch response (read_committed only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbortedTransaction {
    /// The transactional producer.
    pub producer_id: ProducerId,
    /// The first offset of the transaction in this partition.
    pub first_offset: Offset,
}

/// The consumer's Fetch request for `plan` (`replica_id = -1`, `last_fetched_epoch = -1`: no
/// KIP-320 divergence check; `log_start_offset = -1`; no rack).
pub(crate) fn request(plan: &FetchPlan) -> FetchRequest {
    let topics = by_topic(plan.partitions.iter().map(|p| {
        (
            &p.tp,
            WirePartition::default()
                .with_partition(p.tp.partition)
                .with_current_leader_epoch(p.current_leader_epoch.get())
                .with_fetch_offset(p.fetch_offset.get())
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(p.partition_max_bytes),
        )
    }));
    let forgotten = by_topic(plan.forgotten.iter().map(|tp| (tp, tp.partition)));
    let max_wait_ms = i32::try_from(plan.max_wait.as_millis()).unwrap_or(i32::MAX);
    FetchRequest::default()
        .with_replica_id(WireBrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(plan.min_bytes)
        .with_max_bytes(plan.max_bytes)
        .with_isolation_level(plan.isolation_level.to_wire())
        .with_session_id(plan.session_id)
        .with_session_epoch(plan.session_epoch)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    FetchTopic::default()
                        .with_topic(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
        .with_forgotten_topics_data(
            forgotten
                .into_iter()
                .map(|(t, ps)| {
                    ForgottenTopic::default()
                        .with_topic(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
}

/// Takes a decoded Fetch response apart (records stay zero-copy `Bytes`).
pub(crate) fn parse(response: FetchResponse) -> FetchResponseData {
    let mut partitions = Vec::new();
    for topic in response.responses {
        let name: &str = &topic.topic.0;
        for p in topic.partitions {
            partitions.push(FetchResponsePartition {
                tp: TopicPartition::new(name, p.partition_index),
                error_code: p.error_code,
                high_watermark: p.high_watermark,
                last_stable_offset: p.last_stable_offset,
                log_start_offset: p.log_start_offset,
                aborted_transactions: p
                    .aborted_transactions
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| AbortedTransaction {
                        producer_id: ProducerId(a.producer_id.0),
                        first_offset: Offset(a.first_offset),
                    })
                    .collect(),
                records: p.records.unwrap_or_default(),
            });
        }
    }
    FetchResponseData {
        error_code: response.error_code,
        session_id: response.session_id,
        partitions,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction as WireAborted, FetchableTopicResponse, PartitionData,
    };

    use super::*;
    use crate::types::{BrokerId, IsolationLevel, LeaderEpoch};

    #[test]
    fn plan_to_request_groups_by_topic() {
        let tp = |t: &str, p| TopicPartition::new(t, p);
        let part = |t: &str, p, o| FetchPartition {
            tp: tp(t, p),
            fetch_offset: Offset(o),
            current_leader_epoch: LeaderEpoch(4),
            partition_max_bytes: 1024,
        };
        let plan = FetchPlan {
            broker: BrokerId(1),
            session_id: 9,
            session_epoch: 3,
            partitions: vec![part("a", 0, 10), part("a", 1, 11), part("b", 0, 12)],
            forgotten: vec![tp("c", 2)],
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 1 << 20,
            isolation_level: IsolationLevel::ReadCommitted,
        };
        let r = request(&plan);
        assert_eq!(
            (
                r.session_id,
                r.session_epoch,
                r.isolation_level,
                r.max_wait_ms
            ),
            (9, 3, 1, 500)
        );
        assert_eq!(r.replica_id.0, -1);
        assert_eq!(r.topics.len(), 2);
        assert_eq!(&*r.topics[0].topic.0, "a");
        assert_eq!(r.topics[0].partitions[1].fetch_offset, 11);
        assert_eq!(r.topics[0].partitions[1].current_leader_epoch, 4);
        assert_eq!(r.forgotten_topics_data[0].partitions, vec![2]);
    }

    /// Session fields (KIP-227) are always set, so v7 is the lowest version the consumer's
    /// request encodes at (Kafka 1.1+; Kafka 4.x negotiates v12 here).
    #[test]
    fn plan_encodes_at_every_session_version() {
        let plan = FetchPlan {
            broker: BrokerId(1),
            session_id: 0,
            session_epoch: 0,
            partitions: vec![FetchPartition {
                tp: TopicPartition::new("a", 0),
                fetch_offset: Offset(5),
                current_leader_epoch: LeaderEpoch(2),
                partition_max_bytes: 1 << 20,
            }],
            forgotten: vec![TopicPartition::new("b", 1)],
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 50 << 20,
            isolation_level: IsolationLevel::ReadUncommitted,
        };
        let req = request(&plan);
        for v in 7..=12 {
            let mut buf = bytes::BytesMut::new();
            assert!(
                kafka_protocol::protocol::Encodable::encode(&req, &mut buf, v).is_ok(),
                "Fetch v{v}"
            );
        }
    }

    #[test]
    fn response_is_taken_apart() {
        let resp = FetchResponse::default()
            .with_session_id(5)
            .with_responses(vec![FetchableTopicResponse::default()
                .with_topic(topic_name("a"))
                .with_partitions(vec![PartitionData::default()
                    .with_partition_index(2)
                    .with_high_watermark(10)
                    .with_aborted_transactions(Some(vec![WireAborted::default()
                        .with_producer_id(kafka_protocol::messages::ProducerId(7))
                        .with_first_offset(3)]))
                    .with_records(Some(bytes::Bytes::from_static(b"xyz")))])]);
        let d = parse(resp);
        assert_eq!(d.session_id, 5);
        let p = &d.partitions[0];
        assert_eq!(
            (p.tp.partition, p.high_watermark, p.records.len()),
            (2, 10, 3)
        );
        assert_eq!(p.aborted_transactions[0].producer_id, ProducerId(7));
    }
}

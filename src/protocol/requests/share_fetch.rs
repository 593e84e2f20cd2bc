//! ShareFetch and ShareAcknowledge (v1), KIP-932 share groups. A share fetch acquires records for
//! the member (each under an acquisition lock, with a delivery count) and carries the
//! acknowledgements of records acquired before; ShareAcknowledge carries acknowledgements alone.
//! Both run inside a share session per (member, broker): epoch 0 opens it with the full list of
//! partitions, later epochs list only what changed, epoch -1 closes it.

use bytes::Bytes;
use kafka_protocol::messages as km;
use uuid::Uuid;

use super::{group_id, str_bytes as s};

/// The session epoch that opens a share session (the request lists every partition).
pub(crate) const OPEN_EPOCH: i32 = 0;
/// The session epoch that closes a share session.
pub(crate) const FINAL_EPOCH: i32 = -1;

/// Acknowledgements of a run of offsets: one type for all of them, or one per offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AckBatch {
    /// First offset acknowledged.
    pub first_offset: i64,
    /// Last offset acknowledged (inclusive).
    pub last_offset: i64,
    /// Acknowledge types (0 gap, 1 accept, 2 release, 3 reject): one, or one per offset.
    pub types: Vec<i8>,
}

/// One partition of a share fetch or acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharePartitionRequest {
    /// Partition index.
    pub partition: i32,
    /// Acknowledgements of records acquired before.
    pub acks: Vec<AckBatch>,
}

/// A ShareFetch's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShareFetchData {
    /// `group.id`.
    pub group_id: String,
    /// The member id.
    pub member_id: String,
    /// [`OPEN_EPOCH`], the session's next epoch, or [`FINAL_EPOCH`].
    pub session_epoch: i32,
    /// `fetch.max.wait.ms` (bounded by the caller's poll timeout).
    pub max_wait_ms: i32,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes`.
    pub max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub partition_max_bytes: i32,
    /// `max.poll.records`: most records acquired by this fetch.
    pub max_records: i32,
    /// How many records the broker acquires per batch.
    pub batch_size: i32,
    /// Partitions to add to the session or to acknowledge in, by topic id.
    pub topics: Vec<(Uuid, Vec<SharePartitionRequest>)>,
    /// Partitions to remove from the session, by topic id.
    pub forgotten: Vec<(Uuid, Vec<i32>)>,
}

/// A run of acquired offsets and how many times they have been delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AcquiredRange {
    /// First offset acquired.
    pub first_offset: i64,
    /// Last offset acquired (inclusive).
    pub last_offset: i64,
    /// Delivery count of every record in the range (1 on first delivery).
    pub delivery_count: i16,
}

/// One partition of a ShareFetch or ShareAcknowledge response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharePartitionResult {
    /// Topic id.
    pub topic_id: Uuid,
    /// Partition index.
    pub partition: i32,
    /// The fetch's error (0: none).
    pub error_code: i16,
    /// The broker's message for it.
    pub error_message: Option<String>,
    /// The acknowledgements' error (0: none; ShareAcknowledge reports it in `error_code`).
    pub ack_error_code: i16,
    /// The broker's message for it.
    pub ack_error_message: Option<String>,
    /// The leader the broker knows of, when it is not this one (`(-1, -1)` otherwise).
    pub current_leader: (i32, i32),
    /// The record batches (may hold records outside `acquired`).
    pub records: Bytes,
    /// What was acquired for this member.
    pub acquired: Vec<AcquiredRange>,
}

/// A ShareFetch or ShareAcknowledge response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShareResult {
    /// The top-level error (0: none).
    pub error_code: i16,
    /// The broker's message for it.
    pub error_message: Option<String>,
    /// How long the broker holds an acquisition lock (ShareFetch only; 0 otherwise).
    pub acquisition_lock_timeout_ms: i32,
    /// Every partition answered.
    pub partitions: Vec<SharePartitionResult>,
}

fn fetch_acks(acks: &[AckBatch]) -> Vec<km::share_fetch_request::AcknowledgementBatch> {
    acks.iter()
        .map(|a| {
            km::share_fetch_request::AcknowledgementBatch::default()
                .with_first_offset(a.first_offset)
                .with_last_offset(a.last_offset)
                .with_acknowledge_types(a.types.clone())
        })
        .collect()
}

/// The ShareFetch message for `d` (a single version, 1).
pub(crate) fn fetch_request(d: &ShareFetchData) -> km::ShareFetchRequest {
    use km::share_fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
    km::ShareFetchRequest::default()
        .with_group_id(Some(group_id(&d.group_id)))
        .with_member_id(Some(s(&d.member_id)))
        .with_share_session_epoch(d.session_epoch)
        .with_max_wait_ms(d.max_wait_ms)
        .with_min_bytes(d.min_bytes)
        .with_max_bytes(d.max_bytes)
        .with_max_records(d.max_records)
        .with_batch_size(d.batch_size)
        .with_topics(
            d.topics
                .iter()
                .map(|(id, parts)| {
                    FetchTopic::default().with_topic_id(*id).with_partitions(
                        parts
                            .iter()
                            .map(|p| {
                                FetchPartition::default()
                                    .with_partition_index(p.partition)
                                    .with_partition_max_bytes(d.partition_max_bytes)
                                    .with_acknowledgement_batches(fetch_acks(&p.acks))
                            })
                            .collect(),
                    )
                })
                .collect(),
        )
        .with_forgotten_topics_data(
            d.forgotten
                .iter()
                .map(|(id, parts)| {
                    ForgottenTopic::default()
                        .with_topic_id(*id)
                        .with_partitions(parts.clone())
                })
                .collect(),
        )
}

/// The ShareFetch response's fields; the record bytes are moved out, not copied.
pub(crate) fn parse_fetch(resp: km::ShareFetchResponse) -> ShareResult {
    let mut partitions = Vec::new();
    for topic in resp.responses {
        for p in topic.partitions {
            partitions.push(SharePartitionResult {
                topic_id: topic.topic_id,
                partition: p.partition_index,
                error_code: p.error_code,
                error_message: p.error_message.map(|m| m.to_string()),
                ack_error_code: p.acknowledge_error_code,
                ack_error_message: p.acknowledge_error_message.map(|m| m.to_string()),
                current_leader: (p.current_leader.leader_id, p.current_leader.leader_epoch),
                records: p.records.unwrap_or_default(),
                acquired: p
                    .acquired_records
                    .iter()
                    .map(|a| AcquiredRange {
                        first_offset: a.first_offset,
                        last_offset: a.last_offset,
                        delivery_count: a.delivery_count,
                    })
                    .collect(),
            });
        }
    }
    ShareResult {
        error_code: resp.error_code,
        error_message: resp.error_message.map(|m| m.to_string()),
        acquisition_lock_timeout_ms: resp.acquisition_lock_timeout_ms,
        partitions,
    }
}

/// The ShareAcknowledge message (a single version, 1).
pub(crate) fn acknowledge_request(
    group: &str,
    member_id: &str,
    session_epoch: i32,
    topics: &[(Uuid, Vec<SharePartitionRequest>)],
) -> km::ShareAcknowledgeRequest {
    use km::share_acknowledge_request::{
        AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch,
    };
    km::ShareAcknowledgeRequest::default()
        .with_group_id(Some(group_id(group)))
        .with_member_id(Some(s(member_id)))
        .with_share_session_epoch(session_epoch)
        .with_topics(
            topics
                .iter()
                .map(|(id, parts)| {
                    AcknowledgeTopic::default()
                        .with_topic_id(*id)
                        .with_partitions(
                            parts
                                .iter()
                                .map(|p| {
                                    AcknowledgePartition::default()
                                        .with_partition_index(p.partition)
                                        .with_acknowledgement_batches(
                                            p.acks
                                                .iter()
                                                .map(|a| {
                                                    AcknowledgementBatch::default()
                                                        .with_first_offset(a.first_offset)
                                                        .with_last_offset(a.last_offset)
                                                        .with_acknowledge_types(a.types.clone())
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

/// The ShareAcknowledge response's fields (each partition's error in `ack_error_code`).
pub(crate) fn parse_acknowledge(resp: &km::ShareAcknowledgeResponse) -> ShareResult {
    let mut partitions = Vec::new();
    for topic in &resp.responses {
        for p in &topic.partitions {
            partitions.push(SharePartitionResult {
                topic_id: topic.topic_id,
                partition: p.partition_index,
                error_code: 0,
                error_message: None,
                ack_error_code: p.error_code,
                ack_error_message: p.error_message.as_ref().map(|m| m.to_string()),
                current_leader: (p.current_leader.leader_id, p.current_leader.leader_epoch),
                records: Bytes::new(),
                acquired: Vec::new(),
            });
        }
    }
    ShareResult {
        error_code: resp.error_code,
        error_message: resp.error_message.as_ref().map(|m| m.to_string()),
        acquisition_lock_timeout_ms: 0,
        partitions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;

    fn data() -> ShareFetchData {
        ShareFetchData {
            group_id: "g".into(),
            member_id: "m".into(),
            session_epoch: 3,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            partition_max_bytes: 1 << 20,
            max_records: 500,
            batch_size: 500,
            topics: vec![(
                Uuid::from_u128(1),
                vec![SharePartitionRequest {
                    partition: 0,
                    acks: vec![AckBatch {
                        first_offset: 5,
                        last_offset: 7,
                        types: vec![1],
                    }],
                }],
            )],
            forgotten: vec![(Uuid::from_u128(2), vec![3])],
        }
    }

    #[test]
    fn a_fetch_carries_acks_and_forgotten_partitions() {
        let msg = fetch_request(&data());
        assert!(encodes(&msg, 1));
        assert_eq!(msg.share_session_epoch, 3);
        let p = &msg.topics[0].partitions[0];
        assert_eq!(p.acknowledgement_batches[0].acknowledge_types, vec![1]);
        assert_eq!(msg.forgotten_topics_data[0].partitions, vec![3]);
        let ack = acknowledge_request("g", "m", FINAL_EPOCH, &data().topics);
        assert!(encodes(&ack, 1));
        assert_eq!(ack.topics[0].partitions[0].acknowledgement_batches.len(), 1);
    }

    #[test]
    fn a_response_moves_records_and_acquired_ranges_out() {
        use km::share_fetch_response::{
            AcquiredRecords, PartitionData, ShareFetchableTopicResponse,
        };
        let resp = km::ShareFetchResponse::default()
            .with_acquisition_lock_timeout_ms(30_000)
            .with_responses(vec![ShareFetchableTopicResponse::default()
                .with_topic_id(Uuid::from_u128(1))
                .with_partitions(vec![PartitionData::default()
                    .with_partition_index(2)
                    .with_records(Some(Bytes::from_static(b"xyz")))
                    .with_acquired_records(vec![AcquiredRecords::default()
                        .with_first_offset(10)
                        .with_last_offset(12)
                        .with_delivery_count(2)])])]);
        let r = parse_fetch(resp);
        assert_eq!(r.acquisition_lock_timeout_ms, 30_000);
        let p = &r.partitions[0];
        assert_eq!((p.partition, p.records.len()), (2, 3));
        assert_eq!(
            p.acquired,
            vec![AcquiredRange {
                first_offset: 10,
                last_offset: 12,
                delivery_count: 2
            }]
        );
    }
}

//! ListOffsets: the offset for a timestamp (or earliest / latest) per partition, used by the
//! consumer's offset resets and `seek_to_timestamp`.

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId as WireBrokerId, ListOffsetsRequest, ListOffsetsResponse};

use super::{by_topic, partition_result, topic_name};
use crate::types::{IsolationLevel, LeaderEpoch, Offset, TopicPartition};
use crate::Result;

/// A successful ListOffsets answer for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOffsetsResult {
    /// The offset found; `-1` when no record has a timestamp at or after the one asked.
    pub offset: Offset,
    /// The leader epoch of that offset, if the broker gave one.
    pub leader_epoch: Option<LeaderEpoch>,
}

/// The consumer's request (`replica_id = -1`) for `partitions`: each with its current leader
/// epoch and the `timestamp` to look up (`-2` earliest, `-1` latest, else a time in ms).
pub(crate) fn request<'a>(
    partitions: impl IntoIterator<Item = (&'a TopicPartition, LeaderEpoch, i64)>,
    isolation_level: IsolationLevel,
    timeout_ms: i32,
) -> ListOffsetsRequest {
    let topics = by_topic(partitions.into_iter().map(|(tp, epoch, timestamp)| {
        (
            tp,
            ListOffsetsPartition::default()
                .with_partition_index(tp.partition)
                .with_current_leader_epoch(epoch.get())
                .with_timestamp(timestamp),
        )
    }));
    ListOffsetsRequest::default()
        .with_replica_id(WireBrokerId(-1))
        .with_isolation_level(isolation_level.to_wire())
        .with_timeout_ms(timeout_ms)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    ListOffsetsTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
}

/// Every partition's answer in the response: its offset, or its error naming the partition
/// (the consumer's view of [`parse_listed`]).
pub(crate) fn parse(
    resp: &ListOffsetsResponse,
) -> BTreeMap<TopicPartition, Result<ListOffsetsResult>> {
    parse_listed(resp)
        .into_iter()
        .map(|(tp, r)| {
            let r = r.map(|l| ListOffsetsResult {
                offset: l.offset,
                leader_epoch: l.leader_epoch,
            });
            (tp, r)
        })
        .collect()
}

/// One partition's ListOffsets answer with the timestamp the broker found (the admin client's
/// view; the consumer needs only `ListOffsetsResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset found (`-1` when no record has a timestamp at or after the one asked).
    pub offset: Offset,
    /// The timestamp of the record at that offset (ms), when the lookup was by timestamp or
    /// max-timestamp; `None` (`-1` on the wire) for earliest / latest.
    pub timestamp: Option<i64>,
    /// The leader epoch of that offset, if the broker gave one.
    pub leader_epoch: Option<LeaderEpoch>,
}

impl std::fmt::Display for ListedOffset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "offset {}", self.offset)?;
        if let Some(t) = self.timestamp {
            write!(f, " timestamp {t}")?;
        }
        if let Some(e) = self.leader_epoch {
            write!(f, " leader epoch {e}")?;
        }
        Ok(())
    }
}

/// Like [`parse`], keeping the timestamp of each answer.
pub(crate) fn parse_listed(
    resp: &ListOffsetsResponse,
) -> BTreeMap<TopicPartition, Result<ListedOffset>> {
    let mut answers = BTreeMap::new();
    for t in &resp.topics {
        for p in &t.partitions {
            let (topic, index) = (t.name.0.as_str(), p.partition_index);
            let r = partition_result("ListOffsets", topic, index, p.error_code, None, || {
                ListedOffset {
                    offset: Offset(p.offset),
                    timestamp: (p.timestamp >= 0).then_some(p.timestamp),
                    leader_epoch: (p.leader_epoch >= 0).then_some(LeaderEpoch(p.leader_epoch)),
                }
            });
            answers.insert(TopicPartition::new(t.name.0.as_str(), p.partition_index), r);
        }
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::list_offsets_response::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn request_groups_by_topic_and_encodes_at_every_version() {
        let a0 = TopicPartition::new("a", 0);
        let b1 = TopicPartition::new("b", 1);
        let a2 = TopicPartition::new("a", 2);
        let req = request(
            [
                (&a0, LeaderEpoch(3), -2),
                (&b1, LeaderEpoch::UNKNOWN, -1),
                (&a2, LeaderEpoch(3), 1_000),
            ],
            IsolationLevel::ReadCommitted,
            30_000,
        );
        assert_eq!(
            (req.replica_id.0, req.isolation_level, req.timeout_ms),
            (-1, 1, 30_000)
        );
        let names: Vec<&str> = req.topics.iter().map(|t| t.name.0.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(req.topics[0].partitions[1].timestamp, 1_000);
        // current_leader_epoch (v4+) is always set, so v4 is the lowest version this request
        // encodes at (every Kafka since 2.1 speaks it; Kafka 4.x negotiates v10).
        for v in 4..=10 {
            assert!(
                req.encode(&mut BytesMut::new(), v).is_ok(),
                "ListOffsets v{v}"
            );
        }
    }

    #[test]
    fn parse_keeps_offsets_and_errors_per_partition() {
        let resp =
            ListOffsetsResponse::default().with_topics(vec![ListOffsetsTopicResponse::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(0)
                        .with_offset(42)
                        .with_leader_epoch(-1),
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(1)
                        .with_error_code(6),
                ])]);
        let m = parse(&resp);
        let ok = m[&TopicPartition::new("a", 0)].as_ref().ok().copied();
        assert_eq!(
            ok,
            Some(ListOffsetsResult {
                offset: Offset(42),
                leader_epoch: None
            })
        );
        let e = m[&TopicPartition::new("a", 1)].as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.partition()), (Some(6), Some(1)));
    }

    #[test]
    fn parse_listed_keeps_timestamps() {
        let resp =
            ListOffsetsResponse::default().with_topics(vec![ListOffsetsTopicResponse::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(0)
                        .with_offset(7)
                        .with_timestamp(1_000)
                        .with_leader_epoch(2),
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(1)
                        .with_offset(3)
                        .with_timestamp(-1)
                        .with_leader_epoch(-1),
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(2)
                        .with_error_code(3),
                ])]);
        let m = parse_listed(&resp);
        let p0 = m[&TopicPartition::new("a", 0)].as_ref().unwrap();
        assert_eq!(
            (p0.offset, p0.timestamp, p0.leader_epoch),
            (Offset(7), Some(1_000), Some(LeaderEpoch(2)))
        );
        assert_eq!(p0.to_string(), "offset 7 timestamp 1000 leader epoch 2");
        let p1 = m[&TopicPartition::new("a", 1)].as_ref().unwrap();
        assert_eq!((p1.timestamp, p1.leader_epoch), (None, None));
        assert!(m[&TopicPartition::new("a", 2)].is_err());
    }
}

//! OffsetFetch: the committed offsets of a group's partitions. v8+ (KIP-709) batches groups;
//! this client asks for one group at a time, so it sends one entry and reads the first.

use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use kafka_protocol::protocol::StrBytes;

use super::{by_topic, group_id, topic_name};
use crate::types::{LeaderEpoch, Offset, TopicPartition};
use crate::{Error, Result};

/// A committed offset as the group coordinator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommittedOffset {
    /// The offset of the next record to consume.
    pub offset: Offset,
    /// The leader epoch committed with it, if any.
    pub leader_epoch: Option<LeaderEpoch>,
    /// The commit's metadata string.
    pub metadata: Option<String>,
}

impl CommittedOffset {
    /// A committed offset without epoch or metadata.
    pub const fn new(offset: Offset) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch: None,
            metadata: None,
        }
    }
}

/// The request for `tps` of `group` at `version` (v8+ carries it as one entry of `groups`).
pub fn request(group: &str, tps: &[TopicPartition], version: i16) -> OffsetFetchRequest {
    let topics = by_topic(tps.iter().map(|tp| (tp, tp.partition)));
    let mut req = OffsetFetchRequest::default();
    if version >= 8 {
        req.groups = vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id(group))
            .with_member_epoch(-1)
            .with_topics(Some(
                topics
                    .iter()
                    .map(|(t, ps)| {
                        OffsetFetchRequestTopics::default()
                            .with_name(topic_name(t))
                            .with_partition_indexes(ps.clone())
                    })
                    .collect(),
            ))];
    } else {
        req.group_id = group_id(group);
        req.topics = Some(
            topics
                .iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partition_indexes(ps.clone())
                })
                .collect(),
        );
    }
    req
}

/// Each partition's committed offset (`None`: nothing committed), or the first error: the
/// group's, else a partition's (the consumer's view of [`parse_partitions`]).
pub fn parse(
    resp: &OffsetFetchResponse,
    version: i16,
) -> Result<Vec<(TopicPartition, Option<CommittedOffset>)>> {
    parse_partitions(resp, version)?
        .into_iter()
        .map(|(tp, r)| r.map(|c| (tp, c)))
        .collect()
}

/// The request for every committed offset of `group` (`topics` null, v2+) at `version`, as
/// the admin client's `list_consumer_group_offsets` asks.
pub fn request_all(group: &str, version: i16) -> OffsetFetchRequest {
    let mut req = OffsetFetchRequest::default();
    if version >= 8 {
        req.groups = vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id(group))
            .with_member_epoch(-1)
            .with_topics(None)];
    } else {
        req.group_id = group_id(group);
        req.topics = None;
    }
    req
}

/// Every partition's committed offset (`None`: nothing committed) or its own error; `Err`
/// only for the group's error (the admin client's per-partition view, where [`parse`] stops
/// at the first error for the consumer).
pub fn parse_partitions(
    resp: &OffsetFetchResponse,
    version: i16,
) -> Result<Vec<(TopicPartition, Result<Option<CommittedOffset>>)>> {
    let one = |topic: &str, p: i32, code: i16, offset: i64, epoch: i32, meta: &Option<StrBytes>| {
        let r = if code != 0 {
            Err(Error::from_broker_code(code)
                .with_partition(topic, p)
                .with_api("OffsetFetch"))
        } else {
            Ok((offset >= 0).then(|| CommittedOffset {
                offset: Offset(offset),
                leader_epoch: (epoch >= 0).then_some(LeaderEpoch(epoch)),
                metadata: meta.as_ref().map(|m| m.to_string()),
            }))
        };
        (TopicPartition::new(topic, p), r)
    };
    // v8+ answers per group (one here), earlier versions at the top level; the partitions
    // carry the same fields either way.
    let (code, parts): (i16, Vec<_>) = if version >= 8 {
        let g = resp
            .groups
            .first()
            .ok_or_else(|| Error::malformed("OffsetFetch answered no group"))?;
        let parts = g.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| {
                let (o, e, m) = (p.committed_offset, p.committed_leader_epoch, &p.metadata);
                one(t.name.0.as_str(), p.partition_index, p.error_code, o, e, m)
            })
        });
        (g.error_code, parts.collect())
    } else {
        let parts = resp.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| {
                let (o, e, m) = (p.committed_offset, p.committed_leader_epoch, &p.metadata);
                one(t.name.0.as_str(), p.partition_index, p.error_code, o, e, m)
            })
        });
        (resp.error_code, parts.collect())
    };
    if code != 0 {
        return Err(Error::from_broker_code(code).with_api("OffsetFetch"));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
    };

    #[test]
    fn request_all_is_null_topics_at_every_version() {
        // Null topics ("every partition") exists from v2; Kafka 4.x negotiates v9.
        for v in 2..=9 {
            let req = request_all("g", v);
            if v >= 8 {
                assert!(req.groups[0].topics.is_none());
            } else {
                assert!(req.topics.is_none());
            }
            assert!(encodes(&req, v), "OffsetFetch v{v}");
        }
    }

    #[test]
    fn parse_partitions_keeps_partition_errors_apart() {
        let resp =
            OffsetFetchResponse::default().with_groups(vec![OffsetFetchResponseGroup::default()
                .with_topics(vec![OffsetFetchResponseTopics::default()
                    .with_name(topic_name("a"))
                    .with_partitions(vec![
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(0)
                            .with_committed_offset(5)
                            .with_committed_leader_epoch(-1),
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(1)
                            .with_committed_offset(-1),
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(2)
                            .with_error_code(3),
                    ])])]);
        let r = parse_partitions(&resp, 9).unwrap();
        assert_eq!(
            r[0].1.as_ref().unwrap().as_ref().map(|c| c.offset),
            Some(Offset(5))
        );
        assert_eq!(r[1].1.as_ref().unwrap(), &None);
        assert_eq!(r[2].1.as_ref().unwrap_err().broker_code(), Some(3));
        let bad = OffsetFetchResponse::default()
            .with_groups(vec![OffsetFetchResponseGroup::default().with_error_code(16)]);
        assert_eq!(
            parse_partitions(&bad, 9).unwrap_err().broker_code(),
            Some(16)
        );
        assert!(parse_partitions(&OffsetFetchResponse::default(), 9).is_err());
    }
}

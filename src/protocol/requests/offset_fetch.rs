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
/// group's, else a partition's.
pub fn parse(
    resp: &OffsetFetchResponse,
    version: i16,
) -> Result<Vec<(TopicPartition, Option<CommittedOffset>)>> {
    let mut out = Vec::new();
    let mut push =
        |topic: &str, p: i32, code: i16, offset: i64, epoch: i32, meta: Option<&StrBytes>| {
            if code != 0 {
                return Err(Error::from_broker_code(code)
                    .with_partition(topic, p)
                    .with_api("OffsetFetch"));
            }
            let committed = (offset >= 0).then(|| CommittedOffset {
                offset: Offset(offset),
                leader_epoch: (epoch >= 0).then_some(LeaderEpoch(epoch)),
                metadata: meta.map(|m| m.to_string()),
            });
            out.push((TopicPartition::new(topic, p), committed));
            Ok(())
        };
    if version >= 8 {
        let g = resp
            .groups
            .first()
            .ok_or_else(|| Error::malformed("OffsetFetch answered no group"))?;
        if g.error_code != 0 {
            return Err(Error::from_broker_code(g.error_code).with_api("OffsetFetch"));
        }
        for t in &g.topics {
            for p in &t.partitions {
                push(
                    t.name.0.as_str(),
                    p.partition_index,
                    p.error_code,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref(),
                )?;
            }
        }
    } else {
        if resp.error_code != 0 {
            return Err(Error::from_broker_code(resp.error_code).with_api("OffsetFetch"));
        }
        for t in &resp.topics {
            for p in &t.partitions {
                push(
                    t.name.0.as_str(),
                    p.partition_index,
                    p.error_code,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref(),
                )?;
            }
        }
    }
    Ok(out)
}

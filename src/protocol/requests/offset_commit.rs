//! OffsetCommit: a group's (or a standalone consumer's) offsets, under the member's generation.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::protocol::StrBytes;

use super::{by_topic, group_id, partition_result, topic_name};
use crate::types::{LeaderEpoch, Offset, TopicPartition};
use crate::Result;

/// An offset to commit for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetToCommit {
    /// The offset of the next record to consume (the last processed + 1).
    pub offset: Offset,
    /// The leader epoch of the last processed record, if known.
    pub leader_epoch: Option<LeaderEpoch>,
    /// Application metadata stored with the offset.
    pub metadata: Option<String>,
}

impl OffsetToCommit {
    /// Commits `offset` with no epoch or metadata.
    pub fn new(offset: Offset) -> OffsetToCommit {
        OffsetToCommit {
            offset,
            leader_epoch: None,
            metadata: None,
        }
    }

    /// The same offset with application `metadata` stored beside it (returned by
    /// `Consumer::committed`).
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> OffsetToCommit {
        self.metadata = Some(metadata.into());
        self
    }
}

/// Group membership fields sent with a commit: `-1` and empty for a consumer outside group
/// management (`assign`), the current generation otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitIdentity {
    /// Generation id (`-1` without group management).
    pub generation: i32,
    /// Member id (empty without group management).
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
}

impl Default for CommitIdentity {
    fn default() -> Self {
        CommitIdentity {
            generation: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// The request committing `offsets` for `group` under `identity` (`retention_time_ms = -1`: the
/// broker's `offsets.retention.minutes`).
pub(crate) fn request(
    group: &str,
    offsets: &BTreeMap<TopicPartition, OffsetToCommit>,
    identity: &CommitIdentity,
) -> OffsetCommitRequest {
    let topics = by_topic(offsets.iter().map(|(tp, o)| {
        (
            tp,
            OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(o.offset.0)
                .with_committed_leader_epoch(o.leader_epoch.map_or(-1, |e| e.0))
                .with_committed_metadata(o.metadata.clone().map(StrBytes::from_string)),
        )
    }));
    OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(identity.generation)
        .with_member_id(StrBytes::from_string(identity.member_id.clone()))
        .with_group_instance_id(
            identity
                .group_instance_id
                .clone()
                .map(StrBytes::from_string),
        )
        .with_retention_time_ms(-1)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
}

/// `Ok` if every partition was committed, else the first partition's error (the consumer's
/// view of [`parse_partitions`]).
pub(crate) fn parse(resp: &OffsetCommitResponse) -> Result<()> {
    parse_partitions(resp).into_values().collect()
}

/// Every partition's answer (the admin client's per-partition view, where [`parse`] stops at
/// the first error for the consumer).
pub(crate) fn parse_partitions(
    resp: &OffsetCommitResponse,
) -> BTreeMap<TopicPartition, Result<()>> {
    let mut out = BTreeMap::new();
    for t in &resp.topics {
        for p in &t.partitions {
            let (topic, index) = (t.name.0.as_str(), p.partition_index);
            let r = partition_result("OffsetCommit", topic, index, p.error_code, None, || ());
            out.insert(TopicPartition::new(t.name.0.as_str(), p.partition_index), r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };

    #[test]
    fn admin_commit_encodes_at_every_version_and_parses_per_partition() {
        let mut offsets = BTreeMap::new();
        offsets.insert(TopicPartition::new("a", 0), OffsetToCommit::new(Offset(3)));
        let req = request("g", &offsets, &CommitIdentity::default());
        assert_eq!(req.generation_id_or_member_epoch, -1);
        for v in 2..=9 {
            assert!(encodes(&req, v), "OffsetCommit v{v}");
        }
        let resp =
            OffsetCommitResponse::default().with_topics(vec![OffsetCommitResponseTopic::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    OffsetCommitResponsePartition::default().with_partition_index(0),
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(1)
                        .with_error_code(25),
                ])]);
        let m = parse_partitions(&resp);
        assert!(m[&TopicPartition::new("a", 0)].is_ok());
        assert_eq!(
            m[&TopicPartition::new("a", 1)]
                .as_ref()
                .unwrap_err()
                .broker_code(),
            Some(25)
        );
    }
}

//! DescribeShareGroupOffsets (KIP-932): a share group's start offset per partition (the share-
//! partition start offset: records below it are done), sent to the group's coordinator.
//! kafka-protocol 0.18 speaks v0 only; newer brokers (Kafka 4.4 lists v0–v1) also have v1, which
//! adds each partition's lag (KIP-1226), so no lag is read here.

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::{
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse,
};

use crate::protocol::requests::{by_topic, group_id, partition_result, topic_name};
use crate::types::{LeaderEpoch, Offset, TopicPartition};
use crate::{Error, Result};

/// A share group's position on one partition, as DescribeShareGroupOffsets reports it.
///
/// `Display` prints one line: `start offset 42 leader epoch 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharePartitionOffset {
    /// The share-partition start offset: every record below it has been delivered and
    /// acknowledged (or archived); records from it on may still be delivered.
    pub start_offset: Offset,
    /// The leader epoch stored with it, if any.
    pub leader_epoch: Option<LeaderEpoch>,
}

impl fmt::Display for SharePartitionOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "start offset {}", self.start_offset)?;
        if let Some(e) = self.leader_epoch {
            write!(f, " leader epoch {e}")?;
        }
        Ok(())
    }
}

/// The request for `group`'s offsets: of `partitions`, or of every partition the group has
/// state for when `None` (a null topic list on the wire).
pub(crate) fn request(
    group: &str,
    partitions: Option<&[TopicPartition]>,
) -> DescribeShareGroupOffsetsRequest {
    let topics = partitions.map(|tps| {
        by_topic(tps.iter().map(|tp| (tp, tp.partition)))
            .into_iter()
            .map(|(t, ps)| {
                DescribeShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(topic_name(t))
                    .with_partitions(ps)
            })
            .collect()
    });
    DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(group_id(group))
            .with_topics(topics),
    ])
}

/// `group`'s answer: the group's error (`GROUP_ID_NOT_FOUND`, coordinator errors, with the
/// broker's message), else every partition's answer; `Ok(None)` for a partition the group has
/// no start offset for (the broker reports `-1`).
pub(crate) fn parse(
    resp: &DescribeShareGroupOffsetsResponse,
    group: &str,
) -> Result<BTreeMap<TopicPartition, Result<Option<SharePartitionOffset>>>> {
    let g = resp
        .groups
        .iter()
        .find(|g| g.group_id.0.as_str() == group)
        .ok_or_else(|| Error::malformed("DescribeShareGroupOffsets response omitted the group"))?;
    if g.error_code != 0 {
        return Err(Error::from_broker_code(g.error_code)
            .with_api("DescribeShareGroupOffsets")
            .with_broker_message(g.error_message.as_ref().map(|m| m.to_string())));
    }
    let mut out = BTreeMap::new();
    for t in &g.topics {
        let topic = t.topic_name.0.as_str();
        for p in &t.partitions {
            let r = partition_result(
                "DescribeShareGroupOffsets",
                topic,
                p.partition_index,
                p.error_code,
                p.error_message.as_ref(),
                || {
                    (p.start_offset >= 0).then(|| SharePartitionOffset {
                        start_offset: Offset(p.start_offset),
                        leader_epoch: (p.leader_epoch >= 0).then_some(LeaderEpoch(p.leader_epoch)),
                    })
                },
            );
            out.insert(TopicPartition::new(topic, p.partition_index), r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::describe_share_group_offsets_response::{
        DescribeShareGroupOffsetsResponseGroup as WireGroup,
        DescribeShareGroupOffsetsResponsePartition as WirePartition,
        DescribeShareGroupOffsetsResponseTopic as WireTopic,
    };
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn request_lists_partitions_by_topic_or_asks_for_all() {
        let req = request(
            "g",
            Some(&[
                TopicPartition::new("b", 0),
                TopicPartition::new("a", 1),
                TopicPartition::new("a", 0),
            ]),
        );
        let topics = req.groups[0].topics.as_ref().unwrap();
        assert_eq!(topics[0].topic_name.0.as_str(), "a");
        assert_eq!(topics[0].partitions, vec![1, 0]);
        assert_eq!(topics[1].partitions, vec![0]);
        assert!(encodes(&req, 0), "DescribeShareGroupOffsets v0");
        let all = request("g", None);
        assert_eq!(all.groups[0].topics, None);
        assert!(encodes(&all, 0), "DescribeShareGroupOffsets v0, all topics");
    }

    #[test]
    fn parse_reads_start_offsets_and_keeps_errors_per_partition() {
        let resp =
            DescribeShareGroupOffsetsResponse::default().with_groups(vec![WireGroup::default()
                .with_group_id(group_id("g"))
                .with_topics(vec![WireTopic::default()
                    .with_topic_name(topic_name("a"))
                    .with_partitions(vec![
                        WirePartition::default()
                            .with_partition_index(0)
                            .with_start_offset(42)
                            .with_leader_epoch(0),
                        WirePartition::default()
                            .with_partition_index(1)
                            .with_start_offset(-1)
                            .with_leader_epoch(-1),
                        WirePartition::default()
                            .with_partition_index(2)
                            .with_error_code(3)
                            .with_error_message(Some(StrBytes::from_static_str("unknown"))),
                    ])])]);
        let m = parse(&resp, "g").unwrap();
        let o = m[&TopicPartition::new("a", 0)]
            .as_ref()
            .unwrap()
            .clone()
            .unwrap();
        assert_eq!(
            (o.start_offset, o.leader_epoch),
            (Offset(42), Some(LeaderEpoch(0)))
        );
        assert_eq!(o.to_string(), "start offset 42 leader epoch 0");
        assert_eq!(m[&TopicPartition::new("a", 1)].as_ref().unwrap(), &None);
        let e = m[&TopicPartition::new("a", 2)].as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.partition()), (Some(3), Some(2)));
        assert_eq!(e.broker_message(), Some("unknown"));
    }

    #[test]
    fn parse_fails_on_a_group_error_or_a_missing_group() {
        let resp =
            DescribeShareGroupOffsetsResponse::default().with_groups(vec![WireGroup::default()
                .with_group_id(group_id("g"))
                .with_error_code(16)]);
        let e = parse(&resp, "g").unwrap_err();
        assert_eq!(e.broker_code(), Some(16));
        assert!(e.is_retriable(), "NOT_COORDINATOR is retried");
        let e = parse(&DescribeShareGroupOffsetsResponse::default(), "g").unwrap_err();
        assert!(e.to_string().contains("omitted the group"), "{e}");
    }
}

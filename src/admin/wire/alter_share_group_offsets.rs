//! AlterShareGroupOffsets (KIP-932): set an empty share group's start offset per partition, sent
//! to the group's coordinator. Only v0 exists (Kafka 4.4 too).

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::{AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse};

use crate::protocol::requests::{by_topic, group_id, partition_result, topic_name};
use crate::types::{Offset, TopicPartition};
use crate::{Error, Result};

/// The request setting `group`'s start offsets.
pub(crate) fn request(
    group: &str,
    offsets: &[(TopicPartition, Offset)],
) -> AlterShareGroupOffsetsRequest {
    let topics = by_topic(offsets.iter().map(|(tp, o)| {
        (
            tp,
            AlterShareGroupOffsetsRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_start_offset(o.0),
        )
    }));
    AlterShareGroupOffsetsRequest::default()
        .with_group_id(group_id(group))
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    AlterShareGroupOffsetsRequestTopic::default()
                        .with_topic_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
}

/// Every partition's answer, or the group's error (`NON_EMPTY_GROUP` while it has members,
/// `GROUP_ID_NOT_FOUND`, coordinator errors), with the broker's message.
pub(crate) fn parse(
    resp: &AlterShareGroupOffsetsResponse,
) -> Result<BTreeMap<TopicPartition, Result<()>>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code)
            .with_api("AlterShareGroupOffsets")
            .with_broker_message(resp.error_message.as_ref().map(|m| m.to_string())));
    }
    let mut out = BTreeMap::new();
    for t in &resp.responses {
        let topic = t.topic_name.0.as_str();
        for p in &t.partitions {
            let r = partition_result(
                "AlterShareGroupOffsets",
                topic,
                p.partition_index,
                p.error_code,
                p.error_message.as_ref(),
                || (),
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
    use kafka_protocol::messages::alter_share_group_offsets_response::{
        AlterShareGroupOffsetsResponsePartition as WirePartition,
        AlterShareGroupOffsetsResponseTopic as WireTopic,
    };
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn request_encodes_and_groups_partitions_by_topic() {
        let req = request(
            "g",
            &[
                (TopicPartition::new("a", 1), Offset(5)),
                (TopicPartition::new("a", 0), Offset(0)),
            ],
        );
        assert_eq!(req.group_id.0.as_str(), "g");
        let ps = &req.topics[0].partitions;
        assert_eq!(
            ps.iter()
                .map(|p| (p.partition_index, p.start_offset))
                .collect::<Vec<_>>(),
            vec![(1, 5), (0, 0)]
        );
        assert!(encodes(&req, 0), "AlterShareGroupOffsets v0");
    }

    #[test]
    fn parse_splits_group_and_partition_errors() {
        let resp =
            AlterShareGroupOffsetsResponse::default().with_responses(vec![WireTopic::default()
                .with_topic_name(topic_name("a"))
                .with_partitions(vec![
                    WirePartition::default().with_partition_index(0),
                    WirePartition::default()
                        .with_partition_index(1)
                        .with_error_code(3)
                        .with_error_message(Some(StrBytes::from_static_str("no such partition"))),
                ])]);
        let m = parse(&resp).unwrap();
        assert!(m[&TopicPartition::new("a", 0)].is_ok());
        let e = m[&TopicPartition::new("a", 1)].as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.partition()), (Some(3), Some(1)));
        assert_eq!(e.broker_message(), Some("no such partition"));
        let e = parse(
            &AlterShareGroupOffsetsResponse::default()
                .with_error_code(68)
                .with_error_message(Some(StrBytes::from_static_str("group has members"))),
        )
        .unwrap_err();
        assert_eq!(e.broker_code(), Some(68));
        assert_eq!(e.broker_message(), Some("group has members"));
    }
}

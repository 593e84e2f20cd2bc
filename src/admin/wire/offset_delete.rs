//! OffsetDelete (KIP-496): delete a group's committed offsets for some partitions, sent to the
//! group's coordinator. Only v0 exists.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::protocol::requests::{by_topic, group_id, partition_result, topic_name};
use crate::types::TopicPartition;
use crate::{Error, Result};

/// The request deleting `group`'s offsets of `partitions`.
pub(crate) fn request(group: &str, partitions: &[TopicPartition]) -> OffsetDeleteRequest {
    let topics = by_topic(partitions.iter().map(|tp| {
        (
            tp,
            OffsetDeleteRequestPartition::default().with_partition_index(tp.partition),
        )
    }));
    OffsetDeleteRequest::default()
        .with_group_id(group_id(group))
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetDeleteRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
}

/// Every partition's answer, or the group's error (`GROUP_ID_NOT_FOUND`, coordinator errors).
/// `GROUP_SUBSCRIBED_TO_TOPIC` is per partition: the group still consumes that topic.
pub(crate) fn parse(resp: &OffsetDeleteResponse) -> Result<BTreeMap<TopicPartition, Result<()>>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code).with_api("OffsetDelete"));
    }
    let mut out = BTreeMap::new();
    for t in &resp.topics {
        for p in &t.partitions {
            let (topic, index) = (t.name.0.as_str(), p.partition_index);
            let r = partition_result("OffsetDelete", topic, index, p.error_code, None, || ());
            out.insert(TopicPartition::new(t.name.0.as_str(), p.partition_index), r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::offset_delete_response::{
        OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
    };

    #[test]
    fn request_encodes_and_parse_splits_group_and_partition_errors() {
        let req = request(
            "g",
            &[TopicPartition::new("a", 1), TopicPartition::new("a", 0)],
        );
        assert_eq!(req.topics[0].partitions.len(), 2);
        assert!(encodes(&req, 0));
        let resp =
            OffsetDeleteResponse::default().with_topics(vec![OffsetDeleteResponseTopic::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    OffsetDeleteResponsePartition::default().with_partition_index(0),
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(1)
                        .with_error_code(86),
                ])]);
        let m = parse(&resp).unwrap();
        assert!(m[&TopicPartition::new("a", 0)].is_ok());
        let e = m[&TopicPartition::new("a", 1)].as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.partition()), (Some(86), Some(1)));
        let e = parse(&OffsetDeleteResponse::default().with_error_code(69)).unwrap_err();
        assert_eq!(e.broker_code(), Some(69));
    }
}

//! TxnOffsetCommit: a consumer group's offsets written as part of the producer's transaction
//! (visible to the group only once the transaction commits). v3+ carries the group membership
//! (KIP-447), so the group coordinator fences a zombie member by its generation.

use std::collections::BTreeMap;

use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ProducerId as WireProducerId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

use super::init_producer_id::TxnProducer;
use super::offset_commit::{CommitIdentity, OffsetToCommit};
use super::{by_topic, group_id, partition_result, str_bytes, topic_name};
use crate::types::TopicPartition;
use crate::Result;

/// The request committing `offsets` for `group` under `member` (the consumer's generation).
pub(crate) fn request(
    producer: &TxnProducer,
    group: &str,
    member: &CommitIdentity,
    offsets: &BTreeMap<TopicPartition, OffsetToCommit>,
) -> TxnOffsetCommitRequest {
    let topics = by_topic(offsets.iter().map(|(tp, o)| (tp, (tp.partition, o))))
        .into_iter()
        .map(|(t, parts)| {
            let partitions = parts
                .into_iter()
                .map(|(partition, o)| {
                    TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(partition)
                        .with_committed_offset(o.offset.0)
                        .with_committed_leader_epoch(o.leader_epoch.map_or(-1, |e| e.0))
                        .with_committed_metadata(o.metadata.as_deref().map(str_bytes))
                })
                .collect();
            TxnOffsetCommitRequestTopic::default()
                .with_name(topic_name(t))
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitRequest::default()
        .with_transactional_id(producer.wire_id())
        .with_group_id(group_id(group))
        .with_producer_id(WireProducerId(producer.producer_id.0))
        .with_producer_epoch(producer.epoch.0)
        .with_generation_id(member.generation)
        .with_member_id(str_bytes(&member.member_id))
        .with_group_instance_id(member.group_instance_id.as_deref().map(str_bytes))
        .with_topics(topics)
}

/// The membership fields exist from v3 on; below that they must stay at their defaults.
pub(crate) fn request_for_version(
    mut req: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitRequest {
    if version < 3 {
        req.generation_id = -1;
        req.member_id = str_bytes("");
        req.group_instance_id = None;
    }
    req
}

/// The first partition error, if any (the others are usually the same).
pub(crate) fn parse(resp: &TxnOffsetCommitResponse) -> Result<()> {
    for t in &resp.topics {
        for p in &t.partitions {
            partition_result(
                "TxnOffsetCommit",
                &t.name.0,
                p.partition_index,
                p.error_code,
                None,
                || (),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use crate::types::{Offset, ProducerEpoch, ProducerId};
    use kafka_protocol::messages::txn_offset_commit_response::{
        TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
    };

    #[test]
    fn carries_the_membership_from_v3_and_parses_partition_errors() {
        let p = TxnProducer {
            transactional_id: "tx".into(),
            producer_id: ProducerId(4),
            epoch: ProducerEpoch(1),
        };
        let member = CommitIdentity {
            generation: 7,
            member_id: "m-1".into(),
            group_instance_id: Some("i-1".into()),
        };
        let mut offsets = BTreeMap::new();
        offsets.insert(
            TopicPartition::new("in", 1),
            OffsetToCommit::new(Offset(42)),
        );
        offsets.insert(TopicPartition::new("in", 0), OffsetToCommit::new(Offset(9)));
        let req = request(&p, "g", &member, &offsets);
        assert_eq!(req.generation_id, 7);
        assert_eq!(req.topics[0].partitions.len(), 2);
        assert_eq!(req.topics[0].partitions[1].committed_offset, 42);
        for v in 0..=5 {
            let r = request_for_version(req.clone(), v);
            assert!(encodes(&r, v), "v{v}");
        }
        assert!(parse(&TxnOffsetCommitResponse::default()).is_ok());
        let resp = TxnOffsetCommitResponse::default().with_topics(vec![
            TxnOffsetCommitResponseTopic::default()
                .with_name(topic_name("in"))
                .with_partitions(vec![TxnOffsetCommitResponsePartition::default()
                    .with_partition_index(1)
                    .with_error_code(22)]),
        ]);
        let e = parse(&resp).unwrap_err();
        assert_eq!((e.broker_code(), e.partition()), (Some(22), Some(1)));
    }
}

//! Test support: hand-built requests with realistic contents, encoded by kafka-protocol at
//! each version (fields a version lacks are left at their defaults).

use super::gen::{encode, s};
use bytes::Bytes;
use kafka_protocol::messages::*;

pub fn produce(version: i16, records: usize) -> Vec<u8> {
    let partitions = (0..3)
        .map(|i| {
            produce_request::PartitionProduceData::default()
                .with_index(i)
                .with_records(Some(Bytes::from(vec![i as u8; records])))
        })
        .collect();
    let topic = produce_request::TopicProduceData::default()
        .with_name(TopicName(s("orders")))
        .with_partition_data(partitions);
    let req = ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![topic]);
    encode(&req, version)
}

pub fn fetch(version: i16, topics: i32, partitions: i32) -> Vec<u8> {
    let topics = (0..topics)
        .map(|t| {
            let parts = (0..partitions)
                .map(|p| {
                    let mut fp = fetch_request::FetchPartition::default()
                        .with_partition(p)
                        .with_fetch_offset(1_000 + i64::from(p))
                        .with_partition_max_bytes(1 << 20);
                    if version >= 9 {
                        fp = fp.with_current_leader_epoch(3);
                    }
                    if version >= 5 {
                        fp = fp.with_log_start_offset(0);
                    }
                    fp
                })
                .collect();
            fetch_request::FetchTopic::default()
                .with_topic(TopicName(s(&format!("topic-{t}"))))
                .with_partitions(parts)
        })
        .collect();
    let mut req = FetchRequest::default()
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_topics(topics);
    if version >= 7 {
        req = req.with_forgotten_topics_data(vec![fetch_request::ForgottenTopic::default()
            .with_topic(TopicName(s("gone")))
            .with_partitions(vec![0, 1])]);
    }
    if version >= 11 {
        req = req.with_rack_id(s("rack-a"));
    }
    if version >= 12 {
        req = req.with_cluster_id(Some(s("cluster")));
    }
    encode(&req, version)
}

pub fn metadata(version: i16) -> Vec<u8> {
    let topics = ["orders", "payments", "audit"]
        .iter()
        .map(|n| metadata_request::MetadataRequestTopic::default().with_name(Some(TopicName(s(n)))))
        .collect();
    let mut req = MetadataRequest::default().with_topics(Some(topics));
    if (8..=10).contains(&version) {
        req = req.with_include_cluster_authorized_operations(true);
    }
    encode(&req, version)
}

pub fn join_group(version: i16) -> Vec<u8> {
    let protocols = ["range", "cooperative-sticky"]
        .iter()
        .map(|n| {
            join_group_request::JoinGroupRequestProtocol::default()
                .with_name(s(n))
                .with_metadata(Bytes::from_static(
                    b"\x00\x01\x00\x00\x00\x01\x00\x06orders",
                ))
        })
        .collect();
    let mut req = JoinGroupRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_session_timeout_ms(10_000)
        .with_member_id(s(""))
        .with_protocol_type(s("consumer"))
        .with_protocols(protocols);
    if version >= 1 {
        req = req.with_rebalance_timeout_ms(30_000);
    }
    if version >= 5 {
        req = req.with_group_instance_id(Some(s("instance-1")));
    }
    if version >= 8 {
        req = req.with_reason(Some(s("joining")));
    }
    encode(&req, version)
}

pub fn offset_commit(version: i16) -> Vec<u8> {
    let partitions = (0..4)
        .map(|p| {
            let mut part = offset_commit_request::OffsetCommitRequestPartition::default()
                .with_partition_index(p)
                .with_committed_offset(42 + i64::from(p))
                .with_committed_metadata(Some(s("meta")));
            if version >= 6 {
                part = part.with_committed_leader_epoch(2);
            }
            part
        })
        .collect();
    let topic = offset_commit_request::OffsetCommitRequestTopic::default()
        .with_name(TopicName(s("orders")))
        .with_partitions(partitions);
    let mut req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_generation_id_or_member_epoch(3)
        .with_member_id(s("member-1"))
        .with_topics(vec![topic]);
    if version >= 7 {
        req = req.with_group_instance_id(Some(s("instance-1")));
    }
    encode(&req, version)
}

pub fn create_topics(version: i16) -> Vec<u8> {
    let topic = create_topics_request::CreatableTopic::default()
        .with_name(TopicName(s("orders")))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![
            create_topics_request::CreatableReplicaAssignment::default()
                .with_partition_index(0)
                .with_broker_ids(vec![BrokerId(1), BrokerId(2)]),
        ])
        .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
            .with_name(s("retention.ms"))
            .with_value(Some(s("60000")))]);
    let req = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(5_000);
    encode(&req, version)
}

//! KIP-848 at the byte level: ApiVersions advertises the consumer group APIs and
//! `group.version`; ConsumerGroupHeartbeat v0 names the member, v1 wants it named; OffsetCommit
//! and OffsetFetch v9 check the member epoch; ConsumerGroupDescribe, DescribeGroups,
//! ListGroups, JoinGroup and DeleteGroups answer for a consumer group as Kafka does.

mod common;
use common::{call, s};

use ferrokafka_mock::{MockCluster, MockConfig};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use tokio::net::TcpStream;

const STALE_MEMBER_EPOCH: i16 = 113;

fn join(member_id: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(member_id))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("t"))]))
        .with_topic_partitions(Some(vec![]))
}

fn commit(member_id: &str, epoch: i32) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(member_id))
        .with_generation_id_or_member_epoch(epoch)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(42)])])
}

fn commit_error(r: &OffsetCommitResponse) -> i16 {
    r.topics[0].partitions[0].error_code
}

fn fetch(member_id: &str, epoch: i32) -> OffsetFetchRequest {
    OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(Some(s(member_id)))
        .with_member_epoch(epoch)
        .with_topics(Some(vec![OffsetFetchRequestTopics::default()
            .with_name(TopicName(s("t")))
            .with_partition_indexes(vec![0])]))])
}

/// OffsetDelete of t/0: the partition's error code.
async fn offset_delete(conn: &mut TcpStream) -> i16 {
    let req = OffsetDeleteRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![
                OffsetDeleteRequestPartition::default().with_partition_index(0)
            ])]);
    let r: OffsetDeleteResponse = call(conn, ApiKey::OffsetDelete, 0, &req).await;
    r.topics[0].partitions[0].error_code
}

/// TxnOffsetCommit v3 of t/0 by `member_id` at `epoch`: the partition's error code (the
/// membership is checked before the transaction).
async fn txn_commit(conn: &mut TcpStream, member_id: &str, epoch: i32) -> i16 {
    let req = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(member_id))
        .with_generation_id(epoch)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(1)])]);
    let r: TxnOffsetCommitResponse = call(conn, ApiKey::TxnOffsetCommit, 3, &req).await;
    r.topics[0].partitions[0].error_code
}

async fn list(conn: &mut TcpStream, types: &[&str]) -> Vec<(String, String, String)> {
    let req = ListGroupsRequest::default().with_types_filter(types.iter().map(|t| s(t)).collect());
    let r: ListGroupsResponse = call(conn, ApiKey::ListGroups, 5, &req).await;
    r.groups
        .iter()
        .map(|g| {
            (
                g.group_id.to_string(),
                g.group_state.to_string(),
                g.group_type.to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_consumer_group_on_the_wire_as_kafka_answers_it() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("cluster");
    cluster.create_topic("t", 2).expect("topic");
    let mut conn = TcpStream::connect(cluster.broker_addrs()[0])
        .await
        .expect("connect");

    let v: ApiVersionsResponse = call(
        &mut conn,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default(),
    )
    .await;
    for key in [
        ApiKey::ConsumerGroupHeartbeat,
        ApiKey::ConsumerGroupDescribe,
    ] {
        let k = v
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .expect("served");
        assert_eq!((k.min_version, k.max_version), (0, 1), "{key:?}");
    }
    let feature = v
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == "group.version");
    assert_eq!(feature.map(|f| f.max_version_level), Some(1));

    // v1 wants a client-generated member id; v0 names the member itself.
    let r: ConsumerGroupHeartbeatResponse =
        call(&mut conn, ApiKey::ConsumerGroupHeartbeat, 1, &join("")).await;
    assert_eq!(r.error_code, 42, "INVALID_REQUEST");
    let r: ConsumerGroupHeartbeatResponse =
        call(&mut conn, ApiKey::ConsumerGroupHeartbeat, 0, &join("")).await;
    assert_eq!(
        (r.error_code, r.member_epoch, r.heartbeat_interval_ms),
        (0, 1, 5000)
    );
    let member = r.member_id.expect("named by the coordinator").to_string();
    assert!(!member.is_empty());
    let assigned = r.assignment.expect("an assignment");
    assert_eq!(assigned.topic_partitions[0].partitions, vec![0, 1]);

    // OffsetCommit: v9 at the member epoch; v8 from a consumer-protocol member is refused.
    let r: OffsetCommitResponse =
        call(&mut conn, ApiKey::OffsetCommit, 8, &commit(&member, 1)).await;
    assert_eq!(commit_error(&r), 35, "UNSUPPORTED_VERSION");
    let r: OffsetCommitResponse =
        call(&mut conn, ApiKey::OffsetCommit, 9, &commit(&member, 2)).await;
    assert_eq!(commit_error(&r), STALE_MEMBER_EPOCH);
    let r: OffsetCommitResponse =
        call(&mut conn, ApiKey::OffsetCommit, 9, &commit("nobody", 1)).await;
    assert_eq!(commit_error(&r), 25, "UNKNOWN_MEMBER_ID");
    let r: OffsetCommitResponse =
        call(&mut conn, ApiKey::OffsetCommit, 9, &commit(&member, 1)).await;
    assert_eq!(commit_error(&r), 0);
    assert_eq!(
        txn_commit(&mut conn, "nobody", 1).await,
        25,
        "UNKNOWN_MEMBER_ID"
    );
    assert_eq!(
        txn_commit(&mut conn, &member, 4).await,
        22,
        "ILLEGAL_GENERATION"
    );
    let r: OffsetFetchResponse = call(&mut conn, ApiKey::OffsetFetch, 9, &fetch(&member, 1)).await;
    assert_eq!(r.groups[0].error_code, 0);
    assert_eq!(r.groups[0].topics[0].partitions[0].committed_offset, 42);
    let r: OffsetFetchResponse = call(&mut conn, ApiKey::OffsetFetch, 9, &fetch(&member, 3)).await;
    assert_eq!(r.groups[0].error_code, STALE_MEMBER_EPOCH);

    let r: ConsumerGroupDescribeResponse = call(
        &mut conn,
        ApiKey::ConsumerGroupDescribe,
        1,
        &ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(s("g")), GroupId(s("missing"))]),
    )
    .await;
    let g = &r.groups[0];
    assert_eq!(
        (g.error_code, g.group_state.as_str(), g.group_epoch),
        (0, "Stable", 1)
    );
    assert_eq!(
        (g.assignment_epoch, g.assignor_name.as_str()),
        (1, "uniform")
    );
    let m = &g.members[0];
    assert_eq!(
        (m.member_id.as_str(), m.member_epoch, m.member_type),
        (member.as_str(), 1, 1)
    );
    assert_eq!(m.assignment.topic_partitions[0].topic_name.as_str(), "t");
    assert_eq!(r.groups[1].error_code, 69, "GROUP_ID_NOT_FOUND");

    // The classic APIs: DescribeGroups sees no classic group; JoinGroup may not mix protocols.
    let r: DescribeGroupsResponse = call(
        &mut conn,
        ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s("g"))]),
    )
    .await;
    assert_eq!(
        (r.groups[0].error_code, r.groups[0].group_state.as_str()),
        (0, "Dead")
    );
    let classic = JoinGroupRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default().with_name(s("range"))
        ]);
    let r: JoinGroupResponse = call(&mut conn, ApiKey::JoinGroup, 9, &classic).await;
    assert_eq!(r.error_code, 23, "INCONSISTENT_GROUP_PROTOCOL");

    let consumer = [("g".to_owned(), "Stable".to_owned(), "consumer".to_owned())];
    assert_eq!(list(&mut conn, &["consumer"]).await, consumer);
    assert_eq!(list(&mut conn, &["classic"]).await, []);
    let delete = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g"))]);
    let r: DeleteGroupsResponse = call(&mut conn, ApiKey::DeleteGroups, 2, &delete).await;
    assert_eq!(r.results[0].error_code, 68, "NON_EMPTY_GROUP");
    assert_eq!(
        offset_delete(&mut conn).await,
        86,
        "GROUP_SUBSCRIBED_TO_TOPIC"
    );

    // Leave: the group is Empty and can be deleted (with its offsets).
    let leave = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(&member))
        .with_member_epoch(-1);
    let r: ConsumerGroupHeartbeatResponse =
        call(&mut conn, ApiKey::ConsumerGroupHeartbeat, 0, &leave).await;
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    assert_eq!(list(&mut conn, &[]).await[0].1, "Empty");
    assert_eq!(offset_delete(&mut conn).await, 0, "nobody subscribes now");
    let r: DeleteGroupsResponse = call(&mut conn, ApiKey::DeleteGroups, 2, &delete).await;
    assert_eq!(r.results[0].error_code, 0);
    assert_eq!(list(&mut conn, &[]).await, []);
}

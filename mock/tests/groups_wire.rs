//! The group coordinator at the byte level: every served version of every group API encodes
//! and decodes, FindCoordinator agrees on every broker, other brokers answer NOT_COORDINATOR.

mod common;
use common::{call, s};

use bytes::Bytes;
use ferrokafka_mock::{MockCluster, MockConfig};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use tokio::net::TcpStream;

/// Connections to the coordinator of `group` and to another broker.
async fn conns(cluster: &MockCluster, group: &str) -> (TcpStream, TcpStream) {
    let mut any = TcpStream::connect(cluster.broker_addrs()[0])
        .await
        .expect("connect");
    let r: FindCoordinatorResponse = call(
        &mut any,
        ApiKey::FindCoordinator,
        1,
        &FindCoordinatorRequest::default().with_key(s(group)),
    )
    .await;
    assert_eq!(r.error_code, 0);
    let idx = (r.node_id.0 - 1) as usize;
    assert_eq!(cluster.broker_addrs()[idx].port() as i32, r.port);
    let other = (idx + 1) % cluster.broker_addrs().len();
    (
        TcpStream::connect(cluster.broker_addrs()[idx])
            .await
            .expect("connect"),
        TcpStream::connect(cluster.broker_addrs()[other])
            .await
            .expect("connect"),
    )
}

#[tokio::test]
async fn find_coordinator_agrees_across_brokers_and_versions() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock");
    let keys = ["g1", "g2", "orders-app", "txn-1"];
    let mut expected = Vec::new();
    for addr in cluster.broker_addrs() {
        let mut conn = TcpStream::connect(addr).await.expect("connect");
        let mut nodes = Vec::new();
        for key in keys {
            for v in 0..=3 {
                let r: FindCoordinatorResponse = call(
                    &mut conn,
                    ApiKey::FindCoordinator,
                    v,
                    &FindCoordinatorRequest::default().with_key(s(key)),
                )
                .await;
                assert_eq!(r.error_code, 0);
                nodes.push(r.node_id.0);
            }
        }
        let batched: FindCoordinatorResponse = call(
            &mut conn,
            ApiKey::FindCoordinator,
            4,
            &FindCoordinatorRequest::default()
                .with_key_type(1)
                .with_coordinator_keys(keys.iter().map(|k| s(k)).collect()),
        )
        .await;
        assert_eq!(batched.coordinators.len(), keys.len());
        for (c, key) in batched.coordinators.iter().zip(keys) {
            assert_eq!((c.key.as_str(), c.error_code), (key, 0));
            nodes.push(c.node_id.0);
        }
        expected.push(nodes);
    }
    assert!(expected.windows(2).all(|w| w[0] == w[1]), "brokers agree");
    let bad: FindCoordinatorResponse = call(
        &mut TcpStream::connect(cluster.broker_addrs()[0])
            .await
            .expect("connect"),
        ApiKey::FindCoordinator,
        2,
        &FindCoordinatorRequest::default()
            .with_key(s("g"))
            .with_key_type(7),
    )
    .await;
    assert_eq!(
        bad.error_code, 42,
        "INVALID_REQUEST for an unknown key type"
    );
}

/// Joins `group` alone at JoinGroup `v` (and the matching versions of the others), syncs,
/// heartbeats, commits as the member, fetches, leaves.
async fn member_cycle(coord: &mut TcpStream, other: &mut TcpStream, group: &str, v: i16) {
    let join = |member: &str| {
        JoinGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(if v >= 1 { 10_000 } else { -1 })
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"meta"))])
    };
    let r: JoinGroupResponse = call(other, ApiKey::JoinGroup, v, &join("")).await;
    assert_eq!(r.error_code, 16, "NOT_COORDINATOR");
    let mut r: JoinGroupResponse = call(coord, ApiKey::JoinGroup, v, &join("")).await;
    if v >= 4 {
        assert_eq!(r.error_code, 79, "MEMBER_ID_REQUIRED");
        let id = r.member_id.to_string();
        r = call(coord, ApiKey::JoinGroup, v, &join(&id)).await;
    }
    assert_eq!((r.error_code, r.generation_id), (0, 1), "JoinGroup v{v}");
    assert_eq!(r.leader, r.member_id);
    assert_eq!(r.protocol_name.as_ref().map(|p| p.as_str()), Some("range"));
    assert_eq!(r.members.len(), 1);
    let member = r.member_id.clone();

    let sv = v.min(5);
    let sync: SyncGroupResponse = call(
        coord,
        ApiKey::SyncGroup,
        sv,
        &SyncGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(1)
            .with_member_id(member.clone())
            .with_assignments(vec![SyncGroupRequestAssignment::default()
                .with_member_id(member.clone())
                .with_assignment(Bytes::from_static(b"assigned"))]),
    )
    .await;
    assert_eq!(
        (sync.error_code, &sync.assignment[..]),
        (0, &b"assigned"[..])
    );
    if sv >= 5 {
        assert_eq!(
            sync.protocol_type.as_ref().map(|p| p.as_str()),
            Some("consumer")
        );
    }
    let hb: HeartbeatResponse = call(
        coord,
        ApiKey::Heartbeat,
        v.min(4),
        &HeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(1)
            .with_member_id(member.clone()),
    )
    .await;
    assert_eq!(hb.error_code, 0);
    let stale: HeartbeatResponse = call(
        coord,
        ApiKey::Heartbeat,
        v.min(4),
        &HeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(0)
            .with_member_id(member.clone()),
    )
    .await;
    assert_eq!(stale.error_code, 22, "ILLEGAL_GENERATION");

    let lv = v.min(5);
    let leave = if lv >= 3 {
        LeaveGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_members(vec![
                MemberIdentity::default().with_member_id(member.clone())
            ])
    } else {
        LeaveGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(member.clone())
    };
    let left: LeaveGroupResponse = call(coord, ApiKey::LeaveGroup, lv, &leave).await;
    assert_eq!(left.error_code, 0);
    if lv >= 3 {
        assert_eq!(left.members.len(), 1);
        assert_eq!(left.members[0].error_code, 0);
    }
}

#[tokio::test]
async fn every_version_of_the_membership_apis() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock");
    for v in 0..=9 {
        let group = format!("group-v{v}");
        let (mut coord, mut other) = conns(&cluster, &group).await;
        member_cycle(&mut coord, &mut other, &group, v).await;
        let d: DescribeGroupsResponse = call(
            &mut coord,
            ApiKey::DescribeGroups,
            v.min(5),
            &DescribeGroupsRequest::default().with_groups(vec![GroupId(s(&group))]),
        )
        .await;
        assert_eq!(d.groups[0].group_state.as_str(), "Empty");
        let del: DeleteGroupsResponse = call(
            &mut coord,
            ApiKey::DeleteGroups,
            v.min(2),
            &DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(&group))]),
        )
        .await;
        assert_eq!(del.results[0].error_code, 0);
    }
}

#[tokio::test]
async fn every_version_of_the_offset_and_listing_apis() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock");
    cluster.create_topic("t", 2).expect("topic");
    for v in 2..=8 {
        let group = format!("offsets-v{v}");
        let (mut coord, mut other) = conns(&cluster, &group).await;
        let commit = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(
                    [(1, 42), (9, 1)]
                        .into_iter()
                        .map(|(p, o)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(o)
                        })
                        .collect(),
                )]);
        let r: OffsetCommitResponse = call(&mut coord, ApiKey::OffsetCommit, v, &commit).await;
        let codes: Vec<i16> = r.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        assert_eq!(codes, vec![0, 3], "stored, UNKNOWN_TOPIC_OR_PARTITION");
        let r: OffsetCommitResponse = call(&mut other, ApiKey::OffsetCommit, v, &commit).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 16);
    }
    for v in 1..=8i16 {
        let group = format!("offsets-v{}", v.max(2));
        let (mut coord, mut other) = conns(&cluster, &group).await;
        let topics = vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partition_indexes(vec![0, 1])];
        let req = if v >= 8 {
            OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(s(&group)))
                .with_topics(None)])
        } else {
            OffsetFetchRequest::default()
                .with_group_id(GroupId(s(&group)))
                .with_topics(Some(topics))
        };
        let r: OffsetFetchResponse = call(&mut coord, ApiKey::OffsetFetch, v, &req).await;
        let offsets: Vec<(i32, i64)> = if v >= 8 {
            assert_eq!(r.groups[0].error_code, 0);
            r.groups[0].topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.committed_offset))
                .collect()
        } else {
            r.topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.committed_offset))
                .collect()
        };
        let want = if v >= 8 {
            vec![(1, 42)]
        } else {
            vec![(0, -1), (1, 42)]
        };
        assert_eq!(offsets, want, "OffsetFetch v{v}");
        let r: OffsetFetchResponse = call(&mut other, ApiKey::OffsetFetch, v, &req).await;
        let err = match v {
            1 => r.topics[0].partitions[0].error_code,
            2..=7 => r.error_code,
            _ => r.groups[0].error_code,
        };
        assert_eq!(err, 16, "NOT_COORDINATOR at v{v}");
    }
    // Every group is listed by exactly one broker (its coordinator), at every version.
    for v in 0..=5 {
        let mut seen = Vec::new();
        for addr in cluster.broker_addrs() {
            let mut conn = TcpStream::connect(addr).await.expect("connect");
            let r: ListGroupsResponse = call(
                &mut conn,
                ApiKey::ListGroups,
                v,
                &ListGroupsRequest::default(),
            )
            .await;
            seen.extend(r.groups.iter().map(|g| g.group_id.to_string()));
            if v >= 4 {
                let filtered = ListGroupsRequest::default().with_states_filter(vec![s("Stable")]);
                let r: ListGroupsResponse = call(&mut conn, ApiKey::ListGroups, v, &filtered).await;
                assert!(r.groups.is_empty(), "no Stable group");
            }
        }
        seen.sort();
        let want: Vec<String> = (2..=8).map(|v| format!("offsets-v{v}")).collect();
        assert_eq!(seen, want, "ListGroups v{v}");
    }
}

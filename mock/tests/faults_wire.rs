//! Fault injection at the byte level: an injected error is answered at every served version of
//! the whole-request APIs, in the right place of the response; partition and topic scoping; a
//! moved leader's NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH.

mod common;
use common::{call, s};

use ferrokafka_mock::{ApiKey as Api, Fault, MockCluster, MockConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic,
};
use kafka_protocol::messages::*;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const COORDINATOR_NOT_AVAILABLE: i16 = 15;

/// The code an injected error produced, read where each API carries it.
async fn injected_code(conn: &mut TcpStream, key: ApiKey, v: i16) -> i16 {
    let group = || GroupId(s("g"));
    match key {
        ApiKey::InitProducerId => {
            let r: InitProducerIdResponse =
                call(conn, key, v, &InitProducerIdRequest::default()).await;
            assert_eq!((r.producer_id.0, r.producer_epoch), (-1, -1));
            r.error_code
        }
        ApiKey::FindCoordinator => {
            let req = if v >= 4 {
                FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g")])
            } else {
                FindCoordinatorRequest::default().with_key(s("g"))
            };
            let r: FindCoordinatorResponse = call(conn, key, v, &req).await;
            if v >= 4 {
                r.coordinators.first().map_or(0, |c| c.error_code)
            } else {
                r.error_code
            }
        }
        ApiKey::JoinGroup => {
            let req = JoinGroupRequest::default()
                .with_group_id(group())
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(if v >= 1 { 10_000 } else { -1 })
                .with_protocol_type(s("consumer"))
                .with_protocols(vec![
                    JoinGroupRequestProtocol::default().with_name(s("range"))
                ]);
            let r: JoinGroupResponse = call(conn, key, v, &req).await;
            r.error_code
        }
        ApiKey::SyncGroup => {
            let req = SyncGroupRequest::default()
                .with_group_id(group())
                .with_generation_id(1)
                .with_member_id(s("m"));
            let r: SyncGroupResponse = call(conn, key, v, &req).await;
            r.error_code
        }
        ApiKey::Heartbeat => {
            let req = HeartbeatRequest::default()
                .with_group_id(group())
                .with_generation_id(1)
                .with_member_id(s("m"));
            let r: HeartbeatResponse = call(conn, key, v, &req).await;
            r.error_code
        }
        ApiKey::LeaveGroup => {
            let req = if v >= 3 {
                LeaveGroupRequest::default()
                    .with_group_id(group())
                    .with_members(vec![MemberIdentity::default().with_member_id(s("m"))])
            } else {
                LeaveGroupRequest::default()
                    .with_group_id(group())
                    .with_member_id(s("m"))
            };
            let r: LeaveGroupResponse = call(conn, key, v, &req).await;
            r.error_code
        }
        ApiKey::OffsetCommit => {
            let req = OffsetCommitRequest::default()
                .with_group_id(group())
                .with_topics(vec![OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s("t")))
                    .with_partitions(vec![OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(5)])]);
            let r: OffsetCommitResponse = call(conn, key, v, &req).await;
            r.topics
                .first()
                .and_then(|t| t.partitions.first())
                .map_or(0, |p| p.error_code)
        }
        ApiKey::OffsetFetch => {
            let topics = vec![OffsetFetchRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partition_indexes(vec![0])];
            let req = if v >= 8 {
                OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id(group())
                    .with_topics(None)])
            } else {
                OffsetFetchRequest::default()
                    .with_group_id(group())
                    .with_topics(Some(topics))
            };
            let r: OffsetFetchResponse = call(conn, key, v, &req).await;
            if v >= 8 {
                r.groups.first().map_or(0, |g| g.error_code)
            } else if v >= 2 {
                r.error_code
            } else {
                r.topics
                    .first()
                    .and_then(|t| t.partitions.first())
                    .map_or(0, |p| p.error_code)
            }
        }
        other => panic!("not a whole-request API: {other:?}"),
    }
}

#[tokio::test]
async fn injected_errors_answer_every_served_version_of_the_whole_request_apis() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    let mut conn = TcpStream::connect(cluster.broker_addrs()[0])
        .await
        .expect("connect");
    let versions: ApiVersionsResponse = call(
        &mut conn,
        ApiKey::ApiVersions,
        0,
        &ApiVersionsRequest::default(),
    )
    .await;
    let keys = [
        ApiKey::InitProducerId,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
    ];
    let mut checked = 0;
    for key in keys {
        let range = versions
            .api_keys
            .iter()
            .find(|a| a.api_key == key as i16)
            .expect("served");
        for v in range.min_version..=range.max_version {
            cluster.inject(Fault::errors(key as i16, 1, COORDINATOR_NOT_AVAILABLE).on_broker(1));
            let code = injected_code(&mut conn, key, v).await;
            assert_eq!(code, COORDINATOR_NOT_AVAILABLE, "{key:?} v{v}");
            assert!(cluster.pending_faults().is_empty(), "{key:?} v{v} used it");
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked} versions");
    // Not applied: the injected OffsetCommits stored nothing.
    let r: OffsetFetchResponse = call(
        &mut conn,
        ApiKey::OffsetFetch,
        7,
        &OffsetFetchRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_topics(None),
    )
    .await;
    assert_eq!(r.error_code, 0);
    assert!(r
        .topics
        .iter()
        .all(|t| t.partitions.iter().all(|p| p.committed_offset == -1)));
}

fn fetch(topic: &str, partition: i32, epoch: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(s(topic)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(epoch)
                .with_partition_max_bytes(1 << 20)])])
}

fn fetch_code(r: &FetchResponse) -> i16 {
    r.responses
        .first()
        .and_then(|t| t.partitions.first())
        .map_or(-1, |p| p.error_code)
}

#[tokio::test]
async fn scoped_faults_and_a_moved_leader_on_the_wire() {
    // On a thread of its own: the same control methods on MockClusterThread.
    let cluster = MockCluster::start_in_thread(MockConfig::default().brokers(2)).expect("mock");
    cluster.create_topic("a", 2).expect("topic");
    cluster.create_topic("b", 1).expect("topic");
    let (leader, epoch) = cluster.leader("a", 1).expect("partition");
    let other = leader % 2 + 1;
    let addr = |id: i32| cluster.broker_addrs()[(id - 1) as usize];
    let mut conn = TcpStream::connect(addr(leader)).await.expect("connect");

    // A fault on another broker does not touch this one's requests.
    cluster.inject(Fault::errors(Api::Fetch, 1, 56).on_broker(other));
    // Metadata: only topic a gets the error.
    cluster.inject(Fault::errors(Api::Metadata, 1, 3).on_topic("a"));
    let md: MetadataResponse = call(
        &mut conn,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(Some(
            ["a", "b"]
                .iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(s(t)))))
                .collect(),
        )),
    )
    .await;
    let codes: Vec<(String, i16, usize)> = md
        .topics
        .iter()
        .map(|t| {
            let name = t.name.as_ref().map_or(String::new(), |n| n.to_string());
            (name, t.error_code, t.partitions.len())
        })
        .collect();
    assert_eq!(codes, vec![("a".into(), 3, 0), ("b".into(), 0, 1)]);

    // Fetch: the fault on a-1 answers it; the next fetch is served.
    cluster.inject(Fault::errors(Api::Fetch, 1, 6).on_partition("a", 1));
    let r: FetchResponse = call(&mut conn, ApiKey::Fetch, 12, &fetch("a", 1, epoch)).await;
    assert_eq!(fetch_code(&r), 6);
    let r: FetchResponse = call(&mut conn, ApiKey::Fetch, 12, &fetch("a", 1, epoch)).await;
    assert_eq!(fetch_code(&r), 0);

    // ListOffsets: scoped to a-1, a request for a-1 only.
    cluster.inject(Fault::errors(Api::ListOffsets, 1, 6).on_partition("a", 1));
    let lo = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(TopicName(s("a")))
        .with_partitions(vec![ListOffsetsPartition::default()
            .with_partition_index(1)
            .with_timestamp(-1)
            .with_current_leader_epoch(-1)])]);
    let r: ListOffsetsResponse = call(&mut conn, ApiKey::ListOffsets, 7, &lo).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 6);
    let r: ListOffsetsResponse = call(&mut conn, ApiKey::ListOffsets, 7, &lo).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(
        cluster.pending_faults().len(),
        1,
        "only the other broker's fault is left"
    );
    cluster.control().clear_faults();

    // The leader moves: the old one says NOT_LEADER_OR_FOLLOWER, the new one fences the old
    // epoch and serves the new one.
    assert_eq!(cluster.move_leader("a", 1, other), Ok(epoch + 1));
    let r: FetchResponse = call(&mut conn, ApiKey::Fetch, 12, &fetch("a", 1, epoch)).await;
    assert_eq!(fetch_code(&r), 6, "NOT_LEADER_OR_FOLLOWER");
    let mut new = TcpStream::connect(addr(other)).await.expect("connect");
    let r: FetchResponse = call(&mut new, ApiKey::Fetch, 12, &fetch("a", 1, epoch)).await;
    assert_eq!(fetch_code(&r), 74, "FENCED_LEADER_EPOCH");
    let r: FetchResponse = call(&mut new, ApiKey::Fetch, 12, &fetch("a", 1, epoch + 1)).await;
    assert_eq!(fetch_code(&r), 0);
    assert!(
        cluster.move_leader("a", 9, other).is_err(),
        "no such partition"
    );
    assert!(cluster.move_leader("a", 1, 7).is_err(), "no such broker");

    let log = cluster.requests();
    assert!(log
        .iter()
        .any(|r| r.api == Api::Fetch && r.broker == other && r.client_id == common::CLIENT_ID));
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("stopped");
}

#[tokio::test]
async fn a_broker_down_closes_its_connections_and_port_and_comes_back_on_it() {
    let cluster = MockCluster::start(MockConfig::default().brokers(2))
        .await
        .expect("mock");
    let addr = cluster.broker_addrs()[1];
    let mut open = TcpStream::connect(addr).await.expect("connect");
    let mut other = TcpStream::connect(cluster.broker_addrs()[0])
        .await
        .expect("connect");
    let _: ApiVersionsResponse = call(
        &mut open,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default(),
    )
    .await;
    assert!(cluster.set_broker_down(2));
    assert!(!cluster.set_broker_down(9), "no broker 9");
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(1), open.read(&mut byte))
        .await
        .expect("closed at once");
    assert!(matches!(n, Ok(0) | Err(_)), "the open connection is closed");
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "still accepting");
        tokio::task::yield_now().await;
    }
    // The other broker still lists it.
    let md: MetadataResponse = call(
        &mut other,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default(),
    )
    .await;
    assert_eq!(md.brokers.len(), 2);

    assert!(cluster.set_broker_up(2));
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    let mut back = loop {
        match TcpStream::connect(addr).await {
            Ok(c) => break c,
            Err(_) => {
                assert!(std::time::Instant::now() < deadline, "not listening again");
                tokio::task::yield_now().await;
            }
        }
    };
    let r: ApiVersionsResponse = call(
        &mut back,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default(),
    )
    .await;
    assert_eq!(r.error_code, 0, "served on the same port");
}

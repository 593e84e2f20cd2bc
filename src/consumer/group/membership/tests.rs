//! Deterministic tests of every transition and error code, driven with explicit instants.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::consumer::group::assignor::AssignmentStrategy;
use crate::consumer::group::metadata::{Assignment, Subscription};

const RANGE_COOP: &[AssignmentStrategy] = &[
    AssignmentStrategy::Range,
    AssignmentStrategy::CooperativeSticky,
];
const COOP: &[AssignmentStrategy] = &[AssignmentStrategy::CooperativeSticky];

/// `retry.backoff.ms`'s Java default.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn config(strategies: &[AssignmentStrategy], instance: Option<&str>) -> GroupConfig {
    GroupConfig {
        partition_assignment_strategy: strategies.to_vec(),
        group_instance_id: instance.map(str::to_string),
        ..GroupConfig::default()
    }
}

struct H {
    m: GroupMembership,
    t0: Instant,
}

impl H {
    fn new(strategies: &[AssignmentStrategy], instance: Option<&str>) -> H {
        let t0 = Instant::now();
        H {
            m: GroupMembership::new("g", config(strategies, instance), RETRY_BACKOFF, t0).unwrap(),
            t0,
        }
    }
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }
    /// Every queued action; a `Revoked` is handled at once (as if the listener returned).
    fn drain(&mut self) -> Vec<GroupAction> {
        std::iter::from_fn(|| {
            let a = self.m.poll_action();
            self.m.revocation_done();
            a
        })
        .collect()
    }
    /// subscribe + coordinator found; returns the JoinGroup request.
    fn start(&mut self, topics: &[&str]) -> JoinGroupRequest {
        self.m
            .subscribe(self.t0, topics.iter().map(|t| t.to_string()));
        assert!(matches!(
            self.drain()[..],
            [GroupAction::FindCoordinator { .. }]
        ));
        self.m.on_coordinator_found(self.t0, 1);
        one_join(self.drain())
    }
    /// Joins as a follower of generation `gen` with `assigned`.
    fn join_follower(
        &mut self,
        now: Instant,
        generation: i32,
        member: &str,
        assigned: &[TopicPartition],
    ) -> Vec<GroupAction> {
        let protocol = self.m.config.partition_assignment_strategy[0].name();
        self.m
            .on_join_group_response(now, join_ok(generation, member, "leader-x", protocol));
        let acts = self.drain();
        assert!(
            matches!(acts[..], [GroupAction::SendSyncGroup(ref s)] if s.assignments.is_empty() && s.generation_id == generation)
        );
        self.m.on_sync_group_response(now, sync_ok(assigned, None));
        self.drain()
    }
    fn stable(&mut self, topics: &[&str], assigned: &[TopicPartition]) {
        self.start(topics);
        self.join_follower(self.t0, 5, "m-1", assigned);
        assert!(matches!(self.m.state(), MemberState::Stable { .. }));
    }
}

fn join_ok(generation: i32, member: &str, leader: &str, protocol: &str) -> JoinGroupResult {
    JoinGroupResult {
        error_code: 0,
        generation_id: generation,
        protocol_type: Some("consumer".into()),
        protocol_name: Some(protocol.into()),
        leader: leader.into(),
        member_id: member.into(),
        members: vec![],
        skip_assignment: false,
    }
}

fn join_err(code: i16, member: &str) -> JoinGroupResult {
    JoinGroupResult {
        error_code: code,
        generation_id: -1,
        member_id: member.into(),
        ..JoinGroupResult::default()
    }
}

fn sync_ok(assigned: &[TopicPartition], protocol: Option<&str>) -> SyncGroupResult {
    SyncGroupResult {
        error_code: 0,
        protocol_type: protocol.map(|_| "consumer".to_string()),
        protocol_name: protocol.map(str::to_string),
        assignment: Assignment {
            partitions: assigned.to_vec(),
            user_data: None,
        }
        .encode()
        .unwrap(),
    }
}

fn one_join(acts: Vec<GroupAction>) -> JoinGroupRequest {
    match &acts[..] {
        [GroupAction::SendJoinGroup(j)] => j.clone(),
        other => panic!("expected one JoinGroup, got {other:?}"),
    }
}

fn owned_in(j: &JoinGroupRequest) -> Vec<TopicPartition> {
    Subscription::decode(&j.protocols[0].metadata)
        .unwrap()
        .owned_partitions
}

#[test]
fn first_join_as_follower() {
    let mut h = H::new(RANGE_COOP, None);
    assert!(
        h.m.poll_timeout().is_none(),
        "nothing to do before subscribe"
    );
    let j = h.start(&["b", "a"]);
    assert_eq!(j.group_id, "g");
    assert_eq!(j.member_id, "");
    assert_eq!(j.protocol_type, "consumer");
    assert_eq!(j.session_timeout_ms, 45_000);
    assert_eq!(j.rebalance_timeout_ms, 300_000);
    assert_eq!(j.group_instance_id, None);
    let names: Vec<_> = j.protocols.iter().map(|p| p.name).collect();
    assert_eq!(names, ["range", "cooperative-sticky"]);
    let sub = Subscription::decode(&j.protocols[1].metadata).unwrap();
    assert_eq!(sub.topics, ["a", "b"]);
    assert_eq!(sub.generation_id, -1);
    assert_eq!(h.m.member_id(), "");
    assert_eq!(h.m.generation_id(), -1);

    let acts = h.join_follower(h.t0, 5, "m-1", &[tp("a", 0), tp("b", 1)]);
    assert!(matches!(&acts[..], [GroupAction::Assigned(p)] if p == &[tp("a", 0), tp("b", 1)]));
    assert_eq!(h.m.generation_id(), 5);
    assert_eq!(h.m.member_id(), "m-1");
    assert_eq!(h.m.assignment().len(), 2);
    assert_eq!(h.m.rebalance_protocol(), RebalanceProtocol::Eager);
}

#[test]
fn heartbeats_every_interval() {
    let mut h = H::new(RANGE_COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    assert_eq!(h.m.poll_timeout(), Some(h.at(3_000)));
    h.m.handle_timeout(h.at(2_999));
    assert!(h.drain().is_empty());
    h.m.handle_timeout(h.at(3_000));
    let acts = h.drain();
    assert!(
        matches!(&acts[..], [GroupAction::SendHeartbeat(hb)] if hb.generation_id == 5 && hb.member_id == "m-1")
    );
    // In flight: no second heartbeat.
    h.m.handle_timeout(h.at(6_500));
    assert!(h.drain().is_empty());
    h.m.on_heartbeat_response(h.at(6_500), 0);
    // Overdue (sent at 3 s + 3 s): goes out at once.
    assert!(matches!(h.drain()[..], [GroupAction::SendHeartbeat(_)]));
}

#[test]
fn leader_assigns_with_the_chosen_assignor() {
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["t"]);
    let meta = |topics: &[&str]| {
        Subscription {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            ..Subscription::default()
        }
        .encode(3)
        .unwrap()
    };
    let mut resp = join_ok(7, "m-1", "m-1", "range");
    resp.members = vec![
        JoinedMember {
            member_id: "m-1".into(),
            group_instance_id: None,
            metadata: meta(&["t"]),
        },
        JoinedMember {
            member_id: "m-2".into(),
            group_instance_id: None,
            metadata: meta(&["t", "u"]),
        },
        // Hostile metadata from a third member: subscribes to nothing, no panic, no allocation.
        JoinedMember {
            member_id: "m-3".into(),
            group_instance_id: None,
            metadata: Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff]),
        },
    ];
    h.m.on_join_group_response(h.t0, resp);
    let acts = h.drain();
    assert!(matches!(&acts[..], [GroupAction::DescribeTopics { topics }] if topics == &["t", "u"]));
    assert!(matches!(h.m.state(), MemberState::AwaitingMetadata { .. }));
    let counts: PartitionCounts = [("t".to_string(), 3), ("u".to_string(), 1)]
        .into_iter()
        .collect();
    h.m.on_partition_counts(h.t0, &counts);
    let acts = h.drain();
    let GroupAction::SendSyncGroup(sync) = &acts[0] else {
        panic!("{acts:?}")
    };
    assert_eq!(sync.protocol_name, "range");
    let decoded: Vec<(String, Vec<TopicPartition>)> = sync
        .assignments
        .iter()
        .map(|(m, b)| (m.clone(), Assignment::decode(b).unwrap().partitions))
        .collect();
    assert_eq!(
        decoded,
        vec![
            ("m-1".to_string(), vec![tp("t", 0), tp("t", 1)]),
            ("m-2".to_string(), vec![tp("t", 2), tp("u", 0)]),
            ("m-3".to_string(), vec![]),
        ]
    );
    h.m.on_sync_group_response(h.t0, sync_ok(&[tp("t", 0), tp("t", 1)], Some("range")));
    assert!(h.m.generation().unwrap().leader);
    // Partitions added to t: the leader rejoins.
    h.drain();
    let more: PartitionCounts = [("t".to_string(), 4), ("u".to_string(), 1)]
        .into_iter()
        .collect();
    h.m.on_metadata_update(h.at(10), &counts);
    assert!(h.drain().is_empty());
    h.m.on_metadata_update(h.at(10), &more);
    let acts = h.drain();
    assert!(
        matches!(acts[0], GroupAction::Revoked(_)),
        "eager revokes first"
    );
    assert_eq!(one_join(acts[1..].to_vec()).member_id, "m-1");
}

#[test]
fn member_id_required_rejoins_at_once_with_the_given_id() {
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_err(79, "m-new"));
    assert_eq!(one_join(h.drain()).member_id, "m-new");
}

#[test]
fn unknown_member_id_on_join_resets_the_id() {
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_err(79, "m-new"));
    h.drain();
    h.m.on_join_group_response(h.t0, join_err(25, ""));
    assert_eq!(one_join(h.drain()).member_id, "");
}

#[test]
fn rebalance_in_progress_on_join_retries_after_backoff() {
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_err(79, "m-1"));
    h.drain();
    h.m.on_join_group_response(h.t0, join_err(27, "m-1"));
    assert!(h.drain().is_empty());
    assert_eq!(h.m.poll_timeout(), Some(h.at(100)));
    h.m.handle_timeout(h.at(100));
    assert_eq!(one_join(h.drain()).member_id, "m-1");
}

#[test]
fn coordinator_errors_on_join_find_the_coordinator_again() {
    for code in [14, 15, 16] {
        let mut h = H::new(RANGE_COOP, None);
        h.start(&["a"]);
        h.m.on_join_group_response(h.t0, join_err(code, ""));
        assert!(h.drain().is_empty(), "code {code}: backoff first");
        assert_eq!(h.m.coordinator(), None);
        h.m.handle_timeout(h.at(100));
        assert!(matches!(
            h.drain()[..],
            [GroupAction::FindCoordinator { .. }]
        ));
        h.m.on_coordinator_found(h.at(110), 2);
        one_join(h.drain());
        assert_eq!(h.m.coordinator(), Some(2));
    }
}

#[test]
fn fenced_instance_is_final() {
    let mut h = H::new(RANGE_COOP, Some("i-1"));
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 82);
    let acts = h.drain();
    assert!(matches!(&acts[0], GroupAction::Lost(p) if p == &[tp("a", 0)]));
    assert!(
        matches!(&acts[1], GroupAction::Error(e) if e.broker_code() == Some(82) && e.is_fatal())
    );
    assert!(matches!(h.m.state(), MemberState::Fenced(_)));
    h.m.on_poll(h.at(4_000));
    h.m.handle_timeout(h.at(100_000));
    assert!(h.drain().is_empty());
    // Also on JoinGroup.
    let mut h = H::new(RANGE_COOP, Some("i-1"));
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_err(82, ""));
    assert!(matches!(h.drain()[..], [GroupAction::Error(_)]));
    assert!(matches!(h.m.state(), MemberState::Fenced(_)));
}

#[test]
fn group_authorization_failure_is_fatal_and_final() {
    let denied = |e: &Error| e.broker_code() == Some(30) && e.is_fatal() && !e.is_retriable();
    // On JoinGroup.
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_err(30, ""));
    assert!(matches!(&h.drain()[..], [GroupAction::Error(e)] if denied(e)));
    assert!(matches!(
        h.m.state(),
        MemberState::Failed {
            retry_on_poll: false,
            ..
        }
    ));
    let e = h.m.fatal_error().expect("stopped for good");
    assert!(e.to_string().contains("--operation Read"), "{e}");
    // No rejoin on the next poll, no timer, and commits report the same error.
    h.m.on_poll(h.at(1));
    assert!(h.drain().is_empty());
    assert!(h.m.poll_timeout().is_none());
    assert!(matches!(h.m.commit_identity(), Err(e) if denied(&e)));
    // On FindCoordinator (the broker checks DESCRIBE on the group there first).
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.drain();
    h.m.on_find_coordinator_error(h.t0, Error::from_broker_code(30));
    assert!(matches!(&h.drain()[..], [GroupAction::Error(e)] if denied(e)));
    assert!(h.m.fatal_error().is_some_and(denied));
}

#[test]
fn inconsistent_protocol_is_final() {
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_err(23, ""));
    assert!(matches!(&h.drain()[..], [GroupAction::Error(e)] if e.broker_code() == Some(23)));
    h.m.on_poll(h.at(1));
    assert!(h.drain().is_empty());
    // The coordinator choosing an assignor we did not offer is the same failure.
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_ok(1, "m", "x", "roundrobin"));
    assert!(matches!(&h.drain()[..], [GroupAction::Error(e)] if e.broker_code() == Some(23)));
    assert!(matches!(
        h.m.state(),
        MemberState::Failed {
            retry_on_poll: false,
            ..
        }
    ));
}

#[test]
fn sync_errors() {
    // REBALANCE_IN_PROGRESS: rejoin at once with the same member id.
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_ok(5, "m-1", "x", "range"));
    h.drain();
    h.m.on_sync_group_response(
        h.t0,
        SyncGroupResult {
            error_code: 27,
            ..Default::default()
        },
    );
    assert_eq!(one_join(h.drain()).member_id, "m-1");
    // UNKNOWN_MEMBER_ID: reset.
    h.m.on_join_group_response(h.t0, join_ok(6, "m-1", "x", "range"));
    h.drain();
    h.m.on_sync_group_response(
        h.t0,
        SyncGroupResult {
            error_code: 25,
            ..Default::default()
        },
    );
    assert_eq!(one_join(h.drain()).member_id, "");
    // ILLEGAL_GENERATION: keep the id.
    h.m.on_join_group_response(h.t0, join_ok(7, "m-2", "x", "range"));
    h.drain();
    h.m.on_sync_group_response(
        h.t0,
        SyncGroupResult {
            error_code: 22,
            ..Default::default()
        },
    );
    assert_eq!(one_join(h.drain()).member_id, "m-2");
    // NOT_COORDINATOR: find it again, then rejoin.
    h.m.on_join_group_response(h.t0, join_ok(8, "m-2", "x", "range"));
    h.drain();
    h.m.on_sync_group_response(
        h.t0,
        SyncGroupResult {
            error_code: 16,
            ..Default::default()
        },
    );
    assert!(h.drain().is_empty());
    h.m.handle_timeout(h.at(100));
    assert!(matches!(
        h.drain()[..],
        [GroupAction::FindCoordinator { .. }]
    ));
    h.m.on_coordinator_found(h.at(100), 3);
    assert_eq!(one_join(h.drain()).member_id, "m-2");
    // A SyncGroup protocol name differing from JoinGroup's.
    h.m.on_join_group_response(h.t0, join_ok(9, "m-2", "x", "range"));
    h.drain();
    h.m.on_sync_group_response(h.t0, sync_ok(&[], Some("roundrobin")));
    assert!(matches!(&h.drain()[..], [GroupAction::Error(e)] if e.broker_code() == Some(23)));
}

#[test]
fn undecodable_assignment_rejoins_after_backoff() {
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_join_group_response(h.t0, join_ok(5, "m-1", "x", "range"));
    h.drain();
    h.m.on_sync_group_response(
        h.t0,
        SyncGroupResult {
            assignment: Bytes::from_static(&[0, 3, 0x7f, 0xff, 0xff, 0xff]),
            ..Default::default()
        },
    );
    assert!(h.drain().is_empty());
    h.m.handle_timeout(h.at(100));
    assert_eq!(one_join(h.drain()).member_id, "m-1");
}

#[test]
fn heartbeat_rebalance_eager_revokes_all_first() {
    let mut h = H::new(RANGE_COOP, None);
    h.stable(&["a"], &[tp("a", 0), tp("a", 1)]);
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 27);
    let acts = h.drain();
    assert!(matches!(&acts[0], GroupAction::Revoked(p) if p.len() == 2));
    let j = one_join(acts[1..].to_vec());
    assert_eq!(j.member_id, "m-1");
    assert!(owned_in(&j).is_empty());
    assert!(h.m.assignment().is_empty());
}

#[test]
fn heartbeat_rebalance_cooperative_keeps_partitions() {
    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0), tp("a", 1)]);
    assert_eq!(h.m.rebalance_protocol(), RebalanceProtocol::Cooperative);
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 27);
    let j = one_join(h.drain());
    assert_eq!(owned_in(&j), vec![tp("a", 0), tp("a", 1)]);
    assert_eq!(
        Subscription::decode(&j.protocols[0].metadata)
            .unwrap()
            .generation_id,
        5
    );
    assert_eq!(h.m.assignment().len(), 2);
}

#[test]
fn heartbeat_illegal_generation_and_unknown_member_lose_partitions() {
    for (code, member) in [(22, "m-1"), (25, "")] {
        let mut h = H::new(COOP, None);
        h.stable(&["a"], &[tp("a", 0)]);
        h.m.handle_timeout(h.at(3_000));
        h.drain();
        h.m.on_heartbeat_response(h.at(3_001), code);
        let acts = h.drain();
        assert!(
            matches!(&acts[0], GroupAction::Lost(p) if p == &[tp("a", 0)]),
            "{code}"
        );
        let j = one_join(acts[1..].to_vec());
        assert_eq!(j.member_id, member);
        assert!(owned_in(&j).is_empty());
        assert_eq!(h.m.generation_id(), -1);
    }
}

#[test]
fn heartbeat_not_coordinator_keeps_the_generation() {
    let mut h = H::new(RANGE_COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 16);
    assert!(h.drain().is_empty());
    assert!(matches!(h.m.state(), MemberState::Stable { .. }));
    h.m.handle_timeout(h.at(3_101));
    assert!(matches!(
        h.drain()[..],
        [GroupAction::FindCoordinator { .. }]
    ));
    h.m.on_coordinator_found(h.at(3_200), 9);
    assert!(matches!(&h.drain()[..], [GroupAction::SendHeartbeat(hb)] if hb.generation_id == 5));
    assert_eq!(h.m.assignment().len(), 1);
    // A retriable, non-coordinator error retries the heartbeat after the backoff.
    h.m.on_heartbeat_response(h.at(3_300), 7); // REQUEST_TIMED_OUT
    assert_eq!(h.m.poll_timeout(), Some(h.at(3_400)));
}

#[test]
fn session_timeout_without_heartbeat_response_finds_the_coordinator() {
    let mut h = H::new(RANGE_COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.on_poll(h.at(40_000));
    h.m.handle_timeout(h.at(3_000));
    h.drain(); // heartbeat sent, never answered
    h.m.handle_timeout(h.at(44_999));
    assert!(h.drain().is_empty());
    assert_eq!(h.m.poll_timeout(), Some(h.at(45_000)));
    h.m.handle_timeout(h.at(45_000));
    assert_eq!(h.m.coordinator(), None);
    h.m.handle_timeout(h.at(45_100));
    assert!(matches!(
        h.drain()[..],
        [GroupAction::FindCoordinator { .. }]
    ));
}

#[test]
fn max_poll_interval_leaves_and_rejoins_on_poll() {
    let mut h = H::new(RANGE_COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    // Heartbeats keep the session alive, but the application stopped polling.
    for s in (3..300).step_by(3) {
        h.m.handle_timeout(h.at(s * 1000));
        h.drain();
        h.m.on_heartbeat_response(h.at(s * 1000), 0);
    }
    h.m.handle_timeout(h.at(300_000));
    let acts = h.drain();
    assert!(
        matches!(&acts[0], GroupAction::SendLeaveGroup(l) if l.member_id == "m-1" && l.reason.contains("poll"))
    );
    assert!(matches!(&acts[1], GroupAction::Lost(p) if p == &[tp("a", 0)]));
    assert!(matches!(
        h.m.state(),
        MemberState::Unjoined {
            rejoin_on_poll: true
        }
    ));
    assert!(h.m.poll_timeout().is_none());
    h.m.on_poll(h.at(400_000));
    assert_eq!(one_join(h.drain()).member_id, "");
}

#[test]
fn static_member_poll_timeout_sends_no_leave() {
    let mut h = H::new(RANGE_COOP, Some("i-1"));
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.handle_timeout(h.at(300_000));
    let acts = h.drain();
    assert!(matches!(&acts[..], [GroupAction::Lost(_)]), "{acts:?}");
}

#[test]
fn static_membership_fields_and_close() {
    let mut h = H::new(RANGE_COOP, Some("i-1"));
    let j = h.start(&["a"]);
    assert_eq!(j.group_instance_id.as_deref(), Some("i-1"));
    h.m.on_join_group_response(h.t0, join_ok(5, "m-1", "x", "range"));
    assert!(
        matches!(&h.drain()[..], [GroupAction::SendSyncGroup(s)] if s.group_instance_id.as_deref() == Some("i-1"))
    );
    h.m.on_sync_group_response(h.t0, sync_ok(&[tp("a", 0)], None));
    h.drain();
    h.m.handle_timeout(h.at(3_000));
    assert!(
        matches!(&h.drain()[..], [GroupAction::SendHeartbeat(hb)] if hb.group_instance_id.as_deref() == Some("i-1"))
    );
    assert_eq!(h.m.group_instance_id(), Some("i-1"));
    // Close: the listener hears Revoked; no LeaveGroup so a restart keeps the partitions.
    h.m.close(h.at(3_001));
    assert!(matches!(&h.drain()[..], [GroupAction::Revoked(p)] if p == &[tp("a", 0)]));
    assert!(matches!(h.m.state(), MemberState::Closed));
}

#[test]
fn dynamic_member_close_sends_leave() {
    let mut h = H::new(RANGE_COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.close(h.at(1));
    let acts = h.drain();
    assert!(matches!(&acts[0], GroupAction::Revoked(_)));
    assert!(
        matches!(&acts[1], GroupAction::SendLeaveGroup(l) if l.member_id == "m-1" && l.group_instance_id.is_none())
    );
    assert!(matches!(h.m.state(), MemberState::Leaving));
    h.m.on_leave_group_response(h.at(2), 0);
    assert!(matches!(h.m.state(), MemberState::Closed));
    // Closing before ever joining sends nothing.
    let mut h = H::new(RANGE_COOP, None);
    h.m.close(h.t0);
    assert!(h.drain().is_empty());
    assert!(matches!(h.m.state(), MemberState::Closed));
}

#[test]
fn cooperative_revocation_triggers_a_follow_up_rejoin() {
    let mut h = H::new(COOP, None);
    h.start(&["a"]);
    let acts = h.join_follower(h.t0, 5, "m-1", &[tp("a", 0), tp("a", 1), tp("a", 2)]);
    assert!(matches!(&acts[..], [GroupAction::Assigned(p)] if p.len() == 3));
    // A new member joined; the leader takes a-2 away from us (phase 1).
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 27);
    one_join(h.drain());
    h.m.on_join_group_response(h.at(3_002), join_ok(6, "m-1", "x", "cooperative-sticky"));
    h.drain();
    h.m.on_sync_group_response(
        h.at(3_003),
        sync_ok(&[tp("a", 0), tp("a", 1)], Some("cooperative-sticky")),
    );
    let acts = h.drain();
    assert!(matches!(&acts[0], GroupAction::Revoked(p) if p == &[tp("a", 2)]));
    assert!(matches!(&acts[1], GroupAction::Assigned(p) if p.is_empty()));
    // Phase 2: rejoin at once, owning only what is left, in generation 6.
    let j = one_join(acts[2..].to_vec());
    assert_eq!(owned_in(&j), vec![tp("a", 0), tp("a", 1)]);
    assert_eq!(
        Subscription::decode(&j.protocols[0].metadata)
            .unwrap()
            .generation_id,
        6
    );
    h.m.on_join_group_response(h.at(3_004), join_ok(7, "m-1", "x", "cooperative-sticky"));
    h.drain();
    h.m.on_sync_group_response(h.at(3_005), sync_ok(&[tp("a", 0), tp("a", 1)], None));
    let acts = h.drain();
    assert!(
        matches!(&acts[..], [GroupAction::Assigned(p)] if p.is_empty()),
        "{acts:?}"
    );
    assert_eq!(h.m.generation_id(), 7);
}

#[test]
fn commit_generation_covers_the_cooperative_revocation() {
    let mut h = H::new(COOP, None);
    h.start(&["a"]);
    h.join_follower(h.t0, 5, "m-1", &[tp("a", 0), tp("a", 1)]);
    assert_eq!(h.m.commit_generation(), Some((5, "m-1")));
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 27);
    one_join(h.drain());
    // Rejoining, still owning a-0 and a-1 (assigned in 5): commits carry generation 5.
    assert_eq!(h.m.commit_generation(), Some((5, "m-1")));
    h.m.on_join_group_response(h.at(3_002), join_ok(6, "m-1", "x", "cooperative-sticky"));
    h.drain();
    h.m.on_sync_group_response(
        h.at(3_003),
        sync_ok(&[tp("a", 0)], Some("cooperative-sticky")),
    );
    let acts = h.drain();
    assert!(matches!(&acts[0], GroupAction::Revoked(p) if p == &[tp("a", 1)]));
    // The follow-up rejoin already started, but the group is in generation 6 until the
    // revocation's listener returned: its commit must carry 6, not 5 (ILLEGAL_GENERATION).
    assert!(h.m.generation().is_none());
    assert_eq!(h.m.commit_generation(), Some((6, "m-1")));
}

#[test]
fn commit_generation_survives_eager_revocation_and_close_but_not_loss() {
    let mut h = H::new(RANGE_COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 27);
    assert!(matches!(h.drain()[0], GroupAction::Revoked(_)));
    // The JoinGroup waits for the revocation's listener: the group is still in generation 5.
    assert_eq!(h.m.commit_generation(), Some((5, "m-1")));
    h.m.on_join_group_response(h.at(3_002), join_ok(6, "m-1", "x", "range"));
    h.drain();
    h.m.on_sync_group_response(h.at(3_003), sync_ok(&[tp("a", 0)], None));
    h.drain();
    // Closed right after the assignment (before anyone saw it stable): the revocation's
    // commit carries the new generation.
    h.m.close(h.at(3_004));
    assert!(matches!(h.drain()[0], GroupAction::Revoked(_)));
    assert_eq!(h.m.commit_generation(), Some((6, "m-1")));

    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 25);
    assert!(matches!(h.drain()[0], GroupAction::Lost(_)));
    assert_eq!(
        h.m.commit_generation(),
        None,
        "lost: nothing to commit under"
    );
}

#[test]
fn commit_errors_apply_the_group_rules() {
    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    let e = h.m.on_commit_error(h.at(1), 27);
    assert_eq!(e.broker_code(), Some(27));
    assert_eq!(e.api(), Some("OffsetCommit"));
    one_join(h.drain());
    assert_eq!(h.m.assignment().len(), 1, "cooperative keeps partitions");

    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.on_commit_error(h.at(1), 22);
    let acts = h.drain();
    assert!(matches!(&acts[0], GroupAction::Lost(_)));
    assert_eq!(one_join(acts[1..].to_vec()).member_id, "m-1");

    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.on_commit_error(h.at(1), 25);
    let acts = h.drain();
    assert_eq!(one_join(acts[1..].to_vec()).member_id, "");

    let mut h = H::new(COOP, Some("i"));
    h.stable(&["a"], &[tp("a", 0)]);
    assert!(h.m.on_commit_error(h.at(1), 82).is_fatal());
    assert!(matches!(h.m.state(), MemberState::Fenced(_)));

    // A denied group stops the member for good; the partitions are lost.
    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    let e = h.m.on_commit_error(h.at(1), 30);
    assert!(e.is_fatal() && e.broker_code() == Some(30), "{e}");
    assert!(matches!(
        &h.drain()[..],
        [GroupAction::Lost(_), GroupAction::Error(_)]
    ));
    assert!(h.m.fatal_error().is_some());

    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.on_commit_error(h.at(1), 16);
    assert_eq!(h.m.coordinator(), None);
    assert!(matches!(h.m.state(), MemberState::Stable { .. }));
}

#[test]
fn transport_failures() {
    // JoinGroup lost: find the coordinator again, then resend.
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_request_failed(
        h.t0,
        GroupRequestKind::JoinGroup,
        Error::new(crate::ErrorKind::RequestTimeout),
    );
    h.m.handle_timeout(h.at(100));
    assert!(matches!(
        h.drain()[..],
        [GroupAction::FindCoordinator { .. }]
    ));
    h.m.on_find_coordinator_error(h.at(100), Error::from_broker_code(15));
    h.m.handle_timeout(h.at(200));
    assert!(matches!(
        h.drain()[..],
        [GroupAction::FindCoordinator { .. }]
    ));
    h.m.on_coordinator_found(h.at(200), 1);
    one_join(h.drain());
    // SyncGroup lost: rejoin.
    h.m.on_join_group_response(h.at(200), join_ok(5, "m-1", "x", "range"));
    h.drain();
    h.m.on_request_failed(
        h.at(200),
        GroupRequestKind::SyncGroup,
        Error::new(crate::ErrorKind::Disconnected { sent: true }),
    );
    assert!(matches!(h.m.state(), MemberState::Joining { .. }));
    // FindCoordinator refused by a permanent, non-fatal error (INVALID_REQUEST): fails,
    // retried on poll. (A denied group is fatal: `group_authorization_failure_is_fatal_and_final`.)
    h.m.handle_timeout(h.at(300));
    h.drain();
    h.m.on_find_coordinator_error(h.at(300), Error::from_broker_code(42));
    assert!(matches!(&h.drain()[..], [GroupAction::Error(_)]));
    assert!(matches!(
        h.m.state(),
        MemberState::Failed {
            retry_on_poll: true,
            ..
        }
    ));
}

#[test]
fn stale_responses_are_ignored() {
    let mut h = H::new(RANGE_COOP, None);
    h.start(&["a"]);
    h.m.on_heartbeat_response(h.t0, 25);
    h.m.on_sync_group_response(
        h.t0,
        SyncGroupResult {
            error_code: 25,
            ..Default::default()
        },
    );
    h.m.on_partition_counts(h.t0, &PartitionCounts::new());
    assert!(h.drain().is_empty());
    assert!(matches!(
        h.m.state(),
        MemberState::Joining {
            in_flight: true,
            ..
        }
    ));
}

#[test]
fn subscription_change_and_rejoin_during_sync() {
    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.subscribe(h.at(1), ["a".to_string(), "b".to_string()]);
    let j = one_join(h.drain());
    assert_eq!(
        Subscription::decode(&j.protocols[0].metadata)
            .unwrap()
            .topics,
        ["a", "b"]
    );
    // Same subscription again: nothing.
    h.m.on_join_group_response(h.at(2), join_ok(6, "m-1", "x", "cooperative-sticky"));
    h.drain();
    h.m.subscribe(h.at(2), ["a".to_string(), "b".to_string()]);
    assert!(h.drain().is_empty());
    // A rejoin asked for while SyncGroup is pending runs once stable.
    h.m.request_rejoin(h.at(3), "metadata changed");
    assert!(h.drain().is_empty());
    h.m.on_sync_group_response(h.at(4), sync_ok(&[tp("a", 0), tp("b", 0)], None));
    let acts = h.drain();
    assert!(matches!(&acts[0], GroupAction::Assigned(p) if p == &[tp("b", 0)]));
    assert_eq!(one_join(acts[1..].to_vec()).reason, "metadata changed");
}

#[test]
fn close_drops_a_queued_join_and_only_revokes_and_leaves() {
    let mut h = H::new(COOP, None);
    h.stable(&["a"], &[tp("a", 0), tp("a", 1)]);
    // A cooperative assignment that moves a partition away: Revoked, Assigned, then the
    // follow-up JoinGroup is queued behind them.
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 27);
    let _ = one_join(h.drain());
    h.m.on_join_group_response(
        h.at(3_002),
        join_ok(6, "m-1", "leader-x", "cooperative-sticky"),
    );
    h.drain();
    h.m.on_sync_group_response(h.at(3_003), sync_ok(&[tp("a", 0)], None));
    // Close before the queue was taken: the follow-up JoinGroup must not go out.
    h.m.close(h.at(3_004));
    let acts = h.drain();
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, GroupAction::SendJoinGroup(_))),
        "{acts:?}"
    );
    assert!(matches!(acts.first(), Some(GroupAction::Revoked(p)) if p == &[tp("a", 1)]));
    assert!(matches!(acts.last(), Some(GroupAction::SendLeaveGroup(l)) if l.member_id == "m-1"));
    // The commit made while revoking carries the generation the partitions were assigned in.
    assert_eq!(h.m.commit_generation(), Some((6, "m-1")));
}

#[test]
fn a_revocation_holds_back_the_next_actions_until_done() {
    let mut h = H::new(RANGE_COOP, None);
    h.stable(&["a"], &[tp("a", 0)]);
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 27);
    // Eager: Revoked first, and the JoinGroup behind it waits for the listener.
    assert!(matches!(h.m.poll_action(), Some(GroupAction::Revoked(_))));
    assert!(h.m.revoking());
    assert!(h.m.poll_action().is_none());
    assert!(h.m.has_actions(), "the JoinGroup is queued, not dropped");
    h.m.revocation_done();
    assert!(!h.m.revoking());
    one_join(h.drain());
}

#[test]
fn commit_identity_is_the_generation_or_the_revoked_one_else_rebalance_in_progress() {
    let mut h = H::new(RANGE_COOP, Some("i-1"));
    h.stable(&["a"], &[tp("a", 0)]);
    let id = h.m.commit_identity().unwrap();
    assert_eq!(
        (
            id.generation,
            id.member_id.as_str(),
            id.group_instance_id.as_deref()
        ),
        (5, "m-1", Some("i-1"))
    );
    h.m.handle_timeout(h.at(3_000));
    h.drain();
    h.m.on_heartbeat_response(h.at(3_001), 27);
    assert!(matches!(h.m.poll_action(), Some(GroupAction::Revoked(_))));
    // The listener commits under the generation the partitions were assigned in.
    assert_eq!(h.m.commit_identity().unwrap().generation, 5);
    h.m.revocation_done();
    one_join(h.drain());
    // Rejoining, no revocation under way: a commit would race the new generation.
    let e = h.m.commit_identity().unwrap_err();
    assert_eq!(e.broker_code(), Some(27), "{e}");
    assert!(!e.is_fatal(), "{e}");
}

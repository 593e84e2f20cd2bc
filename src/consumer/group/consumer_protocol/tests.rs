//! The KIP-848 membership core without sockets: join, reconcile (revoke before assign, owned
//! until the listener returned), fencing, leaving, poll timeout, errors.

use super::*;
use crate::types::GroupProtocol;

const BACKOFF: Duration = Duration::from_millis(100);

fn topic_id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn config(instance: Option<&str>) -> GroupConfig {
    let mut c = GroupConfig::default();
    c.try_set("group.protocol", "consumer").unwrap();
    if let Some(i) = instance {
        c.try_set("group.instance.id", i).unwrap();
    }
    c
}

fn member(now: Instant, instance: Option<&str>) -> ConsumerMembership {
    let mut m = ConsumerMembership::new("g", config(instance), BACKOFF, now).unwrap();
    m.subscribe(now, ["orders".to_string()]);
    assert!(matches!(
        m.poll_action(now),
        Some(GroupAction::FindCoordinator { .. })
    ));
    m.on_coordinator_found(now, 1);
    m
}

fn heartbeat(m: &mut ConsumerMembership, now: Instant) -> ConsumerHeartbeatRequest {
    match m.poll_action(now) {
        Some(GroupAction::SendConsumerHeartbeat(r)) => r,
        other => panic!("expected a heartbeat, got {other:?}"),
    }
}

fn ok(epoch: i32, assignment: Option<Vec<(Uuid, Vec<i32>)>>) -> ConsumerHeartbeatResult {
    ConsumerHeartbeatResult {
        error_code: 0,
        error_message: None,
        member_id: None,
        member_epoch: epoch,
        heartbeat_interval_ms: 1000,
        assignment,
    }
}

fn err(code: i16) -> ConsumerHeartbeatResult {
    ConsumerHeartbeatResult {
        error_code: code,
        error_message: Some("from the broker".into()),
        member_id: None,
        member_epoch: -1,
        heartbeat_interval_ms: 0,
        assignment: None,
    }
}

fn owned_in(r: &ConsumerHeartbeatRequest) -> Vec<i32> {
    r.owned
        .as_ref()
        .map(|o| o.iter().flat_map(|(_, ps)| ps.iter().copied()).collect())
        .unwrap_or_default()
}

/// A member that joined and owns `orders` 0 and 1 at epoch 1.
fn stable(now: Instant, instance: Option<&str>) -> ConsumerMembership {
    let mut m = member(now, instance);
    let join = heartbeat(&mut m, now);
    assert_eq!(join.member_epoch, 0);
    m.on_heartbeat_response(now, ok(1, Some(vec![(topic_id(7), vec![0, 1])])));
    assert_eq!(m.poll_resolve(now), Some(vec![topic_id(7)]));
    m.on_topic_names(now, [(topic_id(7), "orders".to_string())].into());
    match m.poll_action(now) {
        Some(GroupAction::Assigned(tps)) => assert_eq!(tps, vec![tp("orders", 0), tp("orders", 1)]),
        other => panic!("expected Assigned, got {other:?}"),
    }
    m
}

#[test]
fn joins_with_a_client_member_id_and_acknowledges_the_assignment_at_once() {
    let now = Instant::now();
    let mut m = member(now, None);
    let join = heartbeat(&mut m, now);
    assert_eq!(join.member_epoch, JOIN_EPOCH);
    assert_eq!(
        join.member_id.len(),
        22,
        "a base64 UUID: {}",
        join.member_id
    );
    assert_eq!(join.subscribed_topic_names, vec!["orders".to_string()]);
    // One heartbeat at a time.
    assert!(m.poll_action(now).is_none());
    m.on_heartbeat_response(now, ok(1, Some(vec![(topic_id(7), vec![0, 1])])));
    assert!(m.is_stable());
    // The partitions wait for their topic's name.
    assert!(m.poll_action(now).is_none());
    assert_eq!(m.poll_resolve(now), Some(vec![topic_id(7)]));
    m.on_topic_names(now, [(topic_id(7), "orders".to_string())].into());
    assert!(matches!(m.poll_action(now), Some(GroupAction::Assigned(t)) if t.len() == 2));
    // The acknowledgement goes out now, not after the interval, with the owned partitions.
    let ack = heartbeat(&mut m, now);
    assert_eq!(ack.member_epoch, 1);
    assert_eq!(ack.member_id, join.member_id);
    assert_eq!(owned_in(&ack), vec![0, 1]);
    m.on_heartbeat_response(now, ok(1, None));
    // Then the broker's interval.
    assert!(m.poll_action(now + Duration::from_millis(999)).is_none());
    assert!(m.poll_action(now + Duration::from_millis(1000)).is_some());
    let id = m.commit_identity().unwrap();
    assert_eq!(
        (id.generation, id.member_id.as_str()),
        (1, join.member_id.as_str())
    );
}

#[test]
fn an_empty_first_assignment_is_announced_once() {
    let now = Instant::now();
    let mut m = member(now, None);
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, ok(1, Some(Vec::new())));
    assert!(matches!(m.poll_action(now), Some(GroupAction::Assigned(t)) if t.is_empty()));
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, ok(1, Some(Vec::new())));
    assert!(m.poll_action(now).is_none());
}

#[test]
fn revokes_before_assigning_and_reports_revoked_partitions_until_the_listener_returned() {
    let now = Instant::now();
    let mut m = stable(now, None);
    heartbeat(&mut m, now);
    // The target moves partition 0 away and brings partition 2.
    m.on_heartbeat_response(now, ok(2, Some(vec![(topic_id(7), vec![1, 2])])));
    assert!(
        matches!(m.poll_action(now), Some(GroupAction::Revoked(t)) if t == vec![tp("orders", 0)])
    );
    assert!(m.revoking());
    // Heartbeats keep the session alive meanwhile, still reporting partition 0 as owned, and
    // the assignment of 2 waits.
    let later = now + Duration::from_secs(1);
    let during = heartbeat(&mut m, later);
    assert_eq!(owned_in(&during), vec![0, 1]);
    m.on_heartbeat_response(later, ok(2, None));
    assert!(m.poll_action(later).is_none());
    // The commit on revoke goes out under the current epoch.
    assert_eq!(m.commit_identity().unwrap().generation, 2);
    m.revocation_done(later);
    assert!(
        matches!(m.poll_action(later), Some(GroupAction::Assigned(t)) if t == vec![tp("orders", 2)])
    );
    let ack = heartbeat(&mut m, later);
    assert_eq!(owned_in(&ack), vec![1, 2]);
}

#[test]
fn a_fenced_member_loses_its_partitions_and_rejoins_at_epoch_zero_with_its_id() {
    let now = Instant::now();
    let mut m = stable(now, None);
    let id = m.member_id().to_string();
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, err(FENCED_MEMBER_EPOCH));
    assert!(matches!(m.poll_action(now), Some(GroupAction::Lost(t)) if t.len() == 2));
    assert!(m.assignment().is_empty());
    let rejoin = heartbeat(&mut m, now);
    assert_eq!(
        (rejoin.member_epoch, rejoin.member_id.as_str()),
        (0, id.as_str())
    );
    assert!(owned_in(&rejoin).is_empty());
    assert!(m.commit_identity().is_err(), "no commits while rejoining");
    // UNKNOWN_MEMBER_ID does the same.
    m.on_heartbeat_response(now, ok(3, Some(vec![(topic_id(7), vec![0])])));
    assert!(matches!(m.poll_action(now), Some(GroupAction::Assigned(_))));
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, err(UNKNOWN_MEMBER_ID));
    assert!(matches!(m.poll_action(now), Some(GroupAction::Lost(_))));
    assert_eq!(heartbeat(&mut m, now).member_epoch, 0);
}

#[test]
fn close_revokes_then_leaves_with_epoch_minus_one_or_minus_two_when_static() {
    for (instance, epoch) in [(None, LEAVE_EPOCH), (Some("i-1"), STATIC_LEAVE_EPOCH)] {
        let now = Instant::now();
        let mut m = stable(now, instance);
        m.close(now);
        assert!(matches!(m.poll_action(now), Some(GroupAction::Revoked(t)) if t.len() == 2));
        // The leave waits for the listener (it may commit).
        assert!(m.poll_action(now).is_none());
        m.revocation_done(now);
        let leave = heartbeat(&mut m, now);
        assert_eq!(leave.member_epoch, epoch);
        assert!(!m.has_left_for_test());
        m.on_heartbeat_response(now, ok(epoch, None));
        assert!(matches!(m.state(), ConsumerMemberState::Closed));
    }
}

#[test]
fn close_while_a_join_is_out_leaves_after_its_answer() {
    let now = Instant::now();
    let mut m = member(now, None);
    heartbeat(&mut m, now);
    m.close(now);
    // The join's answer arrives: the member is in the group, so the leave follows.
    m.on_heartbeat_response(now, ok(1, Some(vec![(topic_id(7), vec![0])])));
    assert!(!matches!(m.state(), ConsumerMemberState::Closed));
    assert_eq!(heartbeat(&mut m, now).member_epoch, LEAVE_EPOCH);
    m.on_request_failed(now, Error::new(crate::ErrorKind::RequestTimeout));
    assert!(matches!(m.state(), ConsumerMemberState::Closed));
}

#[test]
fn a_poll_timeout_loses_the_partitions_leaves_and_rejoins_on_the_next_poll() {
    let now = Instant::now();
    let mut m = stable(now, None);
    let late = now + GroupConfig::default().max_poll_interval;
    assert!(m.poll_timeout().is_some_and(|t| t <= late));
    m.handle_timeout(late);
    assert!(matches!(m.poll_action(late), Some(GroupAction::Lost(t)) if t.len() == 2));
    assert_eq!(heartbeat(&mut m, late).member_epoch, LEAVE_EPOCH);
    m.on_heartbeat_response(late, ok(-1, None));
    assert!(matches!(
        m.state(),
        ConsumerMemberState::Unjoined {
            rejoin_on_poll: true
        }
    ));
    m.on_poll(late);
    assert_eq!(heartbeat(&mut m, late).member_epoch, JOIN_EPOCH);
}

#[test]
fn coordinator_moves_are_followed() {
    let now = Instant::now();
    let mut m = stable(now, None);
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, err(NOT_COORDINATOR));
    assert!(m.poll_action(now).is_none(), "backoff first");
    assert!(matches!(
        m.poll_action(now + BACKOFF),
        Some(GroupAction::FindCoordinator { .. })
    ));
    m.on_coordinator_found(now + BACKOFF, 2);
    assert_eq!(m.coordinator(), Some(2));
    let hb = heartbeat(&mut m, now + BACKOFF);
    assert_eq!((hb.member_epoch, owned_in(&hb)), (1, vec![0, 1]));
    // A lost connection does the same.
    m.on_request_failed(now + BACKOFF, Error::new(crate::ErrorKind::RequestTimeout));
    assert_eq!(m.coordinator(), None);
}

#[test]
fn a_broker_without_the_new_protocol_stops_the_member_with_one_line_saying_so() {
    let now = Instant::now();
    let mut m = member(now, None);
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, err(UNSUPPORTED_VERSION));
    match m.poll_action(now) {
        Some(GroupAction::Error(e)) => {
            assert_eq!(e.broker_code(), Some(UNSUPPORTED_VERSION));
            let line = e.to_string();
            assert!(line.contains("group.protocol=classic"), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
        other => panic!("expected the error, got {other:?}"),
    }
    assert!(matches!(
        m.state(),
        ConsumerMemberState::Failed {
            retry_on_poll: false,
            ..
        }
    ));
    m.on_poll(now);
    assert!(m.poll_action(now).is_none(), "no new join after the answer");
}

#[test]
fn errors_are_classified() {
    let now = Instant::now();
    // Denied group: fatal and final.
    let mut m = stable(now, None);
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, err(30));
    assert!(matches!(m.poll_action(now), Some(GroupAction::Lost(_))));
    assert!(matches!(m.poll_action(now), Some(GroupAction::Error(e)) if e.is_fatal()));
    assert!(m.fatal_error().is_some());
    m.on_poll(now);
    assert!(m.fatal_error().is_some(), "no rejoin after a fatal error");
    // Another instance holds the group.instance.id: fenced for good.
    let mut m = stable(now, Some("i-1"));
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, err(UNRELEASED_INSTANCE_ID));
    assert!(matches!(m.state(), ConsumerMemberState::Fenced(_)));
    assert!(m.commit_identity().is_err());
    // An unknown assignor: reported, retried on the next poll.
    let mut m = member(now, None);
    heartbeat(&mut m, now);
    m.on_heartbeat_response(now, err(112));
    match m.poll_action(now) {
        Some(GroupAction::Error(e)) => {
            assert_eq!(e.broker_code(), Some(112));
            assert!(e.to_string().contains("from the broker"), "{e}");
        }
        other => panic!("expected the error, got {other:?}"),
    }
    m.on_poll(now);
    assert_eq!(heartbeat(&mut m, now).member_epoch, JOIN_EPOCH);
    // Retriable: the heartbeat is sent again after the backoff.
    m.on_heartbeat_response(now, err(COORDINATOR_LOAD_IN_PROGRESS));
    assert!(m.poll_action(now).is_none());
    assert!(m.poll_action(now + BACKOFF).is_some());
}

#[test]
fn commit_errors_rejoin_a_fenced_member() {
    let now = Instant::now();
    let mut m = stable(now, None);
    let e = m.on_commit_error(now, FENCED_MEMBER_EPOCH);
    assert_eq!(e.broker_code(), Some(FENCED_MEMBER_EPOCH));
    assert!(matches!(m.poll_action(now), Some(GroupAction::Lost(_))));
    assert_eq!(heartbeat(&mut m, now).member_epoch, JOIN_EPOCH);
}

#[test]
fn classic_only_settings_are_refused_with_the_consumer_protocol() {
    for key in ["session.timeout.ms", "heartbeat.interval.ms"] {
        let mut c = config(None);
        c.try_set(key, "1000").unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains(key), "{e}");
    }
    let mut c = config(None);
    c.try_set("partition.assignment.strategy", "range").unwrap();
    assert!(c.validate().is_err());
    let mut c = GroupConfig::default();
    c.try_set("group.remote.assignor", "range").unwrap();
    assert!(
        c.validate().is_err(),
        "group.remote.assignor needs group.protocol=consumer"
    );
    let mut c = config(None);
    c.try_set("group.remote.assignor", "range").unwrap();
    assert!(c.validate().is_ok());
    assert_eq!(c.group_protocol, GroupProtocol::Consumer);
    assert!(GroupConfig::default()
        .try_set("group.protocol", "eager")
        .is_err());
}

impl ConsumerMembership {
    fn has_left_for_test(&self) -> bool {
        matches!(
            self.state,
            ConsumerMemberState::Closed | ConsumerMemberState::Unjoined { .. }
        )
    }
}

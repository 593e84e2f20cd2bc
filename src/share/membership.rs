//! Share-group membership, free of I/O: when to send ShareGroupHeartbeat, what to send, and what
//! the answer means. Time comes in as an argument.
//!
//! A share-group member owns no partition exclusively (KIP-932: the broker hands each record to
//! one member at a time), so there is nothing to revoke or reconcile: the member fetches from
//! every partition of its latest assignment at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::consumer::group::fatal_if_group_denied;
use crate::error::code::{
    COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, FENCED_MEMBER_EPOCH, NOT_COORDINATOR,
    UNKNOWN_MEMBER_ID, UNSUPPORTED_VERSION,
};
use crate::protocol::requests::share_group_heartbeat::{
    ShareHeartbeatRequest, ShareHeartbeatResult, JOIN_EPOCH, LEAVE_EPOCH,
};
use crate::Error;

/// Said when the broker's API versions list no ShareGroupHeartbeat: it predates share groups.
pub(crate) const NO_SHARE_GROUPS: &str = "this broker does not offer share groups (KIP-932): it \
     lists no ShareGroupHeartbeat, so it is older than Apache Kafka 4.1 (share groups need 4.1 or \
     later; they are on by default from 4.2)";

/// Said when a broker that lists ShareGroupHeartbeat answers it with UNSUPPORTED_VERSION.
pub(crate) const SHARE_GROUPS_DISABLED: &str = "this broker (Apache Kafka 4.1 or later) has \
     share groups (KIP-932) disabled: enable them with kafka-features upgrade --feature \
     share.version=1 (the default from Kafka 4.2)";

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct ShareMembership {
    group_id: String,
    member_id: String,
    rack_id: Option<String>,
    epoch: i32,
    subscription: BTreeSet<String>,
    /// The latest assignment, by topic id.
    assignment: BTreeMap<Uuid, BTreeSet<i32>>,
    interval: Duration,
    retry_backoff: Duration,
    next_heartbeat: Option<Instant>,
    in_flight: bool,
    leaving: bool,
    /// A fatal error: the member stops for good.
    failed: Option<Error>,
    /// Bumped on every assignment change (the shell resolves names again).
    assignment_version: u64,
}

impl ShareMembership {
    /// A member of `group_id` with a fresh member id; joins on the first `subscribe`.
    pub(crate) fn new(
        group_id: String,
        member_id: String,
        rack_id: Option<String>,
        retry_backoff: Duration,
    ) -> ShareMembership {
        ShareMembership {
            group_id,
            member_id,
            rack_id,
            epoch: JOIN_EPOCH,
            subscription: BTreeSet::new(),
            assignment: BTreeMap::new(),
            interval: Duration::from_secs(5),
            retry_backoff,
            next_heartbeat: None,
            in_flight: false,
            leaving: false,
            failed: None,
            assignment_version: 0,
        }
    }

    /// The member id.
    pub(crate) fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The member epoch (0 before the first answer).
    pub(crate) fn epoch(&self) -> i32 {
        self.epoch
    }

    /// The subscribed topics.
    pub(crate) fn subscription(&self) -> &BTreeSet<String> {
        &self.subscription
    }

    /// The latest assignment, by topic id.
    pub(crate) fn assignment(&self) -> &BTreeMap<Uuid, BTreeSet<i32>> {
        &self.assignment
    }

    /// Changes whenever the assignment does.
    pub(crate) fn assignment_version(&self) -> u64 {
        self.assignment_version
    }

    /// The error that stopped the member, if one did.
    pub(crate) fn failed(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// Subscribes to `topics` (replacing the subscription); heartbeats at once. An empty list
    /// leaves the group.
    pub(crate) fn subscribe(&mut self, now: Instant, topics: BTreeSet<String>) {
        if topics.is_empty() {
            self.leave(now);
            return;
        }
        self.subscription = topics;
        self.leaving = false;
        self.next_heartbeat = Some(now);
    }

    /// Leaves the group with the next heartbeat (epoch -1); a member that never joined just stops.
    pub(crate) fn leave(&mut self, now: Instant) {
        self.subscription.clear();
        self.set_assignment(BTreeMap::new());
        if self.epoch > JOIN_EPOCH {
            self.leaving = true;
            self.next_heartbeat = Some(now);
        } else {
            self.next_heartbeat = None;
        }
    }

    /// Whether a leave is still to be sent or answered.
    pub(crate) fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// When the next heartbeat is due (`None`: nothing to send).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.in_flight || self.failed.is_some() {
            return None;
        }
        self.next_heartbeat
    }

    /// The heartbeat to send now, if one is due; marks it in flight.
    pub(crate) fn poll_heartbeat(&mut self, now: Instant) -> Option<ShareHeartbeatRequest> {
        let due = self.next_deadline()?;
        if due > now {
            return None;
        }
        self.in_flight = true;
        Some(ShareHeartbeatRequest {
            group_id: self.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: if self.leaving {
                LEAVE_EPOCH
            } else {
                self.epoch
            },
            rack_id: self.rack_id.clone(),
            subscribed_topic_names: self.subscription.iter().cloned().collect(),
        })
    }

    /// The heartbeat went unanswered: try again after `retry.backoff.ms` (a leave is given up:
    /// the coordinator drops the member when its session times out).
    pub(crate) fn on_request_failed(&mut self, now: Instant, error: &Error) {
        self.in_flight = false;
        tracing::debug!(error = %error, "ShareGroupHeartbeat failed");
        if self.leaving {
            self.finish_leave();
            return;
        }
        self.next_heartbeat = Some(now + self.retry_backoff);
    }

    /// The coordinator answered. Returns an error the application should hear of, if any; the
    /// shell also forgets the coordinator when [`is_coordinator_error`] says so.
    pub(crate) fn on_response(&mut self, now: Instant, r: ShareHeartbeatResult) -> Option<Error> {
        self.in_flight = false;
        if self.leaving {
            if r.error_code != 0 && is_coordinator_error(r.error_code) {
                self.next_heartbeat = Some(now + self.retry_backoff);
                return None;
            }
            self.finish_leave();
            return None;
        }
        if r.error_code == 0 {
            self.epoch = r.member_epoch;
            if r.heartbeat_interval_ms > 0 {
                self.interval = Duration::from_millis(r.heartbeat_interval_ms as u64);
            }
            if let Some(assignment) = r.assignment {
                let mut next: BTreeMap<Uuid, BTreeSet<i32>> = BTreeMap::new();
                for (id, parts) in assignment {
                    next.entry(id).or_default().extend(parts);
                }
                self.set_assignment(next);
            }
            self.next_heartbeat = (!self.subscription.is_empty()).then(|| now + self.interval);
            return None;
        }
        let error = Error::from_broker_code(r.error_code)
            .with_api("ShareGroupHeartbeat")
            .with_broker_message(r.error_message);
        let error = fatal_if_group_denied(error, &self.group_id);
        match r.error_code {
            FENCED_MEMBER_EPOCH | UNKNOWN_MEMBER_ID => {
                // The coordinator dropped this member (session expired): rejoin at epoch 0 with
                // the same member id. Records it had acquired go back to the group when their
                // locks expire.
                tracing::info!(error = %error, "share-group member fenced; rejoining");
                self.epoch = JOIN_EPOCH;
                self.set_assignment(BTreeMap::new());
                self.next_heartbeat = Some(now);
                None
            }
            c if is_coordinator_error(c) || c == COORDINATOR_LOAD_IN_PROGRESS => {
                self.next_heartbeat = Some(now + self.retry_backoff);
                None
            }
            UNSUPPORTED_VERSION => {
                let error = error.with_detail(SHARE_GROUPS_DISABLED);
                self.failed = Some(error.clone());
                Some(error)
            }
            _ if error.is_retriable() => {
                self.next_heartbeat = Some(now + self.retry_backoff);
                None
            }
            // GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED, GROUP_MAX_SIZE_REACHED,
            // INVALID_REQUEST, INCONSISTENT_GROUP_PROTOCOL (the group id belongs to a consumer
            // group): fatal ones stop the member; the others are reported and retried.
            _ => {
                if error.is_fatal() {
                    self.failed = Some(error.clone());
                } else {
                    self.next_heartbeat = Some(now + self.retry_backoff.max(self.interval));
                }
                Some(error)
            }
        }
    }

    /// Stops the member for good (the broker cannot serve it).
    pub(crate) fn fail(&mut self, error: Error) {
        self.in_flight = false;
        self.failed = Some(error);
    }

    fn finish_leave(&mut self) {
        self.leaving = false;
        self.epoch = JOIN_EPOCH;
        self.next_heartbeat = None;
    }

    fn set_assignment(&mut self, next: BTreeMap<Uuid, BTreeSet<i32>>) {
        if next != self.assignment {
            self.assignment = next;
            self.assignment_version += 1;
        }
    }
}

/// Whether `code` says the group coordinator moved or is not there.
pub(crate) fn is_coordinator_error(code: i16) -> bool {
    matches!(code, NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> ShareMembership {
        ShareMembership::new("g".into(), "m-1".into(), None, Duration::from_millis(100))
    }

    fn ok(epoch: i32, assignment: Option<Vec<(Uuid, Vec<i32>)>>) -> ShareHeartbeatResult {
        ShareHeartbeatResult {
            error_code: 0,
            error_message: None,
            member_epoch: epoch,
            heartbeat_interval_ms: 5000,
            assignment,
        }
    }

    fn err(code: i16) -> ShareHeartbeatResult {
        ShareHeartbeatResult {
            error_code: code,
            error_message: None,
            member_epoch: -1,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }

    #[test]
    fn joins_takes_the_assignment_heartbeats_and_leaves() {
        let t0 = Instant::now();
        let mut m = member();
        assert!(m.poll_heartbeat(t0).is_none(), "nothing before subscribe");
        m.subscribe(t0, ["orders".to_string()].into());
        let join = m.poll_heartbeat(t0).unwrap();
        assert_eq!(
            (join.member_epoch, join.subscribed_topic_names.len()),
            (0, 1)
        );
        assert!(m.poll_heartbeat(t0).is_none(), "one in flight");
        let id = Uuid::from_u128(4);
        assert!(m
            .on_response(t0, ok(1, Some(vec![(id, vec![0, 1])])))
            .is_none());
        assert_eq!(m.assignment()[&id].len(), 2);
        assert_eq!(m.next_deadline(), Some(t0 + Duration::from_secs(5)));
        let hb = m.poll_heartbeat(t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(hb.member_epoch, 1);
        m.on_response(t0, ok(1, None));
        assert_eq!(m.assignment()[&id].len(), 2, "no assignment = unchanged");
        m.leave(t0);
        let leave = m.poll_heartbeat(t0).unwrap();
        assert_eq!(leave.member_epoch, LEAVE_EPOCH);
        assert!(m.assignment().is_empty());
        m.on_response(t0, ok(-1, None));
        assert!(!m.is_leaving() && m.next_deadline().is_none());
    }

    #[test]
    fn a_fenced_member_rejoins_and_an_old_broker_fails_in_one_line() {
        let t0 = Instant::now();
        let mut m = member();
        m.subscribe(t0, ["orders".to_string()].into());
        m.poll_heartbeat(t0).unwrap();
        m.on_response(t0, ok(3, Some(vec![(Uuid::from_u128(1), vec![0])])));
        m.poll_heartbeat(t0 + Duration::from_secs(5)).unwrap();
        assert!(m.on_response(t0, err(FENCED_MEMBER_EPOCH)).is_none());
        assert!(m.assignment().is_empty());
        assert_eq!(m.poll_heartbeat(t0).unwrap().member_epoch, 0);
        // A coordinator error: retried after the backoff.
        assert!(m.on_response(t0, err(NOT_COORDINATOR)).is_none());
        assert_eq!(m.next_deadline(), Some(t0 + Duration::from_millis(100)));
        m.poll_heartbeat(t0 + Duration::from_millis(100)).unwrap();
        let e = m.on_response(t0, err(UNSUPPORTED_VERSION)).unwrap();
        assert!(e.to_string().contains("share groups (KIP-932)"), "{e}");
        assert!(m.failed().is_some() && m.next_deadline().is_none());
    }
}

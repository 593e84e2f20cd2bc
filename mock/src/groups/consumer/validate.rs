//! The checks of a ConsumerGroupHeartbeat before the group is looked at (Kafka's
//! `GroupCoordinatorService`), the subscription regex, and the leave (epochs -1 and -2).

use super::heartbeat::{HeartbeatParams, HeartbeatResult};
use super::{ASSIGNORS, LEAVE_EPOCH, STATIC_LEAVE_EPOCH};
use crate::groups::group::Group;
use crate::log::code;
use std::collections::HashMap;

/// Kafka's INVALID_REGULAR_EXPRESSION, FENCED_MEMBER_EPOCH, UNRELEASED_INSTANCE_ID,
/// UNSUPPORTED_ASSIGNOR.
pub(crate) const INVALID_REGULAR_EXPRESSION: i16 = 128;
pub(crate) const FENCED_MEMBER_EPOCH: i16 = 110;
pub(crate) const UNRELEASED_INSTANCE_ID: i16 = 111;
pub(crate) const UNSUPPORTED_ASSIGNOR: i16 = 112;

/// The longest subscription regex accepted: a test's patterns are short; this bounds the
/// compiled program a request can make the mock build.
const MAX_REGEX_BYTES: usize = 1024;

pub(super) fn fail(error: i16, message: impl Into<String>) -> HeartbeatResult {
    HeartbeatResult {
        error,
        message: Some(message.into()),
        ..HeartbeatResult::default()
    }
}

/// Compiles a subscription regex, matched against whole topic names (Java's `matches()`).
pub(crate) fn compile(re: &str) -> Result<regex::Regex, String> {
    if re.len() > MAX_REGEX_BYTES {
        return Err(format!("the regex is longer than {MAX_REGEX_BYTES} bytes"));
    }
    regex::RegexBuilder::new(&format!("^(?:{re})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

/// The request checks Kafka's `GroupCoordinatorService` makes before the group is looked at.
pub(super) fn validate(group_id: &str, p: &HeartbeatParams) -> Result<(), HeartbeatResult> {
    let invalid = |m: &str| Err(fail(code::INVALID_REQUEST, m));
    if (p.version >= 1 || p.epoch > 0 || p.epoch == LEAVE_EPOCH) && p.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    if group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if p.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if p.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    if p.epoch == 0 {
        if p.rebalance_timeout_ms == -1 {
            return invalid("RebalanceTimeoutMs must be provided in first request.");
        }
        if p.owned.as_ref().is_none_or(|o| !o.is_empty()) {
            return invalid("TopicPartitions must be empty when (re-)joining.");
        }
        if p.topic_names.is_none() && p.topic_regex.is_none() {
            return invalid(
                "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
            );
        }
    } else if p.epoch == STATIC_LEAVE_EPOCH && p.instance_id.is_none() {
        return invalid("InstanceId can't be null.");
    } else if p.epoch < STATIC_LEAVE_EPOCH {
        return invalid("MemberEpoch is invalid.");
    }
    if let Some(a) = p.assignor.as_deref() {
        if !ASSIGNORS.contains(&a) {
            return Err(fail(
                UNSUPPORTED_ASSIGNOR,
                format!(
                    "ServerAssignor {a} is not supported. Supported assignors: {}.",
                    ASSIGNORS.join(", ")
                ),
            ));
        }
    }
    if let Some(re) = p.topic_regex.as_deref().filter(|r| !r.is_empty()) {
        if let Err(e) = compile(re) {
            return Err(fail(
                INVALID_REGULAR_EXPRESSION,
                format!("SubscribedTopicRegex `{re}` is not a valid regular expression: {e}."),
            ));
        }
    }
    Ok(())
}

/// A leave: epoch -1 removes the member; a static member's -2 keeps its partitions for its
/// next incarnation until the session times out.
pub(super) fn leave(
    groups: &mut HashMap<String, Group>,
    group_id: &str,
    p: &HeartbeatParams,
) -> HeartbeatResult {
    let Some(cg) = groups
        .get_mut(group_id)
        .and_then(|g| g.consumer.as_deref_mut())
    else {
        return fail(
            code::GROUP_ID_NOT_FOUND,
            format!("Group {group_id} is not a consumer group."),
        );
    };
    let left = HeartbeatResult {
        member_id: Some(p.member_id.clone()),
        epoch: p.epoch,
        ..HeartbeatResult::default()
    };
    let unknown = fail(
        code::UNKNOWN_MEMBER_ID,
        format!(
            "Member {} is not a member of group {group_id}.",
            p.member_id
        ),
    );
    let Some(instance) = p.instance_id.as_deref() else {
        return if cg.fence(&p.member_id) {
            left
        } else {
            unknown
        };
    };
    let Some(owner) = cg.static_member(instance).map(|m| m.id.clone()) else {
        return fail(
            code::UNKNOWN_MEMBER_ID,
            format!("Instance id {instance} is unknown."),
        );
    };
    if owner != p.member_id {
        return fail(
            code::FENCED_INSTANCE_ID,
            format!(
                "Static member {} with instance id {instance} is fenced by member {owner}.",
                p.member_id
            ),
        );
    }
    if p.epoch == STATIC_LEAVE_EPOCH {
        if let Some(m) = cg.members.get_mut(&owner) {
            m.epoch = STATIC_LEAVE_EPOCH;
            m.revoking.clear();
            m.revocation_deadline = None;
        }
        return left;
    }
    cg.fence(&owner);
    left
}

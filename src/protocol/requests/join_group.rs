//! JoinGroup (v0–v9), classic group protocol: the state machine's version-free request and the
//! parts of the response it needs. Fields a version lacks are left out (kafka-protocol refuses to
//! encode a set field the version does not carry).

use bytes::Bytes;
use kafka_protocol::messages as km;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;

use super::{group_id, str_bytes as s};
use crate::{Error, ErrorKind, Result};

/// A JoinGroup request's fields (any version; the async layer picks the version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequest {
    /// `group.id`.
    pub group_id: String,
    /// The member id so far; empty on the first join.
    pub member_id: String,
    /// `group.instance.id` (v5+).
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `max.poll.interval.ms` (v1+).
    pub rebalance_timeout_ms: i32,
    /// Always `"consumer"`.
    pub protocol_type: &'static str,
    /// One per configured assignor, in order of preference.
    pub protocols: Vec<JoinGroupProtocol>,
    /// Why the member (re)joins (v8+).
    pub reason: String,
}

/// One protocol offered in JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupProtocol {
    /// Assignor name (`range`, `cooperative-sticky`, …).
    pub name: &'static str,
    /// Encoded `ConsumerProtocolSubscription` (version prefix included).
    pub metadata: Bytes,
}

/// The parts of a JoinGroup response the state machine needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinGroupResult {
    /// The error code (0 = none).
    pub error_code: i16,
    /// The generation id.
    pub generation_id: i32,
    /// The protocol type (v7+), `None` before.
    pub protocol_type: Option<String>,
    /// The chosen assignor.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// This member's id (also set with `MEMBER_ID_REQUIRED`).
    pub member_id: String,
    /// All members with their metadata; only the leader receives them.
    pub members: Vec<JoinedMember>,
    /// v9+ (KIP-814): a static leader rejoined and the group's assignment stands; the leader
    /// must not compute a new one and syncs like a follower.
    pub skip_assignment: bool,
}

/// One member listed in a JoinGroup response to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    /// Its member id.
    pub member_id: String,
    /// Its `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Its subscription bytes for the chosen protocol (untrusted: from another client).
    pub metadata: Bytes,
}

/// The JoinGroup message for `version`; a static member (`group.instance.id`) needs v5+.
pub(crate) fn request(req: &JoinGroupRequest, version: i16) -> Result<km::JoinGroupRequest> {
    let mut msg = km::JoinGroupRequest::default()
        .with_group_id(group_id(&req.group_id))
        .with_session_timeout_ms(req.session_timeout_ms)
        .with_rebalance_timeout_ms(req.rebalance_timeout_ms)
        .with_member_id(s(&req.member_id))
        .with_protocol_type(s(req.protocol_type))
        .with_protocols(
            req.protocols
                .iter()
                .map(|p| {
                    JoinGroupRequestProtocol::default()
                        .with_name(s(p.name))
                        .with_metadata(p.metadata.clone())
                })
                .collect(),
        );
    if version >= 5 {
        msg.group_instance_id = req.group_instance_id.as_deref().map(s);
    } else if req.group_instance_id.is_some() {
        return Err(Error::new(ErrorKind::InvalidArgument)
            .with_api("JoinGroup")
            .with_detail("group.instance.id needs JoinGroup v5+ (Kafka 2.3+)"));
    }
    if version >= 8 {
        msg.reason = Some(s(&req.reason));
    }
    Ok(msg)
}

/// The parts of a JoinGroup response the state machine needs.
pub(crate) fn parse(resp: km::JoinGroupResponse) -> JoinGroupResult {
    JoinGroupResult {
        error_code: resp.error_code,
        generation_id: resp.generation_id,
        protocol_type: resp.protocol_type.map(|t| t.to_string()),
        protocol_name: resp.protocol_name.map(|t| t.to_string()),
        leader: resp.leader.to_string(),
        member_id: resp.member_id.to_string(),
        members: resp
            .members
            .into_iter()
            .map(|m| JoinedMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                metadata: m.metadata,
            })
            .collect(),
        skip_assignment: resp.skip_assignment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;

    /// Every field is left out where a version lacks it, so every version the broker may
    /// negotiate encodes; a static member below v5 is refused before encoding.
    #[test]
    fn every_version_encodes() {
        for instance in [None, Some("i-1".to_string())] {
            let join = JoinGroupRequest {
                group_id: "g".into(),
                member_id: "m".into(),
                group_instance_id: instance.clone(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 300_000,
                protocol_type: "consumer",
                protocols: vec![JoinGroupProtocol {
                    name: "range",
                    metadata: Bytes::from_static(&[0, 1]),
                }],
                reason: "test".into(),
            };
            for v in 0..=9 {
                match request(&join, v) {
                    Ok(m) => assert!(encodes(&m, v), "JoinGroup v{v}"),
                    Err(e) => assert!(instance.is_some() && v < 5, "JoinGroup v{v}: {e}"),
                }
            }
        }
    }
}

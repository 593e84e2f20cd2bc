//! SyncGroup (v0–v5), classic group protocol.

use bytes::Bytes;
use kafka_protocol::messages as km;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;

use super::{group_id, str_bytes as s};

/// A SyncGroup request's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupRequest {
    /// `group.id`.
    pub group_id: String,
    /// The generation from JoinGroup.
    pub generation_id: i32,
    /// The member id from JoinGroup.
    pub member_id: String,
    /// `group.instance.id` (v3+).
    pub group_instance_id: Option<String>,
    /// `"consumer"` (v5+).
    pub protocol_type: &'static str,
    /// The chosen assignor (v5+).
    pub protocol_name: String,
    /// Leader: one encoded `ConsumerProtocolAssignment` per member; followers: empty.
    pub assignments: Vec<(String, Bytes)>,
}

/// The parts of a SyncGroup response the state machine needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncGroupResult {
    /// The error code (0 = none).
    pub error_code: i16,
    /// The protocol type (v5+).
    pub protocol_type: Option<String>,
    /// The protocol name (v5+).
    pub protocol_name: Option<String>,
    /// This member's encoded assignment.
    pub assignment: Bytes,
}

/// The SyncGroup message for `version` (fields a version lacks are left out).
pub(crate) fn request(req: &SyncGroupRequest, version: i16) -> km::SyncGroupRequest {
    let mut msg = km::SyncGroupRequest::default()
        .with_group_id(group_id(&req.group_id))
        .with_generation_id(req.generation_id)
        .with_member_id(s(&req.member_id))
        .with_assignments(
            req.assignments
                .iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(m))
                        .with_assignment(a.clone())
                })
                .collect(),
        );
    if version >= 3 {
        msg.group_instance_id = req.group_instance_id.as_deref().map(s);
    }
    if version >= 5 {
        msg.protocol_type = Some(s(req.protocol_type));
        msg.protocol_name = Some(s(&req.protocol_name));
    }
    msg
}

/// The parts of a SyncGroup response the state machine needs.
pub(crate) fn parse(resp: km::SyncGroupResponse) -> SyncGroupResult {
    SyncGroupResult {
        error_code: resp.error_code,
        protocol_type: resp.protocol_type.map(|t| t.to_string()),
        protocol_name: resp.protocol_name.map(|t| t.to_string()),
        assignment: resp.assignment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;

    #[test]
    fn every_version_encodes() {
        for instance in [None, Some("i-1".to_string())] {
            let sync = SyncGroupRequest {
                group_id: "g".into(),
                generation_id: 3,
                member_id: "m".into(),
                group_instance_id: instance.clone(),
                protocol_type: "consumer",
                protocol_name: "range".into(),
                assignments: vec![("m".into(), Bytes::from_static(&[0, 3]))],
            };
            for v in 0..=5 {
                assert!(encodes(&request(&sync, v), v), "SyncGroup v{v}");
            }
        }
    }
}

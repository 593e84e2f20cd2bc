//! LeaveGroup (v0–v5), classic group protocol.

use kafka_protocol::messages as km;
use kafka_protocol::messages::leave_group_request::MemberIdentity;

use super::{group_id, str_bytes as s};

/// A LeaveGroup request's fields (v3+ carries them as one member entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupRequest {
    /// `group.id`.
    pub group_id: String,
    /// The member id leaving.
    pub member_id: String,
    /// `group.instance.id` (only dynamic members send LeaveGroup, so normally none).
    pub group_instance_id: Option<String>,
    /// Why (v5+).
    pub reason: String,
}

/// The LeaveGroup message for `version` (v3+ names the member in a `members` entry).
pub(crate) fn request(req: &LeaveGroupRequest, version: i16) -> km::LeaveGroupRequest {
    let mut msg = km::LeaveGroupRequest::default().with_group_id(group_id(&req.group_id));
    if version >= 3 {
        let mut member = MemberIdentity::default()
            .with_member_id(s(&req.member_id))
            .with_group_instance_id(req.group_instance_id.as_deref().map(s));
        if version >= 5 {
            member.reason = Some(s(&req.reason));
        }
        msg.members = vec![member];
    } else {
        msg.member_id = s(&req.member_id);
    }
    msg
}

/// The first error code of a LeaveGroup response: group-level, then the member's (0 = none).
pub(crate) fn parse(resp: &km::LeaveGroupResponse) -> i16 {
    if resp.error_code != 0 {
        return resp.error_code;
    }
    resp.members
        .iter()
        .map(|m| m.error_code)
        .find(|&c| c != 0)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;

    #[test]
    fn every_version_encodes() {
        for instance in [None, Some("i-1".to_string())] {
            let leave = LeaveGroupRequest {
                group_id: "g".into(),
                member_id: "m".into(),
                group_instance_id: instance.clone(),
                reason: "closing".into(),
            };
            for v in 0..=5 {
                assert!(encodes(&request(&leave, v), v), "LeaveGroup v{v}");
            }
        }
    }
}

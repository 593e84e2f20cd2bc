//! Heartbeat (v0–v4), classic group protocol.

use kafka_protocol::messages as km;

use super::{group_id, str_bytes as s};

/// A Heartbeat request's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// `group.id`.
    pub group_id: String,
    /// Current generation.
    pub generation_id: i32,
    /// Current member id.
    pub member_id: String,
    /// `group.instance.id` (v3+).
    pub group_instance_id: Option<String>,
}

/// The Heartbeat message for `version`.
pub(crate) fn request(req: &HeartbeatRequest, version: i16) -> km::HeartbeatRequest {
    let mut msg = km::HeartbeatRequest::default()
        .with_group_id(group_id(&req.group_id))
        .with_generation_id(req.generation_id)
        .with_member_id(s(&req.member_id));
    if version >= 3 {
        msg.group_instance_id = req.group_instance_id.as_deref().map(s);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;

    #[test]
    fn every_version_encodes() {
        for instance in [None, Some("i-1".to_string())] {
            let hb = HeartbeatRequest {
                group_id: "g".into(),
                generation_id: 3,
                member_id: "m".into(),
                group_instance_id: instance.clone(),
            };
            for v in 0..=4 {
                assert!(encodes(&request(&hb, v), v), "Heartbeat v{v}");
            }
        }
    }
}

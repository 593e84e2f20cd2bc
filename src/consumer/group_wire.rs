//! The group requests on the wire: turns the state machine's version-free request structs into
//! kafka-protocol messages for the negotiated version, and the responses back into the
//! state machine's inputs. Fields a version lacks are left out (kafka-protocol refuses to encode a
//! set field the version does not carry).

use super::group::membership::{
    HeartbeatRequest, JoinGroupRequest, JoinGroupResult, JoinedMember, LeaveGroupRequest,
    SyncGroupRequest, SyncGroupResult,
};
use crate::connection::BrokerConnection;
use crate::{Error, ErrorKind, Result};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{self as km, GroupId};
use kafka_protocol::protocol::StrBytes;
use std::time::Duration;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Sends JoinGroup. The broker holds it until every member rejoined or the rebalance timeout
/// passed, so the request timeout is the rebalance timeout plus 5 s (as Java).
pub(super) async fn join_group(
    conn: &BrokerConnection,
    req: &JoinGroupRequest,
    request_timeout: Duration,
) -> Result<JoinGroupResult> {
    let version = conn.version_for::<km::JoinGroupRequest>()?;
    let msg = join_message(req, version)?;
    let timeout = Duration::from_millis(u64::try_from(req.rebalance_timeout_ms).unwrap_or(0))
        .max(request_timeout)
        + Duration::from_secs(5);
    let resp = conn.send_version(&msg, version, timeout).await?;
    Ok(join_result(resp))
}

fn join_message(req: &JoinGroupRequest, version: i16) -> Result<km::JoinGroupRequest> {
    let mut msg = km::JoinGroupRequest::default()
        .with_group_id(GroupId(s(&req.group_id)))
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

fn join_result(resp: km::JoinGroupResponse) -> JoinGroupResult {
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

/// Sends SyncGroup. The broker answers a follower once the leader's SyncGroup arrived.
pub(super) async fn sync_group(
    conn: &BrokerConnection,
    req: &SyncGroupRequest,
    timeout: Duration,
) -> Result<SyncGroupResult> {
    let version = conn.version_for::<km::SyncGroupRequest>()?;
    let resp = conn
        .send_version(&sync_message(req, version), version, timeout)
        .await?;
    Ok(SyncGroupResult {
        error_code: resp.error_code,
        protocol_type: resp.protocol_type.map(|t| t.to_string()),
        protocol_name: resp.protocol_name.map(|t| t.to_string()),
        assignment: resp.assignment,
    })
}

fn sync_message(req: &SyncGroupRequest, version: i16) -> km::SyncGroupRequest {
    let mut msg = km::SyncGroupRequest::default()
        .with_group_id(GroupId(s(&req.group_id)))
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

/// Sends Heartbeat; returns the error code.
pub(super) async fn heartbeat(
    conn: &BrokerConnection,
    req: &HeartbeatRequest,
    timeout: Duration,
) -> Result<i16> {
    let version = conn.version_for::<km::HeartbeatRequest>()?;
    let msg = heartbeat_message(req, version);
    Ok(conn.send_version(&msg, version, timeout).await?.error_code)
}

fn heartbeat_message(req: &HeartbeatRequest, version: i16) -> km::HeartbeatRequest {
    let mut msg = km::HeartbeatRequest::default()
        .with_group_id(GroupId(s(&req.group_id)))
        .with_generation_id(req.generation_id)
        .with_member_id(s(&req.member_id));
    if version >= 3 {
        msg.group_instance_id = req.group_instance_id.as_deref().map(s);
    }
    msg
}

/// Sends LeaveGroup; returns the first error code (group-level, then the member's).
pub(super) async fn leave_group(
    conn: &BrokerConnection,
    req: &LeaveGroupRequest,
    timeout: Duration,
) -> Result<i16> {
    let version = conn.version_for::<km::LeaveGroupRequest>()?;
    let msg = leave_message(req, version);
    let resp = conn.send_version(&msg, version, timeout).await?;
    if resp.error_code != 0 {
        return Ok(resp.error_code);
    }
    Ok(resp
        .members
        .iter()
        .map(|m| m.error_code)
        .find(|&c| c != 0)
        .unwrap_or(0))
}

fn leave_message(req: &LeaveGroupRequest, version: i16) -> km::LeaveGroupRequest {
    let mut msg = km::LeaveGroupRequest::default().with_group_id(GroupId(s(&req.group_id)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::protocol::Encodable;

    fn encodes<M: Encodable>(m: &M, v: i16) -> bool {
        m.encode(&mut BytesMut::new(), v).is_ok()
    }

    /// Every field is left out where a version lacks it, so every version the broker may
    /// negotiate encodes — static or dynamic member alike.
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
                protocols: vec![super::super::group::membership::JoinGroupProtocol {
                    name: "range",
                    metadata: Bytes::from_static(&[0, 1]),
                }],
                reason: "test".into(),
            };
            for v in 0..=9 {
                match join_message(&join, v) {
                    Ok(m) => assert!(encodes(&m, v), "JoinGroup v{v}"),
                    Err(e) => assert!(instance.is_some() && v < 5, "JoinGroup v{v}: {e}"),
                }
            }
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
                assert!(encodes(&sync_message(&sync, v), v), "SyncGroup v{v}");
            }
            let hb = HeartbeatRequest {
                group_id: "g".into(),
                generation_id: 3,
                member_id: "m".into(),
                group_instance_id: instance.clone(),
            };
            for v in 0..=4 {
                assert!(encodes(&heartbeat_message(&hb, v), v), "Heartbeat v{v}");
            }
            let leave = LeaveGroupRequest {
                group_id: "g".into(),
                member_id: "m".into(),
                group_instance_id: instance.clone(),
                reason: "closing".into(),
            };
            for v in 0..=5 {
                assert!(encodes(&leave_message(&leave, v), v), "LeaveGroup v{v}");
            }
        }
    }
}

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
    let timeout = Duration::from_millis(u64::try_from(req.rebalance_timeout_ms).unwrap_or(0))
        .max(request_timeout)
        + Duration::from_secs(5);
    let resp = conn.send_version(&msg, version, timeout).await?;
    Ok(JoinGroupResult {
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
    })
}

/// Sends SyncGroup. The broker answers a follower once the leader's SyncGroup arrived.
pub(super) async fn sync_group(
    conn: &BrokerConnection,
    req: &SyncGroupRequest,
    timeout: Duration,
) -> Result<SyncGroupResult> {
    let version = conn.version_for::<km::SyncGroupRequest>()?;
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
    let resp = conn.send_version(&msg, version, timeout).await?;
    Ok(SyncGroupResult {
        error_code: resp.error_code,
        protocol_type: resp.protocol_type.map(|t| t.to_string()),
        protocol_name: resp.protocol_name.map(|t| t.to_string()),
        assignment: resp.assignment,
    })
}

/// Sends Heartbeat; returns the error code.
pub(super) async fn heartbeat(
    conn: &BrokerConnection,
    req: &HeartbeatRequest,
    timeout: Duration,
) -> Result<i16> {
    let version = conn.version_for::<km::HeartbeatRequest>()?;
    let mut msg = km::HeartbeatRequest::default()
        .with_group_id(GroupId(s(&req.group_id)))
        .with_generation_id(req.generation_id)
        .with_member_id(s(&req.member_id));
    if version >= 3 {
        msg.group_instance_id = req.group_instance_id.as_deref().map(s);
    }
    Ok(conn.send_version(&msg, version, timeout).await?.error_code)
}

/// Sends LeaveGroup; returns the first error code (group-level, then the member's).
pub(super) async fn leave_group(
    conn: &BrokerConnection,
    req: &LeaveGroupRequest,
    timeout: Duration,
) -> Result<i16> {
    let version = conn.version_for::<km::LeaveGroupRequest>()?;
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

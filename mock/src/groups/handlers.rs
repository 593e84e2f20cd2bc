//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup: requests to the state machine and back.
//! A JoinGroup or SyncGroup may wait for the rest of the group; the group lock is never held
//! across that wait (the answer comes through a oneshot channel).

use super::group::{JoinResult, Reply, SyncResult};
use super::join::JoinParams;
use super::membership::{self, SyncParams};
use super::{is_coordinator, str};
use crate::log::code;
use crate::server::Ctx;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use uuid::Uuid;

/// Where clients connect from: the mock listens on one host and has no peer address here.
const CLIENT_HOST: &str = "/127.0.0.1";

/// The group-level error every group API checks first.
fn group_error(ctx: Ctx<'_>, group_id: &str) -> i16 {
    if group_id.is_empty() {
        code::INVALID_GROUP_ID
    } else if !is_coordinator(ctx, group_id) {
        code::NOT_COORDINATOR
    } else {
        code::NONE
    }
}

async fn settle<T>(reply: Reply<T>, gone: impl FnOnce() -> T) -> T {
    match reply {
        Reply::Now(r) => r,
        // The sender was dropped unanswered: the member is no longer in the group.
        Reply::Wait(rx) => rx.await.unwrap_or_else(|_| gone()),
    }
}

pub(super) async fn join_group(
    ctx: Ctx<'_>,
    req: JoinGroupRequest,
    version: i16,
) -> JoinGroupResponse {
    let group_id = req.group_id.to_string();
    let member_id = req.member_id.to_string();
    let err = group_error(ctx, &group_id);
    let result = if err != code::NONE {
        JoinResult::error(err, &member_id)
    } else {
        let params = JoinParams {
            member_id: member_id.clone(),
            instance_id: req.group_instance_id.as_ref().map(|i| i.to_string()),
            client_id: ctx.client_id.to_owned(),
            client_host: CLIENT_HOST.to_owned(),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: if version == 0 || req.rebalance_timeout_ms < 0 {
                req.session_timeout_ms
            } else {
                req.rebalance_timeout_ms
            },
            protocol_type: req.protocol_type.to_string(),
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.to_string(), p.metadata.clone()))
                .collect(),
            require_known_member_id: version >= 4,
            supports_skip_assignment: version >= 9,
            fresh_id: format!(
                "{}-{}",
                ctx.client_id,
                Uuid::from_u128(fastrand::u128(..)).hyphenated()
            ),
        };
        let now = Instant::now();
        let reply = ctx
            .shared
            .groups
            .with(|g| super::join::join(g, &group_id, params, now));
        settle(reply, || {
            JoinResult::error(code::UNKNOWN_MEMBER_ID, &member_id)
        })
        .await
    };
    join_response(result, version)
}

fn join_response(r: JoinResult, version: i16) -> JoinGroupResponse {
    let members = r
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            JoinGroupResponseMember::default()
                .with_member_id(str(id))
                .with_group_instance_id(if version >= 5 {
                    instance.map(str)
                } else {
                    None
                })
                .with_metadata(metadata)
        })
        .collect();
    // Before v7 the protocol name is not nullable.
    let protocol_name = match r.protocol_name {
        None if version < 7 => Some(StrBytes::new()),
        n => n.map(str),
    };
    let mut resp = JoinGroupResponse::default()
        .with_error_code(r.error)
        .with_generation_id(r.generation)
        .with_protocol_name(protocol_name)
        .with_leader(str(r.leader))
        .with_member_id(str(r.member_id))
        .with_members(members);
    if version >= 7 {
        resp = resp.with_protocol_type(r.protocol_type.map(str));
    }
    if version >= 9 {
        resp = resp.with_skip_assignment(r.skip_assignment);
    }
    resp
}

pub(super) async fn sync_group(
    ctx: Ctx<'_>,
    req: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let group_id = req.group_id.to_string();
    let err = group_error(ctx, &group_id);
    let result = if err != code::NONE {
        SyncResult::error(err)
    } else {
        let params = SyncParams {
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|i| i.to_string()),
            generation: req.generation_id,
            protocol_type: req.protocol_type.as_ref().map(|t| t.to_string()),
            protocol_name: req.protocol_name.as_ref().map(|t| t.to_string()),
            assignments: req
                .assignments
                .iter()
                .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                .collect(),
        };
        let now = Instant::now();
        let reply = ctx
            .shared
            .groups
            .with(|g| membership::sync(g, &group_id, params, now));
        settle(reply, || SyncResult::error(code::UNKNOWN_MEMBER_ID)).await
    };
    let mut resp = SyncGroupResponse::default()
        .with_error_code(result.error)
        .with_assignment(result.assignment);
    if version >= 5 {
        resp = resp
            .with_protocol_type(result.protocol_type.map(str))
            .with_protocol_name(result.protocol_name.map(str));
    }
    resp
}

pub(super) fn heartbeat(ctx: Ctx<'_>, req: HeartbeatRequest) -> HeartbeatResponse {
    let group_id = req.group_id.to_string();
    let mut err = group_error(ctx, &group_id);
    if err == code::NONE {
        let instance = req.group_instance_id.as_ref().map(|i| i.to_string());
        let now = Instant::now();
        err = ctx.shared.groups.with(|g| {
            membership::heartbeat(
                g,
                &group_id,
                instance.as_deref(),
                req.member_id.as_str(),
                req.generation_id,
                now,
            )
        });
    }
    tracing::trace!(group = %group_id, member = %req.member_id, generation = req.generation_id, err, "heartbeat");
    HeartbeatResponse::default().with_error_code(err)
}

pub(super) fn leave_group(
    ctx: Ctx<'_>,
    req: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let group_id = req.group_id.to_string();
    // v0-2 name one member; v3+ a batch, each answered on its own (KIP-345).
    let leaving: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|i| i.to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let err = group_error(ctx, &group_id);
    let codes = if err != code::NONE {
        vec![err; leaving.len()]
    } else {
        let now = Instant::now();
        ctx.shared
            .groups
            .with(|g| membership::leave(g, &group_id, &leaving, now))
    };
    if version < 3 {
        return LeaveGroupResponse::default()
            .with_error_code(codes.first().copied().unwrap_or(code::NONE));
    }
    if err != code::NONE {
        return LeaveGroupResponse::default().with_error_code(err);
    }
    let members = leaving
        .into_iter()
        .zip(codes)
        .map(|((id, instance), code)| {
            MemberResponse::default()
                .with_member_id(str(id))
                .with_group_instance_id(instance.map(str))
                .with_error_code(code)
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}

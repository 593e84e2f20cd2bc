//! ConsumerGroupHeartbeat and ConsumerGroupDescribe: requests to the state machine and back.
//! The topics are read from the cluster state first; the two locks are never held together.

use super::{heartbeat, Assignment, HeartbeatParams, Settings, Topics};
use crate::groups::{is_coordinator, str};
use crate::log::code;
use crate::server::Ctx;
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as DescribedAssignment, DescribedGroup, Member as DescribedMember,
    TopicPartitions as DescribedPartitions,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as HeartbeatAssignment, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, TopicName,
};
use std::collections::BTreeMap;
use tokio::time::Instant;
use uuid::Uuid;

/// Where clients connect from (the mock has no peer address here), as the classic handlers say.
const CLIENT_HOST: &str = "/127.0.0.1";

/// Member type in ConsumerGroupDescribe v1: 1 is a consumer-protocol member.
const CONSUMER_MEMBER: i8 = 1;

/// The topics and the coordinator settings, from the cluster state.
fn topics_and_settings(ctx: Ctx<'_>) -> (Topics, Settings) {
    let state = ctx.shared.lock();
    let topics = state
        .topics
        .iter()
        .map(|(name, t)| {
            let n = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
            (name.clone(), (t.id, n))
        })
        .collect();
    let settings = Settings {
        session_timeout: state.config.consumer_session_timeout,
        heartbeat_interval: state.config.consumer_heartbeat_interval,
    };
    (topics, settings)
}

pub(in crate::groups) fn consumer_group_heartbeat(
    ctx: Ctx<'_>,
    req: ConsumerGroupHeartbeatRequest,
    version: i16,
) -> ConsumerGroupHeartbeatResponse {
    let group_id = req.group_id.to_string();
    if !group_id.is_empty() && !is_coordinator(ctx, &group_id) {
        return ConsumerGroupHeartbeatResponse::default().with_error_code(code::NOT_COORDINATOR);
    }
    let (topics, settings) = topics_and_settings(ctx);
    let params = HeartbeatParams {
        version,
        member_id: req.member_id.to_string(),
        epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(|s| s.to_string()),
        rack_id: req.rack_id.as_ref().map(|s| s.to_string()),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        topic_names: req
            .subscribed_topic_names
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.to_string()).collect()),
        topic_regex: req.subscribed_topic_regex.as_ref().map(|s| s.to_string()),
        assignor: req.server_assignor.as_ref().map(|s| s.to_string()),
        owned: req.topic_partitions.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.topic_id, t.partitions.clone()))
                .collect()
        }),
        client_id: ctx.client_id.to_owned(),
        client_host: CLIENT_HOST.to_owned(),
        fresh_id: Uuid::from_u128(fastrand::u128(..)).to_string(),
    };
    let now = Instant::now();
    let r = ctx
        .shared
        .groups
        .with(|g| heartbeat(g, &group_id, params, &topics, settings, now));
    tracing::trace!(group = %group_id, member = ?r.member_id, epoch = r.epoch, error = r.error, "consumer group heartbeat");
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(r.error)
        .with_error_message(r.message.map(str))
        .with_member_id(r.member_id.map(str))
        .with_member_epoch(r.epoch)
        .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
        .with_assignment(r.assignment.map(|a| {
            HeartbeatAssignment::default().with_topic_partitions(
                a.into_iter()
                    .map(|(id, ps)| {
                        TopicPartitions::default()
                            .with_topic_id(id)
                            .with_partitions(ps.into_iter().collect())
                    })
                    .collect(),
            )
        }))
}

fn described(a: &Assignment, names: &BTreeMap<Uuid, String>) -> DescribedAssignment {
    DescribedAssignment::default().with_topic_partitions(
        a.iter()
            .map(|(id, ps)| {
                DescribedPartitions::default()
                    .with_topic_id(*id)
                    .with_topic_name(TopicName(str(names.get(id).cloned().unwrap_or_default())))
                    .with_partitions(ps.iter().copied().collect())
            })
            .collect(),
    )
}

pub(in crate::groups) fn consumer_group_describe(
    ctx: Ctx<'_>,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let ops = if req.include_authorized_operations {
        crate::state::authorized::GROUP
    } else {
        crate::state::authorized::OMITTED
    };
    let (topics, _) = topics_and_settings(ctx);
    let names: BTreeMap<Uuid, String> = topics
        .into_iter()
        .map(|(name, (id, _))| (id, name))
        .collect();
    let groups = req
        .group_ids
        .into_iter()
        .map(|group_id| {
            let resp = DescribedGroup::default()
                .with_group_id(group_id.clone())
                .with_authorized_operations(ops);
            if group_id.is_empty() {
                return resp.with_error_code(code::INVALID_GROUP_ID);
            }
            if !is_coordinator(ctx, group_id.as_str()) {
                return resp.with_error_code(code::NOT_COORDINATOR);
            }
            ctx.shared.groups.with(|groups| {
                let Some(g) = groups.get(group_id.as_str()) else {
                    return resp
                        .with_error_code(code::GROUP_ID_NOT_FOUND)
                        .with_error_message(Some(str(format!(
                            "Group {} not found.",
                            group_id.as_str()
                        ))));
                };
                let Some(cg) = g.consumer.as_deref() else {
                    return resp
                        .with_error_code(code::GROUP_ID_NOT_FOUND)
                        .with_error_message(Some(str(format!(
                            "Group {} is not a consumer group.",
                            group_id.as_str()
                        ))));
                };
                let members = cg
                    .members
                    .values()
                    .map(|m| {
                        let target = cg.target.get(&m.id).cloned().unwrap_or_default();
                        DescribedMember::default()
                            .with_member_id(str(m.id.clone()))
                            .with_instance_id(m.instance_id.clone().map(str))
                            .with_rack_id(m.rack_id.clone().map(str))
                            .with_member_epoch(m.epoch)
                            .with_client_id(str(m.client_id.clone()))
                            .with_client_host(str(m.client_host.clone()))
                            .with_subscribed_topic_names(
                                m.topic_names
                                    .iter()
                                    .map(|t| TopicName(str(t.clone())))
                                    .collect(),
                            )
                            .with_subscribed_topic_regex(m.topic_regex.clone().map(str))
                            .with_assignment(described(&m.assigned, &names))
                            .with_target_assignment(described(&target, &names))
                            .with_member_type(CONSUMER_MEMBER)
                    })
                    .collect();
                resp.with_group_state(str(cg.state_name().to_owned()))
                    .with_group_epoch(cg.group_epoch)
                    .with_assignment_epoch(cg.assignment_epoch)
                    .with_assignor_name(str(cg.assignor().to_owned()))
                    .with_members(members)
            })
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

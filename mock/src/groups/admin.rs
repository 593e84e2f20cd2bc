//! FindCoordinator, ListGroups, DescribeGroups and DeleteGroups.

use super::group::State;
use super::{is_coordinator, membership, str};
use crate::log::code;
use crate::server::Ctx;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    ListGroupsRequest, ListGroupsResponse,
};
use kafka_protocol::protocol::StrBytes;

/// The group types ListGroups v5 reports and filters on (KIP-848 groups are `consumer`, which
/// is also their protocol type).
const CLASSIC: &str = "classic";
const CONSUMER: &str = "consumer";

/// (error, node id, host, port) of the coordinator of `key`. Key type 0 is a group, 1 a
/// transactional id (same placement: Kafka hashes both over its internal topics' partitions).
fn coordinator(ctx: Ctx<'_>, key: &str, key_type: i8) -> (i16, i32, String, i32) {
    if !matches!(key_type, 0 | 1) {
        return (code::INVALID_REQUEST, -1, String::new(), -1);
    }
    let state = ctx.shared.lock();
    if state.brokers.is_empty() {
        return (code::COORDINATOR_NOT_AVAILABLE, -1, String::new(), -1);
    }
    let b = state.coordinator_for(key);
    (
        code::NONE,
        b.id,
        b.addr.ip().to_string(),
        i32::from(b.addr.port()),
    )
}

pub(super) fn find_coordinator(
    ctx: Ctx<'_>,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|key| {
                let (err, node, host, port) = coordinator(ctx, key.as_str(), req.key_type);
                Coordinator::default()
                    .with_key(key.clone())
                    .with_error_code(err)
                    .with_node_id(BrokerId(node))
                    .with_host(str(host))
                    .with_port(port)
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let (err, node, host, port) = coordinator(ctx, req.key.as_str(), req.key_type);
    FindCoordinatorResponse::default()
        .with_error_code(err)
        .with_node_id(BrokerId(node))
        .with_host(str(host))
        .with_port(port)
}

/// ListGroups: each broker lists the groups it coordinates (an admin client asks them all),
/// classic and consumer (KIP-848) groups, filtered by type (v5) and state (v4), both
/// case-insensitive as Kafka.
pub(super) fn list_groups(ctx: Ctx<'_>, req: ListGroupsRequest) -> ListGroupsResponse {
    let wanted = |filter: &[StrBytes], value: &str| {
        filter.is_empty()
            || filter
                .iter()
                .any(|f| f.as_str().eq_ignore_ascii_case(value))
    };
    // (group id, protocol type, state, group type)
    let candidates: Vec<(String, String, &'static str, &'static str)> =
        ctx.shared.groups.with(|groups| {
            groups
                .iter()
                .map(|(id, g)| match g.consumer.as_deref() {
                    Some(cg) => (id.clone(), CONSUMER.to_owned(), cg.state_name(), CONSUMER),
                    None => {
                        let ptype = g.protocol_type.clone().unwrap_or_default();
                        (id.clone(), ptype, g.state.name(), CLASSIC)
                    }
                })
                .collect()
        });
    let mut listed: Vec<ListedGroup> = candidates
        .into_iter()
        .filter(|(id, _, state, kind)| {
            wanted(&req.types_filter, kind)
                && wanted(&req.states_filter, state)
                && is_coordinator(ctx, id)
        })
        .map(|(id, ptype, state, kind)| {
            ListedGroup::default()
                .with_group_id(GroupId(str(id)))
                .with_protocol_type(str(ptype))
                .with_group_state(StrBytes::from_static_str(state))
                .with_group_type(StrBytes::from_static_str(kind))
        })
        .collect();
    listed.sort_by(|a, b| a.group_id.as_str().cmp(b.group_id.as_str()));
    ListGroupsResponse::default().with_groups(listed)
}

/// DescribeGroups. As Kafka: member metadata and assignments only in Stable (otherwise they
/// are in flux), and a group that does not exist is "Dead" without an error.
pub(super) fn describe_groups(ctx: Ctx<'_>, req: DescribeGroupsRequest) -> DescribeGroupsResponse {
    // No authorizer: every group operation is allowed (asked for from v3).
    let ops = if req.include_authorized_operations {
        crate::state::authorized::GROUP
    } else {
        crate::state::authorized::OMITTED
    };
    let groups = req
        .groups
        .into_iter()
        .map(|group_id| {
            let resp = DescribedGroup::default()
                .with_group_id(group_id.clone())
                .with_authorized_operations(ops);
            if !is_coordinator(ctx, group_id.as_str()) {
                return resp
                    .with_error_code(code::NOT_COORDINATOR)
                    .with_group_state(StrBytes::from_static_str("Dead"));
            }
            ctx.shared.groups.with(|groups| {
                // A consumer (KIP-848) group is not a classic group: "Dead" as for no group
                // (v6 would add GROUP_ID_NOT_FOUND; ConsumerGroupDescribe describes it).
                let Some(g) = groups
                    .get(group_id.as_str())
                    .filter(|g| g.consumer.is_none())
                else {
                    return resp.with_group_state(StrBytes::from_static_str("Dead"));
                };
                let stable = g.state == State::Stable;
                let protocol = g.protocol.clone().unwrap_or_default();
                let members = g
                    .members
                    .iter()
                    .map(|m| {
                        let member = DescribedGroupMember::default()
                            .with_member_id(str(m.id.clone()))
                            .with_group_instance_id(m.instance_id.clone().map(str))
                            .with_client_id(str(m.client_id.clone()))
                            .with_client_host(str(m.client_host.clone()));
                        if stable {
                            member
                                .with_member_metadata(m.metadata_for(&protocol))
                                .with_member_assignment(m.assignment.clone())
                        } else {
                            member
                        }
                    })
                    .collect();
                resp.with_group_state(StrBytes::from_static_str(g.state.name()))
                    .with_protocol_type(str(g.protocol_type.clone().unwrap_or_default()))
                    .with_protocol_data(str(if stable { protocol } else { String::new() }))
                    .with_members(members)
            })
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub(super) fn delete_groups(ctx: Ctx<'_>, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let results = req
        .groups_names
        .into_iter()
        .map(|group_id| {
            let err = if group_id.is_empty() {
                code::INVALID_GROUP_ID
            } else if !is_coordinator(ctx, group_id.as_str()) {
                code::NOT_COORDINATOR
            } else {
                ctx.shared
                    .groups
                    .with(|g| membership::delete(g, group_id.as_str()))
            };
            DeletableGroupResult::default()
                .with_group_id(group_id)
                .with_error_code(err)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}

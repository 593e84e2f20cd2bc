//! DescribeGroups: state, protocol and members of classic groups, sent to each group's
//! coordinator. v3 added the caller's authorized operations, v4 `group.instance.id`, v6 a
//! per-group error message (and `GROUP_ID_NOT_FOUND` for a group that does not exist, where
//! older versions answer state `Dead`).

use bytes::Bytes;
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::group_answer;
use crate::protocol::requests::group_id;
use crate::types::AclOperation;
use crate::Result;

/// A group as DescribeGroups describes it; member assignments stay raw bytes (their format
/// depends on the protocol type, which the caller decodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedGroup {
    /// The group id.
    pub group_id: String,
    /// The state (`Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Dead`).
    pub state: String,
    /// The protocol type (`consumer`, …).
    pub protocol_type: String,
    /// The chosen protocol (the assignor, for consumer groups).
    pub protocol: String,
    /// The members.
    pub members: Vec<DescribedMember>,
    /// The caller's authorized operations on the group, when asked for.
    pub authorized_operations: Option<Vec<AclOperation>>,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedMember {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// `group.instance.id` (static membership), v4+.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host as the coordinator saw it.
    pub client_host: String,
    /// The member's assignment, in its protocol type's format.
    pub assignment: Bytes,
}

/// The request describing `groups`, with the caller's authorized operations (v3+) when asked.
pub(crate) fn request<'a>(
    groups: impl IntoIterator<Item = &'a str>,
    include_authorized_operations: bool,
    version: i16,
) -> DescribeGroupsRequest {
    DescribeGroupsRequest::default()
        .with_groups(groups.into_iter().map(group_id).collect())
        .with_include_authorized_operations(include_authorized_operations && version >= 3)
}

/// Every group's answer, in response order.
pub(crate) fn parse(resp: &DescribeGroupsResponse) -> Vec<(String, Result<DescribedGroup>)> {
    resp.groups
        .iter()
        .map(|g| {
            let message = g.error_message.as_ref();
            group_answer("DescribeGroups", &g.group_id, g.error_code, message, |id| {
                DescribedGroup {
                    group_id: id,
                    state: g.group_state.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    protocol: g.protocol_data.to_string(),
                    members: g
                        .members
                        .iter()
                        .map(|m| DescribedMember {
                            member_id: m.member_id.to_string(),
                            group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
                            client_id: m.client_id.to_string(),
                            client_host: m.client_host.to_string(),
                            assignment: m.member_assignment.clone(),
                        })
                        .collect(),
                    authorized_operations: AclOperation::from_bit_field(g.authorized_operations),
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, str_bytes};
    use kafka_protocol::messages::describe_groups_response::{
        DescribedGroup as WireGroup, DescribedGroupMember,
    };

    #[test]
    fn operations_only_from_v3_and_every_version_encodes() {
        for v in 0..=6 {
            let req = request(["g"], true, v);
            assert_eq!(req.include_authorized_operations, v >= 3);
            assert!(encodes(&req, v), "DescribeGroups v{v}");
        }
    }

    #[test]
    fn parse_keeps_members_and_errors() {
        let resp = DescribeGroupsResponse::default().with_groups(vec![
            WireGroup::default()
                .with_group_id(group_id("g"))
                .with_group_state(str_bytes("Stable"))
                .with_protocol_type(str_bytes("consumer"))
                .with_protocol_data(str_bytes("range"))
                .with_authorized_operations(i32::MIN)
                .with_members(vec![DescribedGroupMember::default()
                    .with_member_id(str_bytes("m1"))
                    .with_client_id(str_bytes("c"))
                    .with_client_host(str_bytes("/127.0.0.1"))
                    .with_member_assignment(Bytes::from_static(&[0, 3]))]),
            WireGroup::default()
                .with_group_id(group_id("x"))
                .with_error_code(69),
        ]);
        let r = parse(&resp);
        let g = r[0].1.as_ref().unwrap();
        assert_eq!((g.state.as_str(), g.protocol.as_str()), ("Stable", "range"));
        assert_eq!(g.members[0].member_id, "m1");
        assert_eq!(g.authorized_operations, None);
        assert_eq!(r[1].1.as_ref().unwrap_err().broker_code(), Some(69));
    }
}

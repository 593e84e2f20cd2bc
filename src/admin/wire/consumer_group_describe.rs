//! ConsumerGroupDescribe (KIP-848): state, assignor and members of groups using the `consumer`
//! rebalance protocol, sent to each group's coordinator. A classic group answers
//! `GROUP_ID_NOT_FOUND`, and is described with DescribeGroups instead. v1 added the member type.

use kafka_protocol::messages::consumer_group_describe_response::Assignment;
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};

use super::group_answer;
use crate::protocol::requests::group_id;
use crate::types::{AclOperation, TopicPartition};
use crate::Result;

/// A member of a `consumer`-protocol group, with its assignment decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedConsumerMember {
    /// The member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// The host the coordinator saw.
    pub client_host: String,
    /// Its current assignment.
    pub assignment: Vec<TopicPartition>,
}

/// A described `consumer`-protocol group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedConsumerGroup {
    /// The group id.
    pub group_id: String,
    /// Its state (`Empty`, `Assigning`, `Reconciling`, `Stable`, `Dead`).
    pub state: String,
    /// The server-side assignor (`uniform`, `range`).
    pub assignor: String,
    /// Its members.
    pub members: Vec<DescribedConsumerMember>,
    /// The caller's authorized operations, when asked for.
    pub authorized_operations: Option<Vec<AclOperation>>,
}

/// The request for `groups`, asking for the authorized operations when told to.
pub(crate) fn request<'a>(
    groups: impl IntoIterator<Item = &'a str>,
    include_authorized_operations: bool,
) -> ConsumerGroupDescribeRequest {
    ConsumerGroupDescribeRequest::default()
        .with_group_ids(groups.into_iter().map(group_id).collect())
        .with_include_authorized_operations(include_authorized_operations)
}

fn partitions(a: &Assignment) -> Vec<TopicPartition> {
    a.topic_partitions
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| TopicPartition::new(t.topic_name.0.as_str(), *p))
        })
        .collect()
}

/// Every group's answer, in response order.
pub(crate) fn parse(
    resp: &ConsumerGroupDescribeResponse,
) -> Vec<(String, Result<DescribedConsumerGroup>)> {
    resp.groups
        .iter()
        .map(|g| {
            let message = g.error_message.as_ref();
            group_answer(
                "ConsumerGroupDescribe",
                &g.group_id,
                g.error_code,
                message,
                |id| DescribedConsumerGroup {
                    group_id: id,
                    state: g.group_state.to_string(),
                    assignor: g.assignor_name.to_string(),
                    members: g
                        .members
                        .iter()
                        .map(|m| DescribedConsumerMember {
                            member_id: m.member_id.to_string(),
                            instance_id: m.instance_id.as_ref().map(|s| s.to_string()),
                            client_id: m.client_id.to_string(),
                            client_host: m.client_host.to_string(),
                            assignment: partitions(&m.assignment),
                        })
                        .collect(),
                    authorized_operations: AclOperation::from_bit_field(g.authorized_operations),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, str_bytes, topic_name};
    use kafka_protocol::messages::consumer_group_describe_response::{
        DescribedGroup as WireGroup, Member, TopicPartitions,
    };

    #[test]
    fn request_encodes_and_parse_decodes_assignments() {
        for v in 0..=1 {
            assert!(
                encodes(&request(["g"], true), v),
                "ConsumerGroupDescribe v{v}"
            );
        }
        let resp = ConsumerGroupDescribeResponse::default().with_groups(vec![
            WireGroup::default()
                .with_group_id(group_id("g"))
                .with_group_state(str_bytes("Stable"))
                .with_assignor_name(str_bytes("uniform"))
                .with_authorized_operations(i32::MIN)
                .with_members(vec![Member::default()
                    .with_member_id(str_bytes("m"))
                    .with_client_id(str_bytes("c"))
                    .with_assignment(Assignment::default().with_topic_partitions(vec![
                        TopicPartitions::default()
                            .with_topic_name(topic_name("a"))
                            .with_partitions(vec![0, 1]),
                    ]))]),
            WireGroup::default()
                .with_group_id(group_id("classic"))
                .with_error_code(69),
        ]);
        let r = parse(&resp);
        let g = r[0].1.as_ref().unwrap();
        assert_eq!(
            (g.state.as_str(), g.assignor.as_str()),
            ("Stable", "uniform")
        );
        assert_eq!(g.members[0].assignment.len(), 2);
        assert_eq!(r[1].1.as_ref().unwrap_err().broker_code(), Some(69));
    }
}

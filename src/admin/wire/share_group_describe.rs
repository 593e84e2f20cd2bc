//! ShareGroupDescribe (KIP-932): state, epochs and members of share groups, sent to each group's
//! coordinator. Only v1 exists (Kafka 4.1 dropped the early-access v0); a group that is not a
//! share group answers `GROUP_ID_NOT_FOUND`. Assignments carry topic names next to topic ids,
//! so no metadata lookup is needed.

use kafka_protocol::messages::share_group_describe_response::Assignment;
use kafka_protocol::messages::{ShareGroupDescribeRequest, ShareGroupDescribeResponse};

use super::group_answer;
use crate::protocol::requests::group_id;
use crate::types::{AclOperation, TopicPartition};
use crate::{Error, Result};

/// A member of a share group, with its assignment decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedShareMember {
    /// The member id.
    pub member_id: String,
    /// Its `client.rack`, if set.
    pub rack_id: Option<String>,
    /// Its member epoch.
    pub member_epoch: i32,
    /// `client.id`.
    pub client_id: String,
    /// The host the coordinator saw.
    pub client_host: String,
    /// The topics it subscribes to.
    pub subscribed_topics: Vec<String>,
    /// Its current assignment.
    pub assignment: Vec<TopicPartition>,
}

/// A described share group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedShareGroup {
    /// The group id.
    pub group_id: String,
    /// Its state (`Empty`, `Stable`, `Dead`).
    pub state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of the current target assignment.
    pub assignment_epoch: i32,
    /// The server-side assignor (`simple`).
    pub assignor: String,
    /// Its members.
    pub members: Vec<DescribedShareMember>,
    /// The caller's authorized operations, when asked for.
    pub authorized_operations: Option<Vec<AclOperation>>,
}

/// The request for `groups`, asking for the authorized operations when told to.
pub(crate) fn request<'a>(
    groups: impl IntoIterator<Item = &'a str>,
    include_authorized_operations: bool,
) -> ShareGroupDescribeRequest {
    ShareGroupDescribeRequest::default()
        .with_group_ids(groups.into_iter().map(group_id).collect())
        .with_include_authorized_operations(include_authorized_operations)
}

/// An assignment's partitions by topic name; a topic the broker sent without its name is
/// malformed (every broker that speaks v1 names them).
fn partitions(group: &str, member_id: &str, a: &Assignment) -> Result<Vec<TopicPartition>> {
    let mut out = Vec::new();
    for t in &a.topic_partitions {
        if t.topic_name.0.is_empty() {
            return Err(Error::malformed(format!(
                "group {group}: member {member_id} is assigned topic id {} without its name",
                t.topic_id
            ))
            .with_api("ShareGroupDescribe"));
        }
        out.extend(
            t.partitions
                .iter()
                .map(|p| TopicPartition::new(t.topic_name.0.as_str(), *p)),
        );
    }
    Ok(out)
}

fn members(
    group: &str,
    g: &kafka_protocol::messages::share_group_describe_response::DescribedGroup,
) -> Result<Vec<DescribedShareMember>> {
    g.members
        .iter()
        .map(|m| {
            Ok(DescribedShareMember {
                member_id: m.member_id.to_string(),
                rack_id: m.rack_id.as_ref().map(|s| s.to_string()),
                member_epoch: m.member_epoch,
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                subscribed_topics: m
                    .subscribed_topic_names
                    .iter()
                    .map(|t| t.0.to_string())
                    .collect(),
                assignment: partitions(group, &m.member_id, &m.assignment)?,
            })
        })
        .collect()
}

/// Every group's answer, in response order.
pub(crate) fn parse(
    resp: &ShareGroupDescribeResponse,
) -> Vec<(String, Result<DescribedShareGroup>)> {
    resp.groups
        .iter()
        .map(|g| {
            let (id, r) = group_answer(
                "ShareGroupDescribe",
                &g.group_id,
                g.error_code,
                g.error_message.as_ref(),
                |id| id,
            );
            let r = r.and_then(|id| {
                Ok(DescribedShareGroup {
                    members: members(&id, g)?,
                    group_id: id,
                    state: g.group_state.to_string(),
                    group_epoch: g.group_epoch,
                    assignment_epoch: g.assignment_epoch,
                    assignor: g.assignor_name.to_string(),
                    authorized_operations: AclOperation::from_bit_field(g.authorized_operations),
                })
            });
            (id, r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, str_bytes, topic_name};
    use kafka_protocol::messages::share_group_describe_response::{
        DescribedGroup as WireGroup, Member, TopicPartitions,
    };
    use kafka_protocol::protocol::StrBytes;
    use uuid::Uuid;

    fn member(topic: &str) -> Member {
        Member::default()
            .with_member_id(str_bytes("m"))
            .with_rack_id(Some(str_bytes("r1")))
            .with_member_epoch(3)
            .with_client_id(str_bytes("c"))
            .with_client_host(str_bytes("/127.0.0.1"))
            .with_subscribed_topic_names(vec![topic_name("a")])
            .with_assignment(Assignment::default().with_topic_partitions(
                vec![TopicPartitions::default()
                    .with_topic_id(Uuid::from_u128(7))
                    .with_topic_name(topic_name(topic))
                    .with_partitions(vec![0, 1])],
            ))
    }

    #[test]
    fn request_encodes_at_v1_only() {
        let req = request(["g", "h"], true);
        assert_eq!(req.group_ids.len(), 2);
        assert!(req.include_authorized_operations);
        assert!(encodes(&req, 1), "ShareGroupDescribe v1");
    }

    #[test]
    fn parse_reads_members_and_keeps_errors_per_group() {
        let resp = ShareGroupDescribeResponse::default().with_groups(vec![
            WireGroup::default()
                .with_group_id(group_id("g"))
                .with_group_state(str_bytes("Stable"))
                .with_group_epoch(5)
                .with_assignment_epoch(4)
                .with_assignor_name(str_bytes("simple"))
                .with_authorized_operations(i32::MIN)
                .with_members(vec![member("a")]),
            WireGroup::default()
                .with_group_id(group_id("consumer-group"))
                .with_error_code(69)
                .with_error_message(Some(StrBytes::from_static_str("not a share group"))),
            WireGroup::default()
                .with_group_id(group_id("nameless"))
                .with_members(vec![member("")]),
        ]);
        let r = parse(&resp);
        let g = r[0].1.as_ref().unwrap();
        assert_eq!(
            (g.state.as_str(), g.group_epoch, g.assignment_epoch),
            ("Stable", 5, 4)
        );
        assert_eq!(g.assignor, "simple");
        assert_eq!(g.authorized_operations, None);
        let m = &g.members[0];
        assert_eq!((m.rack_id.as_deref(), m.member_epoch), (Some("r1"), 3));
        assert_eq!(m.subscribed_topics, vec!["a".to_owned()]);
        assert_eq!(
            m.assignment,
            vec![TopicPartition::new("a", 0), TopicPartition::new("a", 1)]
        );
        let e = r[1].1.as_ref().unwrap_err();
        assert_eq!(e.broker_code(), Some(69));
        assert!(e.to_string().contains("group consumer-group"), "{e}");
        assert_eq!(e.broker_message(), Some("not a share group"));
        // A topic id without a name is malformed, not a partition of topic "".
        let e = r[2].1.as_ref().unwrap_err();
        assert!(e.to_string().contains("without its name"), "{e}");
        assert!(e.to_string().contains("group nameless"), "{e}");
    }
}

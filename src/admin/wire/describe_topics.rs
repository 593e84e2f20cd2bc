//! Metadata as the admin client's `describe_topics` uses it: the request asking for authorized
//! operations, and the response read into the public [`TopicDescription`]s. The plain Metadata
//! request (shared with the cluster layer) stays in `protocol::requests::metadata`; this part
//! lives here because only the admin client sends or reads it, and its result types are public.

use std::fmt;

use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
use uuid::Uuid;

use crate::protocol::requests::metadata;
use crate::types::{AclOperation, BrokerId, LeaderEpoch};
use crate::{Error, Result};

/// One partition of a described topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionDescription {
    /// Partition index.
    pub partition: i32,
    /// The leader; `None` while there is none (election in progress, every replica offline).
    pub leader: Option<BrokerId>,
    /// The leader epoch.
    pub leader_epoch: LeaderEpoch,
    /// Replicas, preferred leader first.
    pub replicas: Vec<BrokerId>,
    /// In-sync replicas.
    pub isr: Vec<BrokerId>,
    /// Replicas that are offline.
    pub offline_replicas: Vec<BrokerId>,
}

impl fmt::Display for PartitionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |v: &[BrokerId]| {
            v.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(f, "partition {} leader ", self.partition)?;
        match self.leader {
            Some(l) => write!(f, "{l}")?,
            None => f.write_str("none")?,
        }
        write!(
            f,
            " epoch {} replicas [{}] isr [{}]",
            self.leader_epoch,
            ids(&self.replicas),
            ids(&self.isr)
        )
    }
}

/// A described topic.
///
/// `Display` prints one line: `topic orders (id …): 3 partition(s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Topic id (KIP-516), when the broker sent one.
    pub topic_id: Option<Uuid>,
    /// Whether this is an internal topic (`__consumer_offsets`, …).
    pub is_internal: bool,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionDescription>,
    /// What the caller may do on the topic, when asked for (`None` if not asked or not said).
    pub authorized_operations: Option<Vec<AclOperation>>,
}

impl fmt::Display for TopicDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "topic {}", self.name)?;
        if let Some(id) = self.topic_id {
            write!(f, " (id {id})")?;
        }
        if self.is_internal {
            f.write_str(" internal")?;
        }
        write!(f, ": {} partition(s)", self.partitions.len())
    }
}

/// The Metadata request describing `topics` at `version` (no auto-creation), asking for the
/// caller's authorized operations on each (v8+) when `include_authorized_operations`.
pub(crate) fn describe_request<'a>(
    topics: impl IntoIterator<Item = &'a str>,
    include_authorized_operations: bool,
    version: i16,
) -> MetadataRequest {
    metadata::request(Some(topics), false)
        .with_include_topic_authorized_operations(include_authorized_operations && version >= 8)
}

/// Every topic of the response: its description, or its error (`UNKNOWN_TOPIC_OR_PARTITION`,
/// `TOPIC_AUTHORIZATION_FAILED`, …) naming it. Partition errors such as `LEADER_NOT_AVAILABLE`
/// leave the partition without a leader rather than failing the topic.
pub(crate) fn parse_topics(resp: &MetadataResponse) -> Vec<(String, Result<TopicDescription>)> {
    resp.topics
        .iter()
        .filter_map(|t| {
            let name = t.name.as_ref()?.0.to_string();
            if t.error_code != 0 {
                let e = Error::from_broker_code(t.error_code)
                    .with_topic(name.clone())
                    .with_api("Metadata");
                return Some((name, Err(e)));
            }
            let ids = |v: &[kafka_protocol::messages::BrokerId]| {
                v.iter().map(|b| BrokerId(b.0)).collect::<Vec<_>>()
            };
            let mut partitions: Vec<PartitionDescription> = t
                .partitions
                .iter()
                .map(|p| PartitionDescription {
                    partition: p.partition_index,
                    leader: (p.leader_id.0 >= 0).then_some(BrokerId(p.leader_id.0)),
                    leader_epoch: LeaderEpoch(p.leader_epoch),
                    replicas: ids(&p.replica_nodes),
                    isr: ids(&p.isr_nodes),
                    offline_replicas: ids(&p.offline_replicas),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let d = TopicDescription {
                name: name.clone(),
                topic_id: (!t.topic_id.is_nil()).then_some(t.topic_id),
                is_internal: t.is_internal,
                partitions,
                authorized_operations: AclOperation::from_bit_field(t.topic_authorized_operations),
            };
            Some((name, Ok(d)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::topic_name;

    #[test]
    fn describe_request_asks_for_operations_only_where_the_version_has_them() {
        for v in 4..=12 {
            let req = describe_request(["a"], true, v);
            assert_eq!(req.include_topic_authorized_operations, v >= 8, "v{v}");
            assert!(!req.allow_auto_topic_creation);
            assert!(crate::protocol::requests::encodes(&req, v), "Metadata v{v}");
        }
    }

    #[test]
    fn parse_topics_keeps_errors_per_topic() {
        use kafka_protocol::messages::metadata_response::{
            MetadataResponsePartition, MetadataResponseTopic,
        };
        use kafka_protocol::messages::BrokerId as W;
        let resp = MetadataResponse::default().with_topics(vec![
            MetadataResponseTopic::default()
                .with_name(Some(topic_name("a")))
                .with_topic_authorized_operations(1 << 3)
                .with_partitions(vec![
                    MetadataResponsePartition::default()
                        .with_partition_index(1)
                        .with_leader_id(W(-1))
                        .with_error_code(5),
                    MetadataResponsePartition::default()
                        .with_partition_index(0)
                        .with_leader_id(W(1))
                        .with_leader_epoch(4)
                        .with_replica_nodes(vec![W(1), W(2)])
                        .with_isr_nodes(vec![W(1)]),
                ]),
            MetadataResponseTopic::default()
                .with_name(Some(topic_name("missing")))
                .with_error_code(3),
        ]);
        let r = parse_topics(&resp);
        let a = r[0].1.as_ref().unwrap();
        assert_eq!(a.partitions[0].leader, Some(BrokerId(1)));
        assert_eq!(a.partitions[1].leader, None);
        assert_eq!(a.authorized_operations, Some(vec![AclOperation::Read]));
        assert_eq!(
            a.partitions[0].to_string(),
            "partition 0 leader 1 epoch 4 replicas [1,2] isr [1]"
        );
        assert_eq!(a.to_string(), "topic a: 2 partition(s)");
        let e = r[1].1.as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.topic()), (Some(3), Some("missing")));
    }
}

//! The metadata snapshot: brokers, topics, partitions, leaders and leader epochs. Pure data,
//! built from Metadata responses.

use crate::config::BrokerAddress;
use crate::types::LeaderEpoch;
use kafka_protocol::messages::MetadataResponse;
use std::collections::BTreeMap;
use tokio::time::Instant;
use uuid::Uuid;

/// A broker as the cluster advertises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub node_id: i32,
    /// Advertised address.
    pub addr: BrokerAddress,
    /// Rack, if configured.
    pub rack: Option<String>,
}

/// One partition's replicas and leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub partition: i32,
    /// Leader node id; `None` while there is no leader (election in progress, all replicas
    /// offline).
    pub leader: Option<i32>,
    /// Leader epoch; newer metadata never replaces a partition with an older epoch.
    pub leader_epoch: LeaderEpoch,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Offline replica node ids.
    pub offline_replicas: Vec<i32>,
    /// The partition-level error code of the response, if any (e.g. LEADER_NOT_AVAILABLE).
    pub error_code: i16,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id (KIP-516), when the broker sent one.
    pub topic_id: Option<Uuid>,
    /// Whether this is an internal topic (`__consumer_offsets`, …).
    pub is_internal: bool,
    /// The topic-level error code (e.g. UNKNOWN_TOPIC_OR_PARTITION), 0 if none.
    pub error_code: i16,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionInfo>,
}

/// A snapshot of cluster metadata. Immutable; refreshing builds a new one.
#[derive(Debug, Clone)]
pub struct ClusterMetadata {
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// The controller node id the broker reported (in KRaft mode, a random broker).
    pub controller_id: Option<i32>,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name (only those the last requests asked about, or all of them).
    pub topics: BTreeMap<String, TopicInfo>,
    /// When the snapshot was received.
    pub fetched_at: Instant,
}

impl ClusterMetadata {
    /// An empty snapshot (before the first Metadata response).
    pub fn empty() -> ClusterMetadata {
        ClusterMetadata {
            cluster_id: None,
            controller_id: None,
            brokers: BTreeMap::new(),
            topics: BTreeMap::new(),
            fetched_at: Instant::now(),
        }
    }

    /// Builds a snapshot from a Metadata response. Brokers with invalid ports and topics without
    /// a name are dropped (they cannot be addressed).
    pub fn from_response(resp: &MetadataResponse) -> ClusterMetadata {
        let brokers = resp
            .brokers
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok().filter(|p| *p != 0)?;
                Some((
                    b.node_id.0,
                    BrokerInfo {
                        node_id: b.node_id.0,
                        addr: BrokerAddress::new(b.host.as_str(), port),
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                    },
                ))
            })
            .collect();
        let topics = resp
            .topics
            .iter()
            .filter_map(|t| {
                let name = t.name.as_ref()?.0.to_string();
                let mut partitions: Vec<PartitionInfo> = t
                    .partitions
                    .iter()
                    .map(|p| PartitionInfo {
                        partition: p.partition_index,
                        leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                        leader_epoch: LeaderEpoch(p.leader_epoch),
                        replicas: p.replica_nodes.iter().map(|n| n.0).collect(),
                        isr: p.isr_nodes.iter().map(|n| n.0).collect(),
                        offline_replicas: p.offline_replicas.iter().map(|n| n.0).collect(),
                        error_code: p.error_code,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                Some((
                    name.clone(),
                    TopicInfo {
                        name,
                        topic_id: (!t.topic_id.is_nil()).then_some(t.topic_id),
                        is_internal: t.is_internal,
                        error_code: t.error_code,
                        partitions,
                    },
                ))
            })
            .collect();
        ClusterMetadata {
            cluster_id: resp.cluster_id.as_ref().map(|s| s.to_string()),
            controller_id: (resp.controller_id.0 >= 0).then_some(resp.controller_id.0),
            brokers,
            topics,
            fetched_at: Instant::now(),
        }
    }

    /// Merges a newer response into this snapshot: `fresh` wins, except that a partition whose
    /// leader epoch went *backwards* (a lagging broker answered) keeps the cached entry, as the
    /// Java client does. Topics not in `fresh` are kept unless `fresh` covered all topics.
    pub fn merge(&self, mut fresh: ClusterMetadata, fresh_is_complete: bool) -> ClusterMetadata {
        for (name, new_topic) in fresh.topics.iter_mut() {
            let Some(old_topic) = self.topics.get(name) else {
                continue;
            };
            // A recreated topic (new id) starts over: epochs of the old one do not apply.
            if old_topic.topic_id.is_some() && new_topic.topic_id != old_topic.topic_id {
                continue;
            }
            for p in new_topic.partitions.iter_mut() {
                if let Some(old) = old_topic.partition(p.partition) {
                    if p.leader_epoch.0 >= 0 && old.leader_epoch.0 > p.leader_epoch.0 {
                        *p = old.clone();
                    }
                }
            }
        }
        if !fresh_is_complete {
            for (name, t) in &self.topics {
                fresh
                    .topics
                    .entry(name.clone())
                    .or_insert_with(|| t.clone());
            }
        }
        fresh
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicInfo> {
        self.topics.get(name)
    }

    /// The leader of a partition and its epoch, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<(&BrokerInfo, LeaderEpoch)> {
        let p = self.topic(topic)?.partition(partition)?;
        let broker = self.brokers.get(&p.leader?)?;
        Some((broker, p.leader_epoch))
    }
}

impl TopicInfo {
    /// A partition by index.
    pub fn partition(&self, index: i32) -> Option<&PartitionInfo> {
        self.partitions
            .binary_search_by_key(&index, |p| p.partition)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::*;
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn response(epoch: i32, leader: i32) -> MetadataResponse {
        MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(leader))
                .with_host(StrBytes::from_static_str("h"))
                .with_port(9092)])
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(vec![MetadataResponsePartition::default()
                    .with_partition_index(0)
                    .with_leader_id(BrokerId(leader))
                    .with_leader_epoch(epoch)])])
    }

    #[test]
    fn leader_epoch_never_goes_backwards() {
        let cached = ClusterMetadata::from_response(&response(5, 1));
        let stale = ClusterMetadata::from_response(&response(4, 2));
        let merged = cached.merge(stale, true);
        let p = merged.topic("t").unwrap().partition(0).unwrap();
        assert_eq!((p.leader, p.leader_epoch), (Some(1), LeaderEpoch(5)));
        let newer = ClusterMetadata::from_response(&response(6, 2));
        let merged = merged.merge(newer, true);
        assert_eq!(merged.leader("t", 0).unwrap().1, LeaderEpoch(6));
    }

    #[test]
    fn partial_refresh_keeps_other_topics() {
        let cached = ClusterMetadata::from_response(&response(1, 1));
        let mut other = ClusterMetadata::empty();
        other.brokers = cached.brokers.clone();
        assert!(cached.merge(other.clone(), false).topic("t").is_some());
        assert!(cached.merge(other, true).topic("t").is_none());
    }
}

//! Metadata and DescribeCluster.

use crate::log::code;
use crate::server::Ctx;
use crate::state::{authorized, valid_topic_name, ClusterState};
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, MetadataRequest, MetadataResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;

pub(super) fn metadata(ctx: Ctx<'_>, req: MetadataRequest, version: i16) -> MetadataResponse {
    let mut state = ctx.shared.lock();
    // v0 asks for all topics with an empty list; v1+ with null.
    let names: Option<Vec<(Option<String>, uuid::Uuid)>> = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(
            t.into_iter()
                .map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id))
                .collect(),
        ),
    };
    // Topics are auto-created when the request allows it (v4+; always before) and the cluster
    // is configured to.
    let allow_create =
        (version < 4 || req.allow_auto_topic_creation) && state.config.auto_create_topics;
    // Topic operations from v8; cluster operations v8-10 (DescribeCluster carries them later).
    let topic_ops = if version >= 8 && req.include_topic_authorized_operations {
        authorized::TOPIC
    } else {
        authorized::OMITTED
    };
    let cluster_ops = if (8..=10).contains(&version) && req.include_cluster_authorized_operations {
        authorized::CLUSTER
    } else {
        authorized::OMITTED
    };
    let mut topics = Vec::new();
    let mut created = false;
    let targets: Vec<(String, i32)> = match &names {
        None => state.topics.keys().map(|n| (n.clone(), -1)).collect(),
        Some(requested) => requested
            .iter()
            .filter_map(|(n, _)| Some((n.clone()?, -1)))
            .collect(),
    };
    let targets: Vec<(&str, i32)> = targets.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let fault = ctx.take_fault(3, &targets);
    // An injected error replaces the topic's entry (and a topic it would create is not).
    let injected = |name: &str| {
        fault.as_ref().filter(|f| f.covers_topic(name)).map(|f| {
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
                .with_error_code(f.code)
                .with_topic_authorized_operations(authorized::OMITTED)
        })
    };
    match names {
        None => {
            for name in state.topics.keys().cloned().collect::<Vec<_>>() {
                if let Some(entry) = injected(&name) {
                    topics.push(entry);
                    continue;
                }
                topics.push(topic_entry(&state, &name, topic_ops));
            }
        }
        Some(requested) => {
            for (name, id) in requested {
                let name = match name {
                    Some(n) => n,
                    None => match state.topics.iter().find(|(_, t)| t.id == id) {
                        Some((n, _)) => n.clone(),
                        None => {
                            topics.push(
                                MetadataResponseTopic::default()
                                    .with_error_code(code::UNKNOWN_TOPIC_ID)
                                    .with_topic_id(id)
                                    .with_topic_authorized_operations(authorized::OMITTED),
                            );
                            continue;
                        }
                    },
                };
                if let Some(entry) = injected(&name) {
                    topics.push(entry);
                    continue;
                }
                if !state.topics.contains_key(&name) && allow_create && valid_topic_name(&name) {
                    let partitions = state.config.default_partitions;
                    if state
                        .create_topic(&name, partitions, 1, BTreeMap::new())
                        .is_ok()
                    {
                        tracing::info!(
                            topic = %name,
                            partitions,
                            client_id = ctx.client_id,
                            "topic auto-created by Metadata"
                        );
                        created = true;
                        // A KRaft broker answers the request that creates a topic with
                        // UNKNOWN_TOPIC_OR_PARTITION: the topic is there from the next one.
                        topics.push(
                            MetadataResponseTopic::default()
                                .with_name(Some(TopicName(StrBytes::from_string(name))))
                                .with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION)
                                .with_topic_authorized_operations(authorized::OMITTED),
                        );
                        continue;
                    }
                }
                topics.push(topic_entry(&state, &name, topic_ops));
            }
        }
    }
    let resp = MetadataResponse::default()
        .with_brokers(brokers(&state))
        .with_cluster_id(Some(StrBytes::from_string(state.cluster_id.clone())))
        .with_controller_id(BrokerId(state.controller_id()))
        .with_topics(topics)
        .with_cluster_authorized_operations(cluster_ops);
    drop(state);
    if created {
        ctx.shared.data.notify_waiters();
    }
    resp
}

fn brokers(state: &ClusterState) -> Vec<MetadataResponseBroker> {
    state
        .brokers
        .iter()
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(StrBytes::from_string(b.addr.ip().to_string()))
                .with_port(i32::from(b.addr.port()))
        })
        .collect()
}

fn topic_entry(state: &ClusterState, name: &str, ops: i32) -> MetadataResponseTopic {
    let entry = MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
        .with_topic_authorized_operations(authorized::OMITTED);
    let Some(topic) = state.topics.get(name) else {
        let code = if valid_topic_name(name) {
            code::UNKNOWN_TOPIC_OR_PARTITION
        } else {
            code::INVALID_TOPIC_EXCEPTION
        };
        return entry.with_error_code(code);
    };
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let replicas: Vec<BrokerId> = p.replicas.iter().map(|r| BrokerId(*r)).collect();
            MetadataResponsePartition::default()
                .with_partition_index(i as i32)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_isr_nodes(replicas.clone())
                .with_replica_nodes(replicas)
        })
        .collect();
    entry
        .with_topic_authorized_operations(ops)
        .with_topic_id(topic.id)
        .with_is_internal(false)
        .with_partitions(partitions)
}

pub(super) fn describe_cluster(
    ctx: Ctx<'_>,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let state = ctx.shared.lock();
    let brokers = state
        .brokers
        .iter()
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.id))
                .with_host(StrBytes::from_string(b.addr.ip().to_string()))
                .with_port(i32::from(b.addr.port()))
        })
        .collect();
    DescribeClusterResponse::default()
        .with_endpoint_type(1)
        .with_cluster_id(StrBytes::from_string(state.cluster_id.clone()))
        .with_controller_id(BrokerId(state.controller_id()))
        .with_brokers(brokers)
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            authorized::CLUSTER
        } else {
            authorized::OMITTED
        })
}

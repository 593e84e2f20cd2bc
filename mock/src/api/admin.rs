//! CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs.

use crate::log::code;
use crate::server::Ctx;
use crate::state::Topic;
use crate::MockConfig;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    TopicName,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;

/// DescribeConfigs resource types.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
/// Config sources.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// Topic configs the mock knows, with their defaults (Kafka's, except `retention.bytes`, which
/// is the cluster's bound on memory).
fn topic_defaults(cfg: &MockConfig) -> Vec<(&'static str, String)> {
    vec![
        ("cleanup.policy", "delete".into()),
        ("compression.type", "producer".into()),
        ("max.message.bytes", cfg.max_message_bytes.to_string()),
        ("message.timestamp.type", "CreateTime".into()),
        ("min.insync.replicas", "1".into()),
        ("retention.bytes", cfg.retention_bytes.to_string()),
        ("retention.ms", "604800000".into()),
        ("segment.bytes", "1073741824".into()),
    ]
}

/// Kafka's topic-level config names (`LogConfig`); CreateTopics and IncrementalAlterConfigs
/// refuse others with INVALID_CONFIG, as a broker does. The mock stores them all and acts on
/// `retention.bytes` and `max.message.bytes`.
const TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// Configs whose value is a number (a long): a value that does not parse is INVALID_CONFIG.
const NUMERIC_CONFIGS: &[&str] = &[
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
];

/// Checks one topic config as a broker would: a known name, a number where one is expected.
fn check_config(name: &str, value: &str) -> Result<(), (i16, String)> {
    if !TOPIC_CONFIGS.contains(&name) {
        return Err((
            code::INVALID_CONFIG,
            format!("Unknown topic config name: {name}"),
        ));
    }
    if NUMERIC_CONFIGS.contains(&name) && value.trim().parse::<i64>().is_err() {
        return Err((
            code::INVALID_CONFIG,
            format!("Invalid value {value} for configuration {name}: Not a number of type LONG"),
        ));
    }
    Ok(())
}

fn str(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// A config's name, value and source.
type ConfigEntry = (String, String, i8);

fn configs_of(topic: &Topic, cfg: &MockConfig) -> Vec<ConfigEntry> {
    let mut out: Vec<ConfigEntry> = topic_defaults(cfg)
        .into_iter()
        .map(|(k, v)| match topic.configs.get(k) {
            Some(set) => (k.to_owned(), set.clone(), SOURCE_TOPIC),
            None => (k.to_owned(), v, SOURCE_DEFAULT),
        })
        .collect();
    for (k, v) in &topic.configs {
        if !out.iter().any(|(name, _, _)| name == k) {
            out.push((k.clone(), v.clone(), SOURCE_TOPIC));
        }
    }
    out
}

pub(super) fn create_topics(ctx: Ctx<'_>, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut state = ctx.shared.lock();
    let cfg = state.config.clone();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.0.to_string();
        let partitions = if t.num_partitions == -1 {
            cfg.default_partitions
        } else {
            t.num_partitions
        };
        // -1: the broker's default.replication.factor, 1 here.
        let rf = if t.replication_factor == -1 {
            1
        } else {
            t.replication_factor
        };
        let mut configs = BTreeMap::new();
        for c in &t.configs {
            if let Some(v) = &c.value {
                configs.insert(c.name.to_string(), v.to_string());
            }
        }
        let mut result = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        let bad_config = configs.iter().find_map(|(k, v)| check_config(k, v).err());
        let outcome = if let Some(bad) = bad_config {
            Err(bad)
        } else if !t.assignments.is_empty() {
            Err((
                code::INVALID_REQUEST,
                "manual replica assignments are not supported by the mock".to_owned(),
            ))
        } else if req.validate_only {
            // Check without creating: the same rules on a scratch copy of the name space.
            if state.topics.contains_key(&name) {
                Err((
                    code::TOPIC_ALREADY_EXISTS,
                    format!("Topic '{name}' already exists."),
                ))
            } else {
                Ok(())
            }
        } else {
            state.create_topic(&name, partitions, rf, configs)
        };
        match outcome {
            Ok(()) => {
                result = result
                    .with_num_partitions(partitions)
                    .with_replication_factor(rf);
                if let Some(topic) = state.topics.get(&name) {
                    result = result.with_topic_id(topic.id).with_configs(Some(
                        configs_of(topic, &cfg)
                            .into_iter()
                            .map(|(k, v, source)| {
                                CreatableTopicConfigs::default()
                                    .with_name(str(k))
                                    .with_value(Some(str(v)))
                                    .with_config_source(source)
                            })
                            .collect(),
                    ));
                }
            }
            Err((e, msg)) => {
                result = result.with_error_code(e).with_error_message(Some(str(msg)));
            }
        }
        results.push(result);
    }
    drop(state);
    ctx.shared.data.notify_waiters();
    CreateTopicsResponse::default().with_topics(results)
}

pub(super) fn delete_topics(ctx: Ctx<'_>, req: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let mut state = ctx.shared.lock();
    // v0-5 name topics in `topic_names`, v6 in `topics` (by name or id).
    let mut wanted: Vec<(Option<String>, uuid::Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
        .collect();
    wanted.extend(
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id)),
    );
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let name = name.or_else(|| {
            state
                .topics
                .iter()
                .find(|(_, t)| t.id == id)
                .map(|(n, _)| n.clone())
        });
        let mut r = DeletableTopicResult::default().with_topic_id(id);
        match name {
            Some(n) => {
                r = r.with_name(Some(TopicName(str(n.clone()))));
                match state.topics.remove(&n) {
                    Some(t) => r = r.with_topic_id(t.id),
                    None => r = r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION),
                }
            }
            None => r = r.with_error_code(code::UNKNOWN_TOPIC_ID),
        }
        responses.push(r);
    }
    drop(state);
    ctx.shared.data.notify_waiters();
    DeleteTopicsResponse::default().with_responses(responses)
}

pub(super) fn create_partitions(
    ctx: Ctx<'_>,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut state = ctx.shared.lock();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.0.to_string();
        let outcome = if t.assignments.is_some() {
            Err((
                code::INVALID_REQUEST,
                "manual replica assignments are not supported by the mock".to_owned(),
            ))
        } else if req.validate_only {
            match state.topics.get(&name) {
                None => Err((code::UNKNOWN_TOPIC_OR_PARTITION, format!("The topic '{name}' does not exist."))),
                Some(topic) if t.count <= topic.partitions.len() as i32 => Err((
                    code::INVALID_PARTITIONS,
                    format!("Topic currently has {} partitions, which is higher than or equal to the requested {}.", topic.partitions.len(), t.count),
                )),
                Some(_) => Ok(()),
            }
        } else {
            state.add_partitions(&name, t.count)
        };
        let mut r = CreatePartitionsTopicResult::default().with_name(t.name);
        if let Err((e, msg)) = outcome {
            r = r.with_error_code(e).with_error_message(Some(str(msg)));
        }
        results.push(r);
    }
    drop(state);
    ctx.shared.data.notify_waiters();
    CreatePartitionsResponse::default().with_results(results)
}

pub(super) fn describe_configs(
    ctx: Ctx<'_>,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let state = ctx.shared.lock();
    let cfg = &state.config;
    let mut results = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let mut r = DescribeConfigsResult::default()
            .with_resource_type(res.resource_type)
            .with_resource_name(res.resource_name.clone());
        let entries: Result<Vec<ConfigEntry>, (i16, String)> = match res.resource_type {
            RESOURCE_TOPIC => match state.topics.get(res.resource_name.as_str()) {
                Some(topic) => Ok(configs_of(topic, cfg)),
                None => Err((
                    code::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("Topic {} does not exist", res.resource_name.as_str()),
                )),
            },
            RESOURCE_BROKER => Ok(vec![
                // Static broker configs (read-only, as a broker marks them). The log lives in
                // memory; `log.dirs` says so.
                (
                    "log.dirs".into(),
                    "(in memory)".into(),
                    SOURCE_STATIC_BROKER,
                ),
                (
                    "auto.create.topics.enable".into(),
                    cfg.auto_create_topics.to_string(),
                    SOURCE_STATIC_BROKER,
                ),
                (
                    "num.partitions".into(),
                    cfg.default_partitions.to_string(),
                    SOURCE_STATIC_BROKER,
                ),
                (
                    "message.max.bytes".into(),
                    cfg.max_message_bytes.to_string(),
                    SOURCE_STATIC_BROKER,
                ),
                (
                    "log.retention.bytes".into(),
                    cfg.retention_bytes.to_string(),
                    SOURCE_STATIC_BROKER,
                ),
            ]),
            other => Err((
                code::INVALID_REQUEST,
                format!("resource type {other} is not served by the mock (topics and brokers are)"),
            )),
        };
        match entries {
            Ok(list) => {
                let keys = res.configuration_keys.as_ref();
                r = r.with_configs(
                    list.into_iter()
                        .filter(|(k, _, _)| {
                            keys.is_none_or(|ks| ks.iter().any(|x| x.as_str() == k))
                        })
                        .map(|(k, v, source)| {
                            DescribeConfigsResourceResult::default()
                                .with_name(str(k))
                                .with_value(Some(str(v)))
                                .with_read_only(source == SOURCE_STATIC_BROKER)
                                .with_config_source(source)
                        })
                        .collect(),
                );
            }
            Err((e, msg)) => r = r.with_error_code(e).with_error_message(Some(str(msg))),
        }
        results.push(r);
    }
    DescribeConfigsResponse::default().with_results(results)
}

/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

pub(super) fn incremental_alter_configs(
    ctx: Ctx<'_>,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut state = ctx.shared.lock();
    let mut responses = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let mut r = AlterConfigsResourceResponse::default()
            .with_resource_type(res.resource_type)
            .with_resource_name(res.resource_name.clone());
        let outcome = if res.resource_type != RESOURCE_TOPIC {
            Err((
                code::INVALID_REQUEST,
                "the mock alters topic configs only".to_owned(),
            ))
        } else {
            match state.topics.get_mut(res.resource_name.as_str()) {
                None => Err((
                    code::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("Topic {} does not exist", res.resource_name.as_str()),
                )),
                Some(topic) => {
                    let mut configs = topic.configs.clone();
                    let mut bad = None;
                    for c in &res.configs {
                        let name = c.name.to_string();
                        match (c.config_operation, &c.value) {
                            (OP_SET, Some(v)) => {
                                if let Err(e) = check_config(&name, v) {
                                    bad = Some(e);
                                }
                                configs.insert(name, v.to_string());
                            }
                            (OP_DELETE, _) => {
                                if let Err(e) = check_config(&name, "0") {
                                    bad = Some(e);
                                }
                                configs.remove(&name);
                            }
                            (op, _) => {
                                bad = Some((
                                    code::INVALID_REQUEST,
                                    format!("operation {op} on {name} is not served by the mock (SET and DELETE are)"),
                                ));
                            }
                        }
                    }
                    match bad {
                        Some(e) => Err(e),
                        None => {
                            if !req.validate_only {
                                topic.configs = configs;
                            }
                            Ok(())
                        }
                    }
                }
            }
        };
        if let Err((e, msg)) = outcome {
            r = r.with_error_code(e).with_error_message(Some(str(msg)));
        }
        responses.push(r);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

pub(super) fn delete_records(ctx: Ctx<'_>, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut state = ctx.shared.lock();
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.0.to_string();
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                let out = DeleteRecordsPartitionResult::default()
                    .with_partition_index(p.partition_index)
                    .with_low_watermark(-1);
                let answer = state
                    .partition_mut(&name, p.partition_index)
                    .and_then(|part| {
                        if part.leader != ctx.node {
                            return Err(code::NOT_LEADER_OR_FOLLOWER);
                        }
                        part.log.delete_records(p.offset)
                    });
                match answer {
                    Ok(low) => out.with_low_watermark(low),
                    Err(e) => out.with_error_code(e),
                }
            })
            .collect();
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

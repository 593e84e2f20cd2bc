//! OffsetCommit and OffsetFetch: committed offsets per group and partition.

use super::consumer::offsets::{consumer_commit_error, fetch_error};
use super::group::{Committed, Group, State};
use super::{is_coordinator, str};
use crate::log::code;
use crate::server::Ctx;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use std::collections::{BTreeMap, HashMap};
use tokio::time::Instant;

/// Kafka's `offset.metadata.max.bytes` default.
const MAX_METADATA_BYTES: usize = 4096;

/// Committed offsets by topic, then partition (None: no commit).
pub(crate) type Fetched = Vec<(String, Vec<(i32, Option<Committed>)>)>;

/// Who commits: a member of a generation, or (generation < 0, empty member id) a "simple"
/// committer using the group only to store offsets.
#[derive(Debug, Clone, Default)]
pub(crate) struct CommitParams {
    pub member_id: String,
    pub instance_id: Option<String>,
    /// The member epoch, for a member of a consumer-protocol group.
    pub generation: i32,
    /// The OffsetCommit version: a consumer-protocol member must use v9+.
    pub version: i16,
}

/// Validates a commit as Kafka's classic group does and stores `offsets` when it passes.
/// Returns the group-level error (NONE: stored). A simple commit creates the group (Empty).
pub(crate) fn commit(
    groups: &mut HashMap<String, Group>,
    group_id: &str,
    c: &CommitParams,
    offsets: Vec<((String, i32), Committed)>,
    now: Instant,
) -> i16 {
    if !groups.contains_key(group_id) {
        if c.generation >= 0 {
            return code::ILLEGAL_GENERATION;
        }
        groups.insert(group_id.to_owned(), Group::new());
    }
    let Some(group) = groups.get_mut(group_id) else {
        return code::ILLEGAL_GENERATION;
    };
    if let Some(cg) = group.consumer.as_deref() {
        let err = consumer_commit_error(cg, c);
        if err == code::NONE {
            group.offsets.extend(offsets);
        }
        return err;
    }
    let simple = c.generation < 0 && group.state == State::Empty;
    if !simple {
        let err = group.check_member(c.instance_id.as_deref(), &c.member_id, c.generation);
        if err != code::NONE {
            return err;
        }
        // The generation's assignment is not known yet: a commit now may be for partitions
        // the member is about to lose.
        if group.state == State::CompletingRebalance {
            return code::REBALANCE_IN_PROGRESS;
        }
        if let Some(m) = group.member_mut(&c.member_id) {
            m.deadline = now + m.session_timeout;
        }
    }
    group.offsets.extend(offsets);
    code::NONE
}

/// Committed offsets of `group_id` for `topics` (None: every partition with a commit). A
/// partition without a commit (or an unknown group) answers None: offset -1, as Kafka does.
pub(crate) fn fetch(
    groups: &HashMap<String, Group>,
    group_id: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Fetched {
    let offsets = groups.get(group_id).map(|g| &g.offsets);
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(t, parts)| {
                let parts = parts
                    .into_iter()
                    .map(|p| {
                        let c = offsets.and_then(|o| o.get(&(t.clone(), p))).cloned();
                        (p, c)
                    })
                    .collect();
                (t, parts)
            })
            .collect(),
        None => {
            let mut by_topic: BTreeMap<String, Vec<(i32, Option<Committed>)>> = BTreeMap::new();
            for ((t, p), c) in offsets.into_iter().flatten() {
                by_topic
                    .entry(t.clone())
                    .or_default()
                    .push((*p, Some(c.clone())));
            }
            by_topic.into_iter().collect()
        }
    }
}

pub(super) fn offset_commit(
    ctx: Ctx<'_>,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group_id = req.group_id.0.to_string();
    // Partition counts of the topics named, read before the groups lock (never both held).
    let coordinator = is_coordinator(ctx, &group_id);
    let counts = {
        let state = ctx.shared.lock();
        let counts: HashMap<String, usize> = req
            .topics
            .iter()
            .filter_map(|t| {
                let n = state.topics.get(t.name.as_str())?.partitions.len();
                Some((t.name.to_string(), n))
            })
            .collect();
        counts
    };
    let exists = |t: &str, p: i32| {
        counts
            .get(t)
            .is_some_and(|n| usize::try_from(p).is_ok_and(|p| p < *n))
    };
    let mut errors: HashMap<(String, i32), i16> = HashMap::new();
    let mut accepted = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            let key = (t.name.to_string(), p.partition_index);
            let too_large = p
                .committed_metadata
                .as_ref()
                .is_some_and(|m| m.len() > MAX_METADATA_BYTES);
            let err = if !coordinator {
                code::NOT_COORDINATOR
            } else if !exists(&key.0, key.1) {
                code::UNKNOWN_TOPIC_OR_PARTITION
            } else if too_large {
                code::OFFSET_METADATA_TOO_LARGE
            } else {
                accepted.push((
                    key.clone(),
                    Committed {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                    },
                ));
                continue;
            };
            errors.insert(key, err);
        }
    }
    if !accepted.is_empty() {
        let params = CommitParams {
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|i| i.to_string()),
            generation: req.generation_id_or_member_epoch,
            version,
        };
        let keys: Vec<(String, i32)> = accepted.iter().map(|(k, _)| k.clone()).collect();
        let now = Instant::now();
        let err = ctx
            .shared
            .groups
            .with(|g| commit(g, &group_id, &params, accepted, now));
        for k in keys {
            errors.insert(k, err);
        }
    }
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let key = (t.name.to_string(), p.partition_index);
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(errors.get(&key).copied().unwrap_or(code::NONE))
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// Fetches one group's offsets, or the group-level error (NOT_COORDINATOR, or for v9+ the
/// member's UNKNOWN_MEMBER_ID / STALE_MEMBER_EPOCH in a consumer-protocol group).
fn fetch_group(
    ctx: Ctx<'_>,
    group_id: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    member: (Option<&str>, i32),
) -> Result<Fetched, i16> {
    if !is_coordinator(ctx, group_id) {
        return Err(code::NOT_COORDINATOR);
    }
    ctx.shared.groups.with(|g| {
        let err = fetch_error(g, group_id, member.0, member.1);
        if err != code::NONE {
            return Err(err);
        }
        Ok(fetch(g, group_id, topics))
    })
}

/// (offset, leader epoch, metadata) of an answer; no commit is offset -1, epoch -1, "".
fn parts(c: Option<Committed>) -> (i64, i32, String) {
    match c {
        Some(c) => (c.offset, c.leader_epoch, c.metadata.unwrap_or_default()),
        None => (-1, -1, String::new()),
    }
}

pub(super) fn offset_fetch(
    ctx: Ctx<'_>,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes))
                        .collect()
                });
                let resp = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
                let member = (g.member_id.as_ref().map(|m| m.as_str()), g.member_epoch);
                match fetch_group(ctx, g.group_id.as_str(), topics, member) {
                    Err(e) => resp.with_error_code(e),
                    Ok(found) => resp.with_topics(
                        found
                            .into_iter()
                            .map(|(t, ps)| {
                                OffsetFetchResponseTopics::default()
                                    .with_name(TopicName(str(t)))
                                    .with_partitions(
                                        ps.into_iter()
                                            .map(|(p, c)| {
                                                let (o, e, m) = parts(c);
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(p)
                                                    .with_committed_offset(o)
                                                    .with_committed_leader_epoch(e)
                                                    .with_metadata(Some(str(m)))
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    ),
                }
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let requested: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.to_string(), t.partition_indexes))
            .collect()
    });
    let (found, error) =
        match fetch_group(ctx, req.group_id.as_str(), requested.clone(), (None, -1)) {
            Ok(found) => (found, code::NONE),
            // v1 has no top-level error: each partition asked for carries it.
            Err(e) if version < 2 => (
                requested
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, None)).collect()))
                    .collect(),
                e,
            ),
            Err(e) => (Vec::new(), e),
        };
    let partition_error = if version < 2 { error } else { code::NONE };
    let topics = found
        .into_iter()
        .map(|(t, ps)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(str(t)))
                .with_partitions(
                    ps.into_iter()
                        .map(|(p, c)| {
                            let (o, e, m) = parts(c);
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(o)
                                .with_committed_leader_epoch(e)
                                .with_metadata(Some(str(m)))
                                .with_error_code(partition_error)
                        })
                        .collect(),
                )
        })
        .collect();
    let resp = OffsetFetchResponse::default().with_topics(topics);
    if version >= 2 {
        resp.with_error_code(error)
    } else {
        resp
    }
}

impl super::Groups {
    /// Offsets a committed transaction held (TxnOffsetCommit): made visible in `group_id`'s
    /// committed offsets, as the coordinator does on the COMMIT marker. Creates the group (Empty)
    /// if it is unknown.
    pub(crate) fn commit_transactional(
        &self,
        group_id: &str,
        offsets: Vec<((String, i32), crate::txn::TxnOffset)>,
    ) {
        self.with(|groups| {
            let group = groups.entry(group_id.to_owned()).or_insert_with(Group::new);
            group.offsets.extend(offsets.into_iter().map(
                |(key, (offset, leader_epoch, metadata))| {
                    (
                        key,
                        Committed {
                            offset,
                            leader_epoch,
                            metadata,
                        },
                    )
                },
            ));
        });
    }
}

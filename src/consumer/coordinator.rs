//! Talking to the group coordinator: FindCoordinator, OffsetFetch and OffsetCommit, version-aware
//! and with the coordinator cached and rediscovered when it moves.

use super::fetch::CommittedOffset;
use crate::cluster::Cluster;
use crate::connection::{Backoff, BrokerConnection, Jitter, Purpose};
use crate::error::code::{
    COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, FENCED_INSTANCE_ID,
    ILLEGAL_GENERATION, NOT_COORDINATOR, REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID,
};
use crate::retry::{api_timeout, retry_until, GaveUp, Retry};
use crate::types::{LeaderEpoch, Offset, TopicPartition};
use crate::{Error, ErrorKind, Result};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// An offset to commit for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetToCommit {
    /// The offset of the next record to consume (the last processed + 1).
    pub offset: Offset,
    /// The leader epoch of the last processed record, if known.
    pub leader_epoch: Option<LeaderEpoch>,
    /// Application metadata stored with the offset.
    pub metadata: Option<String>,
}

impl OffsetToCommit {
    /// Commits `offset` with no epoch or metadata.
    pub fn new(offset: Offset) -> OffsetToCommit {
        OffsetToCommit {
            offset,
            leader_epoch: None,
            metadata: None,
        }
    }
}

/// Group membership fields sent with a commit: `-1` and empty for a consumer outside group
/// management (`assign`), the current generation otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitIdentity {
    /// Generation id (`-1` without group management).
    pub generation: i32,
    /// Member id (empty without group management).
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
}

impl Default for CommitIdentity {
    fn default() -> Self {
        CommitIdentity {
            generation: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// The coordinator of one group, found on demand and forgotten when it moves.
#[derive(Debug)]
pub(crate) struct Coordinator {
    cluster: Arc<Cluster>,
    group: String,
    node: Mutex<Option<i32>>,
}

/// Codes after which the coordinator must be looked up again.
fn coordinator_moved(code: Option<i16>) -> bool {
    matches!(
        code,
        Some(COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR)
    )
}

/// The group moved on from the generation a commit carried (FENCED_INSTANCE_ID: another
/// instance took this static member's place, which is fatal).
pub(crate) fn is_group_error(code: Option<i16>) -> bool {
    matches!(
        code,
        Some(ILLEGAL_GENERATION | UNKNOWN_MEMBER_ID | REBALANCE_IN_PROGRESS | FENCED_INSTANCE_ID)
    )
}

impl Coordinator {
    pub fn new(cluster: Arc<Cluster>, group: String) -> Coordinator {
        Coordinator {
            cluster,
            group,
            node: Mutex::new(None),
        }
    }

    fn forget(&self) {
        *self.node.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// A connection to the coordinator, looking it up if needed.
    pub async fn connection(&self) -> Result<BrokerConnection> {
        let known = *self.node.lock().unwrap_or_else(|p| p.into_inner());
        let node = match known {
            Some(n) => n,
            None => {
                let n = self.find().await?;
                *self.node.lock().unwrap_or_else(|p| p.into_inner()) = Some(n);
                n
            }
        };
        match self
            .cluster
            .connection_to(node, Purpose::Coordination)
            .await
        {
            Ok(c) => Ok(c),
            Err(e) => {
                self.forget();
                Err(e)
            }
        }
    }

    async fn find(&self) -> Result<i32> {
        find_coordinator(&self.cluster, &self.group).await
    }

    /// Remembers `node` as the coordinator (found by the group task).
    pub fn remember(&self, node: i32) {
        *self.node.lock().unwrap_or_else(|p| p.into_inner()) = Some(node);
    }

    /// Runs `op` against the coordinator, rediscovering it and retrying retriable errors until
    /// `default.api.timeout.ms`.
    async fn with_retries<T, F, Fut>(&self, api: &'static str, op: F) -> Result<T>
    where
        F: Fn(BrokerConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let cfg = self.cluster.config();
        let waits = Retry::new(
            Some(Instant::now() + cfg.default_api_timeout),
            Backoff::new(cfg.retry_backoff, cfg.retry_backoff_max),
            Jitter::Global,
        );
        let op = &op;
        let result = retry_until(
            waits,
            |e: &Error| {
                if coordinator_moved(e.broker_code())
                    || matches!(
                        e.kind(),
                        ErrorKind::Disconnected { .. } | ErrorKind::Connect
                    )
                {
                    self.forget();
                }
                // A group error (the generation moved on) is not retried with the same
                // generation: the membership must rejoin first.
                e.is_retriable() && !is_group_error(e.broker_code())
            },
            || async move { op(self.connection().await?).await },
        )
        .await;
        result.map_err(|gave_up| match gave_up {
            GaveUp::Permanent(e) => e,
            GaveUp::Deadline(e) => api_timeout(api, &e),
        })
    }

    /// The group's committed offsets for `tps` (`None`: nothing committed).
    pub async fn fetch_offsets(
        &self,
        tps: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, Option<CommittedOffset>)>> {
        let group = self.group.clone();
        self.with_retries("OffsetFetch", |conn| {
            let group = group.clone();
            async move { offset_fetch(&conn, &group, tps).await }
        })
        .await
    }

    /// Commits `offsets`; per-partition errors fail the call with the first one (after retries
    /// of retriable ones).
    pub async fn commit(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetToCommit>,
        identity: &CommitIdentity,
    ) -> Result<()> {
        let group = self.group.clone();
        self.with_retries("OffsetCommit", |conn| {
            let group = group.clone();
            async move { offset_commit(&conn, &group, offsets, identity).await }
        })
        .await
    }
}

/// Sends FindCoordinator (key type GROUP) for `group` to any broker; returns the node id.
pub(crate) async fn find_coordinator(cluster: &Cluster, group: &str) -> Result<i32> {
    let conn = cluster.any_connection(Purpose::Control).await?;
    let version = conn.version_for::<FindCoordinatorRequest>()?;
    let mut req = FindCoordinatorRequest::default().with_key_type(0);
    if version >= 4 {
        req.coordinator_keys = vec![StrBytes::from_string(group.to_owned())];
    } else {
        req.key = StrBytes::from_string(group.to_owned());
    }
    let resp = conn.send(&req).await?;
    let (code, node, msg) = if version >= 4 {
        match resp.coordinators.first() {
            Some(c) => (c.error_code, c.node_id.0, c.error_message.clone()),
            None => return Err(Error::malformed("FindCoordinator answered no coordinator")),
        }
    } else {
        (resp.error_code, resp.node_id.0, resp.error_message.clone())
    };
    if code != 0 {
        return Err(Error::from_broker_code(code)
            .with_api("FindCoordinator")
            .with_broker_message(msg.map(|m| m.to_string())));
    }
    Ok(node)
}

fn by_topic(tps: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut m: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in tps {
        m.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    m
}

fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

async fn offset_fetch(
    conn: &BrokerConnection,
    group: &str,
    tps: &[TopicPartition],
) -> Result<Vec<(TopicPartition, Option<CommittedOffset>)>> {
    let version = conn.version_for::<OffsetFetchRequest>()?;
    let topics = by_topic(tps);
    let mut req = OffsetFetchRequest::default();
    if version >= 8 {
        req.groups = vec![OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
            .with_member_epoch(-1)
            .with_topics(Some(
                topics
                    .iter()
                    .map(|(t, ps)| {
                        OffsetFetchRequestTopics::default()
                            .with_name(topic_name(t))
                            .with_partition_indexes(ps.clone())
                    })
                    .collect(),
            ))];
    } else {
        req.group_id = GroupId(StrBytes::from_string(group.to_owned()));
        req.topics = Some(
            topics
                .iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partition_indexes(ps.clone())
                })
                .collect(),
        );
    }
    let resp = conn.send(&req).await?;
    let mut out = Vec::new();
    let mut push =
        |topic: &str, p: i32, code: i16, offset: i64, epoch: i32, meta: Option<&StrBytes>| {
            if code != 0 {
                return Err(Error::from_broker_code(code)
                    .with_partition(topic, p)
                    .with_api("OffsetFetch"));
            }
            let committed = (offset >= 0).then(|| CommittedOffset {
                offset: Offset(offset),
                leader_epoch: (epoch >= 0).then_some(LeaderEpoch(epoch)),
                metadata: meta.map(|m| m.to_string()),
            });
            out.push((TopicPartition::new(topic, p), committed));
            Ok(())
        };
    if version >= 8 {
        let g = resp
            .groups
            .first()
            .ok_or_else(|| Error::malformed("OffsetFetch answered no group"))?;
        if g.error_code != 0 {
            return Err(Error::from_broker_code(g.error_code).with_api("OffsetFetch"));
        }
        for t in &g.topics {
            for p in &t.partitions {
                push(
                    t.name.0.as_str(),
                    p.partition_index,
                    p.error_code,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref(),
                )?;
            }
        }
    } else {
        if resp.error_code != 0 {
            return Err(Error::from_broker_code(resp.error_code).with_api("OffsetFetch"));
        }
        for t in &resp.topics {
            for p in &t.partitions {
                push(
                    t.name.0.as_str(),
                    p.partition_index,
                    p.error_code,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref(),
                )?;
            }
        }
    }
    Ok(out)
}

async fn offset_commit(
    conn: &BrokerConnection,
    group: &str,
    offsets: &BTreeMap<TopicPartition, OffsetToCommit>,
    identity: &CommitIdentity,
) -> Result<()> {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, o) in offsets {
        topics.entry(tp.topic.as_str()).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(o.offset.0)
                .with_committed_leader_epoch(o.leader_epoch.map_or(-1, |e| e.0))
                .with_committed_metadata(o.metadata.clone().map(StrBytes::from_string)),
        );
    }
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_generation_id_or_member_epoch(identity.generation)
        .with_member_id(StrBytes::from_string(identity.member_id.clone()))
        .with_group_instance_id(
            identity
                .group_instance_id
                .clone()
                .map(StrBytes::from_string),
        )
        .with_retention_time_ms(-1)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let resp = conn.send(&req).await?;
    for t in &resp.topics {
        for p in &t.partitions {
            if p.error_code != 0 {
                return Err(Error::from_broker_code(p.error_code)
                    .with_partition(t.name.0.as_str(), p.partition_index)
                    .with_api("OffsetCommit"));
            }
        }
    }
    Ok(())
}

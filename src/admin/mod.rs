//! The admin client: topics, partitions, offsets, consumer and share groups, and configs.
//!
//! | area | calls |
//! |---|---|
//! | topics | [`create_topics`](AdminClient::create_topics), [`delete_topics`](AdminClient::delete_topics), [`list_topics`](AdminClient::list_topics), [`describe_topics`](AdminClient::describe_topics), [`create_partitions`](AdminClient::create_partitions), [`wait_for_topic`](AdminClient::wait_for_topic) |
//! | cluster | [`describe_cluster`](AdminClient::describe_cluster) |
//! | offsets and records | [`list_offsets`](AdminClient::list_offsets), [`delete_records`](AdminClient::delete_records) |
//! | consumer groups | [`list_consumer_groups`](AdminClient::list_consumer_groups), [`describe_consumer_groups`](AdminClient::describe_consumer_groups), [`delete_consumer_groups`](AdminClient::delete_consumer_groups), [`list_consumer_group_offsets`](AdminClient::list_consumer_group_offsets), [`alter_consumer_group_offsets`](AdminClient::alter_consumer_group_offsets), [`delete_consumer_group_offsets`](AdminClient::delete_consumer_group_offsets), [`consumer_group_lag`](AdminClient::consumer_group_lag) |
//! | share groups (KIP-932) | [`list_share_groups`](AdminClient::list_share_groups), [`describe_share_groups`](AdminClient::describe_share_groups), [`delete_share_groups`](AdminClient::delete_share_groups), [`list_share_group_offsets`](AdminClient::list_share_group_offsets), [`alter_share_group_offsets`](AdminClient::alter_share_group_offsets), [`delete_share_group_offsets`](AdminClient::delete_share_group_offsets) |
//! | configs | [`describe_configs`](AdminClient::describe_configs), [`incremental_alter_configs`](AdminClient::incremental_alter_configs) |
//! | brokers and partitions | [`describe_log_dirs`](AdminClient::describe_log_dirs), [`elect_leaders`](AdminClient::elect_leaders) |
//! | ACLs | [`describe_acls`](AdminClient::describe_acls), [`create_acls`](AdminClient::create_acls), [`delete_acls`](AdminClient::delete_acls) |
//! | producers and transactions | [`describe_producers`](AdminClient::describe_producers), [`list_transactions`](AdminClient::list_transactions), [`describe_transactions`](AdminClient::describe_transactions) |
//!
//! Every call that is about several resources (topics, partitions, groups, config resources)
//! answers **per resource**: the outer `Result` fails only when the call as a whole could not
//! be made (no broker reachable, an unsupported broker), and one refused topic does not fail the
//! others. Calls retry retriable errors (refreshing metadata when the error asks for it, finding
//! the group coordinator again after `NOT_COORDINATOR`) until `default.api.timeout.ms`, as the
//! Java admin client does; a resource still failing then gets a `Timeout` error naming the last
//! broker error. Permanent errors return at once.
//!
//! What it does not do yet: altering replica log dirs, reassigning partitions, aborting
//! transactions, quotas, delegation tokens, SCRAM credentials.

mod acls;
mod cluster_info;
mod configs;
mod groups;
mod operations;
mod partitions;
mod share_groups;
mod wire;

pub use crate::cluster::{PartitionInfo, TopicInfo};
pub use crate::protocol::requests::list_offsets::ListedOffset;
pub use crate::protocol::requests::offset_fetch::CommittedOffset;
pub use groups::{GroupDescription, GroupProtocol, MemberDescription, PartitionLag};
pub use partitions::{NewPartitions, OffsetSpec};
pub use share_groups::{ShareGroupDescription, ShareMemberDescription};
pub use wire::acls::{
    AclBinding, AclFilter, AclPermission, DeletedAcls, PatternType, ResourceType,
};
pub use wire::describe_cluster::{BrokerDescription, ClusterDescription};
pub use wire::describe_configs::{ConfigEntry, ConfigResource, ConfigSource};
pub use wire::describe_log_dirs::{LogDirDescription, ReplicaLogInfo};
pub use wire::describe_share_group_offsets::SharePartitionOffset;
pub use wire::describe_topics::{PartitionDescription, TopicDescription};
pub use wire::elect_leaders::ElectionType;
pub use wire::incremental_alter_configs::AlterConfigOp;
pub use wire::list_groups::ListedGroup;
pub use wire::transactions::{ListedTransaction, ProducerDescription, TransactionDescription};

use crate::cluster::ClusterMetadata;
use crate::cluster::CoordinatorType;
use crate::cluster::{Cluster, TopicSelection};
use crate::config::ClientConfig;
use crate::connection::BrokerConnection;
use crate::connection::{ConnectionPool, Purpose};
use crate::error::code::{LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION};
use crate::protocol::api::ApiRequest;
use crate::retry::{self, retry_until};
use crate::retry::{Backoff, Jitter};
use crate::types::TopicPartition;
use crate::{Error, ErrorClass, ErrorKind, Result};
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use wire::create_topics::{self, TopicToCreate};
use wire::delete_topics;

/// A topic to create.
///
/// ```
/// use ferrokafka::admin::NewTopic;
/// let t = NewTopic::new("orders", 6, 3).config("min.insync.replicas", "2");
/// assert_eq!(t.partitions, 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Number of partitions (`-1` = the broker's `num.partitions`).
    pub partitions: i32,
    /// Replication factor (`-1` = the broker's `default.replication.factor`).
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy`, `max.message.bytes`, …).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and `replication_factor` replicas each.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor,
            configs: BTreeMap::new(),
        }
    }

    /// Adds a topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> NewTopic {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// An admin client.
///
/// ```no_run
/// # async fn f() -> ferrokafka::Result<()> {
/// use ferrokafka::admin::{AdminClient, NewTopic};
/// use ferrokafka::config::ClientConfig;
/// let admin = AdminClient::new(ClientConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?);
/// admin.create_topics(&[NewTopic::new("orders", 3, 1)]).await?;
/// for t in admin.list_topics().await? {
///     println!("{} ({} partitions)", t.name, t.partitions.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AdminClient {
    cluster: Arc<Cluster>,
}

impl AdminClient {
    /// An admin client with its own connections.
    pub fn new(cfg: ClientConfig) -> AdminClient {
        AdminClient::with_error_handler(cfg, None)
    }

    /// Like [`new`](Self::new), with a handler that receives, as they happen, the failures the
    /// calls retry without returning them: failed connects (refused, timed out, a name that does
    /// not resolve, TLS and SASL failures) and failed metadata requests. The same failure (kind,
    /// broker, API) reaches it at most once a second. A call's own result still carries the
    /// error it finally failed with.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use ferrokafka::admin::AdminClient;
    /// use ferrokafka::config::ClientConfig;
    /// use std::sync::Arc;
    /// let admin = AdminClient::with_error_handler(
    ///     ClientConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?,
    ///     Some(Arc::new(|e| eprintln!("kafka admin: {e}"))),
    /// );
    /// # Ok(()) }
    /// ```
    pub fn with_error_handler(
        cfg: ClientConfig,
        handler: Option<crate::ErrorHandler>,
    ) -> AdminClient {
        AdminClient {
            cluster: Cluster::with_handler(ConnectionPool::new(&cfg), cfg, handler),
        }
    }

    /// An admin client sharing an existing cluster view. Not a stable API: `Cluster` lives in
    /// `__private` (feature `unstable-internals`), for the project's own tests and tools.
    #[cfg(feature = "unstable-internals")]
    #[doc(hidden)]
    pub fn from_cluster(cluster: Arc<Cluster>) -> AdminClient {
        AdminClient { cluster }
    }

    /// The shared cluster view. Not a stable API: `Cluster` lives in
    /// `__private` (feature `unstable-internals`), for the project's own tests and tools.
    #[cfg(feature = "unstable-internals")]
    #[doc(hidden)]
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    fn backoff(&self) -> Backoff {
        let c = self.cluster.config();
        Backoff::new(c.retry_backoff, c.retry_backoff_max)
    }

    /// `request.timeout.ms` as the `timeout_ms` of requests the controller completes.
    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.cluster.config().request_timeout.as_millis()).unwrap_or(i32::MAX)
    }

    fn retry(&self, api: &'static str) -> Retry {
        Retry {
            api,
            waits: retry::Retry::new(
                Some(Instant::now() + self.cluster.config().default_api_timeout),
                self.backoff(),
                Jitter::Global,
            ),
        }
    }

    /// Runs `op` against `group`'s coordinator, looking the coordinator up again and retrying
    /// retriable errors (`NOT_COORDINATOR`, `COORDINATOR_LOAD_IN_PROGRESS`, a lost connection)
    /// until `default.api.timeout.ms`.
    async fn on_coordinator<T, F, Fut>(&self, group: &str, api: &'static str, op: F) -> Result<T>
    where
        F: Fn(BrokerConnection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut retry = self.retry(api);
        loop {
            let outcome = async {
                let conn = self
                    .cluster
                    .coordinator_connection(CoordinatorType::Group, group)
                    .await?;
                op(conn).await
            }
            .await;
            match outcome {
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.cluster
                        .on_coordinator_error(CoordinatorType::Group, group, &e);
                    retry.after(e, &self.cluster).await?
                }
            }
        }
    }

    /// Sends a per-partition request to each partition's leader (all leaders at once) and
    /// gathers one answer per partition. `send` builds, sends and parses one leader's request.
    /// Partitions whose answer is retriable (leader moved, no leader yet, connection lost) are
    /// sent again after a metadata refresh until `default.api.timeout.ms`; a topic the fresh
    /// metadata does not know gets `UNKNOWN_TOPIC_OR_PARTITION` at once.
    async fn per_leader<T, F, Fut>(
        &self,
        api: &'static str,
        partitions: &[TopicPartition],
        send: F,
    ) -> BTreeMap<TopicPartition, Result<T>>
    where
        F: Fn(BrokerConnection, Vec<TopicPartition>) -> Fut,
        Fut: Future<Output = Result<BTreeMap<TopicPartition, Result<T>>>>,
    {
        let mut done: BTreeMap<TopicPartition, Result<T>> = BTreeMap::new();
        let mut pending: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        let mut waits = retry::Retry::new(
            Some(Instant::now() + self.cluster.config().default_api_timeout),
            self.backoff(),
            Jitter::Global,
        );
        while !pending.is_empty() {
            let mut last_err = None;
            let topics: BTreeSet<String> = pending.iter().map(|tp| tp.topic.clone()).collect();
            match self
                .cluster
                .refresh(TopicSelection::Topics(topics.into_iter().collect()))
                .await
            {
                Err(e) if !e.is_retriable() => {
                    for tp in std::mem::take(&mut pending) {
                        done.insert(tp, Err(e.clone()));
                    }
                }
                Err(e) => last_err = Some(e),
                Ok(md) => {
                    let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
                    for tp in pending.clone() {
                        match leader_of(&md, &tp) {
                            Ok(leader) => by_leader.entry(leader).or_default().push(tp),
                            Err(e) if e.is_retriable() => last_err = Some(e),
                            Err(e) => {
                                pending.remove(&tp);
                                done.insert(tp, Err(e.with_api(api)));
                            }
                        }
                    }
                    let rounds = by_leader.into_iter().map(|(leader, tps)| {
                        let send = &send;
                        async move {
                            let answer = async {
                                let conn =
                                    self.cluster.connection_to(leader, Purpose::Control).await?;
                                send(conn, tps.clone()).await
                            }
                            .await;
                            (tps, answer)
                        }
                    });
                    for (tps, answer) in join_all(rounds).await {
                        match answer {
                            Ok(mut answers) => {
                                for tp in tps {
                                    let r = answers.remove(&tp).unwrap_or_else(|| {
                                        Err(Error::malformed(format!(
                                            "{api} response omitted the partition"
                                        ))
                                        .with_partition(tp.topic.clone(), tp.partition))
                                    });
                                    match r {
                                        Err(e) if e.is_retriable() => last_err = Some(e),
                                        r => {
                                            pending.remove(&tp);
                                            done.insert(tp, r);
                                        }
                                    }
                                }
                            }
                            Err(e) if e.is_retriable() => last_err = Some(e),
                            Err(e) => {
                                for tp in tps {
                                    pending.remove(&tp);
                                    done.insert(tp, Err(e.clone()));
                                }
                            }
                        }
                    }
                }
            }
            if pending.is_empty() {
                break;
            }
            let last = last_err.unwrap_or_else(|| Error::from_broker_code(LEADER_NOT_AVAILABLE));
            match waits.next_wait() {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    for tp in std::mem::take(&mut pending) {
                        let e = retry::api_timeout(api, &last)
                            .with_partition(tp.topic.clone(), tp.partition);
                        done.insert(tp, Err(e));
                    }
                }
            }
        }
        done
    }

    /// Sends a per-topic controller request (CreateTopics, DeleteTopics, CreatePartitions) to
    /// any broker (KRaft brokers forward it to the controller) and gathers one answer per
    /// topic, in the order given. Topics answered with a retriable error are sent again, alone,
    /// until `default.api.timeout.ms`; `UNKNOWN_TOPIC_OR_PARTITION` (retriable elsewhere) is the
    /// answer here: the controller says the topic does not exist.
    async fn per_topic<'a, T, R, B, P>(
        &self,
        api: &'static str,
        items: &'a [T],
        name: impl Fn(&T) -> &str,
        build: B,
        parse: P,
    ) -> Result<Vec<(String, Result<()>)>>
    where
        R: ApiRequest,
        B: Fn(&[&'a T], i16) -> R,
        P: Fn(&R::Response) -> Vec<(String, Result<()>)>,
    {
        let mut results: BTreeMap<String, Result<()>> = BTreeMap::new();
        let mut pending: Vec<&T> = items.iter().collect();
        let mut retry = self.retry(api);
        while !pending.is_empty() {
            let outcome = async {
                let conn = self.cluster.any_connection(Purpose::Control).await?;
                let version = conn.version_for::<R>()?;
                conn.send(&build(&pending, version)).await
            }
            .await;
            let resp = match outcome {
                Ok(r) => r,
                Err(e) => {
                    retry.after(e, &self.cluster).await?;
                    continue;
                }
            };
            let mut retry_err = None;
            let mut again = Vec::new();
            for (topic, r) in parse(&resp) {
                match r {
                    Err(e)
                        if e.is_retriable()
                            && e.broker_code() != Some(UNKNOWN_TOPIC_OR_PARTITION) =>
                    {
                        again.extend(pending.iter().copied().filter(|t| name(t) == topic));
                        retry_err = Some(e);
                    }
                    Err(e) if e.broker_code() == Some(UNKNOWN_TOPIC_OR_PARTITION) => {
                        results
                            .insert(topic, Err(e.reclassify(ErrorClass::ApplicationRecoverable)));
                    }
                    r => {
                        results.insert(topic, r);
                    }
                }
            }
            pending = again;
            if let Some(e) = retry_err {
                retry.after(e, &self.cluster).await?;
            }
        }
        Ok(items
            .iter()
            .map(|t| {
                let topic = name(t).to_owned();
                let r = results.remove(&topic).unwrap_or_else(|| {
                    Err(
                        Error::malformed(format!("{api} response omitted the topic"))
                            .with_topic(topic.clone()),
                    )
                });
                (topic, r)
            })
            .collect())
    }

    /// Creates topics. Returns one result per topic, in the order given; a topic that already
    /// exists gives `TOPIC_ALREADY_EXISTS` (an application-recoverable error).
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the broker may create the topics after the future is dropped.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<Vec<(String, Result<()>)>> {
        let timeout_ms = self.timeout_ms();
        self.per_topic(
            "CreateTopics",
            topics,
            |t| &t.name,
            |pending, _version| {
                create_topics::request(
                    pending.iter().map(|t| TopicToCreate {
                        name: &t.name,
                        partitions: t.partitions,
                        replication_factor: t.replication_factor,
                        configs: t
                            .configs
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .collect(),
                    }),
                    timeout_ms,
                )
            },
            create_topics::parse,
        )
        .await
    }

    /// Creates one topic; `Err` if the broker refused it (including when it already exists).
    ///
    /// # Cancel safety
    /// As [`create_topics`](Self::create_topics).
    pub async fn create_topic(&self, topic: NewTopic) -> Result<()> {
        let mut r = self.create_topics(std::slice::from_ref(&topic)).await?;
        match r.pop() {
            Some((_, res)) => res,
            None => Err(Error::malformed("CreateTopics response omitted the topic")),
        }
    }

    /// Deletes topics by name; one result per topic, in the order given.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the broker may delete the topics after the future is dropped.
    pub async fn delete_topics<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<Vec<(String, Result<()>)>> {
        let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        let timeout_ms = self.timeout_ms();
        self.per_topic(
            "DeleteTopics",
            &names,
            |n| n,
            |pending, version| {
                delete_topics::request(pending.iter().map(|n| **n), timeout_ms, version)
            },
            delete_topics::parse,
        )
        .await
    }

    /// Lists every topic (internal ones included) with its partitions, leaders, replicas and ISR.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        let mut retry = self.retry("Metadata");
        loop {
            match self.cluster.refresh(TopicSelection::All).await {
                Ok(md) => return Ok(md.topics.values().cloned().collect()),
                Err(e) => retry.after(e, &self.cluster).await?,
            }
        }
    }

    /// Waits until `topic` appears in metadata with `partitions` partitions that all have a
    /// leader (a freshly created topic takes a moment to elect them), or `timeout` passes.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn wait_for_topic(
        &self,
        topic: &str,
        partitions: usize,
        timeout: Duration,
    ) -> Result<TopicInfo> {
        let deadline = Instant::now() + timeout;
        let waits = retry::Retry::new(Some(deadline), self.backoff(), Jitter::Global);
        // Every failure is waited out: a refresh error, the topic still missing, a partition
        // still without a leader. Only the deadline ends the wait.
        let ready = retry_until(
            waits,
            |_: &()| true,
            || async {
                let md = self
                    .cluster
                    .refresh(TopicSelection::Topics(vec![topic.to_owned()]))
                    .await
                    .map_err(drop)?;
                let t = md.topic(topic).ok_or(())?;
                let ready = t.error_code == 0
                    && t.partitions.len() >= partitions
                    && t.partitions.iter().all(|p| p.leader.is_some());
                if ready {
                    Ok(t.clone())
                } else {
                    Err(())
                }
            },
        )
        .await;
        ready.map_err(|_| {
            Error::new(ErrorKind::Timeout)
                .with_topic(topic)
                .with_detail("topic did not get a leader for every partition in time")
        })
    }
}

/// The leader of `tp` in `md`, or why there is none: `UNKNOWN_TOPIC_OR_PARTITION` (permanent
/// here: the metadata was just refreshed) when the topic or partition does not exist, the
/// topic's own error, or a retriable `LEADER_NOT_AVAILABLE` while the partition has no leader.
fn leader_of(md: &ClusterMetadata, tp: &TopicPartition) -> Result<i32> {
    let unknown = || {
        Error::from_broker_code(UNKNOWN_TOPIC_OR_PARTITION)
            .reclassify(ErrorClass::ApplicationRecoverable)
            .with_partition(tp.topic.clone(), tp.partition)
    };
    let Some(t) = md.topic(&tp.topic) else {
        return Err(unknown());
    };
    if t.error_code == UNKNOWN_TOPIC_OR_PARTITION {
        return Err(unknown());
    }
    if t.error_code != 0 {
        return Err(
            Error::from_broker_code(t.error_code).with_partition(tp.topic.clone(), tp.partition)
        );
    }
    let Some(p) = t.partition(tp.partition) else {
        return Err(unknown());
    };
    p.leader.ok_or_else(|| {
        Error::from_broker_code(LEADER_NOT_AVAILABLE).with_partition(tp.topic.clone(), tp.partition)
    })
}

/// Retry bookkeeping of one admin call: retriable errors wait out the backoff (refreshing
/// metadata first when the error asks for it) until `default.api.timeout.ms`.
struct Retry {
    api: &'static str,
    waits: retry::Retry,
}

impl Retry {
    /// Returns `Ok(())` after waiting if `e` may be retried, or the error to give up with.
    async fn after(&mut self, e: Error, cluster: &Cluster) -> Result<()> {
        if !e.is_retriable() {
            return Err(e);
        }
        let Some(wait) = self.waits.next_wait() else {
            return Err(retry::api_timeout(self.api, &e));
        };
        // The refresh runs before the wait (not in it), so the next attempt sees fresh metadata.
        if e.needs_leader_lookup() {
            let _ = cluster.refresh(TopicSelection::Topics(Vec::new())).await;
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId as W, MetadataResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn md() -> ClusterMetadata {
        let topic = |name: &str, code: i16, parts: Vec<MetadataResponsePartition>| {
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
                .with_error_code(code)
                .with_partitions(parts)
        };
        let part = |i: i32, leader: i32| {
            MetadataResponsePartition::default()
                .with_partition_index(i)
                .with_leader_id(W(leader))
        };
        ClusterMetadata::from_response(
            &MetadataResponse::default()
                .with_brokers(vec![MetadataResponseBroker::default()
                    .with_node_id(W(1))
                    .with_host(StrBytes::from_static_str("h"))
                    .with_port(9092)])
                .with_topics(vec![
                    topic("a", 0, vec![part(0, 1), part(1, -1)]),
                    topic("gone", 3, vec![]),
                    topic("denied", 29, vec![]),
                ]),
        )
    }

    #[test]
    fn leader_of_tells_unknown_from_not_yet_elected() {
        let md = md();
        let tp = |t: &str, p| TopicPartition::new(t, p);
        assert_eq!(leader_of(&md, &tp("a", 0)).ok(), Some(1));
        // No leader yet: retriable, so the call waits for the election.
        let e = leader_of(&md, &tp("a", 1)).unwrap_err();
        assert_eq!(e.broker_code(), Some(LEADER_NOT_AVAILABLE));
        assert!(e.is_retriable());
        // Unknown topic, unknown partition, topic missing from the response: the answer.
        for missing in [tp("gone", 0), tp("a", 7), tp("never-asked", 0)] {
            let e = leader_of(&md, &missing).unwrap_err();
            assert_eq!(
                e.broker_code(),
                Some(UNKNOWN_TOPIC_OR_PARTITION),
                "{missing}"
            );
            assert!(!e.is_retriable(), "{missing}: {e}");
            assert_eq!(e.partition(), Some(missing.partition));
        }
        // Another topic error (TOPIC_AUTHORIZATION_FAILED) keeps its own class.
        let e = leader_of(&md, &tp("denied", 0)).unwrap_err();
        assert_eq!(e.broker_code(), Some(29));
        assert!(!e.is_retriable());
    }
}

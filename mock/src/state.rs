//! The cluster's state, in memory: brokers, topics and their partition logs, producer ids.
//! One mutex guards it all (a test cluster's load is small); a `Notify` wakes long-polling
//! fetches when data arrives.

use crate::log::{code, PartitionLog};
use crate::MockConfig;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use uuid::Uuid;

/// A broker of the mock cluster.
#[derive(Debug, Clone)]
pub(crate) struct Broker {
    pub id: i32,
    pub addr: SocketAddr,
}

/// One partition: its log, leader and replicas.
#[derive(Debug)]
pub(crate) struct Partition {
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub log: PartitionLog,
}

/// A topic.
#[derive(Debug)]
pub(crate) struct Topic {
    pub id: Uuid,
    pub partitions: Vec<Partition>,
    /// Topic-level configs set at creation (CreateTopics `configs`), by name.
    pub configs: BTreeMap<String, String>,
}

impl Topic {
    /// `retention.bytes` of this topic: its own config, else the cluster default.
    pub fn retention_bytes(&self, cfg: &MockConfig) -> u64 {
        self.configs
            .get("retention.bytes")
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(cfg.retention_bytes, |v| {
                // -1 means unlimited on a real broker; the mock still bounds memory.
                if v < 0 {
                    cfg.retention_bytes
                } else {
                    v as u64
                }
            })
    }

    /// `max.message.bytes` of this topic.
    pub fn max_message_bytes(&self, cfg: &MockConfig) -> usize {
        self.configs
            .get("max.message.bytes")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(cfg.max_message_bytes)
    }
}

/// Producer ids handed out by InitProducerId.
#[derive(Debug, Default)]
pub(crate) struct ProducerIds {
    pub next: i64,
}

/// Everything a broker knows.
#[derive(Debug)]
pub(crate) struct ClusterState {
    pub config: MockConfig,
    pub cluster_id: String,
    pub brokers: Vec<Broker>,
    pub topics: BTreeMap<String, Topic>,
    pub producer_ids: ProducerIds,
    /// The transaction coordinator's state, by transactional id.
    pub txns: crate::txn::Txns,
    /// Bumped on every topic change; lets a topic deleted and recreated get a fresh layout.
    pub topic_layout_seed: usize,
    /// The finalized features' epoch ApiVersions reports; UpdateFeatures moves it.
    pub features_epoch: i64,
    /// Coordinators moved by the control API (`Control::move_coordinator`): key → broker id,
    /// consulted before the hash.
    pub moved_coordinators: BTreeMap<String, i32>,
}

/// The longest topic name Kafka accepts.
const MAX_TOPIC_NAME: usize = 249;

/// Kafka's rule for topic names: 1-249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOPIC_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl ClusterState {
    pub fn new(config: MockConfig, brokers: Vec<Broker>) -> ClusterState {
        ClusterState {
            cluster_id: config.cluster_id.clone(),
            config,
            brokers,
            topics: BTreeMap::new(),
            producer_ids: ProducerIds { next: 1000 },
            txns: crate::txn::Txns::new(),
            topic_layout_seed: 0,
            features_epoch: 1,
            moved_coordinators: BTreeMap::new(),
        }
    }

    /// The controller (KRaft's active controller as brokers report it): the first broker.
    pub fn controller_id(&self) -> i32 {
        self.brokers.first().map_or(-1, |b| b.id)
    }

    /// Creates a topic, its leaders spread round-robin over the brokers from a rotating start
    /// (as Kafka's replica placement does), `replication_factor` distinct replicas each.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<(), (i16, String)> {
        if !valid_topic_name(name) {
            return Err((
                code::INVALID_TOPIC_EXCEPTION,
                format!("topic name {name:?} is not 1-249 of [a-zA-Z0-9._-]"),
            ));
        }
        if self.topics.contains_key(name) {
            return Err((
                code::TOPIC_ALREADY_EXISTS,
                format!("Topic '{name}' already exists."),
            ));
        }
        if partitions <= 0 {
            return Err((
                code::INVALID_PARTITIONS,
                "Number of partitions must be larger than 0.".into(),
            ));
        }
        let n = self.brokers.len();
        let rf = usize::try_from(replication_factor).unwrap_or(0);
        if rf == 0 || rf > n {
            return Err((
                code::INVALID_REPLICATION_FACTOR,
                format!(
                    "Replication factor: {replication_factor} larger than available brokers: {n}."
                ),
            ));
        }
        let start = self.topic_layout_seed;
        self.topic_layout_seed = self.topic_layout_seed.wrapping_add(1);
        let parts = (0..partitions as usize)
            .map(|p| {
                let replicas: Vec<i32> = (0..rf)
                    .map(|r| self.brokers[(start + p + r) % n].id)
                    .collect();
                Partition {
                    leader: replicas[0],
                    leader_epoch: 0,
                    replicas,
                    log: PartitionLog::new(),
                }
            })
            .collect();
        self.topics.insert(
            name.to_owned(),
            Topic {
                id: uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid(),
                partitions: parts,
                configs,
            },
        );
        Ok(())
    }

    /// Adds partitions to a topic (CreatePartitions), placed as `create_topic` places them.
    pub fn add_partitions(&mut self, name: &str, count: i32) -> Result<(), (i16, String)> {
        let n = self.brokers.len();
        let brokers: Vec<i32> = self.brokers.iter().map(|b| b.id).collect();
        let start = self.topic_layout_seed;
        let Some(topic) = self.topics.get_mut(name) else {
            return Err((
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("This server does not host this topic: {name}"),
            ));
        };
        let current = topic.partitions.len() as i32;
        if count <= current {
            return Err((
                code::INVALID_PARTITIONS,
                format!("Topic currently has {current} partitions, which is higher than or equal to the requested {count}."),
            ));
        }
        let rf = topic.partitions.first().map_or(1, |p| p.replicas.len());
        for p in current..count {
            let replicas: Vec<i32> = (0..rf)
                .map(|r| brokers[(start + p as usize + r) % n])
                .collect();
            topic.partitions.push(Partition {
                leader: replicas[0],
                leader_epoch: 0,
                replicas,
                log: PartitionLog::new(),
            });
        }
        Ok(())
    }

    /// A partition, or UNKNOWN_TOPIC_OR_PARTITION.
    pub fn partition_mut(&mut self, topic: &str, partition: i32) -> Result<&mut Partition, i16> {
        self.topics
            .get_mut(topic)
            .and_then(|t| {
                usize::try_from(partition)
                    .ok()
                    .and_then(|p| t.partitions.get_mut(p))
            })
            .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)
    }

    /// The broker that coordinates `key` (a group or transactional id): a hash of the key over
    /// the brokers, as Kafka maps a key to a partition of `__consumer_offsets` and then to its
    /// leader; unless the control API moved it.
    pub fn coordinator_for(&self, key: &str) -> &Broker {
        if let Some(b) = self
            .moved_coordinators
            .get(key)
            .and_then(|id| self.brokers.iter().find(|b| b.id == *id))
        {
            return b;
        }
        // Java's String.hashCode, so the choice is stable across runs and processes.
        let h = key
            .encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
        // Over the brokers the cluster started with: a broker added later leads no partition of
        // `__consumer_offsets`, so it coordinates nothing until a coordinator is moved to it.
        let n = self.config.brokers.clamp(1, self.brokers.len());
        let idx = (h.unsigned_abs() as usize) % n;
        &self.brokers[idx]
    }

    /// A new producer id (InitProducerId without a transactional id).
    pub fn next_producer_id(&mut self) -> i64 {
        let id = self.producer_ids.next;
        self.producer_ids.next += 1;
        id
    }
}

/// The operations a client may perform, as a bitfield of Kafka's ACL operation codes (READ 3,
/// WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10,
/// ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12). The mock has no authorizer: every operation that
/// applies to the resource is allowed, as on a broker without one.
pub(crate) mod authorized {
    const fn bits(ops: &[u8]) -> i32 {
        let mut v = 0i32;
        let mut i = 0;
        while i < ops.len() {
            v |= 1 << ops[i];
            i += 1;
        }
        v
    }
    /// Cluster: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
    /// IDEMPOTENT_WRITE.
    pub const CLUSTER: i32 = bits(&[5, 7, 8, 9, 10, 11, 12]);
    /// Topic: READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
    pub const TOPIC: i32 = bits(&[3, 4, 5, 6, 7, 8, 10, 11]);
    /// Group: READ, DELETE, DESCRIBE.
    pub const GROUP: i32 = bits(&[3, 6, 8]);
    /// "Not requested" (Kafka's `Integer.MIN_VALUE`).
    pub const OMITTED: i32 = i32::MIN;
}

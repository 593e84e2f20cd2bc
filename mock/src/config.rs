//! [`MockConfig`]: how a mock cluster starts (brokers, ports, topic defaults, listener security,
//! KIP-848 group timing, the finalized transaction version).

use crate::auth;
use std::time::Duration;

/// How a [`MockCluster`](crate::MockCluster) starts. `MockConfig::default()` is one broker with Kafka's defaults.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub(crate) brokers: usize,
    pub(crate) host: String,
    pub(crate) first_port: u16,
    pub(crate) cluster_id: String,
    pub(crate) default_partitions: i32,
    pub(crate) auto_create_topics: bool,
    pub(crate) retention_bytes: u64,
    pub(crate) max_message_bytes: usize,
    pub(crate) security: auth::SecurityConfig,
    pub(crate) consumer_session_timeout: Duration,
    pub(crate) consumer_heartbeat_interval: Duration,
    pub(crate) transaction_version: i16,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            brokers: 1,
            host: "127.0.0.1".into(),
            first_port: 0,
            cluster_id: "ferrokafka-mock-cluster".into(),
            default_partitions: 1,
            auto_create_topics: true,
            retention_bytes: 64 * 1024 * 1024,
            max_message_bytes: 1_048_588,
            security: auth::SecurityConfig::default(),
            consumer_session_timeout: Duration::from_secs(45),
            consumer_heartbeat_interval: Duration::from_secs(5),
            transaction_version: 2,
        }
    }
}

impl MockConfig {
    /// Number of brokers (node ids 1..=n), at least 1. Default 1.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n.max(1);
        self
    }

    /// The address the brokers listen on and advertise. Default `127.0.0.1`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The first broker's port, the next brokers on the following ports; 0 (the default) picks
    /// free ephemeral ports.
    pub fn port(mut self, port: u16) -> Self {
        self.first_port = port;
        self
    }

    /// The cluster id Metadata and DescribeCluster report.
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        self.cluster_id = id.into();
        self
    }

    /// Partitions of an auto-created topic (`num.partitions`). Default 1.
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.default_partitions = n.max(1);
        self
    }

    /// Whether Metadata creates a topic a client asks for and allows to be created
    /// (`auto.create.topics.enable`). Default true, as on a broker.
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.auto_create_topics = on;
        self
    }

    /// The most bytes each partition keeps when its topic sets no `retention.bytes`. Default
    /// 64 MiB: a real broker keeps a week by default; an in-memory log must stop somewhere.
    pub fn retention_bytes(mut self, bytes: u64) -> Self {
        self.retention_bytes = bytes;
        self
    }

    /// The largest batch a topic without `max.message.bytes` accepts. Default 1,048,588 (Kafka's).
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// How long a KIP-848 (`group.protocol=consumer`) member may go without a heartbeat before
    /// the coordinator fences it and moves its partitions (`group.consumer.session.timeout.ms`).
    /// Default 45 s, Kafka's; tests that stop members set less.
    pub fn consumer_group_session_timeout(mut self, timeout: Duration) -> Self {
        self.consumer_session_timeout = timeout;
        self
    }

    /// The heartbeat interval KIP-848 members are told to keep
    /// (`group.consumer.heartbeat.interval.ms`). Default 5 s, Kafka's; keep it well below the
    /// session timeout. Smaller makes rebalances in tests faster: a member learns of a new
    /// assignment, or that a partition it waits for was released, from its next heartbeat.
    pub fn consumer_group_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.consumer_heartbeat_interval = interval;
        self
    }

    /// The finalized level of the `transaction.version` feature ApiVersions reports (0 to 2):
    /// 2, the default of a cluster formatted by Kafka 4.x, has clients speak KIP-890 part 2
    /// (implicit adds, an epoch bump per EndTxn); 1 or 0 has them speak transaction version 1,
    /// as against a Kafka 3.x broker (0: the feature is not finalized at all).
    pub fn transaction_version(mut self, level: i16) -> Self {
        self.transaction_version = level.clamp(0, 2);
        self
    }
}

//! Consumer configuration: the Java client's names and defaults, validated once at `build()`.

use super::fetch::{FetchConfig, IsolationLevel, OffsetResetPolicy};
use super::group::{AssignmentStrategy, GroupConfig};
use crate::config::parse::{parse_bool, parse_int, parse_ms, parse_optional, parse_usize};
use crate::config::{ClientConfig, ClientConfigBuilder};
use crate::protocol::records::DecodeOptions;
use crate::retry::Backoff;
use crate::{Error, Result};
use std::time::Duration;

/// Consumer settings. Build with [`ConsumerConfig::builder`] or
/// [`ConsumerConfig::from_properties`].
///
/// ```
/// use ferrokafka::consumer::ConsumerConfig;
/// let cfg = ConsumerConfig::from_properties([
///     ("bootstrap.servers", "127.0.0.1:9092"),
///     ("group.id", "billing"),
///     ("enable.auto.commit", "false"),
///     ("auto.offset.reset", "earliest"),
/// ])
/// .unwrap();
/// assert_eq!(cfg.group_id.as_deref(), Some("billing"));
/// assert_eq!(cfg.max_poll_records, 500);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Connection and metadata settings.
    pub client: ClientConfig,
    /// `group.id`: the consumer group (needed for `subscribe` and for committed offsets). No
    /// default.
    pub group_id: Option<String>,
    /// Group membership settings (`group.instance.id`, `session.timeout.ms`,
    /// `heartbeat.interval.ms`, `max.poll.interval.ms`, `partition.assignment.strategy`,
    /// `client.rack`), used by `subscribe`.
    pub group: GroupConfig,
    /// `enable.auto.commit` (default `true`, as in Java): commit the positions of records already
    /// handed out every `auto.commit.interval.ms`, and on close. For ordered at-least-once
    /// processing turn it off and commit after processing (see
    /// [`OrderedProcessor`](super::OrderedProcessor)).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (default 5 s).
    pub auto_commit_interval: Duration,
    /// `max.poll.records` (default 500): most records one `poll` returns.
    pub max_poll_records: usize,
    /// Fetch settings (`fetch.min.bytes`, `fetch.max.wait.ms`, `fetch.max.bytes`,
    /// `max.partition.fetch.bytes`, `isolation.level`, `auto.offset.reset`, `check.crcs`).
    pub fetch: FetchConfig,
}

impl ConsumerConfig {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ConsumerConfigBuilder {
        ConsumerConfigBuilder::default()
    }

    /// From Java property names; unknown keys and bad values are errors naming them.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ConsumerConfig> {
        let mut b = ConsumerConfig::builder();
        for (k, v) in props {
            b.set(k.as_ref(), v.as_ref())?;
        }
        b.build()
    }
}

/// Builder of [`ConsumerConfig`].
#[derive(Debug, Clone)]
pub struct ConsumerConfigBuilder {
    client: ClientConfigBuilder,
    group_id: Option<String>,
    group: GroupConfig,
    enable_auto_commit: bool,
    auto_commit_interval: Duration,
    max_poll_records: usize,
    fetch: FetchConfig,
}

impl Default for ConsumerConfigBuilder {
    fn default() -> Self {
        ConsumerConfigBuilder {
            client: ClientConfig::builder(),
            group_id: None,
            group: GroupConfig::default(),
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            max_poll_records: 500,
            fetch: FetchConfig::default(),
        }
    }
}

impl ConsumerConfigBuilder {
    /// `bootstrap.servers`.
    pub fn bootstrap_servers(mut self, s: impl Into<String>) -> Self {
        self.client = self.client.bootstrap_servers(s);
        self
    }
    /// Adjusts the common client settings.
    pub fn client(mut self, f: impl FnOnce(ClientConfigBuilder) -> ClientConfigBuilder) -> Self {
        self.client = f(self.client);
        self
    }
    /// `group.id`.
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.group_id = Some(id.into());
        self
    }
    /// `group.instance.id` (static membership).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group.group_instance_id = Some(id.into());
        self
    }
    /// `enable.auto.commit` (default true).
    pub fn enable_auto_commit(mut self, on: bool) -> Self {
        self.enable_auto_commit = on;
        self
    }
    /// `auto.offset.reset` (default latest).
    pub fn auto_offset_reset(mut self, policy: OffsetResetPolicy) -> Self {
        self.fetch.auto_offset_reset = policy;
        self
    }
    /// `isolation.level` (default read_uncommitted).
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.fetch.isolation_level = level;
        self
    }
    /// `max.poll.records` (default 500).
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.max_poll_records = n;
        self
    }
    /// `fetch.max.wait.ms` (default 500 ms).
    pub fn fetch_max_wait(mut self, d: Duration) -> Self {
        self.fetch.fetch_max_wait = d;
        self
    }
    /// `session.timeout.ms` (default 45 s).
    pub fn session_timeout(mut self, d: Duration) -> Self {
        self.group.session_timeout = d;
        self
    }
    /// `heartbeat.interval.ms` (default 3 s).
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.group.heartbeat_interval = d;
        self
    }
    /// `max.poll.interval.ms` (default 5 min).
    pub fn max_poll_interval(mut self, d: Duration) -> Self {
        self.group.max_poll_interval = d;
        self
    }
    /// `partition.assignment.strategy`: assignors in preference order.
    pub fn partition_assignment_strategy(
        mut self,
        strategies: impl IntoIterator<Item = AssignmentStrategy>,
    ) -> Self {
        self.group.partition_assignment_strategy = strategies.into_iter().collect();
        self
    }

    /// Sets one property by its Java name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        if self.client.try_set(key, value)? {
            return Ok(());
        }
        if self.group.try_set(key, value)? {
            return Ok(());
        }
        let v = value.trim();
        match key {
            "group.id" => self.group_id = parse_optional(value),
            "enable.auto.commit" => self.enable_auto_commit = parse_bool(key, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval = parse_ms(key, value)?,
            "max.poll.records" => self.max_poll_records = parse_usize(key, value)?,
            // Java: fetch.min.bytes, fetch.max.bytes and max.partition.fetch.bytes are ints
            // at least 0 (and `build` then requires the two maxima to be positive).
            "fetch.min.bytes" => self.fetch.fetch_min_bytes = parse_int(key, value, 0, i32::MAX)?,
            "fetch.max.wait.ms" => self.fetch.fetch_max_wait = parse_ms(key, value)?,
            "fetch.max.bytes" => self.fetch.fetch_max_bytes = parse_int(key, value, 0, i32::MAX)?,
            "max.partition.fetch.bytes" => {
                self.fetch.max_partition_fetch_bytes = parse_int(key, value, 0, i32::MAX)?
            }
            "isolation.level" => {
                self.fetch.isolation_level = match v {
                    "read_uncommitted" => IsolationLevel::ReadUncommitted,
                    "read_committed" => IsolationLevel::ReadCommitted,
                    _ => {
                        return Err(Error::config(
                            key,
                            value,
                            "expected read_uncommitted or read_committed",
                        ))
                    }
                }
            }
            "auto.offset.reset" => {
                self.fetch.auto_offset_reset = match v {
                    "earliest" => OffsetResetPolicy::Earliest,
                    "latest" => OffsetResetPolicy::Latest,
                    "none" => OffsetResetPolicy::None,
                    _ => {
                        return Err(Error::config(
                            key,
                            value,
                            "expected earliest, latest or none",
                        ))
                    }
                }
            }
            "check.crcs" => self.fetch.decode.check_crcs = parse_bool(key, value)?,
            "key.deserializer" | "value.deserializer" => {
                return Err(Error::config(
                    key,
                    value,
                    "ferrokafka hands out keys and values as bytes; deserialize in the application",
                ))
            }
            _ => {
                use crate::config::suggest::{unknown_key, CLIENT_KEYS, CONSUMER_KEYS};
                return Err(unknown_key(key, value, &[CLIENT_KEYS, CONSUMER_KEYS]));
            }
        }
        Ok(())
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ConsumerConfig> {
        let client = self.client.build()?;
        if self.max_poll_records == 0 {
            return Err(Error::config("max.poll.records", "0", "must be at least 1"));
        }
        self.group.validate()?;
        if self.group.group_instance_id.is_some() && self.group_id.is_none() {
            return Err(Error::config(
                "group.instance.id",
                self.group.group_instance_id.clone().unwrap_or_default(),
                "needs a group.id",
            ));
        }
        if self.fetch.fetch_max_bytes <= 0 || self.fetch.max_partition_fetch_bytes <= 0 {
            return Err(Error::config(
                "fetch.max.bytes",
                self.fetch.fetch_max_bytes.to_string(),
                "fetch.max.bytes and max.partition.fetch.bytes must be positive",
            ));
        }
        let mut fetch = self.fetch;
        fetch.use_committed_offsets = self.group_id.is_some();
        fetch.retry_backoff = Backoff::new(client.retry_backoff, client.retry_backoff_max);
        fetch.max_buffered_bytes = fetch.fetch_max_bytes.max(0) as usize;
        fetch.decode = DecodeOptions {
            // Decompressed batches may legitimately exceed the compressed fetch size; cap them
            // at the larger of the default cap and the fetch size.
            max_decompressed_size: fetch
                .decode
                .max_decompressed_size
                .max(fetch.fetch_max_bytes.max(0) as usize),
            ..fetch.decode
        };
        Ok(ConsumerConfig {
            client,
            group_id: self.group_id,
            group: self.group,
            enable_auto_commit: self.enable_auto_commit,
            auto_commit_interval: self.auto_commit_interval,
            max_poll_records: self.max_poll_records,
            fetch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn key(e: &Error) -> String {
        match e.kind() {
            ErrorKind::Config { key, .. } => key.clone(),
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn defaults_and_errors() {
        let c = ConsumerConfig::from_properties([("bootstrap.servers", "a:1")]).unwrap();
        assert!(c.enable_auto_commit);
        assert_eq!(c.fetch.fetch_max_wait, Duration::from_millis(500));
        assert_eq!(c.fetch.auto_offset_reset, OffsetResetPolicy::Latest);
        assert!(!c.fetch.use_committed_offsets);
        for (k, v) in [
            ("auto.offset.reset", "smallest"),
            ("isolation.level", "serializable"),
            ("max.poll.records", "0"),
            ("partition.assignment.strategy", "sticky"),
            ("value.deserializer", "x"),
            ("bogus", "1"),
        ] {
            let e = ConsumerConfig::from_properties([("bootstrap.servers", "a:1"), (k, v)])
                .unwrap_err();
            assert_eq!(key(&e), k, "{e}");
        }
        let e = ConsumerConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("session.timeout.ms", "1000"),
            ("heartbeat.interval.ms", "3000"),
        ])
        .unwrap_err();
        assert_eq!(key(&e), "heartbeat.interval.ms");
    }
}

//! Consumer configuration: the Java client's names and defaults, validated once at `build()`.

use super::fetch::{FetchConfig, IsolationLevel, OffsetResetPolicy};
use crate::config::{ClientConfig, ClientConfigBuilder};
use crate::connection::Backoff;
use crate::protocol::records::DecodeOptions;
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
    /// `group.instance.id`: static membership (KIP-345). No default.
    pub group_instance_id: Option<String>,
    /// `enable.auto.commit` (default `true`, as in Java): commit the positions of records already
    /// handed out every `auto.commit.interval.ms`, and on close. For ordered at-least-once
    /// processing turn it off and commit after processing (see
    /// [`OrderedProcessor`](super::OrderedProcessor)).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (default 5 s).
    pub auto_commit_interval: Duration,
    /// `max.poll.records` (default 500): most records one `poll` returns.
    pub max_poll_records: usize,
    /// `session.timeout.ms` (default 45 s).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (default 3 s).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (default 5 min): a member that does not poll for this long leaves
    /// the group and rejoins on its next poll.
    pub max_poll_interval: Duration,
    /// `partition.assignment.strategy` (default `range, cooperative-sticky`, as Java 4.x).
    pub partition_assignment_strategy: Vec<String>,
    /// `client.rack` (default none).
    pub client_rack: Option<String>,
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
    group_instance_id: Option<String>,
    enable_auto_commit: bool,
    auto_commit_interval: Duration,
    max_poll_records: usize,
    session_timeout: Duration,
    heartbeat_interval: Duration,
    max_poll_interval: Duration,
    strategies: Vec<String>,
    client_rack: Option<String>,
    fetch: FetchConfig,
}

impl Default for ConsumerConfigBuilder {
    fn default() -> Self {
        ConsumerConfigBuilder {
            client: ClientConfig::builder(),
            group_id: None,
            group_instance_id: None,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            max_poll_records: 500,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            strategies: vec!["range".into(), "cooperative-sticky".into()],
            client_rack: None,
            fetch: FetchConfig::default(),
        }
    }
}

fn ms(key: &str, v: &str) -> Result<Duration> {
    v.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| Error::config(key, v, "expected a non-negative number of milliseconds"))
}

fn int<T: std::str::FromStr>(key: &str, v: &str, what: &str) -> Result<T> {
    v.trim()
        .parse::<T>()
        .map_err(|_| Error::config(key, v, format!("expected {what}")))
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
        self.group_instance_id = Some(id.into());
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
        self.session_timeout = d;
        self
    }
    /// `heartbeat.interval.ms` (default 3 s).
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d;
        self
    }
    /// `max.poll.interval.ms` (default 5 min).
    pub fn max_poll_interval(mut self, d: Duration) -> Self {
        self.max_poll_interval = d;
        self
    }
    /// `partition.assignment.strategy`: assignor names in preference order (`range`,
    /// `roundrobin`, `cooperative-sticky`).
    pub fn partition_assignment_strategy<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.strategies = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets one property by its Java name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        if self.client.try_set(key, value)? {
            return Ok(());
        }
        let v = value.trim();
        match key {
            "group.id" => self.group_id = Some(value.to_owned()).filter(|s| !s.is_empty()),
            "group.instance.id" => {
                self.group_instance_id = Some(value.to_owned()).filter(|s| !s.is_empty())
            }
            "enable.auto.commit" => {
                self.enable_auto_commit = match v {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Error::config(key, value, "expected true or false")),
                }
            }
            "auto.commit.interval.ms" => self.auto_commit_interval = ms(key, value)?,
            "max.poll.records" => self.max_poll_records = int(key, value, "a positive integer")?,
            "session.timeout.ms" => self.session_timeout = ms(key, value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = ms(key, value)?,
            "max.poll.interval.ms" => self.max_poll_interval = ms(key, value)?,
            "partition.assignment.strategy" => {
                self.strategies = v
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "client.rack" => self.client_rack = Some(value.to_owned()).filter(|s| !s.is_empty()),
            "fetch.min.bytes" => self.fetch.fetch_min_bytes = int(key, value, "an integer")?,
            "fetch.max.wait.ms" => self.fetch.fetch_max_wait = ms(key, value)?,
            "fetch.max.bytes" => self.fetch.fetch_max_bytes = int(key, value, "an integer")?,
            "max.partition.fetch.bytes" => {
                self.fetch.max_partition_fetch_bytes = int(key, value, "an integer")?
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
            "check.crcs" => {
                self.fetch.decode.check_crcs = match v {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Error::config(key, value, "expected true or false")),
                }
            }
            "key.deserializer" | "value.deserializer" => {
                return Err(Error::config(
                    key,
                    value,
                    "ferrokafka hands out keys and values as bytes; deserialize in the application",
                ))
            }
            "group.protocol" => {
                if !v.eq_ignore_ascii_case("classic") {
                    return Err(Error::config(
                        key,
                        value,
                        "only the classic group protocol is supported (KIP-848 is not yet)",
                    ));
                }
            }
            _ => return Err(Error::config(key, value, "unknown configuration key")),
        }
        Ok(())
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ConsumerConfig> {
        let client = self.client.build()?;
        if self.max_poll_records == 0 {
            return Err(Error::config("max.poll.records", "0", "must be at least 1"));
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err(Error::config(
                "heartbeat.interval.ms",
                self.heartbeat_interval.as_millis().to_string(),
                format!(
                    "must be lower than session.timeout.ms ({})",
                    self.session_timeout.as_millis()
                ),
            ));
        }
        if self.group_instance_id.is_some() && self.group_id.is_none() {
            return Err(Error::config(
                "group.instance.id",
                self.group_instance_id.clone().unwrap_or_default(),
                "needs a group.id",
            ));
        }
        for s in &self.strategies {
            if !matches!(s.as_str(), "range" | "roundrobin" | "cooperative-sticky") {
                return Err(Error::config(
                    "partition.assignment.strategy",
                    s,
                    "expected range, roundrobin or cooperative-sticky",
                ));
            }
        }
        if self.strategies.is_empty() {
            return Err(Error::config(
                "partition.assignment.strategy",
                "",
                "needs an assignor",
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
            group_instance_id: self.group_instance_id,
            enable_auto_commit: self.enable_auto_commit,
            auto_commit_interval: self.auto_commit_interval,
            max_poll_records: self.max_poll_records,
            session_timeout: self.session_timeout,
            heartbeat_interval: self.heartbeat_interval,
            max_poll_interval: self.max_poll_interval,
            partition_assignment_strategy: self.strategies,
            client_rack: self.client_rack,
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

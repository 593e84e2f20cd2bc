//! Share consumer configuration: the Java `KafkaShareConsumer`'s names and defaults.

use crate::config::parse::{parse_bool, parse_int, parse_ms, parse_optional, parse_usize};
use crate::config::{ClientConfig, ClientConfigBuilder};
use crate::protocol::records::DecodeOptions;
use crate::{Error, Result};
use std::time::Duration;

/// `share.acknowledgement.mode`: how records handed out by `poll` are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AcknowledgementMode {
    /// `implicit` (the default): every record of a poll is accepted by the next `poll`,
    /// `commit_sync`, `commit_async` or `close`. `acknowledge` is refused.
    #[default]
    Implicit,
    /// `explicit`: the application acknowledges each record (accept, release or reject) before
    /// the next `poll`, which is refused while a record of the last one is open.
    Explicit,
}

/// Share consumer settings. Build with [`ShareConsumerConfig::builder`] or
/// [`ShareConsumerConfig::from_properties`].
///
/// ```
/// use ferrokafka::share::{AcknowledgementMode, ShareConsumerConfig};
/// let cfg = ShareConsumerConfig::from_properties([
///     ("bootstrap.servers", "127.0.0.1:9092"),
///     ("group.id", "billing-workers"),
///     ("share.acknowledgement.mode", "explicit"),
/// ])
/// .unwrap();
/// assert_eq!(cfg.acknowledgement_mode, AcknowledgementMode::Explicit);
/// assert_eq!(cfg.max_poll_records, 500);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShareConsumerConfig {
    /// Connection and metadata settings.
    pub client: ClientConfig,
    /// `group.id`: the share group. Required.
    pub group_id: String,
    /// `share.acknowledgement.mode` (default implicit).
    pub acknowledgement_mode: AcknowledgementMode,
    /// `max.poll.records` (default 500): most records one `poll` returns and one fetch acquires.
    pub max_poll_records: usize,
    /// `fetch.min.bytes` (default 1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms` (default 500 ms).
    pub fetch_max_wait: Duration,
    /// `fetch.max.bytes` (default 50 MiB).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes` (default 1 MiB).
    pub max_partition_fetch_bytes: i32,
    /// `client.rack`.
    pub client_rack: Option<String>,
    /// `check.crcs` and the decompression bound.
    pub decode: DecodeOptions,
}

impl ShareConsumerConfig {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ShareConsumerConfigBuilder {
        ShareConsumerConfigBuilder::default()
    }

    /// From Java property names; unknown keys, keys a share consumer does not take and bad
    /// values are errors naming them.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ShareConsumerConfig> {
        let mut b = ShareConsumerConfig::builder();
        for (k, v) in props {
            b.set(k.as_ref(), v.as_ref())?;
        }
        b.build()
    }
}

/// Builder of [`ShareConsumerConfig`].
#[derive(Debug, Clone)]
pub struct ShareConsumerConfigBuilder {
    client: ClientConfigBuilder,
    group_id: Option<String>,
    acknowledgement_mode: AcknowledgementMode,
    max_poll_records: usize,
    fetch_min_bytes: i32,
    fetch_max_wait: Duration,
    fetch_max_bytes: i32,
    max_partition_fetch_bytes: i32,
    client_rack: Option<String>,
    decode: DecodeOptions,
}

impl Default for ShareConsumerConfigBuilder {
    fn default() -> Self {
        ShareConsumerConfigBuilder {
            client: ClientConfig::builder(),
            group_id: None,
            acknowledgement_mode: AcknowledgementMode::Implicit,
            max_poll_records: 500,
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            client_rack: None,
            decode: DecodeOptions::default(),
        }
    }
}

/// Keys of the (non-share) consumer that a share consumer refuses, as Java's does: the broker
/// decides what they decided (offsets, isolation and reset are share-group configs).
const NOT_FOR_SHARE: &[(&str, &str)] = &[
    (
        "auto.offset.reset",
        "set the group config share.auto.offset.reset instead",
    ),
    (
        "enable.auto.commit",
        "acknowledgements replace offset commits",
    ),
    (
        "auto.commit.interval.ms",
        "acknowledgements replace offset commits",
    ),
    (
        "group.instance.id",
        "share groups have no static membership",
    ),
    (
        "isolation.level",
        "set the group config share.isolation.level instead",
    ),
    (
        "partition.assignment.strategy",
        "the broker assigns share-group partitions",
    ),
    (
        "group.protocol",
        "a share consumer always speaks the share-group protocol",
    ),
    (
        "group.remote.assignor",
        "the broker assigns share-group partitions",
    ),
    (
        "session.timeout.ms",
        "set the broker's group.share.session.timeout.ms instead",
    ),
    (
        "heartbeat.interval.ms",
        "set the broker's group.share.heartbeat.interval.ms instead",
    ),
];

impl ShareConsumerConfigBuilder {
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
    /// `share.acknowledgement.mode`.
    pub fn acknowledgement_mode(mut self, mode: AcknowledgementMode) -> Self {
        self.acknowledgement_mode = mode;
        self
    }
    /// `max.poll.records` (default 500).
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.max_poll_records = n;
        self
    }
    /// `fetch.max.wait.ms` (default 500 ms).
    pub fn fetch_max_wait(mut self, d: Duration) -> Self {
        self.fetch_max_wait = d;
        self
    }

    /// Sets one property by its Java name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        if self.client.try_set(key, value)? {
            return Ok(());
        }
        if let Some((_, why)) = NOT_FOR_SHARE.iter().find(|(k, _)| *k == key) {
            return Err(Error::config(
                key,
                value,
                format!("not a share consumer setting: {why}"),
            ));
        }
        match key {
            "group.id" => self.group_id = parse_optional(value),
            "share.acknowledgement.mode" => {
                self.acknowledgement_mode = match value.trim() {
                    "implicit" => AcknowledgementMode::Implicit,
                    "explicit" => AcknowledgementMode::Explicit,
                    _ => return Err(Error::config(key, value, "expected implicit or explicit")),
                }
            }
            "max.poll.records" => self.max_poll_records = parse_usize(key, value)?,
            "fetch.min.bytes" => self.fetch_min_bytes = parse_int(key, value, 0, i32::MAX)?,
            "fetch.max.wait.ms" => self.fetch_max_wait = parse_ms(key, value)?,
            "fetch.max.bytes" => self.fetch_max_bytes = parse_int(key, value, 1, i32::MAX)?,
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes = parse_int(key, value, 1, i32::MAX)?
            }
            "client.rack" => self.client_rack = parse_optional(value),
            "check.crcs" => self.decode.check_crcs = parse_bool(key, value)?,
            "key.deserializer" | "value.deserializer" => {
                return Err(Error::config(
                    key,
                    value,
                    "ferrokafka hands out keys and values as bytes; deserialize in the application",
                ))
            }
            _ => {
                use crate::config::suggest::{unknown_key, CLIENT_KEYS, SHARE_CONSUMER_KEYS};
                return Err(unknown_key(key, value, &[CLIENT_KEYS, SHARE_CONSUMER_KEYS]));
            }
        }
        Ok(())
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ShareConsumerConfig> {
        let client = self.client.build()?;
        let group_id = self
            .group_id
            .filter(|g| !g.is_empty())
            .ok_or_else(|| Error::config("group.id", "", "a share consumer needs a group.id"))?;
        if self.max_poll_records == 0 || self.max_poll_records > i32::MAX as usize {
            return Err(Error::config(
                "max.poll.records",
                self.max_poll_records.to_string(),
                "must be between 1 and 2147483647",
            ));
        }
        Ok(ShareConsumerConfig {
            client,
            group_id,
            acknowledgement_mode: self.acknowledgement_mode,
            max_poll_records: self.max_poll_records,
            fetch_min_bytes: self.fetch_min_bytes,
            fetch_max_wait: self.fetch_max_wait,
            fetch_max_bytes: self.fetch_max_bytes,
            max_partition_fetch_bytes: self.max_partition_fetch_bytes,
            client_rack: self.client_rack,
            decode: self.decode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_keys_a_share_consumer_does_not_take_say_why() {
        let e = ShareConsumerConfig::from_properties([
            ("group.id", "g"),
            ("auto.offset.reset", "earliest"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("share.auto.offset.reset"), "{e}");
        let e = ShareConsumerConfig::from_properties([("bootstrap.servers", "h:1")]).unwrap_err();
        assert!(e.to_string().contains("group.id"), "{e}");
        let e = ShareConsumerConfig::from_properties([
            ("group.id", "g"),
            ("share.acknowledgement.mode", "sometimes"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("implicit or explicit"), "{e}");
    }
}

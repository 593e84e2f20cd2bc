//! Producer configuration: the Java client's keys and defaults, validated once at `build()`.
//!
//! ```
//! use ferrokafka::producer::{Acks, ProducerConfig};
//! use std::time::Duration;
//!
//! let cfg = ProducerConfig::builder()
//!     .bootstrap_servers("127.0.0.1:9092")
//!     .linger(Duration::from_millis(20))
//!     .build()
//!     .unwrap();
//! assert_eq!(cfg.acks, Acks::All);
//! assert!(cfg.enable_idempotence);
//!
//! // Java property names work too, including the common client keys.
//! let cfg = ProducerConfig::from_properties([
//!     ("bootstrap.servers", "127.0.0.1:9092"),
//!     ("acks", "1"),
//!     ("compression.type", "lz4"),
//! ])
//! .unwrap();
//! // As in Java: acks=1 without an explicit enable.idempotence quietly turns idempotence off.
//! assert!(!cfg.enable_idempotence);
//!
//! // An explicit conflict is an error naming the keys.
//! let err = ProducerConfig::from_properties([
//!     ("bootstrap.servers", "127.0.0.1:9092"),
//!     ("acks", "1"),
//!     ("enable.idempotence", "true"),
//! ])
//! .unwrap_err();
//! assert!(err.to_string().contains("enable.idempotence"));
//! assert!(err.to_string().contains("acks"));
//! ```

mod properties;

use super::partitioner::Partitioner;
use crate::config::{ClientConfig, ClientConfigBuilder};
use crate::{Error, Result};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// `acks`: how many replicas must have the record before the broker answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Acks {
    /// `acks=0`: the broker sends no response; a record is "sent" once written to the socket. No
    /// delivery guarantee, no retries that mean anything, no offsets in delivery reports.
    None,
    /// `acks=1`: the leader has written it; lost if the leader fails before followers copy it.
    Leader,
    /// `acks=all` (or `-1`, the default): every in-sync replica has it. Required by idempotence.
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field (0, 1 or -1).
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

pub use crate::types::CompressionType;

/// Java's `MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION_FOR_IDEMPOTENCE`: the broker keeps the last 5
/// batches per producer and partition for duplicate detection.
pub(crate) const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;

/// The zstd library's lowest (fastest) level, `ZSTD_minCLevel()`; Java's lower bound.
pub(crate) const ZSTD_MIN_LEVEL: i32 = -131_072;

/// Producer settings. Defaults follow the Java client 4.x; build with [`ProducerConfig::builder`]
/// or [`ProducerConfig::from_properties`].
#[derive(Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// The common client settings (`bootstrap.servers`, `client.id`, `request.timeout.ms`,
    /// `retry.backoff.ms`, `retry.backoff.max.ms`, …).
    pub client: ClientConfig,
    /// `acks` (default `all`).
    pub acks: Acks,
    /// `enable.idempotence` after Java's adjustment: `false` if it was left at its default and
    /// `acks` or `retries` rule it out; always `true` with a `transactional.id`.
    pub enable_idempotence: bool,
    /// `transactional.id` (default none): makes the producer transactional (see
    /// [`Producer::init_transactions`](crate::producer::Producer::init_transactions)).
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms` (default 60 s): how long the transaction coordinator lets a
    /// transaction stay open before it aborts it.
    pub transaction_timeout: Duration,
    /// `linger.ms` (default 5 ms).
    pub linger: Duration,
    /// `batch.size` in bytes (default 16,384).
    pub batch_size: usize,
    /// `buffer.memory` in bytes (default 33,554,432).
    pub buffer_memory: usize,
    /// `max.block.ms` (default 60 s).
    pub max_block: Duration,
    /// `max.in.flight.requests.per.connection` (default 5).
    pub max_in_flight_requests_per_connection: usize,
    /// `retries` (default `i32::MAX`: retry until `delivery.timeout.ms`).
    pub retries: i32,
    /// `delivery.timeout.ms` after Java's adjustment (default 120 s; raised to `linger.ms +
    /// request.timeout.ms` when left at its default and smaller than that).
    pub delivery_timeout: Duration,
    /// `compression.type` (default `none`).
    pub compression_type: CompressionType,
    /// `compression.gzip.level` (default -1: the codec's default, 6).
    pub compression_gzip_level: i32,
    /// `compression.lz4.level` (default 9).
    pub compression_lz4_level: i32,
    /// `compression.zstd.level` (default 3).
    pub compression_zstd_level: i32,
    /// `max.request.size` in bytes (default 1,048,576): the largest record (with batch overhead)
    /// accepted by `send`, and the cap on one Produce request's batches.
    pub max_request_size: usize,
    /// The user partitioner (Java's `partitioner.class`), if any.
    pub partitioner: Option<Arc<dyn Partitioner>>,
    /// `partitioner.ignore.keys` (default `false`).
    pub partitioner_ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable` (default `true`).
    pub partitioner_adaptive: bool,
}

impl fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerConfig")
            .field("client", &self.client)
            .field("acks", &self.acks)
            .field("enable_idempotence", &self.enable_idempotence)
            .field("transactional_id", &self.transactional_id)
            .field("transaction_timeout", &self.transaction_timeout)
            .field("linger", &self.linger)
            .field("batch_size", &self.batch_size)
            .field("buffer_memory", &self.buffer_memory)
            .field("max_block", &self.max_block)
            .field(
                "max_in_flight_requests_per_connection",
                &self.max_in_flight_requests_per_connection,
            )
            .field("retries", &self.retries)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("compression_type", &self.compression_type)
            .field("compression_level", &self.compression_level())
            .field("max_request_size", &self.max_request_size)
            .field("partitioner", &self.partitioner)
            .field("partitioner_ignore_keys", &self.partitioner_ignore_keys)
            .field("partitioner_adaptive", &self.partitioner_adaptive)
            .finish()
    }
}

impl ProducerConfig {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder::default()
    }

    /// Builds a configuration from Java property names (producer keys and the common client
    /// keys). An unknown key, a key this client does not honour, or a bad value is an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) error naming the key and the value.
    pub fn from_properties<K, V>(props: impl IntoIterator<Item = (K, V)>) -> Result<ProducerConfig>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut b = ProducerConfig::builder();
        for (k, v) in props {
            b.set(k.as_ref(), v.as_ref())?;
        }
        b.build()
    }

    /// The level of the selected codec: `Some` for gzip, lz4 and zstd, `None` for none and
    /// snappy. Gzip's `-1` means "the codec's default".
    pub fn compression_level(&self) -> Option<i32> {
        match self.compression_type {
            CompressionType::None | CompressionType::Snappy => None,
            CompressionType::Gzip => Some(self.compression_gzip_level),
            CompressionType::Lz4 => Some(self.compression_lz4_level),
            CompressionType::Zstd => Some(self.compression_zstd_level),
        }
    }
}

/// Builder of [`ProducerConfig`]; nothing is validated until [`build`](Self::build).
///
/// Settings whose *explicit* use changes Java's behaviour (`enable.idempotence`,
/// `delivery.timeout.ms`) remember whether they were set.
#[derive(Clone)]
pub struct ProducerConfigBuilder {
    client: ClientConfigBuilder,
    acks: Acks,
    enable_idempotence: Option<bool>,
    transactional_id: Option<String>,
    transaction_timeout: Duration,
    linger: Duration,
    batch_size: usize,
    buffer_memory: usize,
    max_block: Duration,
    max_in_flight: usize,
    retries: i32,
    delivery_timeout: Option<Duration>,
    compression_type: CompressionType,
    gzip_level: i32,
    lz4_level: i32,
    zstd_level: i32,
    max_request_size: usize,
    partitioner: Option<Arc<dyn Partitioner>>,
    ignore_keys: bool,
    adaptive: bool,
}

impl fmt::Debug for ProducerConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerConfigBuilder")
            .field("client", &self.client)
            .field("acks", &self.acks)
            .field("enable_idempotence", &self.enable_idempotence)
            .field("transactional_id", &self.transactional_id)
            .finish_non_exhaustive()
    }
}

impl Default for ProducerConfigBuilder {
    fn default() -> Self {
        ProducerConfigBuilder {
            client: ClientConfig::builder(),
            acks: Acks::All,
            enable_idempotence: None,
            transactional_id: None,
            transaction_timeout: Duration::from_millis(60_000),
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            max_in_flight: 5,
            retries: i32::MAX,
            delivery_timeout: None,
            compression_type: CompressionType::None,
            gzip_level: -1,
            lz4_level: 9,
            zstd_level: 3,
            max_request_size: 1_048_576,
            partitioner: None,
            ignore_keys: false,
            adaptive: true,
        }
    }
}

const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_millis(120_000);

impl ProducerConfigBuilder {
    /// `bootstrap.servers`: comma-separated `host:port` list. Required.
    pub fn bootstrap_servers(mut self, servers: impl Into<String>) -> Self {
        self.client = self.client.bootstrap_servers(servers);
        self
    }
    /// `client.id` (default `ferrokafka`).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client = self.client.client_id(id);
        self
    }
    /// `request.timeout.ms` (default 30 s): how long to wait for one Produce response. Counts
    /// towards the `delivery.timeout.ms` lower bound.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.client = self.client.request_timeout(d);
        self
    }
    /// `retry.backoff.ms` (default 100 ms): the first wait before retrying a failed batch;
    /// doubles per attempt up to `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.client = self.client.retry_backoff(d);
        self
    }
    /// `retry.backoff.max.ms` (default 1 s): the cap of that wait.
    pub fn retry_backoff_max(mut self, d: Duration) -> Self {
        self.client = self.client.retry_backoff_max(d);
        self
    }
    /// Any other common client setting, through the [`ClientConfigBuilder`].
    pub fn client(mut self, f: impl FnOnce(ClientConfigBuilder) -> ClientConfigBuilder) -> Self {
        self.client = f(self.client);
        self
    }
    /// `acks` (default [`Acks::All`]). Anything but `All` conflicts with idempotence: an error if
    /// `enable.idempotence` was set to `true` explicitly, otherwise idempotence is turned off
    /// (Java's behaviour).
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }
    /// `transactional.id` (default none). Makes the producer transactional: it implies
    /// `enable.idempotence=true` and `acks=all`, and an explicit `enable.idempotence=false` or
    /// `acks` other than `all` is an error naming both keys. An empty id means none.
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        self.transactional_id = (!id.trim().is_empty()).then_some(id);
        self
    }

    /// `transaction.timeout.ms` (default 60 s): the longest a transaction may stay open before
    /// the coordinator aborts it. The broker refuses values above its
    /// `transaction.max.timeout.ms` (default 15 minutes) in `init_transactions`.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }

    /// `enable.idempotence` (default `true`). Needs `acks=all`, `retries > 0` and
    /// `max.in.flight.requests.per.connection <= 5`; with an explicit `true` a conflicting value is
    /// an error naming both keys. Left at its default, `acks != all` or `retries = 0` turn it off
    /// quietly, as in Java; `max.in.flight.requests.per.connection > 5` is an error either way
    /// (Java 4.x).
    pub fn enable_idempotence(mut self, enable: bool) -> Self {
        self.enable_idempotence = Some(enable);
        self
    }
    /// `linger.ms` (default 5 ms): how long a partition's open batch waits for more records before
    /// it is sent. Counts towards the `delivery.timeout.ms` lower bound.
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }
    /// `batch.size` (default 16,384 bytes): a batch closes when the next record would take it past
    /// this size (encoded, before compression). A record larger than this gets a batch of its
    /// own. `0` disables batching (one record per batch).
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }
    /// `buffer.memory` (default 32 MiB): bytes of records waiting in the producer; `send` waits
    /// up to `max.block.ms` for room. A record larger than this fails at once.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }
    /// `max.block.ms` (default 60 s): how long `send` may wait for `buffer.memory` room (and, in
    /// the producer, for metadata).
    pub fn max_block(mut self, d: Duration) -> Self {
        self.max_block = d;
        self
    }
    /// `max.in.flight.requests.per.connection` (default 5, at least 1): unanswered Produce
    /// requests per broker. Above 1 without idempotence, a retry can reorder records. At most 5
    /// with idempotence.
    pub fn max_in_flight_requests_per_connection(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }
    /// `retries` (default `i32::MAX`, at least 0): retries of a failed batch; in practice
    /// `delivery.timeout.ms` bounds them. `0` conflicts with idempotence (see
    /// [`enable_idempotence`](Self::enable_idempotence)).
    pub fn retries(mut self, n: i32) -> Self {
        self.retries = n;
        self
    }
    /// `delivery.timeout.ms` (default 120 s): the bound on the time from `send` until the record
    /// is acknowledged or failed, retries included. Must be at least `linger.ms +
    /// request.timeout.ms`: if set explicitly below that it is an error; left at its default it is
    /// raised to that sum (Java's behaviour).
    pub fn delivery_timeout(mut self, d: Duration) -> Self {
        self.delivery_timeout = Some(d);
        self
    }
    /// `compression.type` (default none).
    pub fn compression_type(mut self, c: CompressionType) -> Self {
        self.compression_type = c;
        self
    }
    /// `compression.gzip.level` (default -1, the codec default; 1 to 9 or -1).
    pub fn compression_gzip_level(mut self, level: i32) -> Self {
        self.gzip_level = level;
        self
    }
    /// `compression.lz4.level` (default 9; 1 to 17).
    pub fn compression_lz4_level(mut self, level: i32) -> Self {
        self.lz4_level = level;
        self
    }
    /// `compression.zstd.level` (default 3; -131072 to 22).
    pub fn compression_zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }
    /// `max.request.size` (default 1 MiB): a record whose size plus the 61-byte batch header is
    /// larger fails at once; one Produce request carries at most this many bytes of batches
    /// (one oversized batch still goes alone).
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }
    /// A user partitioner (Java's `partitioner.class`; default: the built-in murmur2 / sticky
    /// logic). It runs before `partitioner.ignore.keys` is considered.
    pub fn partitioner(mut self, p: Arc<dyn Partitioner>) -> Self {
        self.partitioner = Some(p);
        self
    }
    /// `partitioner.ignore.keys` (default `false`): when `true`, keyed records are partitioned
    /// like keyless ones (sticky) instead of by murmur2 of the key.
    pub fn partitioner_ignore_keys(mut self, ignore: bool) -> Self {
        self.ignore_keys = ignore;
        self
    }
    /// `partitioner.adaptive.partitioning.enable` (default `true`): the sticky partitioner
    /// prefers partitions with fewer queued batches.
    pub fn partitioner_adaptive(mut self, adaptive: bool) -> Self {
        self.adaptive = adaptive;
        self
    }

    /// Validates and returns the configuration, applying Java's adjustments (documented on
    /// [`enable_idempotence`](Self::enable_idempotence) and
    /// [`delivery_timeout`](Self::delivery_timeout)).
    pub fn build(self) -> Result<ProducerConfig> {
        let client = self.client.build()?;
        let ms = |d: Duration| d.as_millis().to_string();

        if self.max_in_flight == 0 {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                "0",
                "must be at least 1",
            ));
        }
        if self.retries < 0 {
            return Err(Error::config(
                "retries",
                self.retries.to_string(),
                "must be at least 0",
            ));
        }
        check_range("compression.gzip.level", self.gzip_level, -1, 9)?;
        if self.gzip_level == 0 {
            return Err(Error::config(
                "compression.gzip.level",
                "0",
                "must be between 1 and 9, or -1 for the codec's default",
            ));
        }
        check_range("compression.lz4.level", self.lz4_level, 1, 17)?;
        check_range(
            "compression.zstd.level",
            self.zstd_level,
            ZSTD_MIN_LEVEL,
            22,
        )?;
        if self.batch_size > i32::MAX as usize {
            return Err(Error::config(
                "batch.size",
                self.batch_size.to_string(),
                "must be at most 2147483647",
            ));
        }
        if self.max_request_size > i32::MAX as usize {
            return Err(Error::config(
                "max.request.size",
                self.max_request_size.to_string(),
                "must be at most 2147483647",
            ));
        }
        // The accumulator counts buffer.memory with a tokio semaphore, whose capacity is
        // usize::MAX >> 3 permits (2^61 on 64-bit targets): far above any real memory.
        if self.buffer_memory > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(Error::config(
                "buffer.memory",
                self.buffer_memory.to_string(),
                "too large",
            ));
        }

        // A transactional id implies idempotence (Java's
        // postProcessAndValidateIdempotenceConfigs): explicitly turning it off is a conflict,
        // and every other rule below then applies as if it had been set to true.
        if let Some(id) = &self.transactional_id {
            if self.enable_idempotence == Some(false) {
                return Err(Error::config(
                    "enable.idempotence",
                    "false",
                    format!(
                        "must be true with transactional.id={id} (transactions need idempotence)"
                    ),
                ));
            }
            if self.acks != Acks::All {
                return Err(Error::config(
                    "acks",
                    self.acks.as_i16().to_string(),
                    format!("must be all (-1) with transactional.id={id}"),
                ));
            }
            if self.retries == 0 {
                return Err(Error::config(
                    "retries",
                    "0",
                    format!("must be non-zero with transactional.id={id}"),
                ));
            }
        }
        let transaction_timeout_ms = self.transaction_timeout.as_millis();
        if transaction_timeout_ms == 0 || transaction_timeout_ms > i32::MAX as u128 {
            return Err(Error::config(
                "transaction.timeout.ms",
                ms(self.transaction_timeout),
                "must be between 1 and 2147483647",
            ));
        }

        // Idempotence (Java's ProducerConfig.postProcessAndValidateIdempotenceConfigs, 4.x).
        let explicit = self.enable_idempotence == Some(true) || self.transactional_id.is_some();
        let mut enable_idempotence = self.enable_idempotence.unwrap_or(true);
        if enable_idempotence {
            if self.max_in_flight > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
                // Java 4.x rejects this even when idempotence is only on by default.
                return Err(Error::config(
                    "max.in.flight.requests.per.connection",
                    self.max_in_flight.to_string(),
                    "must be at most 5 with enable.idempotence=true (the default); set \
                     enable.idempotence=false to allow more",
                ));
            }
            if self.retries == 0 {
                if explicit {
                    return Err(Error::config(
                        "retries",
                        "0",
                        "must be non-zero with enable.idempotence=true",
                    ));
                }
                enable_idempotence = false;
            }
            if self.acks != Acks::All {
                if explicit {
                    return Err(Error::config(
                        "acks",
                        self.acks.as_i16().to_string(),
                        "must be all (-1) with enable.idempotence=true",
                    ));
                }
                enable_idempotence = false;
            }
        }

        // Delivery timeout (Java's KafkaProducer.configureDeliveryTimeout).
        let floor = self.linger.saturating_add(client.request_timeout);
        let delivery_timeout = match self.delivery_timeout {
            Some(d) if d < floor => {
                return Err(Error::config(
                    "delivery.timeout.ms",
                    ms(d),
                    format!(
                        "must be at least linger.ms + request.timeout.ms ({} + {} = {})",
                        ms(self.linger),
                        ms(client.request_timeout),
                        ms(floor)
                    ),
                ))
            }
            Some(d) => d,
            None => DEFAULT_DELIVERY_TIMEOUT.max(floor),
        };

        Ok(ProducerConfig {
            client,
            acks: self.acks,
            enable_idempotence,
            transactional_id: self.transactional_id,
            transaction_timeout: self.transaction_timeout,
            linger: self.linger,
            batch_size: self.batch_size,
            buffer_memory: self.buffer_memory,
            max_block: self.max_block,
            max_in_flight_requests_per_connection: self.max_in_flight,
            retries: self.retries,
            delivery_timeout,
            compression_type: self.compression_type,
            compression_gzip_level: self.gzip_level,
            compression_lz4_level: self.lz4_level,
            compression_zstd_level: self.zstd_level,
            max_request_size: self.max_request_size,
            partitioner: self.partitioner,
            partitioner_ignore_keys: self.ignore_keys,
            partitioner_adaptive: self.adaptive,
        })
    }
}

fn check_range(key: &str, v: i32, min: i32, max: i32) -> Result<()> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(Error::config(
            key,
            v.to_string(),
            format!("must be between {min} and {max}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const BOOT: (&str, &str) = ("bootstrap.servers", "localhost:9092");

    fn props(extra: &[(&str, &str)]) -> Result<ProducerConfig> {
        ProducerConfig::from_properties(std::iter::once(BOOT).chain(extra.iter().copied()))
    }

    /// The key, value and reason of a config error.
    fn conf_err(r: Result<ProducerConfig>) -> (String, String, String) {
        match r.map(|_| ()).unwrap_err().kind() {
            ErrorKind::Config { key, value, reason } => {
                (key.clone(), value.clone(), reason.clone())
            }
            other => panic!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn defaults_match_java() {
        let c = props(&[]).unwrap();
        assert_eq!(c.acks, Acks::All);
        assert!(c.enable_idempotence);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 16_384);
        assert_eq!(c.buffer_memory, 33_554_432);
        assert_eq!(c.max_block, Duration::from_millis(60_000));
        assert_eq!(c.max_in_flight_requests_per_connection, 5);
        assert_eq!(c.retries, i32::MAX);
        assert_eq!(c.delivery_timeout, Duration::from_millis(120_000));
        assert_eq!(c.client.request_timeout, Duration::from_millis(30_000));
        assert_eq!(c.client.retry_backoff, Duration::from_millis(100));
        assert_eq!(c.client.retry_backoff_max, Duration::from_millis(1_000));
        assert_eq!(c.compression_type, CompressionType::None);
        assert_eq!(c.compression_level(), None);
        assert_eq!(
            (
                c.compression_gzip_level,
                c.compression_lz4_level,
                c.compression_zstd_level
            ),
            (-1, 9, 3)
        );
        assert_eq!(c.max_request_size, 1_048_576);
        assert!(c.partitioner.is_none());
        assert!(!c.partitioner_ignore_keys);
        assert!(c.partitioner_adaptive);
        // The typed builder gives the same.
        let b = ProducerConfig::builder()
            .bootstrap_servers("localhost:9092")
            .build()
            .unwrap();
        assert_eq!(format!("{b:?}"), format!("{c:?}"));
    }

    #[test]
    fn all_keys_parse() {
        let c = props(&[
            ("acks", "1"),
            ("enable.idempotence", "false"),
            ("linger.ms", "20"),
            ("batch.size", "65536"),
            ("buffer.memory", "1000000"),
            ("max.block.ms", "1500"),
            ("max.in.flight.requests.per.connection", "10"),
            ("retries", "3"),
            ("delivery.timeout.ms", "40000"),
            ("request.timeout.ms", "15000"),
            ("retry.backoff.ms", "50"),
            ("retry.backoff.max.ms", "500"),
            ("compression.type", "zstd"),
            ("compression.zstd.level", "-5"),
            ("compression.gzip.level", "9"),
            ("compression.lz4.level", "17"),
            ("max.request.size", "2000000"),
            ("client.id", "billing"),
            ("partitioner.ignore.keys", "true"),
            ("partitioner.adaptive.partitioning.enable", "false"),
            ("partitioner.availability.timeout.ms", "0"),
            ("partitioner.class", ""),
            ("transactional.id", ""),
        ])
        .unwrap();
        assert_eq!(c.acks, Acks::Leader);
        assert!(!c.enable_idempotence);
        assert_eq!(c.linger, Duration::from_millis(20));
        assert_eq!(c.batch_size, 65_536);
        assert_eq!(c.buffer_memory, 1_000_000);
        assert_eq!(c.max_block, Duration::from_millis(1_500));
        assert_eq!(c.max_in_flight_requests_per_connection, 10);
        assert_eq!(c.retries, 3);
        assert_eq!(c.delivery_timeout, Duration::from_millis(40_000));
        assert_eq!(c.client.request_timeout, Duration::from_millis(15_000));
        assert_eq!(c.client.client_id, "billing");
        assert_eq!(c.compression_type, CompressionType::Zstd);
        assert_eq!(c.compression_level(), Some(-5));
        assert_eq!(c.max_request_size, 2_000_000);
        assert!(c.partitioner_ignore_keys);
        assert!(!c.partitioner_adaptive);
        for (name, t) in [
            ("none", CompressionType::None),
            ("gzip", CompressionType::Gzip),
            ("snappy", CompressionType::Snappy),
            ("lz4", CompressionType::Lz4),
            ("zstd", CompressionType::Zstd),
        ] {
            assert_eq!(
                props(&[("compression.type", name)])
                    .unwrap()
                    .compression_type,
                t
            );
            assert_eq!(t.name(), name);
        }
        assert_eq!(props(&[("acks", "-1")]).unwrap().acks, Acks::All);
        assert_eq!(props(&[("acks", "0")]).unwrap().acks, Acks::None);
    }

    #[test]
    fn implicit_idempotence_yields_to_acks_and_retries_like_java() {
        // Java 4.1.1: acks=1 / acks=0 / retries=0 alone disable idempotence without an error.
        assert!(!props(&[("acks", "1")]).unwrap().enable_idempotence);
        assert!(!props(&[("acks", "0")]).unwrap().enable_idempotence);
        assert!(!props(&[("retries", "0")]).unwrap().enable_idempotence);
        // Explicitly off is fine with anything.
        let c = props(&[
            ("enable.idempotence", "false"),
            ("acks", "0"),
            ("retries", "0"),
        ])
        .unwrap();
        assert!(!c.enable_idempotence);
    }

    #[test]
    fn explicit_idempotence_conflicts_name_the_keys() {
        let (k, v, r) = conf_err(props(&[("enable.idempotence", "true"), ("acks", "1")]));
        assert_eq!((k.as_str(), v.as_str()), ("acks", "1"));
        assert!(r.contains("enable.idempotence"), "{r}");
        let (k, v, r) = conf_err(props(&[("enable.idempotence", "true"), ("retries", "0")]));
        assert_eq!((k.as_str(), v.as_str()), ("retries", "0"));
        assert!(r.contains("enable.idempotence"), "{r}");
        // max.in.flight > 5 is an error with idempotence explicit or by default (Java 4.x) …
        for extra in [&[][..], &[("enable.idempotence", "true")][..]] {
            let mut p = vec![("max.in.flight.requests.per.connection", "6")];
            p.extend_from_slice(extra);
            let (k, v, r) = conf_err(props(&p));
            assert_eq!(
                (k.as_str(), v.as_str()),
                ("max.in.flight.requests.per.connection", "6")
            );
            assert!(r.contains("enable.idempotence"), "{r}");
        }
        // … and fine without it.
        let c = props(&[
            ("max.in.flight.requests.per.connection", "6"),
            ("enable.idempotence", "false"),
        ])
        .unwrap();
        assert_eq!(c.max_in_flight_requests_per_connection, 6);
    }

    #[test]
    fn delivery_timeout_lower_bound() {
        let (k, v, r) = conf_err(props(&[("delivery.timeout.ms", "1000")]));
        assert_eq!((k.as_str(), v.as_str()), ("delivery.timeout.ms", "1000"));
        assert!(
            r.contains("linger.ms") && r.contains("request.timeout.ms"),
            "{r}"
        );
        assert!(r.contains("30005"), "{r}");
        // Exactly the sum is allowed.
        let c = props(&[("delivery.timeout.ms", "30005")]).unwrap();
        assert_eq!(c.delivery_timeout, Duration::from_millis(30_005));
        // Left at its default, it is raised (Java's backward-compatible override).
        let c = props(&[("linger.ms", "200000")]).unwrap();
        assert_eq!(c.delivery_timeout, Duration::from_millis(230_000));
    }

    #[test]
    fn bad_values_and_unsupported_keys_name_key_and_value() {
        let cases: &[(&str, &str)] = &[
            ("acks", "2"),
            ("acks", "ALL"),
            ("enable.idempotence", "yes"),
            ("linger.ms", "-1"),
            ("batch.size", "-1"),
            ("max.in.flight.requests.per.connection", "0"),
            ("retries", "-1"),
            ("compression.type", "brotli"),
            ("compression.gzip.level", "10"),
            ("compression.gzip.level", "0"),
            ("compression.lz4.level", "18"),
            ("compression.zstd.level", "23"),
            ("max.request.size", "3000000000"),
            ("partitioner.class", "com.example.MyPartitioner"),
            ("partitioner.availability.timeout.ms", "100"),
            (
                "key.serializer",
                "org.apache.kafka.common.serialization.StringSerializer",
            ),
            ("no.such.key", "1"),
            ("request.timeout.ms", "soon"),
        ];
        for (key, value) in cases {
            let (k, v, _) = conf_err(props(&[(key, value)]));
            assert_eq!((k.as_str(), v.as_str()), (*key, *value));
        }
        // Typed builder values are validated at build() too.
        let e = ProducerConfig::builder()
            .bootstrap_servers("a:1")
            .compression_lz4_level(0)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("compression.lz4.level"));
        let e = ProducerConfig::builder()
            .bootstrap_servers("a:1")
            .acks(Acks::Leader)
            .enable_idempotence(true)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("acks"));
    }

    #[test]
    fn transactional_id_implies_idempotence_and_refuses_explicit_conflicts() {
        let cfg = props(&[("transactional.id", "tx-1"), ("retries", "3")]).unwrap();
        assert_eq!(cfg.transactional_id.as_deref(), Some("tx-1"));
        assert!(cfg.enable_idempotence);
        assert_eq!(cfg.acks, Acks::All);
        assert_eq!(cfg.transaction_timeout, Duration::from_millis(60_000));
        let cfg = props(&[
            ("transactional.id", "tx-1"),
            ("transaction.timeout.ms", "9000"),
        ])
        .unwrap();
        assert_eq!(cfg.transaction_timeout, Duration::from_millis(9000));
        // No id (or an empty one): not transactional.
        let cfg = props(&[("transactional.id", " ")]).unwrap();
        assert_eq!(cfg.transactional_id, None);
        for (key, value) in [
            ("enable.idempotence", "false"),
            ("acks", "1"),
            ("acks", "0"),
            ("retries", "0"),
        ] {
            let (k, v, r) = conf_err(props(&[("transactional.id", "tx-1"), (key, value)]));
            assert_eq!((k.as_str(), v.as_str()), (key, value), "{r}");
            assert!(r.contains("transactional.id=tx-1"), "{r}");
        }
        let (k, _, _) = conf_err(props(&[
            ("transactional.id", "tx-1"),
            ("transaction.timeout.ms", "0"),
        ]));
        assert_eq!(k, "transaction.timeout.ms");
    }
}

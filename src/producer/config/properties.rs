//! Java property names for the producer: `ProducerConfigBuilder::set` and value parsers.

use super::{Acks, CompressionType, ProducerConfigBuilder, ZSTD_MIN_LEVEL};
use crate::config::parse::{parse_bool, parse_int, parse_ms, parse_usize};
use crate::{Error, Result};

impl ProducerConfigBuilder {
    /// Sets one property by its Java name: a producer key, or a common client key (delegated to
    /// [`ClientConfigBuilder::try_set`](crate::config::ClientConfigBuilder::try_set)). Unknown
    /// keys, keys this client does not honour, and unparsable values are errors naming the key
    /// and the value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "acks" => {
                self.acks = match value.trim() {
                    "all" | "-1" => Acks::All,
                    "1" => Acks::Leader,
                    "0" => Acks::None,
                    _ => return Err(Error::config(key, value, "must be one of all, -1, 0, 1")),
                }
            }
            "enable.idempotence" => self.enable_idempotence = Some(parse_bool(key, value)?),
            "linger.ms" => self.linger = parse_ms(key, value)?,
            "batch.size" => self.batch_size = parse_int(key, value, 0, i32::MAX)? as usize,
            "buffer.memory" => self.buffer_memory = parse_usize(key, value)?,
            "max.block.ms" => self.max_block = parse_ms(key, value)?,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight = parse_int(key, value, 1, i32::MAX)? as usize
            }
            "retries" => self.retries = parse_int(key, value, 0, i32::MAX)?,
            "delivery.timeout.ms" => self.delivery_timeout = Some(parse_ms(key, value)?),
            "compression.type" => self.compression_type = CompressionType::parse(key, value)?,
            "compression.gzip.level" => self.gzip_level = parse_int(key, value, -1, 9)?,
            "compression.lz4.level" => self.lz4_level = parse_int(key, value, 1, 17)?,
            "compression.zstd.level" => {
                self.zstd_level = parse_int(key, value, ZSTD_MIN_LEVEL, 22)?
            }
            "max.request.size" => {
                self.max_request_size = parse_int(key, value, 0, i32::MAX)? as usize
            }
            "partitioner.ignore.keys" => self.ignore_keys = parse_bool(key, value)?,
            "partitioner.adaptive.partitioning.enable" => self.adaptive = parse_bool(key, value)?,
            "partitioner.availability.timeout.ms" => {
                if !parse_ms(key, value)?.is_zero() {
                    return Err(Error::config(
                        key,
                        value,
                        "only 0 (disabled) is supported: ferrokafka does not yet skip partitions \
                         whose broker is slow to accept batches",
                    ));
                }
            }
            "partitioner.class" => {
                if !value.trim().is_empty() {
                    return Err(Error::config(
                        key,
                        value,
                        "ferrokafka cannot load Java classes: implement \
                         ferrokafka::producer::partitioner::Partitioner and pass it to \
                         ProducerConfigBuilder::partitioner",
                    ));
                }
            }
            "transactional.id" => {
                let id = value.trim();
                self.transactional_id = (!id.is_empty()).then(|| id.to_owned());
            }
            "transaction.timeout.ms" => self.transaction_timeout = parse_ms(key, value)?,
            "key.serializer" | "value.serializer" => {
                return Err(Error::config(
                    key,
                    value,
                    "ferrokafka producers take bytes: serialize keys and values in the application",
                ))
            }
            _ => {
                if !self.client.try_set(key, value)? {
                    use crate::config::suggest::{unknown_key, CLIENT_KEYS, PRODUCER_KEYS};
                    return Err(unknown_key(key, value, &[CLIENT_KEYS, PRODUCER_KEYS]));
                }
            }
        }
        Ok(())
    }
}

impl CompressionType {
    fn parse(key: &str, value: &str) -> Result<CompressionType> {
        // Case-sensitive, as Java's validator.
        Ok(match value.trim() {
            "none" => CompressionType::None,
            "gzip" => CompressionType::Gzip,
            "snappy" => CompressionType::Snappy,
            "lz4" => CompressionType::Lz4,
            "zstd" => CompressionType::Zstd,
            _ => {
                return Err(Error::config(
                    key,
                    value,
                    "must be one of none, gzip, snappy, lz4, zstd",
                ))
            }
        })
    }
}

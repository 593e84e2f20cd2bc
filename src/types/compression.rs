//! The compression codec: one enum for the producer's `compression.type` and the record batch
//! attributes.

use std::fmt;

use crate::{Error, ErrorKind, Result};

/// `compression.type`: the codec of a record batch (attribute bits 0-2). The producer writes its
/// batches with it (level from [`ProducerConfig::compression_level`](crate::producer::ProducerConfig::compression_level)); consumers read every codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompressionType {
    /// No compression (codec 0).
    #[default]
    None,
    /// gzip (codec 1), via `flate2` with the pure-Rust `zlib-rs` backend.
    Gzip,
    /// Snappy (codec 2): written in xerial framing like the Java client; read framed or raw.
    Snappy,
    /// LZ4 frame format with independent 64 KiB blocks (codec 3).
    Lz4,
    /// Zstandard (codec 4): the C zstd library by default (feature `zstd-c`), else pure-Rust
    /// `ruzstd` (fastest level only when compressing).
    Zstd,
}

impl CompressionType {
    /// The codec id in the attributes.
    pub const fn id(self) -> i16 {
        match self {
            CompressionType::None => 0,
            CompressionType::Gzip => 1,
            CompressionType::Snappy => 2,
            CompressionType::Lz4 => 3,
            CompressionType::Zstd => 4,
        }
    }

    /// The codec for an id; 5-7 are invalid.
    pub fn from_id(id: i16) -> Result<CompressionType> {
        Ok(match id {
            0 => CompressionType::None,
            1 => CompressionType::Gzip,
            2 => CompressionType::Snappy,
            3 => CompressionType::Lz4,
            4 => CompressionType::Zstd,
            other => {
                return Err(Error::new(ErrorKind::CorruptRecord)
                    .with_detail(format!("unknown compression codec id {other}")))
            }
        })
    }

    /// The codec's name as in `compression.type` (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    pub const fn name(self) -> &'static str {
        match self {
            CompressionType::None => "none",
            CompressionType::Gzip => "gzip",
            CompressionType::Snappy => "snappy",
            CompressionType::Lz4 => "lz4",
            CompressionType::Zstd => "zstd",
        }
    }

    /// Parses a `compression.type` value.
    pub fn from_name(name: &str) -> Option<CompressionType> {
        [
            CompressionType::None,
            CompressionType::Gzip,
            CompressionType::Snappy,
            CompressionType::Lz4,
            CompressionType::Zstd,
        ]
        .into_iter()
        .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for CompressionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

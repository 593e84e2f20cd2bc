//! Record batch v2 codec (magic 2): encode, decode, compression.
//!
//! This is our own implementation of Kafka's `DefaultRecordBatch` / `DefaultRecord` format (the
//! `kafka-protocol` crate's records module is not used): a 61-byte header (`baseOffset`,
//! `batchLength`, `partitionLeaderEpoch`, `magic`, CRC-32C over attributes..end, `attributes`,
//! `lastOffsetDelta`, `baseTimestamp`, `maxTimestamp`, `producerId`, `producerEpoch`,
//! `baseSequence`, `recordsCount`) followed by the records section, which is the only part that
//! is compressed. Each record is a varint length, attributes, varlong timestamp delta, varint
//! offset delta, nullable key and value, and headers. Legacy formats (magic 0 and 1) are
//! rejected with a clear error.
//!
//! # Design
//!
//! - **Encoding** ([`RecordBatchEncoder`], [`RecordBatchWriter`]) writes straight into the
//!   caller's `BytesMut` (the Produce request buffer): header placeholder, then records (directly
//!   when uncompressed; into a reusable scratch buffer, then compressed into the output
//!   otherwise), then the header and CRC are patched in. No per-record allocation for
//!   uncompressed batches; uncompressed output is byte-identical to Java's
//!   `MemoryRecordsBuilder` (golden-vector tested).
//! - **Decoding** ([`RecordBatches`], [`RecordBatch`], [`Records`], [`Record`]) is zero-copy:
//!   keys, values and header values are `Bytes` slices of the input, or of the single buffer a
//!   compressed batch was decompressed into. A partial batch at the end of the input (normal in a
//!   Fetch response) ends iteration and is reported by [`RecordBatches::incomplete_tail`].
//! - **Hostile input** yields `Err`, never a panic: every length and count is checked against
//!   the bytes that remain (a record count is capped at `bytes / 7`, the smallest record size),
//!   varints longer than 5 (varlongs 10) bytes are rejected, offset and timestamp arithmetic is
//!   checked, and no allocation is sized from an unchecked wire value.
//! - **Decompression cap**: [`DecodeOptions::max_decompressed_size`] (default
//!   [`DEFAULT_MAX_DECOMPRESSED_SIZE`], 64 MiB). Decompressors write into one buffer grown in
//!   bounded steps up to the cap, so a compression bomb fails with `ErrorKind::Compression`
//!   without allocating past it. For zstd the frame's declared window is also checked (at most
//!   `max(cap, 8 MiB)`) because the decoder reserves the window up front.
//!
//! # Codecs (all pure Rust)
//!
//! | codec | crate | write | read |
//! |---|---|---|---|
//! | gzip | `flate2` with the pure-Rust `zlib-rs` backend | levels 1-9, default 6 (Java's default) | multi-member |
//! | snappy | `snap` raw + own framing | xerial framing (snappy-java `SnappyOutputStream`: magic, version 1, compat 1, 32 KiB chunks), as Java writes | xerial or raw |
//! | lz4 | `lz4_flex` frame | 64 KiB independent blocks, no checksums (as `KafkaLZ4BlockOutputStream`; Java rejects dependent blocks); one speed level, a configured level is accepted and ignored | any LZ4 frame |
//! | zstd | `ruzstd` | **only ruzstd's "Fastest" level (about zstd level 1)**; a configured level is accepted and ignored | any zstd frame(s) |
//!
//! ## The zstd decision
//!
//! The C `zstd` crate would give every level and faster compression, but it compiles C, which
//! this crate avoids by default. `ruzstd` 0.8 decompresses everything but compresses only at
//! "Fastest" (its `Default`/`Better`/`Best` levels are unimplemented): expect a lower ratio than
//! Java's default zstd level 3 and slower compression than the C library. Brokers and other
//! clients read it normally.
//!
//! Measured with `benches/record_batch.rs` (JSON-like values, shared 2-core machine, payload
//! MB/s): ruzstd compresses 15-28 MB/s at ratio 1.8-2.5, against snappy/LZ4 at 90-240 MB/s
//! (ratio 1.7-1.9) and gzip level 6 at 13-16 MB/s (ratio 2.6-3.3) with `zlib-rs`, which replaced
//! `miniz_oxide` (7-11 MB/s on the same data: 1.5-1.75x slower in an A/B run on 2026-12-03, 1 MiB
//! batches of 100 B and 1 KiB records); ruzstd decompresses 75-135 MB/s, LZ4 300-1100 MB/s.
//! So zstd here trades speed for a ratio between LZ4 and gzip. If that is not good enough, the C
//! `zstd` crate can be put behind a cargo feature later without changing this module's API.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use ferrokafka::__private::protocol::records::*;
//!
//! let mut encoder = RecordBatchEncoder::new();
//! let mut request = BytesMut::new();
//! let params = BatchParams { compression: Compression::Lz4, ..BatchParams::default() };
//! let mut batch = encoder.start(&mut request, params)?;
//! batch.append_next(1_700_000_000_000, Some(b"key"), Some(b"value"), &[(b"trace", Some(b"1"))])?;
//! let info = batch.finish()?;
//! assert_eq!(info.header.records_count, 1);
//!
//! for batch in RecordBatches::new(request.freeze(), DecodeOptions::default()) {
//!     for record in batch?.records()? {
//!         let record = record?;
//!         assert_eq!(record.value.as_deref(), Some(&b"value"[..]));
//!     }
//! }
//! # Ok::<(), ferrokafka::Error>(())
//! ```

mod attributes;
mod compression;
mod decode;
mod encode;
pub mod varint;

pub use attributes::{
    BatchHeader, Compression, TimestampType, COMPRESSION_CODEC_MASK, CONTROL_FLAG,
    DELETE_HORIZON_FLAG, LOG_OVERHEAD, MAGIC, MIN_BATCH_LENGTH, RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_FLAG, TRANSACTIONAL_FLAG,
};
pub use compression::{
    compress, compress_with, decompress, validate_level, Compressors,
    DEFAULT_MAX_DECOMPRESSED_SIZE, XERIAL_MAGIC, ZSTD_DEFAULT_LEVEL,
};
pub use decode::{
    next_offset_after, DecodeOptions, Header, HeaderIter, Record, RecordBatch, RecordBatches,
    RecordHeaders, Records,
};
pub use encode::{
    BatchInfo, BatchParams, HeaderRef, RecordBatchEncoder, RecordBatchWriter, NO_TIMESTAMP,
};

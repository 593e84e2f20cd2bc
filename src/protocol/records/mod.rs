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
//!   `max(cap, 8 MiB)`) because ruzstd reserves the window up front (and the C decoder sizes its
//!   window buffer from the header too).
//! - **Codec state is reused**: a [`RecordBatchEncoder`] (the producer's sender keeps one)
//!   holds its scratch buffer and a [`Compressors`] (the gzip deflate state and the zstd
//!   context, each re-created only when the level changes) from batch to batch; a level-3 zstd
//!   context is hundreds of KiB of tables or more, and setting one up per 16 KiB batch cost
//!   more than compressing the batch.
//!
//! # Codecs
//!
//! Pure Rust except zstd with the default `zstd-c` feature, which compiles the C library's
//! vendored source with `cc` and links it statically (as `ring` does for its assembly and C): no
//! system library is needed, and the static musl build still works.
//!
//! | codec | crate | write | read |
//! |---|---|---|---|
//! | gzip | `flate2` with the pure-Rust `zlib-rs` backend | levels 1-9, default 6 (Java's default) | multi-member |
//! | snappy | `snap` raw + own framing | xerial framing (snappy-java `SnappyOutputStream`: magic, version 1, compat 1, 32 KiB chunks), as Java writes | xerial or raw |
//! | lz4 | `lz4_flex` frame | 64 KiB independent blocks, no checksums (as `KafkaLZ4BlockOutputStream`; Java rejects dependent blocks); one speed level, a configured level is accepted and ignored | any LZ4 frame |
//! | zstd | `zstd` (C, vendored) with the default `zstd-c` feature; `ruzstd` without it | with `zstd-c`: every level -131072..=22, default 3 (Java's and librdkafka's default), one frame with the content size; without: **only ruzstd's "Fastest" level (about zstd level 1)**, a configured level is accepted and ignored | any zstd frame(s), skippable frames skipped |
//!
//! ## The zstd decision
//!
//! `ruzstd` 0.8 decompresses everything but compresses only at "Fastest" (its
//! `Default`/`Better`/`Best` levels are unimplemented), so it cannot honour
//! `compression.zstd.level` (KIP-390), and in `benches/compression_vs_c.rs` (JSON-like values,
//! shared 2-core machine, 2026-12-04) it compressed 67-103 MiB/s at ratio 2.0-2.5 where C zstd
//! level 3 did 250-410 MiB/s at ratio 2.9-3.25. Issue #9 asks for record-batch encode within 1.5x of the C libraries at librdkafka's
//! default levels, which ruzstd cannot reach, so the C library is used by default: its `cc`
//! build of vendored source keeps the crate free of system libraries. `--no-default-features`
//! drops it and falls back to ruzstd for both directions (the tests run both decoders against
//! both encoders in every build). `benches/compression_vs_c.rs` times our batch encoder beside C
//! zlib and C zstd; its figures are in `docs/performance.md`.
//!
//! gzip stays on `flate2`'s pure-Rust `zlib-rs` backend, which replaced `miniz_oxide` (7-11
//! MB/s on the same data: 1.5-1.75x slower in an A/B run on 2026-12-03, 1 MiB batches of 100 B
//! and 1 KiB records); how it compares with C zlib at level 6 is in `docs/performance.md`.
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

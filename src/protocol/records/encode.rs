//! Writing record batches straight into a request buffer.
//!
//! A [`RecordBatchEncoder`] owns a scratch buffer that is reused across batches. For every batch
//! it hands out a [`RecordBatchWriter`] that borrows the caller's output `BytesMut` (typically
//! the Produce request being built): the writer reserves the 61-byte header, appends records —
//! straight into the output when the batch is uncompressed, into the scratch buffer otherwise —
//! and [`RecordBatchWriter::finish`] compresses the scratch into the output (if needed) and then
//! patches the header: `batchLength`, `lastOffsetDelta`, timestamps, `recordsCount` and the CRC.
//!
//! Appending an uncompressed record performs no heap allocation beyond the amortized growth of the
//! output buffer. The bytes are identical to those of Java's `MemoryRecordsBuilder` for the same
//! inputs (golden-vector tested).

use bytes::{BufMut, BytesMut};

use super::attributes::{
    self, BatchHeader, Compression, TimestampType, MAGIC, RECORD_BATCH_OVERHEAD,
};
use super::compression::{compress_with, validate_level, Compressors};
use super::varint::{put_varint, put_varlong, varint_size, varlong_size};
use crate::{Error, ErrorKind, Result};

/// Kafka's "no timestamp" sentinel.
pub const NO_TIMESTAMP: i64 = -1;

/// A record header to append: the key's bytes (UTF-8 by convention) and an optional value.
pub type HeaderRef<'a> = (&'a [u8], Option<&'a [u8]>);

/// Batch-level fields, fixed when a batch is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchParams {
    /// Offset of the first record; producers send 0 (the broker assigns offsets).
    pub base_offset: i64,
    /// `partitionLeaderEpoch`; producers send -1.
    pub partition_leader_epoch: i32,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Whether the batch is part of a transaction (needs a producer id).
    pub transactional: bool,
    /// Whether the batch holds control records.
    pub control: bool,
    /// What the timestamps mean.
    pub timestamp_type: TimestampType,
    /// With [`TimestampType::LogAppendTime`], the value written as `maxTimestamp` (Java's
    /// `logAppendTime`); ignored for create time.
    pub log_append_time: i64,
    /// Codec for the records section.
    pub compression: Compression,
    /// Codec level (see [`validate_level`]); `None` = the codec's default.
    pub compression_level: Option<i32>,
}

impl Default for BatchParams {
    /// A non-idempotent, uncompressed, create-time batch at offset 0 — what a plain producer sends.
    fn default() -> Self {
        BatchParams {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            timestamp_type: TimestampType::CreateTime,
            log_append_time: NO_TIMESTAMP,
            compression: Compression::None,
            compression_level: None,
        }
    }
}

/// What [`RecordBatchWriter::finish`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    /// Header fields as written (CRC included).
    pub header: BatchHeader,
    /// Whole batch size in the output (header + possibly compressed records).
    pub size_in_bytes: usize,
    /// Size of the records section before compression.
    pub uncompressed_records_size: usize,
}

/// Reusable state for encoding batches: holds the scratch buffer compressed batches are
/// assembled in, so steady-state encoding does not allocate.
#[derive(Debug, Default)]
pub struct RecordBatchEncoder {
    scratch: BytesMut,
    /// Codec contexts reused from batch to batch (see [`Compressors`]).
    compressors: Compressors,
}

impl RecordBatchEncoder {
    /// A new encoder with an empty scratch buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a batch at the end of `out`. Errors (`InvalidArgument`) on an invalid compression
    /// level or a transactional batch without a producer id.
    pub fn start<'a>(
        &'a mut self,
        out: &'a mut BytesMut,
        params: BatchParams,
    ) -> Result<RecordBatchWriter<'a>> {
        validate_level(params.compression, params.compression_level)?;
        if params.transactional && params.producer_id < 0 {
            return Err(invalid("a transactional batch needs a producer id"));
        }
        self.scratch.clear();
        let start = out.len();
        out.put_bytes(0, RECORD_BATCH_OVERHEAD);
        Ok(RecordBatchWriter {
            out,
            scratch: &mut self.scratch,
            compressors: &mut self.compressors,
            start,
            params,
            count: 0,
            first_timestamp: None,
            max_timestamp: NO_TIMESTAMP,
            last_offset_delta: None,
            records_size: 0,
            finished: false,
        })
    }
}

fn invalid(detail: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument).with_detail(detail.to_owned())
}

/// One batch being written; see the [module docs](crate::protocol::records). Dropping it without
/// [`finish`](Self::finish) removes the partial batch from the output.
#[derive(Debug)]
pub struct RecordBatchWriter<'a> {
    out: &'a mut BytesMut,
    scratch: &'a mut BytesMut,
    compressors: &'a mut Compressors,
    start: usize,
    params: BatchParams,
    count: i32,
    first_timestamp: Option<i64>,
    max_timestamp: i64,
    last_offset_delta: Option<i32>,
    records_size: usize,
    finished: bool,
}

fn len_i32(len: usize, what: &str) -> Result<i32> {
    i32::try_from(len).map_err(|_| invalid(what))
}

/// Size of a record's body (everything after its length varint).
fn body_size(
    offset_delta: i32,
    timestamp_delta: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[HeaderRef<'_>],
) -> usize {
    fn nullable(b: Option<&[u8]>) -> usize {
        // Lengths past i32::MAX are rejected before writing; saturate so sizing never panics.
        b.map_or(1, |b| {
            varint_size(i32::try_from(b.len()).unwrap_or(i32::MAX)) + b.len()
        })
    }
    let mut size = 1
        + varlong_size(timestamp_delta)
        + varint_size(offset_delta)
        + nullable(key)
        + nullable(value);
    size += varint_size(i32::try_from(headers.len()).unwrap_or(i32::MAX));
    for (k, v) in headers {
        size += nullable(Some(k)) + nullable(*v);
    }
    size
}

impl RecordBatchWriter<'_> {
    /// Exact encoded size of one record (length prefix included), as Java's
    /// `DefaultRecord.sizeInBytes` computes it.
    pub fn record_size(
        offset_delta: i32,
        timestamp_delta: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
    ) -> usize {
        let body = body_size(offset_delta, timestamp_delta, key, value, headers);
        varint_size(i32::try_from(body).unwrap_or(i32::MAX)) + body
    }

    /// Appends a record at `base_offset + offset_delta`. Offset deltas must increase strictly;
    /// timestamps must be >= 0 or -1 (no timestamp), as Java's `MemoryRecordsBuilder` requires.
    /// Returns the record's encoded size.
    pub fn append(
        &mut self,
        offset_delta: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
    ) -> Result<usize> {
        if offset_delta < 0
            || self
                .last_offset_delta
                .is_some_and(|last| offset_delta <= last)
        {
            return Err(invalid(
                "offset deltas must be non-negative and strictly increasing",
            ));
        }
        if timestamp < NO_TIMESTAMP {
            return Err(invalid("timestamps must be >= 0 or -1 (none)"));
        }
        if self.count == i32::MAX {
            return Err(invalid("too many records in one batch"));
        }
        if self
            .params
            .base_offset
            .checked_add(i64::from(offset_delta))
            .is_none()
        {
            return Err(invalid("base offset + offset delta overflows"));
        }
        let first = *self.first_timestamp.get_or_insert(timestamp);
        // Java computes the delta with wrapping `long` arithmetic (-1 to i64::MAX wraps); the
        // decoder's wrapping add restores the timestamp exactly.
        let timestamp_delta = timestamp.wrapping_sub(first);
        len_i32(key.map_or(0, <[u8]>::len), "key longer than i32::MAX")?;
        len_i32(value.map_or(0, <[u8]>::len), "value longer than i32::MAX")?;
        len_i32(headers.len(), "too many headers")?;
        for (k, v) in headers {
            len_i32(k.len(), "header key too long")?;
            len_i32(v.map_or(0, <[u8]>::len), "header value too long")?;
        }
        let body = len_i32(
            body_size(offset_delta, timestamp_delta, key, value, headers),
            "record longer than i32::MAX",
        )?;
        let size = varint_size(body) + body as usize;

        let buf: &mut BytesMut = if self.params.compression == Compression::None {
            self.out
        } else {
            self.scratch
        };
        buf.reserve(size);
        put_varint(buf, body);
        buf.put_u8(0); // record attributes: unused
        put_varlong(buf, timestamp_delta);
        put_varint(buf, offset_delta);
        put_nullable(buf, key);
        put_nullable(buf, value);
        put_varint(buf, headers.len() as i32);
        for (k, v) in headers {
            put_nullable(buf, Some(k));
            put_nullable(buf, *v);
        }

        self.count += 1;
        self.last_offset_delta = Some(offset_delta);
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.records_size += size;
        Ok(size)
    }

    /// Appends a record at the next offset (`0` for the first record, else last delta + 1).
    pub fn append_next(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
    ) -> Result<usize> {
        let next = self
            .next_offset_delta()
            .ok_or_else(|| invalid("offset delta overflow"))?;
        self.append(next, timestamp, key, value, headers)
    }

    /// The offset delta [`append_next`](Self::append_next) would use (`None` past `i32::MAX`).
    pub fn next_offset_delta(&self) -> Option<i32> {
        match self.last_offset_delta {
            None => Some(0),
            Some(d) => d.checked_add(1),
        }
    }

    /// Records appended so far.
    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// Header plus records before compression: exact for uncompressed batches, an upper-bound
    /// style estimate for compressed ones (scale the records part by your observed ratio).
    pub fn uncompressed_size(&self) -> usize {
        RECORD_BATCH_OVERHEAD + self.records_size
    }

    /// [`uncompressed_size`](Self::uncompressed_size) after appending this record at the next
    /// offset — what a producer checks against `batch.size` before appending.
    pub fn size_if_appended(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
    ) -> usize {
        let delta = self
            .first_timestamp
            .map_or(0, |f| timestamp.wrapping_sub(f));
        let offset_delta = self.next_offset_delta().unwrap_or(i32::MAX);
        self.uncompressed_size() + Self::record_size(offset_delta, delta, key, value, headers)
    }

    /// Discards the batch, restoring the output to its length before the batch was started.
    pub fn abort(mut self) {
        self.out.truncate(self.start);
        self.finished = true;
    }

    /// Compresses (if needed), patches the header and CRC, and returns what was written. A batch
    /// with no records is written as an empty batch (as Kafka's log cleaner writes them); Java's
    /// producer writes nothing instead, so producers should not finish empty batches.
    pub fn finish(mut self) -> Result<BatchInfo> {
        let p = self.params;
        if p.compression != Compression::None {
            if let Err(e) = compress_with(
                self.compressors,
                p.compression,
                p.compression_level,
                self.scratch,
                self.out,
            ) {
                self.out.truncate(self.start);
                self.finished = true;
                return Err(e);
            }
        }
        let size = self.out.len() - self.start;
        let batch_length = match i32::try_from(size - attributes::LOG_OVERHEAD) {
            Ok(l) => l,
            Err(_) => {
                self.out.truncate(self.start);
                self.finished = true;
                return Err(invalid("batch longer than i32::MAX"));
            }
        };
        let max_timestamp = match p.timestamp_type {
            TimestampType::LogAppendTime => p.log_append_time,
            TimestampType::CreateTime => self.max_timestamp,
        };
        let mut header = BatchHeader {
            base_offset: p.base_offset,
            batch_length,
            partition_leader_epoch: p.partition_leader_epoch,
            magic: MAGIC,
            crc: 0,
            attributes: attributes::attributes(
                p.compression,
                p.timestamp_type,
                p.transactional,
                p.control,
            ),
            last_offset_delta: self.last_offset_delta.unwrap_or(0),
            base_timestamp: self.first_timestamp.unwrap_or(NO_TIMESTAMP),
            max_timestamp,
            producer_id: p.producer_id,
            producer_epoch: p.producer_epoch,
            base_sequence: p.base_sequence,
            records_count: self.count,
        };
        let mut fixed = [0u8; RECORD_BATCH_OVERHEAD];
        header.write(&mut fixed);
        let batch = &mut self.out[self.start..];
        batch[..RECORD_BATCH_OVERHEAD].copy_from_slice(&fixed);
        header.crc = crc32c::crc32c(&batch[attributes::ATTRIBUTES_OFFSET..]);
        batch[attributes::CRC_OFFSET..attributes::CRC_OFFSET + 4]
            .copy_from_slice(&header.crc.to_be_bytes());
        self.finished = true;
        Ok(BatchInfo {
            header,
            size_in_bytes: size,
            uncompressed_records_size: self.records_size,
        })
    }
}

impl Drop for RecordBatchWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Never leave a half-written batch (zeroed header) in the request buffer.
            self.out.truncate(self.start);
        }
    }
}

#[inline]
fn put_nullable(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        // Lengths were checked to fit i32 before writing.
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.put_slice(b);
        }
        None => put_varint(buf, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_record_layout_matches_java() {
        let mut enc = RecordBatchEncoder::new();
        let mut out = BytesMut::new();
        let mut w = enc
            .start(&mut out, BatchParams::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let n = w.append(0, 1000, Some(b"k"), Some(b"v"), &[(&b"h"[..], None)]);
        assert_eq!(
            n.ok(),
            Some(RecordBatchWriter::record_size(
                0,
                0,
                Some(b"k"),
                Some(b"v"),
                &[(&b"h"[..], None)]
            ))
        );
        let info = w.finish().unwrap_or_else(|e| panic!("{e}"));
        // Record: zigzag(11 body bytes) = 22, attrs 0, tsDelta 0, offDelta 0, key "k", value "v",
        // one header "h" with a null value.
        assert_eq!(
            &out[RECORD_BATCH_OVERHEAD..],
            &[22, 0, 0, 0, 2, b'k', 2, b'v', 2, 2, b'h', 1][..]
        );
        assert_eq!(info.size_in_bytes, out.len());
        assert_eq!(info.header.batch_length as usize, out.len() - 12);
        assert_eq!(info.header.max_timestamp, 1000);
        assert_eq!(info.header.base_timestamp, 1000);
        assert_eq!(crc32c::crc32c(&out[21..]), info.header.crc);
    }

    #[test]
    fn rejects_non_increasing_offsets_and_bad_timestamps() {
        let mut enc = RecordBatchEncoder::new();
        let mut out = BytesMut::new();
        let mut w = enc
            .start(&mut out, BatchParams::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(w.append(3, 0, None, None, &[]).is_ok());
        assert!(w.append(3, 0, None, None, &[]).is_err());
        assert!(w.append(4, -2, None, None, &[]).is_err());
        w.abort();
        assert!(out.is_empty());
    }

    #[test]
    fn dropped_writer_leaves_no_partial_batch() {
        let mut enc = RecordBatchEncoder::new();
        let mut out = BytesMut::from(&b"prefix"[..]);
        {
            let mut w = enc
                .start(&mut out, BatchParams::default())
                .unwrap_or_else(|e| panic!("{e}"));
            let _ = w.append(0, 0, None, Some(b"x"), &[]);
        }
        assert_eq!(&out[..], b"prefix");
    }
}

//! Zero-copy decoding of record batches.
//!
//! [`RecordBatches`] walks a `Bytes` holding zero or more batches (a Fetch response's `records`
//! field). Every [`Record`]'s key, value and header values are `Bytes` slices of that input (or,
//! for a compressed batch, of the one buffer it was decompressed into): nothing is copied and the
//! only allocations are the decompression buffer and reference-count bumps.
//!
//! Every length and count read from the wire is checked against the bytes that remain before it
//! is used, so hostile input produces an `Err`, never a panic or an outsized allocation.

use bytes::Bytes;

use super::attributes::{
    BatchHeader, Compression, TimestampType, LAST_OFFSET_DELTA_OFFSET, LENGTH_OFFSET, LOG_OVERHEAD,
    MAGIC, MAGIC_OFFSET, MIN_BATCH_LENGTH, RECORD_BATCH_OVERHEAD,
};
use super::compression::{decompress, DEFAULT_MAX_DECOMPRESSED_SIZE};
use super::varint::{read_varint, read_varlong};
use crate::{Error, ErrorClass, ErrorKind, Result};

/// Smallest possible record: length, attributes, timestamp delta, offset delta, key length, value
/// length and header count, one byte each. Bounds the record count a batch can claim.
const MIN_RECORD_SIZE: usize = 7;

fn corrupt(detail: impl Into<String>) -> Error {
    Error::new(ErrorKind::CorruptRecord).with_detail(detail)
}

/// How batches are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Verify each batch's CRC-32C (`check.crcs`, default true).
    pub check_crcs: bool,
    /// Cap on one batch's decompressed records section, in bytes (default 64 MiB). A larger
    /// batch fails with [`ErrorKind::Compression`].
    pub max_decompressed_size: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            check_crcs: true,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
        }
    }
}

/// Iterator over the record batches in a buffer.
///
/// A partial batch at the end (the broker truncates the response at the fetch size) is normal:
/// iteration stops there and [`incomplete_tail`](Self::incomplete_tail) reports its size. After
/// an `Err` the iterator is fused.
#[derive(Debug, Clone)]
pub struct RecordBatches {
    data: Bytes,
    pos: usize,
    options: DecodeOptions,
    done: bool,
    incomplete: usize,
}

impl RecordBatches {
    /// Iterates the batches in `data`.
    pub fn new(data: Bytes, options: DecodeOptions) -> Self {
        RecordBatches {
            data,
            pos: 0,
            options,
            done: false,
            incomplete: 0,
        }
    }

    /// Size of the partial batch that ended the input, once iteration has reached it (0 if none).
    pub fn incomplete_tail(&self) -> usize {
        self.incomplete
    }

    /// Bytes consumed so far (complete batches only).
    pub fn position(&self) -> usize {
        self.pos
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        // A magic other than 2 is reported even on a partial batch: it cannot become valid.
        if let Some(&magic) = rest.get(MAGIC_OFFSET) {
            check_magic(magic as i8)?;
        }
        let Some(len) = rest.get(LENGTH_OFFSET..LOG_OVERHEAD) else {
            self.incomplete = rest.len();
            return Ok(None);
        };
        let mut l = [0u8; 4];
        l.copy_from_slice(len);
        let batch_length = i32::from_be_bytes(l);
        let batch_length = usize::try_from(batch_length)
            .ok()
            .filter(|&l| l >= MIN_BATCH_LENGTH)
            .ok_or_else(|| {
                corrupt(format!(
                    "batch length {batch_length} is below the minimum {MIN_BATCH_LENGTH}"
                ))
            })?;
        let total = LOG_OVERHEAD + batch_length;
        if rest.len() < total {
            self.incomplete = rest.len();
            return Ok(None);
        }
        let bytes = self.data.slice(self.pos..self.pos + total);
        let batch = RecordBatch::parse_with(bytes, self.options)?;
        self.pos += total;
        Ok(Some(batch))
    }
}

/// The offset after the last complete batch in `data`, read from the batch headers alone
/// (base offset + last offset delta + 1; no CRC check, no decompression), or `None` if `data`
/// holds no complete batch or a header is implausible. The consumer fetches ahead from there
/// while the records are still being handed out; a corrupt batch is then reported when it is
/// decoded, and the fetch-ahead is discarded.
pub fn next_offset_after(data: &[u8]) -> Option<i64> {
    let mut pos = 0usize;
    let mut next = None;
    while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
        let be_i64 = |at: usize| {
            rest.get(at..at + 8)?
                .try_into()
                .ok()
                .map(i64::from_be_bytes)
        };
        let be_i32 = |at: usize| {
            rest.get(at..at + 4)?
                .try_into()
                .ok()
                .map(i32::from_be_bytes)
        };
        let batch_length = usize::try_from(be_i32(LENGTH_OFFSET)?).ok()?;
        if batch_length < MIN_BATCH_LENGTH || *rest.get(MAGIC_OFFSET)? as i8 != MAGIC {
            return next;
        }
        let total = LOG_OVERHEAD.checked_add(batch_length)?;
        if rest.len() < total {
            return next; // a partial batch ends the response
        }
        let base = be_i64(0)?;
        let delta = i64::from(be_i32(LAST_OFFSET_DELTA_OFFSET)?);
        next = base.checked_add(delta)?.checked_add(1);
        pos += total;
    }
    next
}

impl Iterator for RecordBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_batch().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

fn check_magic(magic: i8) -> Result<()> {
    match magic {
        MAGIC => Ok(()),
        0 | 1 => Err(corrupt(format!(
            "legacy message format (magic v{magic}) is not supported: only record batch v2 (Kafka 0.11+) is"
        ))
        .reclassify(ErrorClass::ApplicationRecoverable)),
        other => Err(corrupt(format!("unknown record batch magic {other}"))),
    }
}

/// One complete record batch: its header, decoded and checked, and its bytes.
#[derive(Debug, Clone)]
pub struct RecordBatch {
    header: BatchHeader,
    compression: Compression,
    last_offset: i64,
    bytes: Bytes,
    max_decompressed_size: usize,
}

impl RecordBatch {
    /// Parses one complete batch (exactly `batchLength + 12` bytes) with default options.
    pub fn parse(bytes: Bytes) -> Result<RecordBatch> {
        Self::parse_with(bytes, DecodeOptions::default())
    }

    /// Parses one complete batch: checks magic, length, CRC (if enabled), codec, record count
    /// and last offset.
    pub fn parse_with(bytes: Bytes, options: DecodeOptions) -> Result<RecordBatch> {
        let fixed: &[u8; RECORD_BATCH_OVERHEAD] = bytes.first_chunk().ok_or_else(|| {
            corrupt(format!(
                "batch of {} bytes is shorter than its header",
                bytes.len()
            ))
        })?;
        let header = BatchHeader::parse(fixed);
        check_magic(header.magic)?;
        if usize::try_from(header.batch_length)
            .ok()
            .map(|l| l + LOG_OVERHEAD)
            != Some(bytes.len())
        {
            return Err(corrupt(format!(
                "batch length {} does not match the {} bytes given",
                header.batch_length,
                bytes.len()
            )));
        }
        if options.check_crcs {
            let computed = crc32c::crc32c(
                bytes
                    .get(super::attributes::ATTRIBUTES_OFFSET..)
                    .unwrap_or_default(),
            );
            if computed != header.crc {
                return Err(corrupt(format!(
                    "CRC mismatch at offset {}: stored {:#010x}, computed {computed:#010x}",
                    header.base_offset, header.crc
                )));
            }
        }
        let compression = header.compression()?;
        if header.records_count < 0 {
            return Err(corrupt(format!(
                "negative record count {}",
                header.records_count
            )));
        }
        let last_offset = header
            .last_offset()
            .ok_or_else(|| corrupt("base offset + last offset delta overflows"))?;
        Ok(RecordBatch {
            header,
            compression,
            last_offset,
            bytes,
            max_decompressed_size: options.max_decompressed_size,
        })
    }

    /// All header fields.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }
    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }
    /// Offset of the last record (`baseOffset + lastOffsetDelta`; may be past the last record
    /// actually present after compaction).
    pub fn last_offset(&self) -> i64 {
        self.last_offset
    }
    /// The offset a consumer continues from after this batch (`last_offset() + 1`, saturating).
    pub fn next_offset(&self) -> i64 {
        self.last_offset.saturating_add(1)
    }
    /// `partitionLeaderEpoch`.
    pub fn partition_leader_epoch(&self) -> i32 {
        self.header.partition_leader_epoch
    }
    /// The compression codec.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// The timestamp type.
    pub fn timestamp_type(&self) -> TimestampType {
        self.header.timestamp_type()
    }
    /// Whether the batch is transactional.
    pub fn is_transactional(&self) -> bool {
        self.header.is_transactional()
    }
    /// Whether the batch holds control records (transaction markers).
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }
    /// Delete horizon set by the log cleaner, if any.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        self.header.delete_horizon_ms()
    }
    /// `baseTimestamp`.
    pub fn base_timestamp(&self) -> i64 {
        self.header.base_timestamp
    }
    /// `maxTimestamp` (the log append time for [`TimestampType::LogAppendTime`]).
    pub fn max_timestamp(&self) -> i64 {
        self.header.max_timestamp
    }
    /// Producer id (-1: none).
    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }
    /// Producer epoch (-1: none).
    pub fn producer_epoch(&self) -> i16 {
        self.header.producer_epoch
    }
    /// Sequence of the first record (-1: none).
    pub fn base_sequence(&self) -> i32 {
        self.header.base_sequence
    }
    /// Record count from the header (checked against the bytes by [`records`](Self::records)).
    pub fn records_count(&self) -> i32 {
        self.header.records_count
    }
    /// Whole batch size in bytes.
    pub fn size_in_bytes(&self) -> usize {
        self.bytes.len()
    }
    /// The batch's raw bytes (e.g. to forward it unchanged).
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Decompresses (if needed) and returns an iterator over the records.
    pub fn records(&self) -> Result<Records> {
        let section = self.bytes.slice(RECORD_BATCH_OVERHEAD..);
        let data = match self.compression {
            Compression::None => section,
            codec => Bytes::from(decompress(codec, &section, self.max_decompressed_size)?),
        };
        // Cap the claimed count by what the bytes can hold before trusting it anywhere.
        let count = self.header.records_count as usize;
        if count > data.len() / MIN_RECORD_SIZE {
            return Err(corrupt(format!(
                "record count {count} exceeds what {} bytes of records can hold",
                data.len()
            )));
        }
        let log_append_time =
            (self.timestamp_type() == TimestampType::LogAppendTime).then_some(self.max_timestamp());
        Ok(Records {
            data,
            pos: 0,
            remaining: count,
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            log_append_time,
            done: false,
        })
    }
}

/// Iterator over the records of one batch; fused after an `Err`. After the claimed number of
/// records it checks that no bytes are left over.
#[derive(Debug, Clone)]
pub struct Records {
    data: Bytes,
    pos: usize,
    remaining: usize,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    done: bool,
}

impl Records {
    /// Records not yet yielded (per the batch header; at most the bytes allow).
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    fn decode_next(&mut self) -> Result<Record> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let (len, n) = read_varint(rest).map_err(|_| corrupt("bad record length varint"))?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= rest.len() - n)
            .ok_or_else(|| {
                corrupt(format!(
                    "record length {len} exceeds the {} bytes left",
                    rest.len() - n
                ))
            })?;
        let start = self.pos + n;
        let mut c = Cursor {
            buf: self.data.get(start..start + len).unwrap_or_default(),
            pos: 0,
        };
        let attributes = c.i8()?;
        let timestamp_delta = c.varlong()?;
        let offset_delta = c.varint()?;
        let key = c
            .nullable()?
            .map(|r| self.data.slice(start + r.start..start + r.end));
        let value = c
            .nullable()?
            .map(|r| self.data.slice(start + r.start..start + r.end));
        let header_count = c.varint()?;
        let header_count = usize::try_from(header_count)
            .ok()
            // Each header takes at least two bytes (empty key, null value).
            .filter(|&h| h <= (c.buf.len() - c.pos) / 2)
            .ok_or_else(|| corrupt(format!("invalid header count {header_count}")))?;
        let headers_start = c.pos;
        for _ in 0..header_count {
            let k = c.varint()?;
            if k < 0 {
                return Err(corrupt(format!("invalid header key length {k}")));
            }
            c.take(k as usize)?;
            c.nullable()?;
        }
        if c.pos != len {
            return Err(corrupt(format!(
                "record declared {len} bytes but its fields take {}",
                c.pos
            )));
        }
        let headers = RecordHeaders {
            data: self.data.slice(start + headers_start..start + len),
            count: header_count,
        };
        let offset = self
            .base_offset
            .checked_add(i64::from(offset_delta))
            .ok_or_else(|| corrupt("record offset overflows"))?;
        let timestamp = match self.log_append_time {
            Some(t) => t,
            // Wrapping, as Java's `long` addition: the encoder's delta may have wrapped.
            None => self.base_timestamp.wrapping_add(timestamp_delta),
        };
        self.pos = start + len;
        Ok(Record {
            offset,
            offset_delta,
            timestamp,
            timestamp_delta,
            attributes,
            key,
            value,
            headers,
        })
    }
}

impl Iterator for Records {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.remaining == 0 {
            self.done = true;
            let left = self.data.len() - self.pos;
            return (left != 0)
                .then(|| Err(corrupt(format!("{left} bytes left after the last record"))));
        }
        let r = self.decode_next();
        match r {
            Ok(_) => self.remaining -= 1,
            Err(_) => self.done = true,
        }
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining + 1))
    }
}

/// One record. `key`, `value` and header values share the batch's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (`baseOffset + offsetDelta`).
    pub offset: i64,
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Timestamp: `baseTimestamp + timestampDelta`, or the batch's `maxTimestamp` when the batch
    /// uses log append time (as Java reports it).
    pub timestamp: i64,
    /// The stored timestamp delta.
    pub timestamp_delta: i64,
    /// Record attributes (unused by Kafka; 0).
    pub attributes: i8,
    /// The key, `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// The headers.
    pub headers: RecordHeaders,
}

/// A record's headers, validated when the record was decoded; iterate with [`iter`](Self::iter).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RecordHeaders {
    data: Bytes,
    count: usize,
}

impl RecordHeaders {
    /// Number of headers.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The first header named `key` (Java's `headers(key)`'s first element).
    pub fn get(&self, key: &str) -> Option<Header> {
        self.iter().find(|h| h.has_key(key))
    }

    /// The last header named `key` (Java's `lastHeader(key)`: the one a later writer added).
    ///
    /// ```
    /// # use ferrokafka::consumer::RecordHeaders;
    /// fn trace_id(headers: &RecordHeaders) -> Option<String> {
    ///     let h = headers.last("trace-id")?;
    ///     Some(String::from_utf8_lossy(h.value.as_deref()?).into_owned())
    /// }
    /// # assert_eq!(trace_id(&RecordHeaders::default()), None);
    /// ```
    pub fn last(&self, key: &str) -> Option<Header> {
        self.iter().filter(|h| h.has_key(key)).last()
    }

    /// Every header named `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Header> + 'a {
        self.iter().filter(move |h| h.has_key(key))
    }

    /// Iterates the headers in order.
    pub fn iter(&self) -> HeaderIter<'_> {
        HeaderIter {
            headers: self,
            pos: 0,
            left: self.count,
        }
    }
}

/// At most four headers (each shortened), then how many more: never the whole encoded block.
impl std::fmt::Debug for RecordHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 4;
        let mut list = f.debug_list();
        list.entries(self.iter().take(SHOWN));
        if self.count > SHOWN {
            list.entry(&format_args!("… {} more", self.count - SHOWN));
        }
        list.finish()
    }
}

/// The start of the key and value, with their sizes when longer.
impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("key", &crate::types::Preview(&self.key))
            .field("value", &crate::types::OptPreview(self.value.as_deref()))
            .finish()
    }
}

/// Iterator over [`RecordHeaders`].
#[derive(Debug)]
pub struct HeaderIter<'a> {
    headers: &'a RecordHeaders,
    pos: usize,
    left: usize,
}

impl Iterator for HeaderIter<'_> {
    type Item = Header;

    fn next(&mut self) -> Option<Header> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let data = &self.headers.data;
        let mut c = Cursor {
            buf: data.get(self.pos..)?,
            pos: 0,
        };
        // Validated when the record was decoded, so these do not fail; `?` keeps it panic-free.
        let k = usize::try_from(c.varint().ok()?).ok()?;
        let key = c.take(k).ok()?;
        let value = c.nullable().ok()?;
        let base = self.pos;
        self.pos += c.pos;
        Some(Header {
            key: data.slice(base + key.start..base + key.end),
            value: value.map(|r| data.slice(base + r.start..base + r.end)),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// One record header: a key (UTF-8 by convention; Java's keys are strings) and an optional
/// value (Kafka allows null header values). The same type is sent by the producer and handed out
/// by the consumer.
///
/// ```
/// use ferrokafka::producer::Header;
/// let h = Header::new("trace-id", "4bf92f35");
/// assert_eq!(h.key_str(), Some("trace-id"));
/// assert_eq!(h.value.as_deref(), Some(&b"4bf92f35"[..]));
/// assert_eq!(Header::null("tombstone").value, None);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// The key's bytes.
    pub key: Bytes,
    /// The value, `None` for null.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl AsRef<str>, value: impl Into<Bytes>) -> Header {
        Header {
            key: Bytes::copy_from_slice(key.as_ref().as_bytes()),
            value: Some(value.into()),
        }
    }

    /// A header with a null value.
    pub fn null(key: impl AsRef<str>) -> Header {
        Header {
            key: Bytes::copy_from_slice(key.as_ref().as_bytes()),
            value: None,
        }
    }

    /// The key as a string, if it is valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }

    /// Whether the key is `key`.
    pub fn has_key(&self, key: &str) -> bool {
        self.key.as_ref() == key.as_bytes()
    }
}

/// A bounds-checked reader over one record's bytes; ranges are relative to `buf`.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn i8(&mut self) -> Result<i8> {
        let b = *self
            .rest()
            .first()
            .ok_or_else(|| corrupt("record ends before its attributes"))?;
        self.pos += 1;
        Ok(b as i8)
    }

    fn varint(&mut self) -> Result<i32> {
        let (v, n) = read_varint(self.rest()).map_err(|_| corrupt("bad varint in record"))?;
        self.pos += n;
        Ok(v)
    }

    fn varlong(&mut self) -> Result<i64> {
        let (v, n) = read_varlong(self.rest()).map_err(|_| corrupt("bad varlong in record"))?;
        self.pos += n;
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>> {
        if n > self.buf.len() - self.pos {
            return Err(corrupt(format!(
                "field of {n} bytes runs past the end of the record"
            )));
        }
        let r = self.pos..self.pos + n;
        self.pos += n;
        Ok(r)
    }

    /// A varint length (-1 = null) followed by that many bytes.
    fn nullable(&mut self) -> Result<Option<std::ops::Range<usize>>> {
        match self.varint()? {
            -1 => Ok(None),
            n if n < 0 => Err(corrupt(format!("invalid length {n}"))),
            n => self.take(n as usize).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::{BatchParams, HeaderRef, RecordBatchEncoder};
    use bytes::BytesMut;

    fn sample(compression: Compression) -> BytesMut {
        let mut enc = RecordBatchEncoder::new();
        let mut out = BytesMut::new();
        let params = BatchParams {
            base_offset: 100,
            compression,
            ..BatchParams::default()
        };
        let mut w = enc
            .start(&mut out, params)
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 0..3u8 {
            let r = w.append_next(
                5 + i64::from(i),
                Some(&[i]),
                None,
                &[(&b"a"[..], Some(&b"b"[..])), (&b"c"[..], None)],
            );
            assert!(r.is_ok());
        }
        assert!(w.finish().is_ok());
        out
    }

    #[test]
    fn next_offset_after_reads_headers_and_stops_at_a_partial_batch() {
        let one = sample(Compression::None).freeze(); // offsets 100..103
        assert_eq!(next_offset_after(&one), Some(103));
        let mut two = BytesMut::from(&one[..]);
        two.extend_from_slice(&one[..one.len() - 4]); // a partial batch follows
        assert_eq!(next_offset_after(&two), Some(103));
        assert_eq!(next_offset_after(&one[..20]), None);
        assert_eq!(next_offset_after(&[]), None);
        let mut bad = BytesMut::from(&one[..]);
        bad[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            next_offset_after(&bad),
            None,
            "an implausible length ends the scan"
        );
    }

    #[test]
    fn headers_by_name_first_last_and_all() {
        let mut enc = RecordBatchEncoder::new();
        let mut out = BytesMut::new();
        let mut w = enc
            .start(&mut out, BatchParams::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let hs: [HeaderRef<'_>; 3] = [
            (&b"trace"[..], Some(&b"1"[..])),
            (&b"other"[..], None),
            (&b"trace"[..], Some(&b"2"[..])),
        ];
        assert!(w.append_next(1, None, None, &hs).is_ok());
        assert!(w.finish().is_ok());
        let batches: Vec<_> = RecordBatches::new(out.freeze(), DecodeOptions::default())
            .collect::<Result<_>>()
            .unwrap_or_else(|e| panic!("{e}"));
        let rec = batches[0]
            .records()
            .unwrap_or_else(|e| panic!("{e}"))
            .next()
            .unwrap_or_else(|| panic!("one record"))
            .unwrap_or_else(|e| panic!("{e}"));
        let h = &rec.headers;
        assert_eq!(h.get("trace"), Some(Header::new("trace", "1")));
        assert_eq!(h.last("trace"), Some(Header::new("trace", "2")));
        assert_eq!(h.get("other"), Some(Header::null("other")));
        assert_eq!(h.get_all("trace").count(), 2);
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.last("missing"), None);
    }

    #[test]
    fn decodes_what_the_encoder_writes_and_reports_a_partial_tail() {
        for c in [Compression::None, Compression::Gzip, Compression::Lz4] {
            let mut data = sample(c);
            let one = data.len();
            data.extend_from_slice(&sample(c));
            data.extend_from_slice(&sample(c)[..30]);
            let mut it = RecordBatches::new(data.freeze(), DecodeOptions::default());
            let batches: Vec<_> = it
                .by_ref()
                .collect::<Result<_>>()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(batches.len(), 2);
            assert_eq!(it.incomplete_tail(), 30);
            assert_eq!(it.position(), 2 * one);
            let recs: Vec<_> = batches[0]
                .records()
                .unwrap_or_else(|e| panic!("{e}"))
                .collect::<Result<_>>()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(recs.len(), 3);
            assert_eq!(recs[2].offset, 102);
            assert_eq!(recs[2].timestamp, 7);
            assert_eq!(recs[1].key.as_deref(), Some(&[1u8][..]));
            let hs: Vec<_> = recs[0].headers.iter().collect();
            assert_eq!(hs.len(), 2);
            assert_eq!(hs[0].key_str(), Some("a"));
            assert_eq!(hs[0].value.as_deref(), Some(&b"b"[..]));
            assert_eq!(hs[1].value, None);
        }
    }

    #[test]
    fn legacy_magic_is_a_clear_error() {
        let mut data = sample(Compression::None);
        data[MAGIC_OFFSET] = 1;
        let err = RecordBatches::new(data.freeze(), DecodeOptions::default()).next();
        let msg = err
            .and_then(|r| r.err())
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("legacy message format"), "{msg}");
    }

    #[test]
    fn crc_mismatch_is_detected_unless_disabled() {
        let mut data = sample(Compression::None);
        let last = data.len() - 1;
        data[last] ^= 0xff;
        let bytes = data.freeze();
        assert!(RecordBatch::parse(bytes.clone()).is_err());
        let opts = DecodeOptions {
            check_crcs: false,
            ..DecodeOptions::default()
        };
        assert!(RecordBatch::parse_with(bytes, opts).is_ok());
    }
}

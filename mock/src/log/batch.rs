//! The v2 record batch as the broker reads it: header fields, framing, magic and CRC-32C checks,
//! and the records of an uncompressed batch for timestamp lookups.

use super::code;
use bytes::Bytes;

/// Byte positions in a v2 record batch header (Kafka's `DefaultRecordBatch`).
pub(super) mod at {
    pub const BASE_OFFSET: usize = 0;
    pub const LENGTH: usize = 8;
    pub const LEADER_EPOCH: usize = 12;
    pub const MAGIC: usize = 16;
    pub const CRC: usize = 17;
    pub const ATTRIBUTES: usize = 21;
    pub const LAST_OFFSET_DELTA: usize = 23;
    pub const BASE_TIMESTAMP: usize = 27;
    pub const MAX_TIMESTAMP: usize = 35;
    pub const PRODUCER_ID: usize = 43;
    pub const PRODUCER_EPOCH: usize = 51;
    pub const BASE_SEQUENCE: usize = 53;
    pub const RECORD_COUNT: usize = 57;
    pub const RECORDS: usize = 61;
}

/// A batch's header fields the broker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl BatchHeader {
    /// Compression codec id (attribute bits 0-2).
    pub fn compression(&self) -> i16 {
        self.attributes & 0x07
    }
}

pub(super) fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
pub(super) fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(super) fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

/// Splits a produce request's records into v2 batches, checking each one's framing, magic and
/// CRC-32C the way the broker's `LogValidator` does. An error is the partition's error code.
pub(crate) fn split_batches(records: &Bytes) -> Result<Vec<(BatchHeader, Bytes)>, i16> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < records.len() {
        let rest = &records[pos..];
        if rest.len() < at::RECORDS {
            return Err(code::CORRUPT_MESSAGE);
        }
        let length = i32_at(rest, at::LENGTH);
        // batchLength counts the bytes after itself.
        let total = match usize::try_from(length) {
            Ok(l) if l >= at::RECORDS - 12 => l + 12,
            _ => return Err(code::CORRUPT_MESSAGE),
        };
        if total > rest.len() {
            return Err(code::CORRUPT_MESSAGE);
        }
        if rest[at::MAGIC] != 2 {
            // Message formats v0/v1 are gone since Kafka 4.0 (KIP-896).
            return Err(code::UNSUPPORTED_VERSION);
        }
        let crc = u32::from_be_bytes([
            rest[at::CRC],
            rest[at::CRC + 1],
            rest[at::CRC + 2],
            rest[at::CRC + 3],
        ]);
        if crc32c::crc32c(&rest[at::ATTRIBUTES..total]) != crc {
            return Err(code::CORRUPT_MESSAGE);
        }
        let header = BatchHeader {
            attributes: i16_at(rest, at::ATTRIBUTES),
            last_offset_delta: i32_at(rest, at::LAST_OFFSET_DELTA),
            base_timestamp: i64_at(rest, at::BASE_TIMESTAMP),
            max_timestamp: i64_at(rest, at::MAX_TIMESTAMP),
            producer_id: i64_at(rest, at::PRODUCER_ID),
            producer_epoch: i16_at(rest, at::PRODUCER_EPOCH),
            base_sequence: i32_at(rest, at::BASE_SEQUENCE),
            record_count: i32_at(rest, at::RECORD_COUNT),
        };
        if header.record_count <= 0 || header.last_offset_delta != header.record_count - 1 {
            return Err(code::INVALID_RECORD);
        }
        out.push((header, records.slice(pos..pos + total)));
        pos += total;
    }
    if out.is_empty() {
        return Err(code::INVALID_RECORD);
    }
    Ok(out)
}

/// Reads an uncompressed batch's records (varint-framed) for the first with timestamp ≥ `ts`.
pub(super) fn first_record_at_or_after(
    batch: &[u8],
    base_offset: i64,
    ts: i64,
) -> Option<(i64, i64)> {
    let base_ts = i64_at(batch, at::BASE_TIMESTAMP);
    let mut pos = at::RECORDS;
    while pos < batch.len() {
        let (len, n) = varint(&batch[pos..])?;
        let body_start = pos + n;
        let body_end = body_start.checked_add(usize::try_from(len).ok()?)?;
        let body = batch.get(body_start..body_end)?;
        // attributes (1 byte), timestampDelta (varlong), offsetDelta (varint), ...
        let (ts_delta, n1) = varint(body.get(1..)?)?;
        let (offset_delta, _) = varint(body.get(1 + n1..)?)?;
        let record_ts = base_ts + ts_delta;
        if record_ts >= ts {
            return Some((base_offset + offset_delta, record_ts));
        }
        pos = body_end;
    }
    None
}

/// A zig-zag varint (up to 64 bits) and the bytes it took.
fn varint(b: &[u8]) -> Option<(i64, usize)> {
    let mut raw: u64 = 0;
    for (i, byte) in b.iter().take(10).enumerate() {
        raw |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let v = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
            return Some((v, i + 1));
        }
    }
    None
}

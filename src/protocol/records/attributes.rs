//! The fixed 61-byte batch header of record batch v2: field offsets, the attribute bits, the
//! compression codec and timestamp type.

use crate::Result;

/// The only record batch format this codec speaks (`magic` byte 2, Kafka 0.11+).
pub const MAGIC: i8 = 2;

/// Size of the batch header in bytes (`baseOffset` .. `recordsCount`; `RECORD_BATCH_OVERHEAD`
/// in the Java client): base offset 8, batch length 4, partition leader epoch 4, magic 1, CRC 4,
/// attributes 2, last offset delta 4, base timestamp 8, max timestamp 8, producer id 8, producer
/// epoch 2, base sequence 4, record count 4. The producer's size accounting uses it too.
pub const RECORD_BATCH_OVERHEAD: usize = 61;
/// `baseOffset` (8) + `batchLength` (4): the bytes before the length-counted part.
pub const LOG_OVERHEAD: usize = 12;
/// Smallest valid `batchLength`: the header after the length field, with no records.
pub const MIN_BATCH_LENGTH: usize = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD;

// Field offsets within the header (DefaultRecordBatch's layout).
pub(crate) const BASE_OFFSET_OFFSET: usize = 0;
pub(crate) const LENGTH_OFFSET: usize = 8;
pub(crate) const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub(crate) const MAGIC_OFFSET: usize = 16;
pub(crate) const CRC_OFFSET: usize = 17;
/// The CRC covers everything from the attributes to the end of the batch.
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;
pub(crate) const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub(crate) const BASE_TIMESTAMP_OFFSET: usize = 27;
pub(crate) const MAX_TIMESTAMP_OFFSET: usize = 35;
pub(crate) const PRODUCER_ID_OFFSET: usize = 43;
pub(crate) const PRODUCER_EPOCH_OFFSET: usize = 51;
pub(crate) const BASE_SEQUENCE_OFFSET: usize = 53;
pub(crate) const RECORDS_COUNT_OFFSET: usize = 57;

/// Attribute bits 0-2: the compression codec.
pub const COMPRESSION_CODEC_MASK: i16 = 0x07;
/// Attribute bit 3: the timestamp type (0 = create time, 1 = log append time).
pub const TIMESTAMP_TYPE_FLAG: i16 = 0x08;
/// Attribute bit 4: the batch belongs to a transaction.
pub const TRANSACTIONAL_FLAG: i16 = 0x10;
/// Attribute bit 5: the batch holds control records (transaction markers).
pub const CONTROL_FLAG: i16 = 0x20;
/// Attribute bit 6: `baseTimestamp` holds the delete horizon set by the log cleaner.
pub const DELETE_HORIZON_FLAG: i16 = 0x40;

/// The compression codec of a batch (attribute bits 0-2): the producer's `compression.type`
/// enum, by its codec name here (one enum for the setting and the wire).
pub use crate::types::CompressionType as Compression;

/// What a batch's timestamps mean (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer (`CreateTime`).
    #[default]
    CreateTime,
    /// Set by the broker when it appended the batch (`LogAppendTime`); every record's timestamp is
    /// then the batch's `maxTimestamp`.
    LogAppendTime,
}

#[inline]
pub(crate) fn get_i16(b: &[u8; RECORD_BATCH_OVERHEAD], at: usize) -> i16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    i16::from_be_bytes(a)
}

#[inline]
pub(crate) fn get_i32(b: &[u8; RECORD_BATCH_OVERHEAD], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

#[inline]
pub(crate) fn get_i64(b: &[u8; RECORD_BATCH_OVERHEAD], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// The decoded fixed header of one record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record (`baseOffset`).
    pub base_offset: i64,
    /// Bytes after the `batchLength` field (`batchLength`).
    pub batch_length: i32,
    /// Leader epoch of the partition leader that appended the batch (`-1` from producers).
    pub partition_leader_epoch: i32,
    /// Format version; always [`MAGIC`] for a decoded batch.
    pub magic: i8,
    /// The stored CRC-32C of attributes..end.
    pub crc: u32,
    /// Raw attributes.
    pub attributes: i16,
    /// `lastOffset - baseOffset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon, see [`DELETE_HORIZON_FLAG`]).
    pub base_timestamp: i64,
    /// Largest record timestamp, or the log append time.
    pub max_timestamp: i64,
    /// Producer id (`-1`: none).
    pub producer_id: i64,
    /// Producer epoch (`-1`: none).
    pub producer_epoch: i16,
    /// Sequence of the first record (`-1`: none).
    pub base_sequence: i32,
    /// Number of records the batch claims to hold (checked against the bytes when iterating).
    pub records_count: i32,
}

impl BatchHeader {
    /// Decodes the fixed header fields (no validation beyond reading them).
    pub fn parse(b: &[u8; RECORD_BATCH_OVERHEAD]) -> BatchHeader {
        BatchHeader {
            base_offset: get_i64(b, BASE_OFFSET_OFFSET),
            batch_length: get_i32(b, LENGTH_OFFSET),
            partition_leader_epoch: get_i32(b, PARTITION_LEADER_EPOCH_OFFSET),
            magic: b[MAGIC_OFFSET] as i8,
            crc: get_i32(b, CRC_OFFSET) as u32,
            attributes: get_i16(b, ATTRIBUTES_OFFSET),
            last_offset_delta: get_i32(b, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: get_i64(b, BASE_TIMESTAMP_OFFSET),
            max_timestamp: get_i64(b, MAX_TIMESTAMP_OFFSET),
            producer_id: get_i64(b, PRODUCER_ID_OFFSET),
            producer_epoch: get_i16(b, PRODUCER_EPOCH_OFFSET),
            base_sequence: get_i32(b, BASE_SEQUENCE_OFFSET),
            records_count: get_i32(b, RECORDS_COUNT_OFFSET),
        }
    }

    /// Writes the header into `out` (the CRC field as stored in `self.crc`).
    pub fn write(&self, out: &mut [u8; RECORD_BATCH_OVERHEAD]) {
        fn put(out: &mut [u8; RECORD_BATCH_OVERHEAD], at: usize, bytes: &[u8]) {
            out[at..at + bytes.len()].copy_from_slice(bytes);
        }
        put(out, BASE_OFFSET_OFFSET, &self.base_offset.to_be_bytes());
        put(out, LENGTH_OFFSET, &self.batch_length.to_be_bytes());
        put(
            out,
            PARTITION_LEADER_EPOCH_OFFSET,
            &self.partition_leader_epoch.to_be_bytes(),
        );
        out[MAGIC_OFFSET] = self.magic as u8;
        put(out, CRC_OFFSET, &self.crc.to_be_bytes());
        put(out, ATTRIBUTES_OFFSET, &self.attributes.to_be_bytes());
        put(
            out,
            LAST_OFFSET_DELTA_OFFSET,
            &self.last_offset_delta.to_be_bytes(),
        );
        put(
            out,
            BASE_TIMESTAMP_OFFSET,
            &self.base_timestamp.to_be_bytes(),
        );
        put(out, MAX_TIMESTAMP_OFFSET, &self.max_timestamp.to_be_bytes());
        put(out, PRODUCER_ID_OFFSET, &self.producer_id.to_be_bytes());
        put(
            out,
            PRODUCER_EPOCH_OFFSET,
            &self.producer_epoch.to_be_bytes(),
        );
        put(out, BASE_SEQUENCE_OFFSET, &self.base_sequence.to_be_bytes());
        put(out, RECORDS_COUNT_OFFSET, &self.records_count.to_be_bytes());
    }

    /// The compression codec (errors on ids 5-7).
    pub fn compression(&self) -> Result<Compression> {
        Compression::from_id(self.attributes & COMPRESSION_CODEC_MASK)
    }

    /// The timestamp type.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_FLAG != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch is part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }

    /// Whether the batch holds control records.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }

    /// The delete horizon, when the log cleaner set one (it is stored in `baseTimestamp`).
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_FLAG != 0).then_some(self.base_timestamp)
    }

    /// `baseOffset + lastOffsetDelta`, or `None` if that overflows `i64`.
    pub fn last_offset(&self) -> Option<i64> {
        self.base_offset
            .checked_add(i64::from(self.last_offset_delta))
    }
}

/// Builds the attributes field.
pub(crate) fn attributes(
    compression: Compression,
    timestamp_type: TimestampType,
    transactional: bool,
    control: bool,
) -> i16 {
    let mut a = compression.id();
    if timestamp_type == TimestampType::LogAppendTime {
        a |= TIMESTAMP_TYPE_FLAG;
    }
    if transactional {
        a |= TRANSACTIONAL_FLAG;
    }
    if control {
        a |= CONTROL_FLAG;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = BatchHeader {
            base_offset: -5,
            batch_length: 49,
            partition_leader_epoch: 7,
            magic: MAGIC,
            crc: 0xdead_beef,
            attributes: attributes(Compression::Zstd, TimestampType::LogAppendTime, true, true),
            last_offset_delta: 3,
            base_timestamp: 1,
            max_timestamp: 2,
            producer_id: 99,
            producer_epoch: 4,
            base_sequence: 12,
            records_count: 4,
        };
        let mut b = [0u8; RECORD_BATCH_OVERHEAD];
        h.write(&mut b);
        assert_eq!(BatchHeader::parse(&b), h);
        assert_eq!(h.compression().ok(), Some(Compression::Zstd));
        assert!(h.is_transactional() && h.is_control());
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.delete_horizon_ms(), None);
    }

    #[test]
    fn codec_ids_and_names() {
        for id in 0..5 {
            let c = Compression::from_id(id).ok();
            assert_eq!(c.map(Compression::id), Some(id));
            let c = c.unwrap_or_default();
            assert_eq!(Compression::from_name(c.name()), Some(c));
        }
        assert!(Compression::from_id(5).is_err());
    }
}

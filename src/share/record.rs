//! A record handed out by a share consumer, and the decoding of one partition's ShareFetch
//! answer into records (those inside the acquired ranges) and gaps (acquired offsets without a
//! record, acknowledged as such so the broker moves on). Free of I/O.

use std::sync::Arc;

use bytes::Bytes;
use uuid::Uuid;

use crate::consumer::fetch::{CompletedFetch, FetchPosition};
use crate::consumer::ConsumerRecord;
use crate::protocol::records::DecodeOptions;
use crate::protocol::requests::share_fetch::AcquiredRange;
use crate::types::{IsolationLevel, Offset, TopicPartition};
use crate::Error;

/// A record acquired by this member of a share group: the record, and how many times it has
/// been handed out to any member (1 the first time; each release or expired lock adds one).
///
/// Derefs to the [`ConsumerRecord`], so `record.offset`, `record.value` … work as for a consumer:
///
/// ```
/// # use ferrokafka::share::ShareRecord;
/// fn log(r: &ShareRecord) {
///     println!("{} delivery {}", r.offset, r.delivery_count); // 1042 delivery 2
/// }
/// ```
#[derive(Clone)]
pub struct ShareRecord {
    /// The record.
    pub record: ConsumerRecord,
    /// Times the record has been delivered, this delivery included.
    pub delivery_count: u16,
    pub(crate) topic_id: Uuid,
}

impl std::ops::Deref for ShareRecord {
    type Target = ConsumerRecord;
    fn deref(&self) -> &ConsumerRecord {
        &self.record
    }
}

impl std::fmt::Debug for ShareRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareRecord")
            .field("record", &self.record)
            .field("delivery_count", &self.delivery_count)
            .finish()
    }
}

impl std::fmt::Display for ShareRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} delivery={}", self.record, self.delivery_count)
    }
}

/// What one partition's answer holds for the application.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Acquired records, in offset order.
    pub records: Vec<ShareRecord>,
    /// Acquired offsets without a record (control records, compacted or aborted ones).
    pub gaps: Vec<i64>,
    /// Acquired offsets of a batch that could not be decoded: released, so the delivery count
    /// limit archives them eventually instead of losing them silently.
    pub undecodable: Vec<i64>,
    /// Why the batch could not be decoded.
    pub error: Option<Error>,
}

/// Most offsets of one acquired range walked for gaps: bounds the work a hostile answer can ask
/// for (a broker acquires whole batches, whose offset span is far below this).
const MAX_RANGE: i64 = 1 << 20;

/// Decodes `records` of `topic`-`partition`, keeping those inside `acquired`.
pub(crate) fn decode(
    topic: &Arc<str>,
    topic_id: Uuid,
    partition: i32,
    records: Bytes,
    acquired: &[AcquiredRange],
    decode: DecodeOptions,
) -> Decoded {
    let mut out = Decoded::default();
    let mut ranges: Vec<AcquiredRange> = acquired
        .iter()
        .filter(|r| r.first_offset >= 0 && r.last_offset >= r.first_offset)
        .map(|r| AcquiredRange {
            last_offset: r
                .last_offset
                .min(r.first_offset.saturating_add(MAX_RANGE - 1)),
            ..*r
        })
        .collect();
    ranges.sort_by_key(|r| r.first_offset);
    let Some(first) = ranges.first().map(|r| r.first_offset) else {
        return out;
    };
    let tp = TopicPartition::new(topic.as_ref(), partition);
    let start = FetchPosition {
        offset: Offset(first),
        leader_epoch: None,
    };
    // Control batches are skipped by the decoder; isolation is the broker's business here
    // (share.isolation.level): records of aborted transactions are never acquired.
    let mut fetch = CompletedFetch::new(
        tp,
        0,
        start,
        records,
        Vec::new(),
        IsolationLevel::ReadUncommitted,
        decode,
    );
    // Offsets handed out, in order (the decoder goes through a partition's batches in order).
    let mut seen: Vec<i64> = Vec::new();
    let mut range = 0;
    loop {
        let record = match fetch.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        };
        let offset = record.offset.get();
        while range < ranges.len() && ranges[range].last_offset < offset {
            range += 1;
        }
        let Some(r) = ranges.get(range) else { break };
        if offset < r.first_offset {
            continue; // fetched but not acquired for this member
        }
        seen.push(offset);
        out.records.push(ShareRecord {
            record,
            delivery_count: u16::try_from(r.delivery_count.max(1)).unwrap_or(1),
            topic_id,
        });
    }
    let mut next_seen = seen.iter().copied().peekable();
    for r in &ranges {
        for offset in r.first_offset..=r.last_offset {
            while next_seen.next_if(|s| *s < offset).is_some() {}
            if next_seen.next_if_eq(&offset).is_some() {
                continue;
            }
            if out.error.is_some() {
                out.undecodable.push(offset);
            } else {
                out.gaps.push(offset);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::{BatchParams, RecordBatchEncoder};

    /// A batch of `n` records at `base`.
    fn encode_batch(base: i64, n: i64) -> Bytes {
        let mut out = bytes::BytesMut::new();
        let mut enc = RecordBatchEncoder::new();
        let params = BatchParams {
            base_offset: base,
            ..BatchParams::default()
        };
        let mut w = enc.start(&mut out, params).expect("valid params");
        for i in 0..n {
            w.append_next(1_000 + i, None, Some(b"v"), &[])
                .expect("append");
        }
        w.finish().expect("finish");
        out.freeze()
    }

    #[test]
    fn only_acquired_records_are_handed_out_and_missing_offsets_are_gaps() {
        // Offsets 0..=9 in one batch; acquired 2..=4 (delivery 1) and 6..=12 (delivery 3).
        let bytes = encode_batch(0, 10);
        let ranges = [
            AcquiredRange {
                first_offset: 2,
                last_offset: 4,
                delivery_count: 1,
            },
            AcquiredRange {
                first_offset: 6,
                last_offset: 12,
                delivery_count: 3,
            },
        ];
        let topic: Arc<str> = Arc::from("t");
        let d = decode(
            &topic,
            Uuid::from_u128(1),
            0,
            bytes,
            &ranges,
            DecodeOptions::default(),
        );
        let got: Vec<(i64, u16)> = d
            .records
            .iter()
            .map(|r| (r.offset.get(), r.delivery_count))
            .collect();
        assert_eq!(
            got,
            vec![(2, 1), (3, 1), (4, 1), (6, 3), (7, 3), (8, 3), (9, 3)]
        );
        assert_eq!(d.gaps, vec![10, 11, 12]);
        assert!(d.error.is_none());
    }

    #[test]
    fn a_hostile_range_is_bounded_and_nothing_acquired_is_nothing() {
        let topic: Arc<str> = Arc::from("t");
        let ranges = [AcquiredRange {
            first_offset: 0,
            last_offset: i64::MAX,
            delivery_count: 1,
        }];
        let d = decode(
            &topic,
            Uuid::nil(),
            0,
            Bytes::new(),
            &ranges,
            DecodeOptions::default(),
        );
        assert_eq!(d.gaps.len() as i64, MAX_RANGE);
        let d = decode(
            &topic,
            Uuid::nil(),
            0,
            Bytes::new(),
            &[],
            DecodeOptions::default(),
        );
        assert!(d.records.is_empty() && d.gaps.is_empty());
    }
}

//! Property tests: whatever the encoder writes, the decoder reads back exactly, for every codec.

use bytes::{Bytes, BytesMut};
use ferrokafka::__private::protocol::records::varint::{
    put_varint, put_varlong, read_varint, read_varlong, varint_size, varlong_size,
};
use ferrokafka::__private::protocol::records::{
    BatchParams, Compression, DecodeOptions, RecordBatchEncoder, RecordBatchWriter, RecordBatches,
    TimestampType,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct In {
    offset_gap: i32,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn compression() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Gzip),
        Just(Compression::Snappy),
        Just(Compression::Lz4),
        Just(Compression::Zstd),
    ]
}

fn timestamp() -> impl Strategy<Value = i64> {
    // Java accepts -1 (no timestamp) and non-negative values; include the extremes so deltas
    // are negative, huge, and wrap (-1 .. i64::MAX).
    prop_oneof![
        Just(-1i64),
        Just(0i64),
        Just(i64::MAX),
        0i64..2_000_000_000_000,
        0i64..=i64::MAX,
    ]
}

fn bytes_opt(max: usize) -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..max))
}

fn record() -> impl Strategy<Value = In> {
    (
        prop_oneof![Just(1i32), 1i32..5, 1i32..100_000],
        timestamp(),
        bytes_opt(40),
        bytes_opt(300),
        proptest::collection::vec(("\\PC{0,12}", bytes_opt(20)), 0..4),
    )
        .prop_map(|(offset_gap, timestamp, key, value, headers)| In {
            offset_gap,
            timestamp,
            key,
            value,
            headers,
        })
}

fn params() -> impl Strategy<Value = BatchParams> {
    (
        prop_oneof![Just(0i64), 0i64..i64::MAX / 2, Just(i64::MAX / 2)],
        any::<i32>(),
        prop_oneof![Just(-1i64), 0i64..=i64::MAX],
        any::<i16>(),
        any::<i32>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        compression(),
        timestamp(),
    )
        .prop_map(
            |(
                base_offset,
                epoch,
                producer_id,
                producer_epoch,
                base_sequence,
                transactional,
                control,
                log_append,
                compression,
                lat,
            )| {
                BatchParams {
                    base_offset,
                    partition_leader_epoch: epoch,
                    producer_id,
                    producer_epoch,
                    base_sequence,
                    transactional: transactional && producer_id >= 0,
                    control,
                    timestamp_type: if log_append {
                        TimestampType::LogAppendTime
                    } else {
                        TimestampType::CreateTime
                    },
                    log_append_time: lat,
                    compression,
                    compression_level: None,
                }
            },
        )
}

fn check_round_trip(
    params: BatchParams,
    records: &[In],
    check_crcs: bool,
) -> Result<(), TestCaseError> {
    let mut encoder = RecordBatchEncoder::new();
    let mut out = BytesMut::from(&b"XYZ"[..]);
    let mut w = encoder
        .start(&mut out, params)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut deltas = Vec::new();
    let mut delta = -1i32;
    let mut size = w.uncompressed_size();
    for r in records {
        delta += r.offset_gap;
        let headers: Vec<(&[u8], Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_deref()))
            .collect();
        let predicted =
            w.size_if_appended(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers);
        let sequential = delta == w.next_offset_delta().unwrap_or(-1);
        let n = if sequential {
            w.append_next(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
        } else {
            w.append(
                delta,
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &headers,
            )
        }
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        size += n;
        if sequential {
            prop_assert_eq!(predicted, size);
        }
        prop_assert_eq!(w.uncompressed_size(), size);
        deltas.push(delta);
    }
    let info = w.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&out[..3], b"XYZ");
    prop_assert_eq!(info.size_in_bytes, out.len() - 3);
    if params.compression == Compression::None {
        prop_assert_eq!(info.size_in_bytes, size);
    }

    let data = Bytes::from(out).slice(3..);
    let opts = DecodeOptions {
        check_crcs,
        ..DecodeOptions::default()
    };
    let mut it = RecordBatches::new(data, opts);
    let batch = it
        .next()
        .ok_or_else(|| TestCaseError::fail("no batch"))?
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(it.next().is_none());
    prop_assert_eq!(it.incomplete_tail(), 0);
    prop_assert_eq!(batch.header(), &info.header);
    prop_assert_eq!(batch.base_offset(), params.base_offset);
    prop_assert_eq!(
        batch.partition_leader_epoch(),
        params.partition_leader_epoch
    );
    prop_assert_eq!(batch.producer_id(), params.producer_id);
    prop_assert_eq!(batch.producer_epoch(), params.producer_epoch);
    prop_assert_eq!(batch.base_sequence(), params.base_sequence);
    prop_assert_eq!(batch.is_transactional(), params.transactional);
    prop_assert_eq!(batch.is_control(), params.control);
    prop_assert_eq!(batch.timestamp_type(), params.timestamp_type);
    prop_assert_eq!(batch.compression(), params.compression);
    prop_assert_eq!(batch.records_count() as usize, records.len());
    prop_assert_eq!(
        batch.last_offset(),
        params.base_offset + i64::from(deltas.last().copied().unwrap_or(0))
    );
    let first_ts = records.first().map_or(-1, |r| r.timestamp);
    prop_assert_eq!(batch.base_timestamp(), first_ts);
    let expected_max = match params.timestamp_type {
        TimestampType::LogAppendTime => params.log_append_time,
        TimestampType::CreateTime => records.iter().map(|r| r.timestamp).fold(-1, i64::max),
    };
    prop_assert_eq!(batch.max_timestamp(), expected_max);

    let decoded: Vec<_> = batch
        .records()
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(decoded.len(), records.len());
    for ((d, r), delta) in decoded.iter().zip(records).zip(&deltas) {
        prop_assert_eq!(d.offset, params.base_offset + i64::from(*delta));
        prop_assert_eq!(d.offset_delta, *delta);
        let ts = match params.timestamp_type {
            TimestampType::LogAppendTime => params.log_append_time,
            TimestampType::CreateTime => r.timestamp,
        };
        prop_assert_eq!(d.timestamp, ts);
        prop_assert_eq!(d.timestamp_delta, r.timestamp.wrapping_sub(first_ts));
        prop_assert_eq!(d.key.as_deref(), r.key.as_deref());
        prop_assert_eq!(d.value.as_deref(), r.value.as_deref());
        prop_assert_eq!(d.headers.len(), r.headers.len());
        for (h, (k, v)) in d.headers.iter().zip(&r.headers) {
            prop_assert_eq!(h.key_str(), Some(k.as_str()));
            prop_assert_eq!(h.value.as_deref(), v.as_deref());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn batches_round_trip(params in params(), records in proptest::collection::vec(record(), 0..20), crc in any::<bool>()) {
        check_round_trip(params, &records, crc)?;
    }

    #[test]
    fn varints_round_trip(v in any::<i32>()) {
        let mut buf = Vec::new();
        put_varint(&mut buf, v);
        prop_assert_eq!(buf.len(), varint_size(v));
        prop_assert_eq!(read_varint(&buf).ok(), Some((v, buf.len())));
    }

    #[test]
    fn varlongs_round_trip(v in any::<i64>()) {
        let mut buf = Vec::new();
        put_varlong(&mut buf, v);
        prop_assert_eq!(buf.len(), varlong_size(v));
        prop_assert_eq!(read_varlong(&buf).ok(), Some((v, buf.len())));
    }
}

#[test]
fn varint_edges() {
    for v in [
        0,
        1,
        -1,
        63,
        64,
        -64,
        -65,
        i32::MAX,
        i32::MIN,
        i32::MAX - 1,
        i32::MIN + 1,
    ] {
        let mut buf = Vec::new();
        put_varint(&mut buf, v);
        assert_eq!(read_varint(&buf).ok(), Some((v, buf.len())), "{v}");
    }
    for v in [
        0,
        1,
        -1,
        i64::MAX,
        i64::MIN,
        i64::from(i32::MAX) + 1,
        i64::from(i32::MIN) - 1,
    ] {
        let mut buf = Vec::new();
        put_varlong(&mut buf, v);
        assert_eq!(read_varlong(&buf).ok(), Some((v, buf.len())), "{v}");
    }
}

/// Large records and batches (several compressed blocks) for every codec.
#[test]
fn large_batches_round_trip_for_every_codec() {
    let value: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 253) as u8).collect();
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let records: Vec<In> = (0..30)
            .map(|i| In {
                offset_gap: 1,
                timestamp: 1_700_000_000_000 + i,
                key: Some(vec![i as u8; 10]),
                value: Some(value.clone()),
                headers: vec![("h".into(), Some(vec![1, 2, 3]))],
            })
            .collect();
        let params = BatchParams {
            compression,
            ..BatchParams::default()
        };
        if let Err(e) = check_round_trip(params, &records, true) {
            panic!("{compression}: {e}");
        }
    }
}

/// Empty batches (as the log cleaner writes them) are valid and hold no records.
#[test]
fn empty_batch_round_trips() {
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let params = BatchParams {
            compression,
            ..BatchParams::default()
        };
        if let Err(e) = check_round_trip(params, &[], true) {
            panic!("{compression}: {e}");
        }
    }
}

#[test]
fn record_size_matches_java_formula_for_simple_record() {
    // DefaultRecord.sizeInBytes(0, 0, key 3, value 5, no headers): 14 bytes of body + 1 length byte.
    assert_eq!(
        RecordBatchWriter::record_size(0, 0, Some(b"abc"), Some(b"hello"), &[]),
        15
    );
}

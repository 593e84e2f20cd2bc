//! Deterministic tests of the fetch core: responses are built with our record batch encoder.

use bytes::{Bytes, BytesMut};

use super::*;

mod dead_leader;
mod positions;
mod records;
mod uneven;
use crate::protocol::records::{BatchParams, RecordBatchEncoder};
use crate::types::{BrokerId, LeaderEpoch, Offset, ProducerId, TopicPartition};

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("orders", p)
}

fn leader(_: &TopicPartition) -> Option<(BrokerId, LeaderEpoch)> {
    Some((BrokerId(1), LeaderEpoch(5)))
}

/// Appends a batch of `n` records at `base` (values "v<offset>") to `out`.
fn put_batch(out: &mut BytesMut, params: BatchParams, n: i64) {
    let mut enc = RecordBatchEncoder::new();
    let mut w = enc.start(out, params).expect("valid params");
    for i in 0..n {
        let v = format!("v{}", params.base_offset + i);
        w.append_next(1_000 + i, Some(b"k"), Some(v.as_bytes()), &[])
            .expect("append");
    }
    w.finish().expect("finish");
}

fn plain(base: i64) -> BatchParams {
    BatchParams {
        base_offset: base,
        partition_leader_epoch: 5,
        ..BatchParams::default()
    }
}

fn txn(base: i64, pid: i64) -> BatchParams {
    BatchParams {
        producer_id: pid,
        producer_epoch: 0,
        base_sequence: 0,
        transactional: true,
        ..plain(base)
    }
}

/// A control batch with one marker: type 0 = ABORT, 1 = COMMIT.
fn put_marker(out: &mut BytesMut, base: i64, pid: i64, kind: u8) {
    let mut enc = RecordBatchEncoder::new();
    let params = BatchParams {
        control: true,
        ..txn(base, pid)
    };
    let mut w = enc.start(out, params).expect("valid params");
    w.append_next(
        2_000,
        Some(&[0, 0, 0, kind]),
        Some(&[0, 0, 0, 0, 0, 0]),
        &[],
    )
    .expect("append");
    w.finish().expect("finish");
}

fn records(base: i64, n: i64) -> Bytes {
    let mut b = BytesMut::new();
    put_batch(&mut b, plain(base), n);
    b.freeze()
}

fn data(tp: TopicPartition, hw: i64, records: Bytes) -> FetchResponsePartition {
    FetchResponsePartition {
        high_watermark: hw,
        last_stable_offset: hw,
        log_start_offset: 0,
        records,
        ..FetchResponsePartition::error(tp, 0)
    }
}

fn response(session_id: i32, partitions: Vec<FetchResponsePartition>) -> FetchResponseData {
    FetchResponseData {
        error_code: 0,
        session_id,
        partitions,
    }
}

fn config() -> FetchConfig {
    FetchConfig {
        use_committed_offsets: false,
        ..FetchConfig::default()
    }
}

/// A fetcher with `parts` assigned and positioned at `offset`.
fn fetcher_at(parts: &[i32], offset: i64) -> Fetcher {
    let mut f = Fetcher::new(config());
    f.assign(parts.iter().map(|&p| tp(p)));
    for &p in parts {
        f.seek(&tp(p), Offset(offset)).expect("assigned");
    }
    f
}

fn offsets(p: &Polled) -> Vec<i64> {
    p.records.iter().map(|r| r.offset.get()).collect()
}

fn pos(f: &Fetcher, p: i32) -> i64 {
    f.position(&tp(p)).map_or(-1, |p| p.offset.get())
}

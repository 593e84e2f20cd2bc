//! Unit tests of the partition log: offsets, CRC, the idempotence window, retention,
//! DeleteRecords, timestamps, KIP-74.
use super::batch::i64_at;
use super::*;
use bytes::BufMut;

fn put_varint(buf: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        if z < 0x80 {
            buf.put_u8(z as u8);
            return;
        }
        buf.put_u8((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
}

/// An uncompressed v2 batch of `count` records with timestamps `ts0 + i`.
fn batch(pid: i64, epoch: i16, seq: i32, count: i32, ts0: i64) -> Bytes {
    let mut records = BytesMut::new();
    for i in 0..count {
        let mut body = BytesMut::new();
        body.put_u8(0); // attributes
        put_varint(&mut body, i64::from(i)); // timestamp delta
        put_varint(&mut body, i64::from(i)); // offset delta
        put_varint(&mut body, -1); // null key
        put_varint(&mut body, 1); // value length
        body.put_u8(b'x');
        put_varint(&mut body, 0); // headers
        put_varint(&mut records, body.len() as i64);
        records.extend_from_slice(&body);
    }
    let mut b = BytesMut::new();
    b.put_i64(0);
    b.put_i32(0); // length, set below
    b.put_i32(-1);
    b.put_i8(2);
    b.put_u32(0); // crc, set below
    b.put_i16(0);
    b.put_i32(count - 1);
    b.put_i64(ts0);
    b.put_i64(ts0 + i64::from(count) - 1);
    b.put_i64(pid);
    b.put_i16(epoch);
    b.put_i32(seq);
    b.put_i32(count);
    b.extend_from_slice(&records);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

fn append(log: &mut PartitionLog, b: Bytes) -> Result<Appended, i16> {
    log.append(split_batches(&b)?, 0)
}

#[test]
fn offsets_are_assigned_and_written_into_the_batch() {
    let mut log = PartitionLog::new();
    assert_eq!(
        append(&mut log, batch(-1, -1, -1, 3, 100)),
        Ok(Appended::New(0))
    );
    assert_eq!(
        append(&mut log, batch(-1, -1, -1, 2, 200)),
        Ok(Appended::New(3))
    );
    assert_eq!(log.log_end(), 5);
    let read = log.read(3, 1 << 20).expect("in range");
    assert_eq!(read.len(), 1);
    assert_eq!(i64_at(&read[0], 0), 3, "base offset rewritten");
    // The rewritten batch still passes its CRC (offset and epoch are outside it).
    assert!(split_batches(&read[0]).is_ok());
    assert_eq!(log.read(6, 100), Err(code::OFFSET_OUT_OF_RANGE));
    assert_eq!(log.read(5, 100), Ok(vec![]), "at the log end: nothing yet");
}

#[test]
fn a_corrupted_batch_is_refused() {
    let mut b = BytesMut::from(&batch(-1, -1, -1, 2, 0)[..]);
    let last = b.len() - 1;
    b[last] ^= 0xff;
    assert_eq!(
        split_batches(&b.freeze()).err(),
        Some(code::CORRUPT_MESSAGE)
    );
    let short = batch(-1, -1, -1, 2, 0).slice(..40);
    assert_eq!(split_batches(&short).err(), Some(code::CORRUPT_MESSAGE));
}

#[test]
fn idempotence_duplicates_gaps_and_epochs() {
    let mut log = PartitionLog::new();
    assert_eq!(append(&mut log, batch(7, 0, 0, 2, 0)), Ok(Appended::New(0)));
    assert_eq!(append(&mut log, batch(7, 0, 2, 2, 0)), Ok(Appended::New(2)));
    // A retry of the first batch: its original offset, nothing written.
    assert_eq!(
        append(&mut log, batch(7, 0, 0, 2, 0)),
        Ok(Appended::Duplicate(0))
    );
    assert_eq!(log.log_end(), 4);
    // A gap.
    assert_eq!(
        append(&mut log, batch(7, 0, 5, 1, 0)),
        Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    // A newer epoch restarts at 0; an older one is fenced.
    assert_eq!(
        append(&mut log, batch(7, 1, 3, 1, 0)),
        Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    assert_eq!(append(&mut log, batch(7, 1, 0, 1, 0)), Ok(Appended::New(4)));
    assert_eq!(
        append(&mut log, batch(7, 0, 4, 1, 0)),
        Err(code::INVALID_PRODUCER_EPOCH)
    );
    // Another producer is independent; an unknown producer may start anywhere.
    assert_eq!(
        append(&mut log, batch(8, 0, 42, 1, 0)),
        Ok(Appended::New(5))
    );
}

#[test]
fn only_the_last_five_batches_are_remembered() {
    let mut log = PartitionLog::new();
    for i in 0..6 {
        assert_eq!(
            append(&mut log, batch(1, 0, i, 1, 0)),
            Ok(Appended::New(i64::from(i)))
        );
    }
    assert_eq!(
        append(&mut log, batch(1, 0, 5, 1, 0)),
        Ok(Appended::Duplicate(5))
    );
    assert_eq!(
        append(&mut log, batch(1, 0, 1, 1, 0)),
        Ok(Appended::Duplicate(1))
    );
    // Batch 0 has been forgotten: it is neither a duplicate nor the next sequence.
    assert_eq!(
        append(&mut log, batch(1, 0, 0, 1, 0)),
        Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
}

#[test]
fn retention_drops_the_oldest_batches_and_moves_the_log_start() {
    let mut log = PartitionLog::new();
    for _ in 0..10 {
        append(&mut log, batch(-1, -1, -1, 10, 0)).expect("append");
    }
    let one = batch(-1, -1, -1, 10, 0).len() as u64;
    log.enforce_retention(3 * one);
    assert_eq!(log.log_start(), 70);
    assert_eq!(log.log_end(), 100);
    assert_eq!(log.read(0, 100), Err(code::OFFSET_OUT_OF_RANGE));
    log.enforce_retention(0);
    assert_eq!(log.log_start(), 90, "the last batch stays");
}

#[test]
fn offsets_by_timestamp() {
    let mut log = PartitionLog::new();
    append(&mut log, batch(-1, -1, -1, 5, 1000)).expect("append"); // 1000..1004
    append(&mut log, batch(-1, -1, -1, 5, 2000)).expect("append"); // 2000..2004
    assert_eq!(log.offset_for_timestamp(0), Some((0, 1000)));
    assert_eq!(log.offset_for_timestamp(1003), Some((3, 1003)));
    assert_eq!(log.offset_for_timestamp(1500), Some((5, 2000)));
    assert_eq!(log.offset_for_timestamp(2004), Some((9, 2004)));
    assert_eq!(log.offset_for_timestamp(2005), None);
    assert_eq!(log.max_timestamp(), Some((9, 2004)));
}

#[test]
fn reads_stop_at_max_bytes_but_return_one_batch() {
    let mut log = PartitionLog::new();
    for _ in 0..4 {
        append(&mut log, batch(-1, -1, -1, 10, 0)).expect("append");
    }
    let one = batch(-1, -1, -1, 10, 0).len();
    assert_eq!(
        log.read(0, 1).expect("read").len(),
        1,
        "KIP-74: one batch at least"
    );
    assert_eq!(log.read(0, 2 * one + 1).expect("read").len(), 2);
    assert_eq!(
        log.read(15, 1 << 20).expect("read").len(),
        3,
        "from the batch holding 15"
    );
}

#[test]
fn delete_records_moves_the_log_start() {
    let mut log = PartitionLog::new();
    for _ in 0..3 {
        append(&mut log, batch(-1, -1, -1, 10, 0)).expect("append");
    }
    assert_eq!(log.delete_records(15), Ok(15));
    assert_eq!(log.read(14, 1 << 20), Err(code::OFFSET_OUT_OF_RANGE));
    let from = log.read(15, 1 << 20).expect("read");
    assert_eq!(
        i64_at(&from[0], 0),
        10,
        "the batch holding 15 is still served"
    );
    assert_eq!(log.delete_records(5), Ok(15), "never moves back");
    assert_eq!(log.delete_records(31), Err(code::OFFSET_OUT_OF_RANGE));
    assert_eq!(
        log.delete_records(-1),
        Ok(30),
        "-1: up to the high watermark"
    );
    assert_eq!(log.read(30, 100), Ok(vec![]));
}

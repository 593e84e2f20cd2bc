//! Malformed and hostile record batches: truncations, mutations (with the CRC recomputed so the
//! corruption reaches the parser), lying counts and lengths, compression bombs. Every case must
//! yield `Err` (or "incomplete" for a truncated tail), never a panic or a huge allocation.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use ferrokafka::__private::protocol::records::varint::{put_varint, put_varlong};
use ferrokafka::__private::protocol::records::{
    compress, decompress, BatchParams, Compression, DecodeOptions, RecordBatchEncoder,
    RecordBatches, RECORD_BATCH_OVERHEAD,
};
use ferrokafka::{ErrorKind, Result};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn valid_batch(compression: Compression) -> Vec<u8> {
    let mut enc = RecordBatchEncoder::new();
    let mut out = BytesMut::new();
    let params = BatchParams {
        base_offset: 42,
        producer_id: 7,
        producer_epoch: 1,
        base_sequence: 3,
        compression,
        ..BatchParams::default()
    };
    let mut w = enc
        .start(&mut out, params)
        .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..3u8 {
        let r = w.append_next(
            1_000 + i64::from(i),
            Some(&[i; 3]),
            if i == 1 {
                None
            } else {
                Some(b"some value bytes")
            },
            &[(&b"hk"[..], Some(&b"hv"[..])), (&b"null"[..], None)],
        );
        assert!(r.is_ok());
    }
    assert!(w.finish().is_ok());
    out.to_vec()
}

/// What decoding everything in `data` gave: records decoded, or the first error, plus the size
/// of an incomplete tail.
#[derive(Debug)]
struct Outcome {
    result: Result<usize>,
    incomplete: usize,
}

fn decode_all(data: &[u8], check_crcs: bool) -> Outcome {
    let opts = DecodeOptions {
        check_crcs,
        ..DecodeOptions::default()
    };
    let mut it = RecordBatches::new(Bytes::copy_from_slice(data), opts);
    let mut n = 0;
    let result = (|| {
        for batch in it.by_ref() {
            let batch = batch?;
            for record in batch.records()? {
                let record = record?;
                // Touch every header so lazily iterated headers are exercised too.
                let _ = record.headers.iter().count();
                n += 1;
            }
        }
        Ok(n)
    })();
    Outcome {
        result,
        incomplete: it.incomplete_tail(),
    }
}

fn fix_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn set_i32(batch: &mut [u8], at: usize, v: i32) {
    batch[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// A batch with the given header fields around an arbitrary records section, CRC valid.
fn raw_batch(
    compression: Compression,
    count: i32,
    last_offset_delta: i32,
    section: &[u8],
) -> Vec<u8> {
    let mut b = vec![0u8; RECORD_BATCH_OVERHEAD];
    set_i32(
        &mut b,
        8,
        (RECORD_BATCH_OVERHEAD - 12 + section.len()) as i32,
    );
    b[16] = 2;
    b[21..23].copy_from_slice(&compression.id().to_be_bytes());
    set_i32(&mut b, 23, last_offset_delta);
    set_i32(&mut b, 57, count);
    b.extend_from_slice(section);
    fix_crc(&mut b);
    b
}

fn expect_err(data: &[u8], what: &str) -> ferrokafka::Error {
    match decode_all(data, true).result {
        Err(e) => e,
        Ok(n) => panic!("{what}: decoded {n} records from hostile input"),
    }
}

#[test]
fn truncation_at_every_byte_is_incomplete_never_a_panic() {
    for c in CODECS {
        let batch = valid_batch(c);
        assert_eq!(decode_all(&batch, true).result.ok(), Some(3), "{c}");
        for n in 1..batch.len() {
            let o = decode_all(&batch[..n], true);
            assert_eq!(o.result.ok(), Some(0), "{c} cut at {n}");
            assert_eq!(o.incomplete, n, "{c} cut at {n}");
        }
        // A complete batch followed by a truncated one: the first decodes, the tail is reported.
        let mut two = batch.clone();
        two.extend_from_slice(&batch[..batch.len() / 2]);
        let o = decode_all(&two, true);
        assert_eq!(o.result.ok(), Some(3), "{c}");
        assert_eq!(o.incomplete, batch.len() / 2);
    }
}

#[test]
fn truncation_with_lengths_and_crc_patched_is_an_error() {
    for c in CODECS {
        let batch = valid_batch(c);
        for n in RECORD_BATCH_OVERHEAD..batch.len() {
            let mut cut = batch[..n].to_vec();
            set_i32(&mut cut, 8, (n - 12) as i32);
            fix_crc(&mut cut);
            expect_err(&cut, &format!("{c} truncated to {n}"));
        }
        // Below the header size the length itself is invalid.
        for n in 12..RECORD_BATCH_OVERHEAD {
            let mut cut = batch[..n].to_vec();
            set_i32(&mut cut, 8, (n - 12) as i32);
            expect_err(&cut, &format!("{c} header cut to {n}"));
        }
    }
}

#[test]
fn every_byte_mutated_with_valid_crc_never_panics() {
    for c in CODECS {
        let batch = valid_batch(c);
        for at in 0..batch.len() {
            for x in [0x01u8, 0x40, 0x80, 0xff] {
                let mut m = batch.clone();
                m[at] ^= x;
                if !(17..21).contains(&at) {
                    fix_crc(&mut m);
                }
                // Must return (Ok or Err) without panicking, with and without CRC checks.
                let _ = decode_all(&m, true);
                let _ = decode_all(&m, false);
            }
        }
    }
}

#[test]
fn crc_mismatch_is_an_error_unless_disabled() {
    let mut b = valid_batch(Compression::None);
    let last = b.len() - 1;
    b[last] ^= 1;
    let e = expect_err(&b, "crc");
    assert_eq!(e.kind(), &ErrorKind::CorruptRecord);
    assert!(decode_all(&b, false).result.is_ok());
}

#[test]
fn lying_record_counts_are_errors() {
    for c in CODECS {
        let batch = valid_batch(c);
        for count in [i32::MAX, i32::MIN, -1, 4, 2, 0, 1 << 20] {
            let mut m = batch.clone();
            set_i32(&mut m, 57, count);
            fix_crc(&mut m);
            expect_err(&m, &format!("{c} count {count}"));
        }
    }
}

#[test]
fn bad_batch_lengths_magic_and_codec() {
    let batch = valid_batch(Compression::None);
    for len in [-1, i32::MIN, 0, 48] {
        let mut m = batch.clone();
        set_i32(&mut m, 8, len);
        expect_err(&m, &format!("batch length {len}"));
    }
    // A length past the end is indistinguishable from a truncated tail.
    let mut m = batch.clone();
    set_i32(&mut m, 8, i32::MAX);
    let o = decode_all(&m, true);
    assert_eq!(o.result.ok(), Some(0));
    assert_eq!(o.incomplete, m.len());

    for magic in [0u8, 1] {
        let mut m = batch.clone();
        m[16] = magic;
        let e = expect_err(&m, "legacy magic");
        assert!(e.to_string().contains("legacy message format"), "{e}");
    }
    let mut m = batch.clone();
    m[16] = 3;
    expect_err(&m, "magic 3");
    for codec in 5..8u8 {
        let mut m = batch.clone();
        m[22] = (m[22] & !7) | codec;
        fix_crc(&mut m);
        expect_err(&m, &format!("codec {codec}"));
    }
}

/// One record's bytes with full control over every field.
#[allow(clippy::too_many_arguments)]
fn record(
    len: Option<i32>,
    ts: i64,
    off: i32,
    key_len: i32,
    key: &[u8],
    value_len: i32,
    headers: &[u8],
    header_count: i32,
) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_u8(0);
    put_varlong(&mut body, ts);
    put_varint(&mut body, off);
    put_varint(&mut body, key_len);
    body.put_slice(key);
    put_varint(&mut body, value_len);
    put_varint(&mut body, header_count);
    body.put_slice(headers);
    let mut out = BytesMut::new();
    put_varint(&mut out, len.unwrap_or(body.len() as i32));
    out.put_slice(&body);
    out.to_vec()
}

#[test]
fn hostile_records_with_valid_crc_are_errors() {
    let ok = record(None, 0, 0, 1, b"k", -1, &[], 0);
    // Sanity: the well-formed record decodes.
    assert_eq!(
        decode_all(&raw_batch(Compression::None, 1, 0, &ok), true)
            .result
            .ok(),
        Some(1)
    );

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "key length 2^31-1",
            record(None, 0, 0, i32::MAX, b"k", -1, &[], 0),
        ),
        ("key length -2", record(None, 0, 0, -2, b"", -1, &[], 0)),
        (
            "value length 2^31-1",
            record(None, 0, 0, -1, b"", i32::MAX, &[], 0),
        ),
        (
            "value length i32::MIN",
            record(None, 0, 0, -1, b"", i32::MIN, &[], 0),
        ),
        (
            "header count i32::MAX",
            record(None, 0, 0, -1, b"", -1, &[], i32::MAX),
        ),
        ("header count -1", record(None, 0, 0, -1, b"", -1, &[], -1)),
        (
            "header key length -1",
            record(None, 0, 0, -1, b"", -1, &[1, 1], 1),
        ),
        (
            "header value past end",
            record(None, 0, 0, -1, b"", -1, &[0, 100], 1),
        ),
        (
            "record length past end",
            record(Some(1000), 0, 0, 1, b"k", -1, &[], 0),
        ),
        (
            "record length negative",
            record(Some(-5), 0, 0, 1, b"k", -1, &[], 0),
        ),
        (
            "record length too short",
            record(Some(3), 0, 0, 1, b"k", -1, &[], 0),
        ),
        ("record length too long", {
            let mut r = record(Some(9), 0, 0, 1, b"k", -1, &[], 0);
            r.extend_from_slice(&[0, 0, 0]);
            r
        }),
        ("varint longer than 5 bytes", {
            let mut r = vec![20, 0, 0];
            r.extend_from_slice(&[0xff; 6]);
            r.extend_from_slice(&[0; 8]);
            r
        }),
        ("varlong longer than 10 bytes", {
            let mut r = vec![30, 0];
            r.extend_from_slice(&[0xff; 11]);
            r.extend_from_slice(&[0; 8]);
            r
        }),
    ];
    for (what, rec) in cases {
        let mut section = rec.clone();
        section.extend_from_slice(&[0u8; 16]); // padding so the count check is not what fires
        expect_err(&raw_batch(Compression::None, 1, 0, &rec), what);
        expect_err(&raw_batch(Compression::None, 1, 0, &section), what);
        // The same hostile records inside a compressed batch.
        for c in [Compression::Gzip, Compression::Lz4] {
            let mut z = BytesMut::new();
            assert!(compress(c, None, &rec, &mut z).is_ok());
            expect_err(&raw_batch(c, 1, 0, &z), &format!("{c} {what}"));
        }
    }
}

#[test]
fn offset_overflow_is_an_error() {
    let rec = record(None, 0, 5, -1, b"", -1, &[], 0);
    let mut b = raw_batch(Compression::None, 1, 0, &rec);
    b[..8].copy_from_slice(&i64::MAX.to_be_bytes());
    fix_crc(&mut b);
    expect_err(&b, "record offset overflow");
    let mut b = raw_batch(Compression::None, 1, 5, &rec);
    b[..8].copy_from_slice(&(i64::MAX - 1).to_be_bytes());
    fix_crc(&mut b);
    expect_err(&b, "last offset overflow");
}

// ---- compression bombs: 1 GiB of zeros must fail at the cap, quickly ----

const GIB: usize = 1 << 30;

fn check_bomb(c: Compression, compressed: &[u8]) {
    let started = Instant::now();
    let batch = raw_batch(c, 1, 0, compressed);
    let e = expect_err(&batch, &format!("{c} bomb"));
    assert_eq!(e.kind(), &ErrorKind::Compression, "{c}: {e}");
    // Direct call with a small cap fails fast as well.
    let e = decompress(c, compressed, 1 << 20).err();
    assert_eq!(
        e.map(|e| e.kind().clone()),
        Some(ErrorKind::Compression),
        "{c}"
    );
    let took = started.elapsed();
    // Generous for unoptimized test builds; the point is that 1 GiB is never produced.
    assert!(took < Duration::from_secs(60), "{c} bomb took {took:?}");
    eprintln!(
        "{c}: {} compressed bytes rejected in {took:?}",
        compressed.len()
    );
}

fn zeros_compressed(c: Compression, n: usize) -> Vec<u8> {
    let mut out = BytesMut::new();
    assert!(compress(c, None, &vec![0u8; n], &mut out).is_ok());
    out.to_vec()
}

#[test]
fn gzip_bomb() {
    // 1024 gzip members of 1 MiB of zeros each: a valid multi-member stream of 1 GiB.
    let member = zeros_compressed(Compression::Gzip, 1 << 20);
    check_bomb(Compression::Gzip, &member.repeat(GIB >> 20));
}

#[test]
fn lz4_bomb() {
    // One frame with 16384 copies of an independent 64 KiB block of zeros.
    let frame = zeros_compressed(Compression::Lz4, 64 << 10);
    let header = &frame[..7]; // magic, FLG, BD, header checksum
    let block = &frame[7..frame.len() - 4]; // size + data; then the 4-byte end mark
    let mut bomb = header.to_vec();
    bomb.extend_from_slice(&block.repeat(GIB >> 16));
    bomb.extend_from_slice(&[0; 4]);
    check_bomb(Compression::Lz4, &bomb);
}

#[test]
fn snappy_bomb() {
    // xerial framing with 1024 chunks of 1 MiB of zeros.
    let chunk = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 1 << 20])
        .unwrap_or_default();
    let mut bomb = ferrokafka::__private::protocol::records::XERIAL_MAGIC.to_vec();
    bomb.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
    for _ in 0..(GIB >> 20) {
        bomb.extend_from_slice(&(chunk.len() as i32).to_be_bytes());
        bomb.extend_from_slice(&chunk);
    }
    check_bomb(Compression::Snappy, &bomb);
    // Raw snappy declaring 1 GiB up front is refused before allocating.
    let mut raw = Vec::new();
    let mut n = GIB as u64;
    while n >= 0x80 {
        raw.push((n as u8) | 0x80);
        n >>= 7;
    }
    raw.push(n as u8);
    raw.extend_from_slice(&[0; 16]);
    check_bomb(Compression::Snappy, &raw);
}

#[test]
fn zstd_bomb() {
    // One frame (128 KiB window) of 8192 RLE blocks of 128 KiB zeros: 32 KiB that inflate to 1 GiB.
    let mut bomb = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3];
    let blocks = GIB >> 17;
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((128 << 10) << 3);
        bomb.extend_from_slice(&header.to_le_bytes()[..3]);
        bomb.push(0);
    }
    check_bomb(Compression::Zstd, &bomb);
    // Sanity: the same construction with two blocks is a valid frame.
    let mut small = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3];
    for i in 0..2u32 {
        let header = u32::from(i == 1) | (1 << 1) | ((128 << 10) << 3);
        small.extend_from_slice(&header.to_le_bytes()[..3]);
        small.push(0);
    }
    assert_eq!(
        decompress(Compression::Zstd, &small, 1 << 20)
            .ok()
            .map(|v| v.len()),
        Some(256 << 10)
    );
}

/// Writes valid batches of every codec as seeds for the `record_batch_decode` fuzz target.
/// Run with `cargo test -p ferrokafka-protocol-tests --test records_malformed -- --ignored`.
#[test]
#[ignore = "writes seed files for the fuzzer; run on demand, not a test"]
fn write_fuzz_seed_corpus() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/record_batch_decode");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut all = Vec::new();
    for c in CODECS {
        let b = valid_batch(c);
        std::fs::write(dir.join(format!("batch_{c}")), &b).unwrap_or_else(|e| panic!("{e}"));
        all.extend_from_slice(&b);
        // Seeds for the direct decompressor path: selector byte + compressed section.
        let selector = match c {
            Compression::Gzip => 0u8,
            Compression::Snappy => 1,
            Compression::Lz4 => 2,
            Compression::Zstd => 3,
            _ => continue,
        };
        let mut z = BytesMut::new();
        assert!(compress(c, None, b"some records some records some records", &mut z).is_ok());
        let mut seed = vec![selector];
        seed.extend_from_slice(&z);
        std::fs::write(dir.join(format!("raw_{c}")), seed).unwrap_or_else(|e| panic!("{e}"));
    }
    all.extend_from_slice(&valid_batch(Compression::None)[..40]);
    std::fs::write(dir.join("all_codecs_and_partial_tail"), all).unwrap_or_else(|e| panic!("{e}"));
}

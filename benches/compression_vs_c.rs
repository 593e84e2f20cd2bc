//! Our gzip and zstd codecs beside the C libraries, in one run (issue #9: record-batch encode
//! MB/s within 1.5x of C zlib level 6 / C zstd level 3, librdkafka's defaults).
//!
//! `cargo bench --bench compression_vs_c -- --warm-up-time 1 --measurement-time 3`
//!
//! Every case compresses the same uncompressed records section (the bytes a batch's CRC covers
//! after the header, taken from our own encoder) so the codecs see identical input:
//!
//! - `encode/<case>/batch-gzip6`, `batch-zstd3`: a whole batch through `RecordBatchEncoder`
//!   (record framing + compression + CRC) with ferrokafka's encoders as built (zstd is the C
//!   library with the default `zstd-c` feature, ruzstd without it).
//! - `flate2-zlib-rs-6`: flate2's pure-Rust `zlib-rs` backend, zlib format, level 6.
//! - `c-zlib-6`: C zlib (the 1.4 source libz-sys 1.1.33 bundles, static) `compress2` at level 6.
//! - `c-zstd-3`: the C zstd library at level 3 through a reused context; `c-zstd-3-fresh` sets
//!   up a new context per call (what reusing the context saves); `ruzstd-fastest`: ruzstd 0.8.
//!
//! The C zlib figure is the bare codec (zlib format: Adler-32 instead of gzip's CRC-32, no record
//! framing), so comparing our whole batch against it is, if anything, unfair to us.
//! Throughput is counted in uncompressed records-section bytes.

use std::io::{Read, Write};

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrokafka::__private::protocol::records::{
    decompress, BatchParams, Compression, RecordBatchEncoder, DEFAULT_MAX_DECOMPRESSED_SIZE,
    RECORD_BATCH_OVERHEAD,
};

/// Semi-compressible values, like JSON events (the same generator as `record_batch.rs`).
fn values(record_size: usize, count: usize) -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(42);
    let words = [
        "user", "order", "amount", "status", "created", "region", "sku", "price",
    ];
    (0..count)
        .map(|_| {
            let mut v = Vec::with_capacity(record_size + 32);
            while v.len() < record_size {
                let w = words[rng.usize(..words.len())];
                v.extend_from_slice(format!("\"{w}\":{},", rng.u32(..1_000_000)).as_bytes());
            }
            v.truncate(record_size);
            v
        })
        .collect()
}

fn encode(
    encoder: &mut RecordBatchEncoder,
    out: &mut BytesMut,
    codec: Compression,
    level: Option<i32>,
    vals: &[Vec<u8>],
) {
    let params = BatchParams {
        compression: codec,
        compression_level: level,
        ..BatchParams::default()
    };
    let Ok(mut w) = encoder.start(out, params) else {
        return;
    };
    for (i, v) in vals.iter().enumerate() {
        let key = (i as u64).to_be_bytes();
        let _ = w.append_next(1_700_000_000_000 + i as i64, Some(&key), Some(v), &[]);
    }
    let _ = w.finish();
}

/// C zlib `compress2` into `out` (cleared); returns the compressed length.
fn c_zlib(input: &[u8], level: i32, out: &mut Vec<u8>) -> usize {
    // SAFETY: compressBound has no preconditions; compress2 writes at most `len` bytes into
    // `out`, which has that capacity, and reads exactly `input.len()` bytes of `input`.
    unsafe {
        let mut len = libz_sys::compressBound(input.len() as _);
        out.clear();
        out.reserve(len as usize);
        let rc = libz_sys::compress2(
            out.as_mut_ptr(),
            &mut len,
            input.as_ptr(),
            input.len() as _,
            level,
        );
        assert_eq!(rc, libz_sys::Z_OK);
        out.set_len(len as usize);
        len as usize
    }
}

/// C zlib `uncompress` of `input` into `out`, which must have room for `size` bytes.
fn c_unzlib(input: &[u8], size: usize, out: &mut Vec<u8>) -> usize {
    // SAFETY: `out` has capacity `size` and uncompress writes at most `len` = `size` bytes.
    unsafe {
        out.clear();
        out.reserve(size);
        let mut len = size as _;
        let rc = libz_sys::uncompress(out.as_mut_ptr(), &mut len, input.as_ptr(), input.len() as _);
        assert_eq!(rc, libz_sys::Z_OK);
        out.set_len(len as usize);
        len as usize
    }
}

fn bench(c: &mut Criterion) {
    for &(record_size, batch_bytes) in &[
        (100usize, 16usize << 10),
        (1024, 16 << 10),
        (100, 1 << 20),
        (1024, 1 << 20),
    ] {
        let count = (batch_bytes / record_size).max(1);
        let vals = values(record_size, count);
        let label = format!("{record_size}B x{count}");
        let mut encoder = RecordBatchEncoder::new();
        let mut out = BytesMut::with_capacity(2 * batch_bytes);
        encode(&mut encoder, &mut out, Compression::None, None, &vals);
        let section = out[RECORD_BATCH_OVERHEAD..].to_vec();
        let n = section.len();

        // Compressed sizes, printed once, so ratio and speed can be read side by side.
        let mut v = Vec::new();
        let sizes = [
            ("batch-gzip6", {
                out.clear();
                encode(&mut encoder, &mut out, Compression::Gzip, Some(6), &vals);
                out.len() - RECORD_BATCH_OVERHEAD
            }),
            ("batch-zstd3", {
                out.clear();
                encode(&mut encoder, &mut out, Compression::Zstd, Some(3), &vals);
                out.len() - RECORD_BATCH_OVERHEAD
            }),
            ("c-zlib-6", c_zlib(&section, 6, &mut v)),
            (
                "c-zstd-3",
                zstd::bulk::compress(&section, 3).map_or(0, |z| z.len()),
            ),
            ("ruzstd-fastest", ruzstd_compress(&section).len()),
        ];
        for (name, size) in sizes {
            eprintln!(
                "{label} {name}: {size} bytes for {n} (ratio {:.2})",
                n as f64 / size as f64
            );
        }

        let mut group = c.benchmark_group(format!("encode/{label}"));
        group.throughput(Throughput::Bytes(n as u64));
        group.bench_function("batch-gzip6", |b| {
            b.iter(|| {
                out.clear();
                encode(&mut encoder, &mut out, Compression::Gzip, Some(6), &vals);
                out.len()
            })
        });
        group.bench_function("flate2-zlib-rs-6", |b| {
            b.iter(|| {
                v.clear();
                let mut e = flate2::write::ZlibEncoder::new(&mut v, flate2::Compression::new(6));
                let _ = e.write_all(&section);
                e.finish().map_or(0, |w| w.len())
            })
        });
        group.bench_function("c-zlib-6", |b| b.iter(|| c_zlib(&section, 6, &mut v)));
        group.bench_function("batch-zstd3", |b| {
            b.iter(|| {
                out.clear();
                encode(&mut encoder, &mut out, Compression::Zstd, Some(3), &vals);
                out.len()
            })
        });
        let mut cctx = zstd::bulk::Compressor::new(3).expect("zstd context");
        let bound = zstd::zstd_safe::compress_bound(n);
        v.resize(bound, 0);
        group.bench_function("c-zstd-3", |b| {
            b.iter(|| cctx.compress_to_buffer(&section, &mut v[..]).unwrap_or(0))
        });
        group.bench_function("c-zstd-3-fresh", |b| {
            b.iter(|| zstd::bulk::compress(&section, 3).map_or(0, |z| z.len()))
        });
        group.bench_function("ruzstd-fastest", |b| {
            b.iter(|| ruzstd_compress(&section).len())
        });
        group.finish();

        let mut group = c.benchmark_group(format!("decode/{label}"));
        group.throughput(Throughput::Bytes(n as u64));
        let mut gz = BytesMut::new();
        let _ = ferrokafka::__private::protocol::records::compress(
            Compression::Gzip,
            Some(6),
            &section,
            &mut gz,
        );
        let cap = DEFAULT_MAX_DECOMPRESSED_SIZE;
        group.bench_function("ours-gzip", |b| {
            b.iter(|| decompress(Compression::Gzip, &gz, cap).map_or(0, |d| d.len()))
        });
        let mut zl = Vec::new();
        c_zlib(&section, 6, &mut zl);
        let mut dst = Vec::new();
        group.bench_function("c-zlib", |b| b.iter(|| c_unzlib(&zl, n, &mut dst)));
        // Both zstd decoders on the same two inputs: a C-encoded (level 3) and a ruzstd frame.
        for (name, frame) in [
            ("c3", zstd::bulk::compress(&section, 3).unwrap_or_default()),
            ("ruzstd", ruzstd_compress(&section)),
        ] {
            group.bench_function(format!("ours-zstd/{name}-frame"), |b| {
                b.iter(|| decompress(Compression::Zstd, &frame, cap).map_or(0, |d| d.len()))
            });
            group.bench_function(format!("c-zstd/{name}-frame"), |b| {
                b.iter(|| zstd::bulk::decompress(&frame, n).map_or(0, |d| d.len()))
            });
            group.bench_function(format!("ruzstd/{name}-frame"), |b| {
                b.iter(|| {
                    let mut src = &frame[..];
                    let mut d = Vec::with_capacity(n);
                    ruzstd::decoding::StreamingDecoder::new(&mut src)
                        .map_or(0, |mut r| r.read_to_end(&mut d).unwrap_or(0))
                })
            });
        }
        group.finish();
    }
}

fn ruzstd_compress(input: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(input, ruzstd::encoding::CompressionLevel::Fastest)
}

criterion_group!(benches, bench);
criterion_main!(benches);

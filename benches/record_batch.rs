//! Record batch encode/decode throughput per codec, record size and batch size.
//!
//! `cargo bench --bench record_batch -- --warm-up-time 1 --measurement-time 2`
//!
//! Throughput is counted in uncompressed record payload bytes (key + value) per second. The
//! compressed size of each batch is printed once per case, so the ratio of every codec (notably
//! ruzstd's single "Fastest" level) can be read off next to its speed.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrokafka::__private::protocol::records::{
    BatchParams, Compression, DecodeOptions, RecordBatchEncoder, RecordBatches,
};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Semi-compressible values, like JSON events: field names repeat, numbers vary.
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
    vals: &[Vec<u8>],
) {
    let params = BatchParams {
        compression: codec,
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

fn decode(data: &Bytes) -> usize {
    let mut n = 0;
    for batch in RecordBatches::new(data.clone(), DecodeOptions::default()).flatten() {
        if let Ok(records) = batch.records() {
            for r in records.flatten() {
                n += r.value.map_or(0, |v| v.len());
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    for &(record_size, batch_bytes) in &[
        (100usize, 16usize << 10),
        (100, 1 << 20),
        (1024, 16 << 10),
        (1024, 1 << 20),
        (10 << 10, 1 << 20),
    ] {
        let count = (batch_bytes / record_size).max(1);
        let vals = values(record_size, count);
        let payload: usize = vals.iter().map(|v| v.len() + 8).sum();
        let label = format!("{record_size}B x{count}");
        let mut group = c.benchmark_group(format!("encode/{label}"));
        group.throughput(Throughput::Bytes(payload as u64));
        let mut encoder = RecordBatchEncoder::new();
        let mut out = BytesMut::with_capacity(2 * batch_bytes);
        for codec in CODECS {
            out.clear();
            encode(&mut encoder, &mut out, codec, &vals);
            eprintln!(
                "{label} {codec}: batch {} bytes for {payload} payload bytes (ratio {:.2})",
                out.len(),
                payload as f64 / out.len() as f64
            );
            group.bench_function(BenchmarkId::from_parameter(codec), |b| {
                b.iter(|| {
                    out.clear();
                    encode(&mut encoder, &mut out, codec, &vals);
                    out.len()
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("decode/{label}"));
        group.throughput(Throughput::Bytes(payload as u64));
        for codec in CODECS {
            let mut out = BytesMut::new();
            encode(&mut encoder, &mut out, codec, &vals);
            let data = out.freeze();
            assert_eq!(decode(&data), vals.iter().map(Vec::len).sum::<usize>());
            group.bench_function(BenchmarkId::from_parameter(codec), |b| {
                b.iter(|| decode(&data))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

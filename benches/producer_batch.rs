//! Producer hot-path throughput: `Accumulator::try_append` → `ready`/`drain` → encoding each
//! broker's batches into a Produce request (`ProduceRequestWriter` + `RecordBatchEncoder`, as the
//! sender's `encode_request` does) in one reused `BytesMut`; and the encode step alone.
//!
//! `cargo bench --bench producer_batch -- --warm-up-time 1 --measurement-time 3`
//!
//! Throughput is reported in records per second; multiply by the payload per record (a 17-byte
//! key plus the 100 B or 1 KiB value) for MB/s. Setup as in
//! `protocol-tests/tests/producer_alloc.rs`: one topic, 6 partitions led by 3 brokers, keyed
//! records, `batch.size` 16 KiB, the sender woken on every new or full batch. Cloning the
//! records for each iteration is setup, not timed.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ferrokafka::__private::producer::ProducerBatch;
use ferrokafka::__private::producer::{Accumulator, AccumulatorConfig};
use ferrokafka::__private::protocol::produce::ProduceRequestWriter;
use ferrokafka::__private::protocol::records::{
    BatchParams, Compression, HeaderRef, RecordBatchEncoder,
};
use ferrokafka::producer::PartitionsInfo;
use ferrokafka::producer::{ProducerConfig, ProducerRecord};
use tokio::time::Instant;

const TOPIC: &str = "events";
const PARTITIONS: i32 = 6;
const BROKERS: i32 = 3;
/// Records per iteration.
const RECORDS: usize = 10_000;

fn leader_of(_topic: &str, partition: i32) -> Option<i32> {
    Some(partition % BROKERS)
}

/// Semi-compressible values (JSON-like text) sliced from one pool.
fn records(value_size: usize) -> Vec<ProducerRecord> {
    let mut rng = fastrand::Rng::with_seed(42);
    let words = [
        "user", "order", "amount", "status", "created", "region", "sku", "price",
    ];
    let mut v = Vec::with_capacity((1 << 20) + 64);
    while v.len() < 1 << 20 {
        let w = words[rng.usize(..words.len())];
        v.extend_from_slice(format!("\"{w}\":{},", rng.u32(..1_000_000)).as_bytes());
    }
    let pool = Bytes::from(v);
    let span = pool.len() - value_size;
    (0..RECORDS)
        .map(|i| {
            let at = (i * 7919) % span;
            ProducerRecord::new(TOPIC)
                .key(Bytes::from(format!("customer-{i:08}")))
                .value(pool.slice(at..at + value_size))
        })
        .collect()
}

fn accumulator() -> Accumulator<u64> {
    let cfg = ProducerConfig::builder()
        .bootstrap_servers("localhost:9092")
        .buffer_memory(1 << 30)
        .linger(Duration::from_secs(3600))
        .build();
    match cfg {
        Ok(cfg) => Accumulator::new(AccumulatorConfig::from(&cfg)),
        Err(e) => panic!("the bench's producer config is valid: {e}"),
    }
}

/// Encodes one broker's drained batches as one Produce request (v9) into `out`.
fn encode(
    out: &mut BytesMut,
    encoder: &mut RecordBatchEncoder,
    batches: &[ProducerBatch<u64>],
    codec: Compression,
) {
    if let Err(e) = try_encode(out, encoder, batches, codec) {
        panic!("encoding failed: {e}");
    }
}

fn try_encode(
    out: &mut BytesMut,
    encoder: &mut RecordBatchEncoder,
    batches: &[ProducerBatch<u64>],
    codec: Compression,
) -> ferrokafka::Result<()> {
    out.clear();
    let mut w = ProduceRequestWriter::begin(out, 9, 1, "bench", None, -1, 30_000, 1)?;
    w.topic(TOPIC, batches.len() as u32)?;
    for batch in batches {
        let params = BatchParams {
            compression: codec,
            ..BatchParams::default()
        };
        w.partition(batch.partition(), |out| {
            let mut writer = encoder.start(out, params)?;
            let mut headers: Vec<HeaderRef<'_>> = Vec::new();
            for r in batch.records() {
                headers.clear();
                headers.extend(r.headers.iter().map(|h| (&h.key[..], h.value.as_deref())));
                writer.append_next(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)?;
            }
            writer.finish()?;
            Ok(())
        })?;
    }
    w.finish()
}

/// Appends every record, draining and encoding whenever the producer would wake its sender, then
/// flushes the rest. `sent` gets each request's batches (dropped when `None`).
fn pipeline(
    acc: &Accumulator<u64>,
    encoder: &mut RecordBatchEncoder,
    out: &mut BytesMut,
    codec: Compression,
    records: Vec<ProducerRecord>,
    mut sent: Option<&mut Vec<Vec<ProducerBatch<u64>>>>,
) {
    let partitions = PartitionsInfo::all_available(PARTITIONS);
    let mut send = |nodes: &BTreeSet<i32>| {
        for (_node, batches) in acc.drain(nodes, Instant::now(), leader_of, |_, _| true) {
            match sent.as_deref_mut() {
                Some(keep) => keep.push(batches),
                None => encode(out, encoder, &batches, codec),
            }
        }
    };
    for (i, record) in records.into_iter().enumerate() {
        match acc.try_append(record, i as u64, &partitions, Instant::now()) {
            Ok(a) if a.batch_full || a.new_batch => {
                let ready = acc.ready(Instant::now(), leader_of, |_, _| true);
                send(&ready.ready_nodes);
            }
            Ok(_) => {}
            Err(r) => panic!("append failed: {}", r.error),
        }
    }
    let all: BTreeSet<i32> = (0..BROKERS).collect();
    while acc.has_undrained() {
        send(&all);
    }
}

fn bench(c: &mut Criterion) {
    let codecs = [(Compression::None, "none"), (Compression::Lz4, "lz4")];
    let mut g = c.benchmark_group("producer_append_drain_encode");
    g.throughput(Throughput::Elements(RECORDS as u64));
    for value_size in [100usize, 1024] {
        let recs = records(value_size);
        for (codec, name) in codecs {
            let acc = accumulator();
            let mut encoder = RecordBatchEncoder::new();
            let mut out = BytesMut::new();
            g.bench_function(BenchmarkId::new(name, value_size), |b| {
                b.iter_batched(
                    || recs.clone(),
                    |r| pipeline(&acc, &mut encoder, &mut out, codec, r, None),
                    BatchSize::LargeInput,
                )
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("producer_encode");
    g.throughput(Throughput::Elements(RECORDS as u64));
    for value_size in [100usize, 1024] {
        let recs = records(value_size);
        for (codec, name) in codecs {
            // Batch once (the same batching as above), then time only the encoding.
            let acc = accumulator();
            let mut encoder = RecordBatchEncoder::new();
            let mut out = BytesMut::new();
            let mut requests = Vec::new();
            pipeline(
                &acc,
                &mut encoder,
                &mut out,
                codec,
                recs.clone(),
                Some(&mut requests),
            );
            let batches: usize = requests.iter().map(Vec::len).sum();
            println!(
                "{value_size} B values: {} requests, {batches} batches, {:.1} records/batch",
                requests.len(),
                RECORDS as f64 / batches as f64
            );
            g.bench_function(BenchmarkId::new(name, value_size), |b| {
                b.iter(|| {
                    for batches in &requests {
                        encode(&mut out, &mut encoder, batches, codec);
                    }
                    out.len()
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);

//! Decodes arbitrary bytes as a Fetch response's records field: every batch and every record
//! (headers included), with and without CRC checks, plus every decompressor directly. Any panic,
//! abort or out-of-memory is a bug.
//!
//! `cargo +nightly fuzz run record_batch_decode corpus/record_batch_decode seeds/record_batch_decode -- -runs=1000000`
#![no_main]

use bytes::Bytes;
use ferrokafka::__private::protocol::records::{
    decompress, Compression, DecodeOptions, RecordBatches,
};
use libfuzzer_sys::fuzz_target;

/// Small cap so that compression bombs are cheap for the fuzzer to hit.
const CAP: usize = 1 << 20;

fn decode_all(data: &Bytes, check_crcs: bool) {
    let opts = DecodeOptions {
        check_crcs,
        max_decompressed_size: CAP,
    };
    let mut batches = RecordBatches::new(data.clone(), opts);
    for batch in batches.by_ref() {
        let Ok(batch) = batch else { break };
        let _ = (batch.last_offset(), batch.next_offset(), batch.delete_horizon_ms());
        let Ok(records) = batch.records() else { continue };
        for record in records {
            let Ok(record) = record else { break };
            for h in record.headers.iter() {
                let _ = (h.key_str(), h.value.as_ref().map(bytes::Bytes::len));
            }
        }
    }
    assert!(batches.position() + batches.incomplete_tail() <= data.len());
}

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    decode_all(&bytes, true);
    decode_all(&bytes, false);
    // The decompressors on their own, so mutations need not get past the batch framing.
    if let Some((&selector, rest)) = data.split_first() {
        let codec = match selector % 4 {
            0 => Compression::Gzip,
            1 => Compression::Snappy,
            2 => Compression::Lz4,
            _ => Compression::Zstd,
        };
        if let Ok(out) = decompress(codec, rest, CAP) {
            assert!(out.len() <= CAP);
        }
    }
});

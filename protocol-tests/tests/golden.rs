//! Golden vectors: record batches written by Java's `MemoryRecordsBuilder`.
//!
//! Contract (shared with the Java generator): `protocol-tests/golden/cases.json` is a JSON array
//! of cases `{"name","file","compression","base_offset","partition_leader_epoch","producer_id",
//! "producer_epoch","base_sequence","transactional","control","timestamp_type","records":[...]}`
//! where each record is `{"offset_delta","timestamp","key","value","headers":[{"key","value"}]}`
//! (key/value hex or null; header keys UTF-8 strings) and `file` (relative to the golden
//! directory) holds the batch bytes exactly as Java wrote them.
//!
//! For every case our decoder must yield exactly the manifest's batch fields and records, and for
//! `"compression": "none"` our encoder must reproduce the file byte for byte. A missing or empty
//! manifest is a failure, not a vacuous pass.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use ferrokafka::__private::protocol::records::{
    BatchParams, Compression, DecodeOptions, RecordBatch, RecordBatchEncoder, RecordBatches,
    TimestampType,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    file: String,
    compression: String,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    timestamp_type: String,
    records: Vec<CaseRecord>,
}

#[derive(Debug, Deserialize)]
struct CaseRecord {
    offset_delta: i32,
    timestamp: i64,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<CaseHeader>,
}

#[derive(Debug, Deserialize)]
struct CaseHeader {
    key: String,
    value: Option<String>,
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex {s:?}: {e}")))
        .collect()
}

fn unhex_opt(s: &Option<String>) -> Result<Option<Vec<u8>>, String> {
    s.as_deref().map(unhex).transpose()
}

/// Runs every case in `dir/cases.json`; returns how many passed, or every failure.
fn run_dir(dir: &Path) -> Result<usize, String> {
    let manifest = dir.join("cases.json");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let cases: Vec<Case> =
        serde_json::from_str(&text).map_err(|e| format!("bad {}: {e}", manifest.display()))?;
    if cases.is_empty() {
        return Err(format!("{} holds no cases", manifest.display()));
    }
    let mut failures = String::new();
    for case in &cases {
        if let Err(e) = check_case(dir, case) {
            let _ = writeln!(failures, "case {:?} ({}): {e}", case.name, case.file);
        }
    }
    if failures.is_empty() {
        Ok(cases.len())
    } else {
        Err(failures)
    }
}

macro_rules! same {
    ($what:expr, $ours:expr, $theirs:expr) => {
        if $ours != $theirs {
            return Err(format!(
                "{}: decoded {:?}, manifest says {:?}",
                $what, $ours, $theirs
            ));
        }
    };
}

fn check_case(dir: &Path, case: &Case) -> Result<(), String> {
    let compression = Compression::from_name(&case.compression)
        .ok_or_else(|| format!("unknown compression {:?}", case.compression))?;
    let timestamp_type = match case.timestamp_type.as_str() {
        "create" => TimestampType::CreateTime,
        "log_append" => TimestampType::LogAppendTime,
        other => return Err(format!("unknown timestamp_type {other:?}")),
    };
    let path = dir.join(&case.file);
    let java = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;

    // --- decode Java's bytes ---
    let mut it = RecordBatches::new(Bytes::from(java.clone()), DecodeOptions::default());
    let batch: RecordBatch = it
        .next()
        .ok_or("file holds no complete batch")?
        .map_err(|e| format!("decode: {e}"))?;
    if it.next().is_some() || it.incomplete_tail() != 0 {
        return Err("file holds more than one batch".into());
    }
    same!("base_offset", batch.base_offset(), case.base_offset);
    same!(
        "partition_leader_epoch",
        batch.partition_leader_epoch(),
        case.partition_leader_epoch
    );
    same!("producer_id", batch.producer_id(), case.producer_id);
    same!(
        "producer_epoch",
        batch.producer_epoch(),
        case.producer_epoch
    );
    same!("base_sequence", batch.base_sequence(), case.base_sequence);
    same!(
        "transactional",
        batch.is_transactional(),
        case.transactional
    );
    same!("control", batch.is_control(), case.control);
    same!("timestamp_type", batch.timestamp_type(), timestamp_type);
    same!("compression", batch.compression(), compression);
    same!(
        "records_count",
        batch.records_count() as usize,
        case.records.len()
    );
    if let Some(last) = case.records.last() {
        same!(
            "last_offset_delta",
            batch.header().last_offset_delta,
            last.offset_delta
        );
    }
    let first_ts = case.records.first().map_or(-1, |r| r.timestamp);
    same!("base_timestamp", batch.base_timestamp(), first_ts);
    if timestamp_type == TimestampType::CreateTime {
        let max = case.records.iter().map(|r| r.timestamp).fold(-1, i64::max);
        same!("max_timestamp", batch.max_timestamp(), max);
    }
    let records = batch
        .records()
        .map_err(|e| format!("records: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("record: {e}"))?;
    same!("record count", records.len(), case.records.len());
    for (i, (ours, theirs)) in records.iter().zip(&case.records).enumerate() {
        same!(
            format!("record {i} offset_delta"),
            ours.offset_delta,
            theirs.offset_delta
        );
        same!(
            format!("record {i} offset"),
            ours.offset,
            case.base_offset + i64::from(theirs.offset_delta)
        );
        let ts = match timestamp_type {
            // Java reports the batch's log append time for every record.
            TimestampType::LogAppendTime => batch.max_timestamp(),
            TimestampType::CreateTime => theirs.timestamp,
        };
        same!(format!("record {i} timestamp"), ours.timestamp, ts);
        same!(
            format!("record {i} timestamp_delta"),
            ours.timestamp_delta,
            theirs.timestamp.wrapping_sub(first_ts)
        );
        same!(
            format!("record {i} key"),
            ours.key.as_deref().map(<[u8]>::to_vec),
            unhex_opt(&theirs.key)?
        );
        same!(
            format!("record {i} value"),
            ours.value.as_deref().map(<[u8]>::to_vec),
            unhex_opt(&theirs.value)?
        );
        let hs: Vec<_> = ours.headers.iter().collect();
        same!(
            format!("record {i} header count"),
            hs.len(),
            theirs.headers.len()
        );
        for (j, (h, t)) in hs.iter().zip(&theirs.headers).enumerate() {
            same!(
                format!("record {i} header {j} key"),
                h.key_str(),
                Some(t.key.as_str())
            );
            same!(
                format!("record {i} header {j} value"),
                h.value.as_deref().map(<[u8]>::to_vec),
                unhex_opt(&t.value)?
            );
        }
    }

    // --- encode the same inputs ---
    let params = BatchParams {
        base_offset: case.base_offset,
        partition_leader_epoch: case.partition_leader_epoch,
        producer_id: case.producer_id,
        producer_epoch: case.producer_epoch,
        base_sequence: case.base_sequence,
        transactional: case.transactional,
        control: case.control,
        timestamp_type,
        // The manifest does not carry Java's logAppendTime; it is the file's maxTimestamp.
        log_append_time: batch.max_timestamp(),
        compression,
        compression_level: None,
    };
    let mut encoder = RecordBatchEncoder::new();
    let mut out = BytesMut::new();
    let mut w = encoder
        .start(&mut out, params)
        .map_err(|e| format!("encode: {e}"))?;
    for r in &case.records {
        let key = unhex_opt(&r.key)?;
        let value = unhex_opt(&r.value)?;
        let header_values = r
            .headers
            .iter()
            .map(|h| unhex_opt(&h.value))
            .collect::<Result<Vec<_>, _>>()?;
        let headers: Vec<(&[u8], Option<&[u8]>)> = r
            .headers
            .iter()
            .zip(&header_values)
            .map(|(h, v)| (h.key.as_bytes(), v.as_deref()))
            .collect();
        w.append(
            r.offset_delta,
            r.timestamp,
            key.as_deref(),
            value.as_deref(),
            &headers,
        )
        .map_err(|e| format!("encode: {e}"))?;
    }
    w.finish().map_err(|e| format!("encode: {e}"))?;
    if compression == Compression::None {
        if out[..] != java[..] {
            let at = out
                .iter()
                .zip(&java)
                .position(|(a, b)| a != b)
                .unwrap_or(out.len().min(java.len()));
            return Err(format!(
                "encoder output differs from Java's at byte {at} (ours {} bytes, Java {} bytes)",
                out.len(),
                java.len()
            ));
        }
    } else {
        // Compressed bytes legitimately differ between implementations; ours must decode to the
        // same records as Java's.
        let ours = RecordBatch::parse(out.freeze()).map_err(|e| format!("re-decode: {e}"))?;
        let again = ours
            .records()
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("re-decode: {e}"))?;
        if again != records {
            return Err("our compressed encoding decodes to different records".into());
        }
    }
    Ok(())
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

#[test]
fn java_golden_vectors() {
    match run_dir(&golden_dir()) {
        Ok(n) => eprintln!("{n} golden cases passed"),
        Err(e) => panic!("golden vectors failed:\n{e}"),
    }
}

// ---- self-test of the runner on a hand-made fixture ----

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("ferrokafka-golden-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{e}"));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One uncompressed batch assembled by hand from the format description (not by our encoder):
/// base offset 5, leader epoch 2, producer 1000/3, base sequence 7, create time, two records.
fn hand_made_batch() -> Vec<u8> {
    // Record 0: offset delta 0, timestamp delta 0, key "k", value "v1", header ("h", "x").
    let r0 = [
        0x00, // attributes
        0x00, // timestamp delta 0
        0x00, // offset delta 0
        0x02, b'k', // key length 1
        0x04, b'v', b'1', // value length 2
        0x02, // 1 header
        0x02, b'h', 0x02, b'x',
    ];
    // Record 1: offset delta 1, timestamp delta -10 (zigzag 19), null key, null value, no headers.
    let r1 = [0x00, 0x13, 0x02, 0x01, 0x01, 0x00];
    let mut records = Vec::new();
    records.push((r0.len() as u8) << 1);
    records.extend_from_slice(&r0);
    records.push((r1.len() as u8) << 1);
    records.extend_from_slice(&r1);

    let mut b = Vec::new();
    b.extend_from_slice(&5i64.to_be_bytes());
    b.extend_from_slice(&((49 + records.len()) as i32).to_be_bytes());
    b.extend_from_slice(&2i32.to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]); // CRC, patched below
    b.extend_from_slice(&0i16.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes()); // last offset delta
    b.extend_from_slice(&1_000i64.to_be_bytes()); // base timestamp
    b.extend_from_slice(&1_000i64.to_be_bytes()); // max timestamp (990 < 1000)
    b.extend_from_slice(&1_000i64.to_be_bytes()); // producer id
    b.extend_from_slice(&3i16.to_be_bytes());
    b.extend_from_slice(&7i32.to_be_bytes());
    b.extend_from_slice(&2i32.to_be_bytes());
    b.extend_from_slice(&records);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

const HAND_MADE_CASE: &str = r#"{"name":"hand-made","file":"batches/hand.bin","compression":"none",
  "base_offset":5,"partition_leader_epoch":2,"producer_id":1000,"producer_epoch":3,"base_sequence":7,
  "transactional":false,"control":false,"timestamp_type":"create",
  "records":[{"offset_delta":0,"timestamp":1000,"key":"6b","value":"7631","headers":[{"key":"h","value":"78"}]},
             {"offset_delta":1,"timestamp":990,"key":null,"value":null,"headers":[]}]}"#;

fn write_fixture(dir: &Path, cases: &str) {
    std::fs::create_dir_all(dir.join("batches")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("batches/hand.bin"), hand_made_batch())
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("cases.json"), cases).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn runner_accepts_a_hand_made_fixture() {
    let tmp = TempDir::new("ok");
    // A second, gzip case: its file is produced by our encoder (the runner only decodes it and
    // checks our own re-encoding decodes identically).
    let mut enc = RecordBatchEncoder::new();
    let mut out = BytesMut::new();
    let params = BatchParams {
        compression: Compression::Gzip,
        timestamp_type: TimestampType::LogAppendTime,
        log_append_time: 5_000,
        ..BatchParams::default()
    };
    let mut w = enc
        .start(&mut out, params)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(w.append(0, 10, None, Some(b"abc"), &[]).is_ok());
    assert!(w.finish().is_ok());
    std::fs::create_dir_all(tmp.0.join("batches")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(tmp.0.join("batches/gz.bin"), &out).unwrap_or_else(|e| panic!("{e}"));
    let gz = r#"{"name":"gz","file":"batches/gz.bin","compression":"gzip","base_offset":0,
      "partition_leader_epoch":-1,"producer_id":-1,"producer_epoch":-1,"base_sequence":-1,
      "transactional":false,"control":false,"timestamp_type":"log_append",
      "records":[{"offset_delta":0,"timestamp":10,"key":null,"value":"616263","headers":[]}]}"#;
    write_fixture(&tmp.0, &format!("[{HAND_MADE_CASE},{gz}]"));
    assert_eq!(run_dir(&tmp.0), Ok(2));
}

#[test]
fn runner_fails_on_missing_empty_or_wrong_manifests() {
    let tmp = TempDir::new("bad");
    assert!(run_dir(&tmp.0).is_err(), "missing cases.json must fail");
    write_fixture(&tmp.0, "[]");
    assert!(run_dir(&tmp.0).is_err(), "empty cases.json must fail");
    // A manifest that disagrees with the bytes (value, then producer epoch) must fail.
    write_fixture(
        &tmp.0,
        &format!("[{}]", HAND_MADE_CASE.replace("\"7631\"", "\"7632\"")),
    );
    assert!(run_dir(&tmp.0).is_err());
    write_fixture(
        &tmp.0,
        &format!(
            "[{}]",
            HAND_MADE_CASE.replace("\"producer_epoch\":3", "\"producer_epoch\":4")
        ),
    );
    assert!(run_dir(&tmp.0).is_err());
    // Bytes differing from what our encoder writes (a flipped, CRC-fixed attribute bit of the
    // unused record attributes) must fail the byte-identity check.
    write_fixture(&tmp.0, &format!("[{HAND_MADE_CASE}]"));
    let mut b = hand_made_batch();
    b[62] = 1; // record 0's attributes byte
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(tmp.0.join("batches/hand.bin"), b).unwrap_or_else(|e| panic!("{e}"));
    let e = run_dir(&tmp.0).err().unwrap_or_default();
    // The first difference is the CRC (byte 17), which covers the changed byte.
    assert!(e.contains("differs from Java's at byte 17"), "{e}");
}

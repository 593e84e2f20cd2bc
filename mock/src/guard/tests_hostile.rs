//! Hostile bodies: huge counts and lengths, random mutations; and what the guard costs.

use super::gen::{self, for_request, guard_then_decode, uvarint, Len, Outcome};
use super::{built, check_request, request};
use kafka_protocol::messages::*;
use std::time::Instant;

/// `body` with the length or count prefix at `at` set to a value no body can back.
fn with_huge(body: &[u8], at: usize, len: Len) -> Vec<u8> {
    let mut out = body[..at].to_vec();
    let rest = match len {
        Len::I16 => {
            out.extend_from_slice(&i16::MAX.to_be_bytes());
            &body[at + 2..]
        }
        Len::I32 => {
            out.extend_from_slice(&0x7fff_ffff_i32.to_be_bytes());
            &body[at + 4..]
        }
        Len::Compact => {
            let mut end = at;
            while body[end] & 0x80 != 0 {
                end += 1;
            }
            uvarint(&mut out, 0x8000_0000);
            &body[end + 1..]
        }
    };
    out.extend_from_slice(rest);
    out
}

#[test]
fn a_huge_count_or_length_anywhere_is_refused() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut refused = 0;
    // Metadata, Produce, Fetch, OffsetCommit, JoinGroup, CreateTopics.
    for key in [3, 0, 1, 8, 11, 19] {
        let Some(req) = request(key) else {
            panic!("no table for {key}");
        };
        for version in req.min_version..=req.max_version {
            for _ in 0..6 {
                let body = gen::body(&mut rng, req.body, version);
                for &(at, len) in &body.lengths {
                    let hostile = with_huge(&body.bytes, at, len);
                    // Refused by the guard, so the decoder never sees it.
                    let outcome = for_request!(key, guard_then_decode(key, version, &hostile));
                    assert_eq!(outcome, Outcome::Refused, "{} v{version} at {at}", req.name);
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 1000, "{refused}");
}

#[test]
fn the_classic_abort_bodies_are_refused_with_a_useful_reason() {
    // Metadata v12: topics = 0x7fffffff (compact: count + 1), then the two booleans and tags.
    let mut metadata = Vec::new();
    uvarint(&mut metadata, 0x8000_0000);
    metadata.extend_from_slice(&[1, 0, 0]);
    let err = check_request(3, 12, &metadata).unwrap_err();
    assert!(
        err.starts_with("Metadata v12 request at topics: 2147483647 elements"),
        "{err}"
    );
    // Metadata v1: topics int32 count.
    let err = check_request(3, 1, &[0x7f, 0xff, 0xff, 0xff]).unwrap_err();
    assert!(err.contains("at topics"), "{err}");
    // Produce v3: null transactional id, acks, timeout, topic_data = 0x7fffffff.
    let produce = [0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0x7f, 0xff, 0xff, 0xff];
    let err = check_request(0, 3, &produce).unwrap_err();
    assert!(err.contains("at topic_data"), "{err}");
    // Produce v9: a partition's records claim 2 GiB.
    let body = built::produce(9, 10);
    let at = body.len() - 14; // records: compact length 11, 10 bytes, 3 empty tag sections
    assert_eq!(body[at], 11);
    let err = check_request(0, 9, &with_huge(&body, at, Len::Compact)).unwrap_err();
    assert!(err.contains("records"), "{err}");
    // Fetch v12: the known tagged field cluster_id declares more bytes than its value takes.
    let mut fetch = built::fetch(12, 0, 0);
    let n = fetch.len();
    assert_eq!(
        &fetch[n - 11..n - 7],
        &[1, 0, 8, 8],
        "one tagged field: tag 0, size 8"
    );
    fetch[n - 9] = 9;
    fetch.push(0);
    let err = check_request(1, 12, &fetch).unwrap_err();
    assert!(err.contains("cluster_id"), "{err}");
}

/// 2,000 random mutations (bit flips, truncations, count bumps) of valid requests of every
/// served type, through the guard and the decoder: nothing panics, nothing aborts.
#[test]
fn random_mutations_never_panic() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut outcomes = [0usize; 3];
    for _ in 0..2_000 {
        let req = &super::tables::REQUESTS[rng.usize(..super::tables::REQUESTS.len())];
        let version = rng.i16(req.min_version..=req.max_version);
        let body = gen::body(&mut rng, req.body, version);
        let mut bytes = body.bytes;
        match rng.u8(..3) {
            0 => {
                for _ in 0..rng.usize(1..4) {
                    if !bytes.is_empty() {
                        let i = rng.usize(..bytes.len());
                        bytes[i] ^= 1 << rng.u8(..8);
                    }
                }
            }
            1 => bytes.truncate(rng.usize(..=bytes.len())),
            _ => {
                if let Some(&(at, len)) = body.lengths.get(rng.usize(..body.lengths.len().max(1))) {
                    bytes = match rng.u8(..3) {
                        0 => with_huge(&bytes, at, len),
                        // Bump the low byte of the prefix: a count a little too large.
                        _ => {
                            let low = match len {
                                Len::I16 => at + 1,
                                Len::I32 => at + 3,
                                Len::Compact => at,
                            };
                            bytes[low] = bytes[low].wrapping_add(rng.u8(1..4));
                            bytes
                        }
                    };
                }
            }
        }
        let outcome = for_request!(req.api_key, guard_then_decode(req.api_key, version, &bytes));
        outcomes[match outcome {
            Outcome::Refused => 0,
            Outcome::DecodeError => 1,
            Outcome::Decoded(_) => 2,
        }] += 1;
    }
    eprintln!("refused / accepted-undecodable / decoded: {outcomes:?}");
    assert!(outcomes[0] > 500 && outcomes[2] > 100, "{outcomes:?}");
}

/// What the guard costs per request (printed; `--nocapture` shows it): a 1 MB Produce and a
/// Fetch of 10 topics × 10 partitions, beside kafka-protocol's decoding of the same bodies.
#[test]
fn cost_of_the_guard() {
    fn time(n: u32, mut f: impl FnMut()) -> f64 {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
    }
    let produce = built::produce(9, 350_000); // 3 partitions: 1.05 MB
    let fetch = built::fetch(12, 10, 10);
    for (name, key, version, body) in [
        ("Produce v9, 1 MB", 0, 9, &produce),
        ("Fetch v12, 100 partitions", 1, 12, &fetch),
    ] {
        let guard = time(2_000, || assert!(check_request(key, version, body).is_ok()));
        let bytes = bytes::Bytes::copy_from_slice(body);
        let decode = time(2_000, || {
            let decoded = for_request!(key, decode_only(version, bytes.clone()));
            assert!(decoded);
        });
        eprintln!(
            "{name} ({} bytes): guard {guard:.0} ns, kafka-protocol decode {decode:.0} ns",
            body.len()
        );
    }
}

fn decode_only<R: kafka_protocol::protocol::Decodable>(
    version: i16,
    mut body: bytes::Bytes,
) -> bool {
    R::decode(&mut body, version).is_ok()
}

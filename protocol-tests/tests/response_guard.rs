//! Proof for the response guard (`ferrokafka::__private::protocol::guard`):
//!
//! (a) hand-made hostile bodies (counts and lengths that would make kafka-protocol allocate
//!     gigabytes and abort) are rejected;
//! (b) no false positives: random *valid* bodies for every covered response type and every
//!     version kafka-protocol supports are accepted, decode completely, re-encode, and decode back
//!     to an equal value — which also cross-checks every schema table against kafka-protocol's
//!     own decoder; plus hand-built kafka-protocol values encoded by kafka-protocol itself;
//! (c) every strict prefix of a valid body is rejected by the guard, and nothing panics;
//! (d) random and mutated bodies never panic, and whenever the guard accepts, decoding makes no
//!     allocation larger than a small multiple of the body (measured by a tracking allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;

use bytes::{Buf, Bytes, BytesMut};
use ferrokafka::__private::protocol::guard::{check_response, covered_responses, decode_response};
use ferrokafka::ErrorKind;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Message, StrBytes};
use proptest::prelude::*;

#[path = "response_guard/body_gen.rs"]
mod body_gen;
use body_gen::{all_pairs, gen_body, Rng};

// ---------------------------------------------------------------------------------------------
// Allocation tracking: the largest single allocation made on the current thread.

/// Wraps the system allocator and records, per thread, the largest allocation requested.
struct Tracking;

thread_local! {
    // A const-initialised Cell needs no lazy init or destructor, so touching it from inside the
    // allocator cannot recurse into the allocator.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| {
        if size > c.get() {
            c.set(size);
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; `note` only
// reads and writes a thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `f` and returns the largest single allocation it made on this thread.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.with(|c| c.set(0));
    f();
    LARGEST.with(|c| c.get())
}

/// What decoding an accepted body of `len` bytes may allocate at most in one block: Rust structs
/// are at most a few hundred bytes for every encoded byte they need, plus fixed overhead.
fn allocation_bound(len: usize) -> usize {
    64 * 1024 + 512 * len
}

// ---------------------------------------------------------------------------------------------
// Type dispatch: one place maps api keys to kafka-protocol response types.

trait Visit {
    fn visit<T>(&mut self, api_key: i16)
    where
        T: Decodable + Encodable + Message + PartialEq + Debug;
}

fn with_type(api_key: i16, v: &mut impl Visit) {
    match api_key {
        0 => v.visit::<ProduceResponse>(api_key),
        1 => v.visit::<FetchResponse>(api_key),
        2 => v.visit::<ListOffsetsResponse>(api_key),
        3 => v.visit::<MetadataResponse>(api_key),
        8 => v.visit::<OffsetCommitResponse>(api_key),
        9 => v.visit::<OffsetFetchResponse>(api_key),
        10 => v.visit::<FindCoordinatorResponse>(api_key),
        11 => v.visit::<JoinGroupResponse>(api_key),
        12 => v.visit::<HeartbeatResponse>(api_key),
        13 => v.visit::<LeaveGroupResponse>(api_key),
        14 => v.visit::<SyncGroupResponse>(api_key),
        15 => v.visit::<DescribeGroupsResponse>(api_key),
        16 => v.visit::<ListGroupsResponse>(api_key),
        17 => v.visit::<SaslHandshakeResponse>(api_key),
        18 => v.visit::<ApiVersionsResponse>(api_key),
        19 => v.visit::<CreateTopicsResponse>(api_key),
        20 => v.visit::<DeleteTopicsResponse>(api_key),
        21 => v.visit::<DeleteRecordsResponse>(api_key),
        22 => v.visit::<InitProducerIdResponse>(api_key),
        23 => v.visit::<OffsetForLeaderEpochResponse>(api_key),
        24 => v.visit::<AddPartitionsToTxnResponse>(api_key),
        25 => v.visit::<AddOffsetsToTxnResponse>(api_key),
        26 => v.visit::<EndTxnResponse>(api_key),
        28 => v.visit::<TxnOffsetCommitResponse>(api_key),
        29 => v.visit::<DescribeAclsResponse>(api_key),
        30 => v.visit::<CreateAclsResponse>(api_key),
        31 => v.visit::<DeleteAclsResponse>(api_key),
        32 => v.visit::<DescribeConfigsResponse>(api_key),
        33 => v.visit::<AlterConfigsResponse>(api_key),
        35 => v.visit::<DescribeLogDirsResponse>(api_key),
        36 => v.visit::<SaslAuthenticateResponse>(api_key),
        37 => v.visit::<CreatePartitionsResponse>(api_key),
        42 => v.visit::<DeleteGroupsResponse>(api_key),
        43 => v.visit::<ElectLeadersResponse>(api_key),
        44 => v.visit::<IncrementalAlterConfigsResponse>(api_key),
        47 => v.visit::<OffsetDeleteResponse>(api_key),
        60 => v.visit::<DescribeClusterResponse>(api_key),
        61 => v.visit::<DescribeProducersResponse>(api_key),
        65 => v.visit::<DescribeTransactionsResponse>(api_key),
        66 => v.visit::<ListTransactionsResponse>(api_key),
        68 => v.visit::<ConsumerGroupHeartbeatResponse>(api_key),
        69 => v.visit::<ConsumerGroupDescribeResponse>(api_key),
        76 => v.visit::<ShareGroupHeartbeatResponse>(api_key),
        77 => v.visit::<ShareGroupDescribeResponse>(api_key),
        78 => v.visit::<ShareFetchResponse>(api_key),
        79 => v.visit::<ShareAcknowledgeResponse>(api_key),
        90 => v.visit::<DescribeShareGroupOffsetsResponse>(api_key),
        91 => v.visit::<AlterShareGroupOffsetsResponse>(api_key),
        92 => v.visit::<DeleteShareGroupOffsetsResponse>(api_key),
        other => panic!("api key {other} is covered by the guard but not by this test"),
    }
}

/// The api keys the brief requires, first group then the rest.
const REQUIRED: &[i16] = &[
    0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18, 19, 20, 22, 15, 16, 17, 21, 23, 24, 25, 26, 28, 32,
    33, 36, 37, 42, 44, 47, 60, 68,
];

// ---------------------------------------------------------------------------------------------
// The checks, generic over the response type.

/// (b) and (c) for one valid body.
struct Roundtrip<'a> {
    version: i16,
    body: &'a [u8],
}

impl Visit for Roundtrip<'_> {
    fn visit<T>(&mut self, api_key: i16)
    where
        T: Decodable + Encodable + Message + PartialEq + Debug,
    {
        let (version, body) = (self.version, self.body);
        let ctx = format!("api {api_key} v{version} body {body:02x?}");
        if let Err(e) = check_response(api_key, version, body) {
            panic!("guard rejected a valid body ({ctx}): {e}");
        }
        // The table must describe exactly what kafka-protocol reads: it decodes all of it.
        let mut buf = Bytes::copy_from_slice(body);
        let value = T::decode(&mut buf, version).unwrap_or_else(|e| {
            panic!("kafka-protocol rejected a table-generated body ({ctx}): {e:#}")
        });
        assert_eq!(
            buf.remaining(),
            0,
            "decoder left bytes: table/decoder mismatch ({ctx})"
        );
        // Encoded by kafka-protocol itself: the guard accepts and decode_response round-trips.
        let mut encoded = BytesMut::new();
        value
            .encode(&mut encoded, version)
            .unwrap_or_else(|e| panic!("re-encode failed ({ctx}): {e:#}"));
        let encoded = encoded.freeze();
        check_response(api_key, version, &encoded).unwrap_or_else(|e| {
            panic!("guard rejected kafka-protocol's own encoding ({ctx}): {e}")
        });
        let again: T = decode_response(api_key, version, encoded)
            .unwrap_or_else(|e| panic!("decode_response failed ({ctx}): {e}"));
        assert_eq!(again, value, "round trip changed the value ({ctx})");
        // (c) every strict prefix: the guard rejects it, decode_response errors, nothing panics.
        for cut in 0..body.len() {
            let prefix = &body[..cut];
            assert!(
                check_response(api_key, version, prefix).is_err(),
                "guard accepted a truncation at {cut} ({ctx})"
            );
            let r: Result<T, _> = decode_response(api_key, version, Bytes::copy_from_slice(prefix));
            assert!(r.is_err());
        }
    }
}

/// (d) for one arbitrary body: no panic; when the guard accepts, decoding allocates little.
struct Hostile<'a> {
    version: i16,
    body: &'a [u8],
    accepted: &'a mut u64,
    /// Largest single allocation seen while decoding an accepted body, in bytes, and that body's
    /// length.
    worst: &'a mut (usize, usize),
}

impl Visit for Hostile<'_> {
    fn visit<T>(&mut self, api_key: i16)
    where
        T: Decodable + Encodable + Message + PartialEq + Debug,
    {
        let (version, body) = (self.version, self.body);
        if check_response(api_key, version, body).is_err() {
            return;
        }
        *self.accepted += 1;
        let bytes = Bytes::copy_from_slice(body);
        let largest = largest_allocation(|| {
            let _ = decode_response::<T>(api_key, version, bytes);
        });
        assert!(
            largest <= allocation_bound(body.len()),
            "api {api_key} v{version}: decoding a {}-byte accepted body allocated {largest} bytes",
            body.len()
        );
        if largest > self.worst.0 {
            *self.worst = (largest, body.len());
        }
    }
}

/// The table's version range is kafka-protocol's `VERSIONS` for the type.
struct VersionsMatch {
    min: i16,
    max: i16,
}

impl Visit for VersionsMatch {
    fn visit<T>(&mut self, api_key: i16)
    where
        T: Decodable + Encodable + Message + PartialEq + Debug,
    {
        assert_eq!(
            (self.min, self.max),
            (T::VERSIONS.min, T::VERSIONS.max),
            "api {api_key}: guard versions differ from kafka-protocol's"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (a) Hand-made hostile bodies.

/// Asserts the guard and decode_response both reject `body` as malformed.
fn assert_rejected<T: Decodable + Debug>(api_key: i16, version: i16, body: &[u8]) -> String {
    let err = check_response(api_key, version, body).expect_err("guard accepted a hostile body");
    assert_eq!(err.kind(), &ErrorKind::MalformedResponse);
    let decoded = decode_response::<T>(api_key, version, Bytes::copy_from_slice(body));
    assert!(decoded.is_err(), "decode_response accepted a hostile body");
    err.to_string()
}

const HUGE_UVARINT: [u8; 5] = [0xff, 0xff, 0xff, 0xff, 0x0f];

#[test]
fn metadata_v1_huge_broker_count_is_rejected() {
    // The 4 bytes that, decoded by kafka-protocol directly, ask for ~206 GB and abort.
    let msg = assert_rejected::<MetadataResponse>(3, 1, &[0x7f, 0xff, 0xff, 0xff]);
    assert!(msg.contains("Metadata response v1 at brokers"), "{msg}");
}

#[test]
fn metadata_hostile_counts_and_lengths_are_rejected() {
    // v9 (flexible): throttle_time_ms, then a compact broker count of 2^32 - 2.
    let mut body = vec![0, 0, 0, 0];
    body.extend_from_slice(&HUGE_UVARINT);
    assert_rejected::<MetadataResponse>(3, 9, &body);
    // v1: one broker whose host claims 32767 bytes.
    assert_rejected::<MetadataResponse>(3, 1, &[0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, b'h']);
    // v1: negative counts other than -1, and null for a non-nullable array.
    assert_rejected::<MetadataResponse>(3, 1, &[0x80, 0, 0, 0]);
    assert_rejected::<MetadataResponse>(3, 1, &[0xff, 0xff, 0xff, 0xff]);
    // v1: zero brokers, controller id, a topic with a huge partition count.
    let body = [
        0, 0, 0, 0, // brokers: 0
        0, 0, 0, 1, // controller_id
        0, 0, 0, 1, // topics: 1
        0, 0, 0, 1, b't', 0, // error_code, name "t", is_internal
        0x7f, 0xff, 0xff, 0xff, // partitions
    ];
    let msg = assert_rejected::<MetadataResponse>(3, 1, &body);
    assert!(msg.contains("topics[0].partitions"), "{msg}");
}

#[test]
fn fetch_hostile_bodies_are_rejected() {
    // v4: throttle_time_ms, topic count i32::MAX.
    assert_rejected::<FetchResponse>(1, 4, &[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
    // v12: throttle, error_code, session_id, compact topic count 2^32 - 2.
    let mut body = vec![0; 10];
    body.extend_from_slice(&HUGE_UVARINT);
    assert_rejected::<FetchResponse>(1, 12, &body);
    // v4: one topic, one partition, aborted_transactions count i32::MAX.
    let head = [
        0, 0, 0, 0, // throttle_time_ms
        0, 0, 0, 1, 0, 1, b't', // topics: 1, name "t"
        0, 0, 0, 1, // partitions: 1
        0, 0, 0, 0, 0, 0, // partition_index, error_code
        0, 0, 0, 0, 0, 0, 0, 0, // high_watermark
        0, 0, 0, 0, 0, 0, 0, 0, // last_stable_offset
    ];
    let mut body = head.to_vec();
    // Padding so the partition itself fits and the count is what gets rejected.
    body.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    let msg = assert_rejected::<FetchResponse>(1, 4, &body);
    assert!(
        msg.contains("responses[0].partitions[0].aborted_transactions"),
        "{msg}"
    );
    // Same, aborted_transactions null, records claiming i32::MAX bytes.
    let mut body = head.to_vec();
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
    let msg = assert_rejected::<FetchResponse>(1, 4, &body);
    assert!(msg.contains("records"), "{msg}");
    // The same body with records of 3 bytes is fine.
    let mut body = head.to_vec();
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 3, 1, 2, 3]);
    check_response(1, 4, &body).expect("valid fetch v4");
    let decoded: FetchResponse = decode_response(1, 4, Bytes::from(body)).expect("decodes");
    assert_eq!(
        decoded.responses[0].partitions[0].records.as_deref(),
        Some(&[1u8, 2, 3][..])
    );
}

#[test]
fn api_versions_hostile_bodies_are_rejected() {
    // v0 (what a broker answers when it does not support the requested version).
    assert_rejected::<ApiVersionsResponse>(18, 0, &[0, 35, 0x7f, 0xff, 0xff, 0xff]);
    // v3: compact api_keys count 2^32 - 2.
    let mut body = vec![0, 0];
    body.extend_from_slice(&HUGE_UVARINT);
    assert_rejected::<ApiVersionsResponse>(18, 3, &body);
    // v3: empty api_keys, throttle, then a tagged-field count of 2^32 - 1.
    let mut body = vec![0, 0, 1, 0, 0, 0, 0];
    body.extend_from_slice(&HUGE_UVARINT);
    assert_rejected::<ApiVersionsResponse>(18, 3, &body);
    // v3: known tag 0 (supported_features) whose value is a compact array of 2^32 - 2.
    let mut body = vec![0, 0, 1, 0, 0, 0, 0, 1, 0, 5];
    body.extend_from_slice(&HUGE_UVARINT);
    let msg = assert_rejected::<ApiVersionsResponse>(18, 3, &body);
    assert!(msg.contains("supported_features"), "{msg}");
    // v3: known tag 1 (an int64) declared as 4 bytes: kafka-protocol would read 8 regardless.
    let body = [0, 0, 1, 0, 0, 0, 0, 1, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_rejected::<ApiVersionsResponse>(18, 3, &body);
    // v3: an unknown tag whose size runs past the end.
    let body = [0, 0, 1, 0, 0, 0, 0, 1, 9, 0x7f, 0];
    assert_rejected::<ApiVersionsResponse>(18, 3, &body);
    // v0 with one api and v3 with a known tag: accepted and decoded.
    let body = [0, 0, 0, 0, 0, 1, 0, 3, 0, 0, 0, 12];
    let v0: ApiVersionsResponse =
        decode_response(18, 0, Bytes::copy_from_slice(&body)).expect("v0");
    assert_eq!(v0.api_keys[0].max_version, 12);
    let body = [0, 0, 1, 0, 0, 0, 0, 1, 3, 1, 1];
    let v3: ApiVersionsResponse =
        decode_response(18, 3, Bytes::copy_from_slice(&body)).expect("v3");
    assert!(v3.zk_migration_ready);
}

#[test]
fn produce_hostile_bodies_are_rejected() {
    assert_rejected::<ProduceResponse>(0, 3, &[0x7f, 0xff, 0xff, 0xff]);
    assert_rejected::<ProduceResponse>(0, 9, &HUGE_UVARINT);
    // v3: one topic "t" whose partition count is i32::MAX.
    let body = [0, 0, 0, 1, 0, 1, b't', 0x7f, 0xff, 0xff, 0xff];
    assert_rejected::<ProduceResponse>(0, 3, &body);
}

#[test]
fn every_covered_type_rejects_a_huge_leading_count_or_short_body() {
    // A body of 0x7f/0xff bytes puts huge values in the first count or length of every type.
    for (api_key, version) in all_pairs() {
        for body in [&[0x7f, 0xff, 0xff, 0xff, 0xff][..], &[0xff; 5][..], &[][..]] {
            let mut v = Hostile {
                version,
                body,
                accepted: &mut 0,
                worst: &mut (0, 0),
            };
            with_type(api_key, &mut v);
        }
    }
}

#[test]
fn uncovered_api_keys_and_versions_are_rejected() {
    for api_key in [4, 5, 6, 7, 27, 29, 50, 1000, -1] {
        assert!(
            check_response(api_key, 0, &[0; 32]).is_err(),
            "api key {api_key}"
        );
    }
    for r in covered_responses() {
        assert!(check_response(r.api_key, r.body.min_version - 1, &[0; 256]).is_err());
        assert!(check_response(r.api_key, r.body.max_version + 1, &[0; 256]).is_err());
    }
}

#[test]
fn covers_every_required_api_with_kafka_protocols_versions() {
    let covered: Vec<i16> = covered_responses().iter().map(|r| r.api_key).collect();
    for key in REQUIRED {
        assert!(covered.contains(key), "api key {key} is not guarded");
    }
    for r in covered_responses() {
        let mut v = VersionsMatch {
            min: r.body.min_version,
            max: r.body.max_version,
        };
        with_type(r.api_key, &mut v);
    }
}

// ---------------------------------------------------------------------------------------------
// (b) + (c): valid bodies.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every covered type × every version, one random populated body each per case.
    #[test]
    fn valid_bodies_are_accepted_and_round_trip(seed in any::<u64>()) {
        for (api_key, version) in all_pairs() {
            let body = gen_body(api_key, version, seed);
            with_type(api_key, &mut Roundtrip { version, body: &body });
        }
    }

    /// (d) arbitrary bytes for a random type and version.
    #[test]
    fn arbitrary_bodies_never_panic_or_over_allocate(
        pick in any::<prop::sample::Index>(),
        body in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let pairs = all_pairs();
        let (api_key, version) = pairs[pick.index(pairs.len())];
        with_type(api_key, &mut Hostile { version, body: &body, accepted: &mut 0, worst: &mut (0, 0) });
    }

    /// (d) valid bodies with a few bytes overwritten by count-like values.
    #[test]
    fn mutated_bodies_never_panic_or_over_allocate(
        pick in any::<prop::sample::Index>(),
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec![0x00u8, 0x01, 0x7f, 0x80, 0xff, 0x0f])), 1..4),
    ) {
        let pairs = all_pairs();
        let (api_key, version) = pairs[pick.index(pairs.len())];
        let mut body = gen_body(api_key, version, seed);
        if !body.is_empty() {
            for (at, byte) in &edits {
                let i = at.index(body.len());
                body[i] = *byte;
            }
        }
        with_type(api_key, &mut Hostile { version, body: &body, accepted: &mut 0, worst: &mut (0, 0) });
    }
}

/// Deterministic sweep of (d) over every type and version, reporting how many hostile bodies
/// the guard let through (each of which was then decoded under the allocation bound).
#[test]
fn hostile_sweep_over_every_type_and_version() {
    let mut rng = Rng(0x5eed);
    let (mut tried, mut accepted, mut worst) = (0u64, 0u64, (0usize, 0usize));
    for (api_key, version) in all_pairs() {
        for round in 0..200u64 {
            let body: Vec<u8> = if round % 2 == 0 {
                let len = rng.below(64) as usize;
                (0..len).map(|_| rng.next() as u8).collect()
            } else {
                let mut body = gen_body(api_key, version, rng.next());
                for _ in 0..=rng.below(3) {
                    if body.is_empty() {
                        break;
                    }
                    let i = rng.below(body.len() as u64) as usize;
                    body[i] = [0x7f, 0xff, 0x80, 0x00, 0x01][rng.below(5) as usize];
                }
                body
            };
            tried += 1;
            with_type(
                api_key,
                &mut Hostile {
                    version,
                    body: &body,
                    accepted: &mut accepted,
                    worst: &mut worst,
                },
            );
        }
    }
    eprintln!("hostile sweep: {tried} bodies over {} type/versions, {accepted} accepted by the guard and decoded; largest single allocation {} bytes (for a {}-byte body)", all_pairs().len(), worst.0, worst.1);
    assert!(
        accepted > 0,
        "the sweep should include accepted (mutated but valid) bodies"
    );
}

// ---------------------------------------------------------------------------------------------
// (b) again, independently of the tables: values built with kafka-protocol's own builders
// (nested structs, nullable fields set and null, known tagged fields present), encoded by
// kafka-protocol at every version that can carry them.

/// Encodes `value` at every version kafka-protocol can encode it in; the guard must accept each
/// encoding and decode_response must give back what kafka-protocol decodes. Returns how many
/// versions were checked.
fn accepts_own_encodings<T>(api_key: i16, value: &T) -> usize
where
    T: Decodable + Encodable + Message + PartialEq + Debug,
{
    let mut checked = 0;
    for version in T::VERSIONS.min..=T::VERSIONS.max {
        let mut buf = BytesMut::new();
        if value.encode(&mut buf, version).is_err() {
            continue; // the value uses a field this version cannot carry
        }
        let body = buf.freeze();
        if let Err(e) = check_response(api_key, version, &body) {
            panic!("guard rejected kafka-protocol's encoding of api {api_key} v{version}: {e}");
        }
        let expected = T::decode(&mut body.clone(), version).expect("kafka-protocol decodes");
        let got: T = decode_response(api_key, version, body).expect("decode_response");
        assert_eq!(got, expected);
        checked += 1;
    }
    checked
}

fn s(text: &'static str) -> StrBytes {
    StrBytes::from_static_str(text)
}

#[test]
fn builder_made_metadata_responses_are_accepted() {
    use kafka_protocol::messages::metadata_response::*;
    let partition = MetadataResponsePartition::default()
        .with_partition_index(3)
        .with_leader_id(BrokerId(1))
        .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
        .with_isr_nodes(vec![BrokerId(1)]);
    let topic = MetadataResponseTopic::default()
        .with_name(Some(TopicName(s("orders"))))
        .with_partitions(vec![
            partition.clone(),
            partition.clone().with_partition_index(4),
        ]);
    let broker = MetadataResponseBroker::default()
        .with_node_id(BrokerId(1))
        .with_host(s("broker-1"))
        .with_port(9092);
    let old = MetadataResponse::default()
        .with_brokers(vec![
            broker.clone(),
            broker.clone().with_node_id(BrokerId(2)),
        ])
        .with_topics(vec![topic.clone()]);
    assert_eq!(accepts_own_encodings(3, &old), 14);
    let new = old
        .with_brokers(vec![broker.with_rack(Some(s("rack-a")))])
        .with_cluster_id(Some(s("cluster")))
        .with_topics(vec![
            topic
                .with_partitions(vec![partition.with_offline_replicas(vec![BrokerId(2)])])
                .with_topic_authorized_operations(7),
            MetadataResponseTopic::default().with_name(None),
        ]);
    assert!(accepts_own_encodings(3, &new) >= 5);
}

#[test]
fn builder_made_fetch_responses_with_tagged_fields_are_accepted() {
    use kafka_protocol::messages::fetch_response::*;
    let partition = PartitionData::default()
        .with_partition_index(1)
        .with_high_watermark(100)
        .with_aborted_transactions(Some(vec![AbortedTransaction::default()
            .with_producer_id(ProducerId(7))
            .with_first_offset(50)]))
        .with_records(Some(Bytes::from_static(b"not-really-a-record-batch")));
    let old = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(s("t")))
        .with_partitions(vec![
            partition.clone(),
            partition
                .clone()
                .with_aborted_transactions(None)
                .with_records(None),
        ])]);
    assert!(accepts_own_encodings(1, &old) >= 9);
    let tagged = partition
        .with_diverging_epoch(EpochEndOffset::default().with_epoch(3).with_end_offset(90))
        .with_current_leader(
            LeaderIdAndEpoch::default()
                .with_leader_id(BrokerId(2))
                .with_leader_epoch(4),
        )
        .with_snapshot_id(SnapshotId::default().with_end_offset(5).with_epoch(6));
    let by_id = FetchResponse::default()
        .with_responses(vec![
            FetchableTopicResponse::default().with_partitions(vec![tagged.clone()])
        ])
        .with_node_endpoints(vec![NodeEndpoint::default()
            .with_node_id(BrokerId(2))
            .with_host(s("broker-2"))
            .with_port(9093)
            .with_rack(Some(s("rack-b")))]);
    assert!(accepts_own_encodings(1, &by_id) >= 3);
    let by_name = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(s("t")))
        .with_partitions(vec![tagged])]);
    assert!(accepts_own_encodings(1, &by_name) >= 1);
}

#[test]
fn builder_made_api_versions_and_heartbeat_responses_are_accepted() {
    use kafka_protocol::messages::api_versions_response::*;
    let api_versions = ApiVersionsResponse::default()
        .with_api_keys(vec![ApiVersion::default()
            .with_api_key(3)
            .with_max_version(12)])
        .with_throttle_time_ms(1);
    assert_eq!(accepts_own_encodings(18, &api_versions), 5);
    let with_features = api_versions
        .with_supported_features(vec![SupportedFeatureKey::default()
            .with_name(s("metadata.version"))
            .with_max_version(20)])
        .with_finalized_features_epoch(9)
        .with_finalized_features(vec![FinalizedFeatureKey::default()
            .with_name(s("metadata.version"))
            .with_max_version_level(20)])
        .with_zk_migration_ready(true);
    assert!(accepts_own_encodings(18, &with_features) >= 2);

    use kafka_protocol::messages::consumer_group_heartbeat_response::*;
    let heartbeat = ConsumerGroupHeartbeatResponse::default()
        .with_member_id(Some(s("member-1")))
        .with_assignment(Some(Assignment::default().with_topic_partitions(vec![
            TopicPartitions::default().with_partitions(vec![0, 1, 2]),
        ])));
    assert_eq!(accepts_own_encodings(68, &heartbeat), 2); // v0-1
    let empty = ConsumerGroupHeartbeatResponse::default().with_error_message(Some(s("no")));
    assert_eq!(accepts_own_encodings(68, &empty), 2); // v0-1
}

/// Writes a small seed corpus for the `response_decode` fuzz target (one valid body per type and
/// version, in the target's input format) into `$FUZZ_SEED_DIR`. Run on demand:
/// `FUZZ_SEED_DIR=/tmp/seeds cargo test -p ferrokafka-protocol-tests --test response_guard -- --ignored write_fuzz_seeds`
#[test]
#[ignore = "writes files; run on demand to seed the fuzzer"]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("FUZZ_SEED_DIR") else {
        return;
    };
    std::fs::create_dir_all(&dir).expect("create seed dir");
    for (pick, r) in covered_responses().iter().enumerate() {
        for version in r.body.min_version..=r.body.max_version {
            for seed in 0..2u64 {
                // The target maps byte b to version min - 1 + b % (max - min + 3).
                let mut input = vec![pick as u8, (version - r.body.min_version + 1) as u8];
                input.extend(gen_body(r.api_key, version, seed));
                let name = format!("api{}-v{version}-{seed}", r.api_key);
                std::fs::write(std::path::Path::new(&dir).join(name), input).expect("write seed");
            }
        }
    }
}

//! Fuzzes guarded response decoding: the first byte picks a covered response type, the second a
//! version, the rest is the body. Run with `-malloc_limit_mb=512` so that any allocation the
//! guard failed to prevent is reported as a crash:
//!
//! ```text
//! cd protocol-tests/fuzz
//! FUZZ_SEED_DIR=$PWD/corpus/response_decode cargo test -p ferrokafka-protocol-tests \
//!     --test response_guard -- --ignored write_fuzz_seeds   # optional seed corpus
//! cargo +nightly fuzz run response_decode -- -runs=1000000 -rss_limit_mb=2048 -malloc_limit_mb=512
//! ```
#![no_main]

use bytes::Bytes;
use ferrokafka::__private::protocol::guard::{covered_responses, decode_response};
use kafka_protocol::messages::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [pick, version, body @ ..] = data else {
        return;
    };
    let responses = covered_responses();
    let Some(schema) = responses.get(usize::from(*pick) % responses.len()) else {
        return;
    };
    // Versions slightly outside the supported range are exercised too.
    let span = schema.body.max_version - schema.body.min_version + 3;
    let version = schema.body.min_version - 1 + i16::from(*version) % span;
    decode(schema.api_key, version, Bytes::copy_from_slice(body));
});

fn decode(api_key: i16, version: i16, body: Bytes) {
    macro_rules! by_key {
        ($($key:literal => $ty:ty,)*) => {
            match api_key {
                $($key => { let _ = decode_response::<$ty>(api_key, version, body); })*
                _ => {}
            }
        };
    }
    by_key! {
        0 => ProduceResponse,
        1 => FetchResponse,
        2 => ListOffsetsResponse,
        3 => MetadataResponse,
        8 => OffsetCommitResponse,
        9 => OffsetFetchResponse,
        10 => FindCoordinatorResponse,
        11 => JoinGroupResponse,
        12 => HeartbeatResponse,
        13 => LeaveGroupResponse,
        14 => SyncGroupResponse,
        15 => DescribeGroupsResponse,
        16 => ListGroupsResponse,
        17 => SaslHandshakeResponse,
        18 => ApiVersionsResponse,
        19 => CreateTopicsResponse,
        20 => DeleteTopicsResponse,
        21 => DeleteRecordsResponse,
        22 => InitProducerIdResponse,
        23 => OffsetForLeaderEpochResponse,
        24 => AddPartitionsToTxnResponse,
        25 => AddOffsetsToTxnResponse,
        26 => EndTxnResponse,
        28 => TxnOffsetCommitResponse,
        29 => DescribeAclsResponse,
        30 => CreateAclsResponse,
        31 => DeleteAclsResponse,
        32 => DescribeConfigsResponse,
        33 => AlterConfigsResponse,
        35 => DescribeLogDirsResponse,
        36 => SaslAuthenticateResponse,
        37 => CreatePartitionsResponse,
        42 => DeleteGroupsResponse,
        43 => ElectLeadersResponse,
        44 => IncrementalAlterConfigsResponse,
        47 => OffsetDeleteResponse,
        60 => DescribeClusterResponse,
        61 => DescribeProducersResponse,
        65 => DescribeTransactionsResponse,
        66 => ListTransactionsResponse,
        68 => ConsumerGroupHeartbeatResponse,
        69 => ConsumerGroupDescribeResponse,
    }
}

//! ApiVersions: the APIs and versions the mock serves. Each range is one the mock implements
//! fully; it overlaps what librdkafka 2.x, the Java 4.x client and ferrokafka ask for (KIP-896's
//! floors: Produce v3, Fetch v4, ListOffsets v1, OffsetCommit v2, OffsetFetch v1).

use crate::log::code;
use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;

/// API → served (min, max). Caps below Kafka 4.x's maxima, with why:
/// - Produce ≤ 11, Fetch ≤ 12, OffsetCommit / OffsetFetch ≤ 9 (v9 carries the KIP-848 member
///   epoch; v10 addresses topics by id only, and kafka-protocol 0.18 stops at 9).
/// - ListOffsets ≤ 7: v8+ ask for tiered-storage offsets.
/// - Transactions are version 1 (KIP-98; the `transaction.version` feature is not advertised):
///   AddPartitionsToTxn ≤ 3 (v4+ is the brokers' verification API), EndTxn ≤ 4 and
///   TxnOffsetCommit ≤ 4 (v5 is transaction version 2).
/// - SaslHandshake and SaslAuthenticate on every listener, as Kafka advertises them; outside a
///   SASL listener's authentication they are answered with ILLEGAL_SASL_STATE (`auth/`).
/// - FindCoordinator ≤ 4 (v6 adds share-group keys), DescribeGroups ≤ 5, DescribeCluster ≤ 1.
const SERVED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 4),
    (ApiKey::TxnOffsetCommit, 0, 4),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
];

/// `group.version` 1 (KIP-848's consumer groups), supported and finalized, as Kafka 4.x
/// advertises it; the APIs above are what clients look for.
const GROUP_VERSION: &str = "group.version";

/// The versions of `key` served, `None` if the API is not.
pub(crate) fn range(key: ApiKey) -> Option<(i16, i16)> {
    SERVED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, min, max)| (*min, *max))
}

fn api_keys() -> Vec<ApiVersion> {
    SERVED
        .iter()
        .map(|(k, min, max)| {
            ApiVersion::default()
                .with_api_key(*k as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect()
}

/// The ApiVersions answer (features from v3).
pub(crate) fn response() -> ApiVersionsResponse {
    let name = StrBytes::from_static_str(GROUP_VERSION);
    ApiVersionsResponse::default()
        .with_api_keys(api_keys())
        .with_supported_features(vec![SupportedFeatureKey::default()
            .with_name(name.clone())
            .with_min_version(0)
            .with_max_version(1)])
        .with_finalized_features_epoch(1)
        .with_finalized_features(vec![FinalizedFeatureKey::default()
            .with_name(name)
            .with_min_version_level(1)
            .with_max_version_level(1)])
}

/// The answer to an ApiVersions request of a version above the mock's: v0 with
/// UNSUPPORTED_VERSION and the served ranges, so the client retries at a version both know.
pub(crate) fn unsupported() -> Option<bytes::BytesMut> {
    let resp = ApiVersionsResponse::default()
        .with_error_code(code::UNSUPPORTED_VERSION)
        .with_api_keys(api_keys());
    crate::server::encode(&resp, 0).ok().flatten()
}

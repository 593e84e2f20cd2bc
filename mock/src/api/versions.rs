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
/// - Produce ≤ 12, Fetch ≤ 12, OffsetCommit / OffsetFetch ≤ 9 (v9 carries the KIP-848 member
///   epoch; v10 addresses topics by id only, and kafka-protocol 0.18 stops at 9).
/// - ListOffsets ≤ 7: v8+ ask for tiered-storage offsets.
/// - Transactions: both versions, as Kafka 4.x serves them (the request version picks the
///   dialect; clients pick it from the finalized `transaction.version`): Produce v12, EndTxn v5
///   and TxnOffsetCommit v5 are transaction version 2; AddPartitionsToTxn ≤ 3 (v4+ is the
///   brokers' verification API, which no client sends).
/// - UpdateFeatures ≤ 1 (v2 drops the per-feature results); only `transaction.version`.
/// - SaslHandshake and SaslAuthenticate on every listener, as Kafka advertises them; outside a
///   SASL listener's authentication they are answered with ILLEGAL_SASL_STATE (`auth/`).
/// - FindCoordinator ≤ 4 (v6 adds share-group keys), DescribeGroups ≤ 5, DescribeCluster ≤ 1.
const SERVED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 12),
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
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::UpdateFeatures, 0, 1),
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

/// The feature that selects the transaction dialect (KIP-890), with the levels Kafka 4.x
/// supports.
pub(crate) const TRANSACTION_VERSION: &str = "transaction.version";
pub(crate) const TRANSACTION_VERSION_MAX: i16 = 2;

/// The ApiVersions answer; from v3 with the features: `group.version` 1 (supported 0-1,
/// finalized 1) and `transaction.version` (supported 0-2, finalized at `transaction_version`;
/// a level-0 feature is not listed as finalized, as Kafka leaves it out), at `epoch` (the
/// metadata offset of the feature record on a real cluster: it grows with every change).
pub(crate) fn response(transaction_version: i16, epoch: i64) -> ApiVersionsResponse {
    let group = StrBytes::from_static_str(GROUP_VERSION);
    let txn = StrBytes::from_static_str(TRANSACTION_VERSION);
    let supported = vec![
        SupportedFeatureKey::default()
            .with_name(group.clone())
            .with_min_version(0)
            .with_max_version(1),
        SupportedFeatureKey::default()
            .with_name(txn.clone())
            .with_min_version(0)
            .with_max_version(TRANSACTION_VERSION_MAX),
    ];
    let mut finalized = vec![FinalizedFeatureKey::default()
        .with_name(group)
        .with_min_version_level(1)
        .with_max_version_level(1)];
    if transaction_version > 0 {
        finalized.push(
            FinalizedFeatureKey::default()
                .with_name(txn)
                .with_min_version_level(transaction_version)
                .with_max_version_level(transaction_version),
        );
    }
    ApiVersionsResponse::default()
        .with_api_keys(api_keys())
        .with_supported_features(supported)
        .with_finalized_features_epoch(epoch)
        .with_finalized_features(finalized)
}

/// The answer to an ApiVersions request of a version above the mock's: v0 with
/// UNSUPPORTED_VERSION and the served ranges, so the client retries at a version both know.
pub(crate) fn unsupported() -> Option<bytes::BytesMut> {
    let resp = ApiVersionsResponse::default()
        .with_error_code(code::UNSUPPORTED_VERSION)
        .with_api_keys(api_keys());
    crate::server::encode(&resp, 0).ok().flatten()
}

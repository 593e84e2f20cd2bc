//! The `transaction.version` feature on the wire: ApiVersions v3 reports it supported (0-2) and
//! finalized at the configured level, UpdateFeatures moves it under the controller's rules
//! (downgrades only when asked for, levels within range, all or nothing), and the epoch grows.

mod common;
use common::{call, s};
use ferrokafka_mock::{MockCluster, MockConfig};
use kafka_protocol::messages::update_features_request::FeatureUpdateKey;
use kafka_protocol::messages::*;
use tokio::net::TcpStream;

const INVALID_UPDATE_VERSION: i16 = 95;

/// (finalized level, if listed; finalized epoch; supported range) from ApiVersions v3.
async fn features(conn: &mut TcpStream) -> (Option<i16>, i64, (i16, i16)) {
    let r: ApiVersionsResponse = call(
        conn,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default()
            .with_client_software_name(s("wire"))
            .with_client_software_version(s("1")),
    )
    .await;
    let supported = r
        .supported_features
        .iter()
        .find(|f| f.name.as_str() == "transaction.version")
        .map(|f| (f.min_version, f.max_version))
        .expect("transaction.version supported");
    let finalized = r
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == "transaction.version")
        .map(|f| f.max_version_level);
    (finalized, r.finalized_features_epoch, supported)
}

fn update(feature: &str, level: i16, upgrade_type: i8) -> FeatureUpdateKey {
    FeatureUpdateKey::default()
        .with_feature(s(feature))
        .with_max_version_level(level)
        .with_upgrade_type(upgrade_type)
}

async fn update_features(conn: &mut TcpStream, req: UpdateFeaturesRequest) -> Vec<i16> {
    let r: UpdateFeaturesResponse = call(conn, ApiKey::UpdateFeatures, 1, &req).await;
    assert_eq!(r.error_code, 0);
    r.results.iter().map(|f| f.error_code).collect()
}

#[tokio::test]
async fn transaction_version_is_advertised_and_moved_by_update_features() {
    let zero = MockCluster::start(MockConfig::default().transaction_version(0))
        .await
        .expect("mock");
    let mut conn = TcpStream::connect(zero.broker_addrs()[0])
        .await
        .expect("connect");
    assert_eq!(features(&mut conn).await.0, None, "level 0 is not listed");

    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    let mut conn = TcpStream::connect(cluster.broker_addrs()[0])
        .await
        .expect("connect");
    let (level, epoch, supported) = features(&mut conn).await;
    assert_eq!((level, supported), (Some(2), (0, 2)), "Kafka 4.x's default");

    let req = |updates: Vec<FeatureUpdateKey>, validate_only: bool| {
        UpdateFeaturesRequest::default()
            .with_timeout_ms(1000)
            .with_feature_updates(updates)
            .with_validate_only(validate_only)
    };
    // Refused, nothing changes: a downgrade asked as an upgrade, a level out of range, an
    // unknown feature (which also holds back the valid update beside it).
    let bad = [
        vec![update("transaction.version", 1, 1)],
        vec![update("transaction.version", 3, 1)],
        vec![
            update("transaction.version", 1, 2),
            update("group.version", 1, 1),
        ],
    ];
    for updates in bad {
        let n = updates.len();
        let codes = update_features(&mut conn, req(updates, false)).await;
        assert_eq!(codes, vec![INVALID_UPDATE_VERSION; n]);
    }
    let valid = || vec![update("transaction.version", 1, 2)];
    assert_eq!(update_features(&mut conn, req(valid(), true)).await, [0]);
    assert_eq!(features(&mut conn).await.0, Some(2), "validate_only");
    // A safe downgrade applies: the new level at a newer epoch.
    assert_eq!(update_features(&mut conn, req(valid(), false)).await, [0]);
    let (level, new_epoch, _) = features(&mut conn).await;
    assert_eq!(level, Some(1));
    assert!(new_epoch > epoch, "{new_epoch} > {epoch}");

    // DescribeTransactions of an id the coordinator does not know.
    let r: DescribeTransactionsResponse = call(
        &mut conn,
        ApiKey::DescribeTransactions,
        0,
        &DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(s("nobody"))]),
    )
    .await;
    assert_eq!(r.transaction_states[0].error_code, 105);
}

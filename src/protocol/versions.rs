//! ApiVersions negotiation: per connection, each API is spoken at the highest version in the
//! intersection of the client's range and the broker's, never below the KIP-896 floors.

use crate::{Error, ErrorKind, Result};
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use std::collections::BTreeMap;

/// The oldest versions Kafka 4.0 still accepts (KIP-896). The client never sends anything
/// older, even to an older broker that would accept it.
const KIP_896_FLOORS: &[(ApiKey, i16)] = &[
    (ApiKey::Produce, 3),
    (ApiKey::Fetch, 4),
    (ApiKey::ListOffsets, 1),
    (ApiKey::OffsetCommit, 2),
    (ApiKey::OffsetFetch, 1),
];

/// Caps below `kafka-protocol`'s maximum, with the reason for each.
const CLIENT_CAPS: &[(ApiKey, i16)] = &[
    // Produce v13 and Fetch v13+ address topics by id only (KIP-516); the producer and consumer
    // address them by name. Raise together with topic-id support.
    (ApiKey::Produce, 12),
    (ApiKey::Fetch, 12),
    // OffsetCommit v10 and OffsetFetch v10 address topics by id only (KIP-848 era).
    (ApiKey::OffsetCommit, 9),
    (ApiKey::OffsetFetch, 9),
];

/// The versions of `key` this client can speak: `kafka-protocol`'s range, raised to the KIP-896
/// floor and lowered to the client's caps.
pub fn client_range(key: ApiKey) -> (i16, i16) {
    let r = key.valid_versions();
    let floor = KIP_896_FLOORS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(r.min, |(_, f)| r.min.max(*f));
    let cap = CLIENT_CAPS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(r.max, |(_, c)| r.max.min(*c));
    (floor, cap)
}

/// The API versions negotiated on one connection, and the cluster-wide feature levels the
/// broker reported with them (KIP-584; ApiVersions v3+).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiVersionTable {
    broker: BTreeMap<i16, (i16, i16)>,
    /// Finalized feature name → its finalized (max) version level.
    finalized_features: BTreeMap<String, i16>,
    /// The epoch of `finalized_features`: of two brokers' answers the higher epoch is newer.
    /// `-1` when the broker reported none.
    finalized_features_epoch: i64,
}

impl ApiVersionTable {
    /// Builds the table from a broker's ApiVersions response.
    pub fn from_response(resp: &ApiVersionsResponse) -> ApiVersionTable {
        ApiVersionTable::from_ranges(
            resp.api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version)),
        )
        .with_finalized_features(
            resp.finalized_features_epoch,
            resp.finalized_features
                .iter()
                .map(|f| (f.name.as_str().to_owned(), f.max_version_level)),
        )
    }

    /// The same table with the broker's finalized features (`name`, level) at `epoch`.
    pub fn with_finalized_features(
        mut self,
        epoch: i64,
        features: impl IntoIterator<Item = (String, i16)>,
    ) -> ApiVersionTable {
        self.finalized_features = features.into_iter().collect();
        self.finalized_features_epoch = epoch;
        self
    }

    /// The finalized level of feature `name` (e.g. `transaction.version`), if the broker
    /// reported it.
    pub fn finalized_feature(&self, name: &str) -> Option<i16> {
        self.finalized_features.get(name).copied()
    }

    /// The epoch of the finalized features (`-1`: none reported).
    pub fn finalized_features_epoch(&self) -> i64 {
        self.finalized_features_epoch
    }

    /// Builds the table from `(api_key, min, max)` triples advertised by a broker.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (i16, i16, i16)>) -> ApiVersionTable {
        ApiVersionTable {
            broker: ranges
                .into_iter()
                .map(|(k, lo, hi)| (k, (lo, hi)))
                .collect(),
            finalized_features: BTreeMap::new(),
            finalized_features_epoch: -1,
        }
    }

    /// The broker's advertised range for `key`.
    pub fn broker_range(&self, key: ApiKey) -> Option<(i16, i16)> {
        self.broker.get(&(key as i16)).copied()
    }

    /// The version to speak for `key`: the highest common one.
    ///
    /// # Errors
    /// [`ErrorKind::UnsupportedVersion`] naming the API and both ranges when they do not
    /// intersect or the broker does not know the API.
    ///
    /// ```
    /// use ferrokafka::__private::protocol::versions::ApiVersionTable;
    /// use kafka_protocol::messages::ApiKey;
    /// let t = ApiVersionTable::from_ranges([(3, 0, 12), (0, 0, 2)]);
    /// assert_eq!(t.version_for(ApiKey::Metadata).unwrap(), 12);
    /// // Produce v0-2 are below the KIP-896 floor (v3): no common version.
    /// let e = t.version_for(ApiKey::Produce).unwrap_err();
    /// assert!(e.to_string().contains("Produce"));
    /// ```
    pub fn version_for(&self, key: ApiKey) -> Result<i16> {
        let (cmin, cmax) = client_range(key);
        let broker = self.broker_range(key);
        match broker {
            Some((bmin, bmax)) if bmin.max(cmin) <= bmax.min(cmax) => Ok(bmax.min(cmax)),
            _ => Err(Error::new(ErrorKind::UnsupportedVersion {
                api: crate::protocol::api::api_name(key as i16),
                client: (cmin, cmax),
                broker,
            })),
        }
    }

    /// Every API this client sends that the broker supports, with the negotiated version.
    pub fn negotiated(&self) -> Vec<(ApiKey, i16)> {
        crate::protocol::api::CLIENT_APIS
            .iter()
            .filter_map(|k| self.version_for(*k).ok().map(|v| (*k, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_and_caps() {
        assert_eq!(client_range(ApiKey::Produce).0, 3);
        assert_eq!(client_range(ApiKey::Fetch).0, 4);
        assert_eq!(client_range(ApiKey::ListOffsets).0, 1);
        assert_eq!(client_range(ApiKey::OffsetCommit).0, 2);
        assert_eq!(client_range(ApiKey::OffsetFetch).0, 1);
        assert!(client_range(ApiKey::Produce).1 <= 12);
    }

    #[test]
    fn keeps_the_finalized_features_of_the_response() {
        use kafka_protocol::messages::api_versions_response::FinalizedFeatureKey;
        use kafka_protocol::protocol::StrBytes;
        let resp = ApiVersionsResponse::default()
            .with_finalized_features_epoch(42)
            .with_finalized_features(vec![FinalizedFeatureKey::default()
                .with_name(StrBytes::from_static_str("transaction.version"))
                .with_max_version_level(2)
                .with_min_version_level(2)]);
        let t = ApiVersionTable::from_response(&resp);
        assert_eq!(t.finalized_feature("transaction.version"), Some(2));
        assert_eq!(t.finalized_feature("group.version"), None);
        assert_eq!(t.finalized_features_epoch(), 42);
        let none = ApiVersionTable::from_ranges([(3, 0, 12)]);
        assert_eq!(none.finalized_feature("transaction.version"), None);
        assert_eq!(none.finalized_features_epoch(), -1);
    }

    #[test]
    fn unsupported_names_both_ranges() {
        let t = ApiVersionTable::from_ranges([(1, 0, 3)]);
        let e = t.version_for(ApiKey::Fetch).unwrap_err();
        assert!(e.is_fatal());
        let s = e.to_string();
        assert!(
            s.contains("Fetch") && s.contains("0..=3") && s.contains("4..="),
            "{s}"
        );
        let e = t.version_for(ApiKey::Metadata).unwrap_err();
        assert!(e.to_string().contains("does not support Metadata"));
    }
}

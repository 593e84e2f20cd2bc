//! UpdateFeatures (what `kafka-features.sh upgrade / downgrade` sends): the one feature the mock
//! has, `transaction.version`, moves between 0 and 2, as the controller allows it: a lower level
//! only as a downgrade, a level outside the supported range or an unknown feature is
//! INVALID_UPDATE_VERSION, and nothing changes unless every update is valid.

use super::versions::{TRANSACTION_VERSION, TRANSACTION_VERSION_MAX};
use crate::log::code;
use crate::server::Ctx;
use kafka_protocol::messages::update_features_response::UpdatableFeatureResult;
use kafka_protocol::messages::{UpdateFeaturesRequest, UpdateFeaturesResponse};
use kafka_protocol::protocol::StrBytes;

/// Kafka's INVALID_UPDATE_VERSION.
const INVALID_UPDATE_VERSION: i16 = 95;

/// `upgrade_type` (v1+): 1 upgrade only, 2 safe and 3 unsafe downgrades.
const UPGRADE: i8 = 1;

pub(super) fn update_features(
    ctx: Ctx<'_>,
    req: UpdateFeaturesRequest,
    version: i16,
) -> UpdateFeaturesResponse {
    let mut state = ctx.shared.lock();
    let current = state.config.transaction_version;
    let mut wanted = None;
    let checked: Vec<(StrBytes, Option<String>)> = req
        .feature_updates
        .iter()
        .map(|u| {
            let downgrade_allowed = if version == 0 {
                u.allow_downgrade
            } else {
                u.upgrade_type != UPGRADE
            };
            let why = if u.feature.as_str() != TRANSACTION_VERSION {
                Some(format!("the mock has no feature {}", u.feature.as_str()))
            } else if !(0..=TRANSACTION_VERSION_MAX).contains(&u.max_version_level) {
                Some(format!(
                    "transaction.version supports levels 0 to {TRANSACTION_VERSION_MAX}"
                ))
            } else if u.max_version_level < current && !downgrade_allowed {
                Some(format!(
                    "{} is a downgrade from {current}: not an upgrade",
                    u.max_version_level
                ))
            } else {
                wanted = Some(u.max_version_level);
                None
            };
            (u.feature.clone(), why)
        })
        .collect();
    let all_valid = checked.iter().all(|(_, why)| why.is_none());
    if let (true, false, Some(level)) = (all_valid, req.validate_only, wanted) {
        if level != current {
            state.config.transaction_version = level;
            state.features_epoch += 1;
        }
    }
    let results = checked
        .into_iter()
        .map(|(feature, why)| {
            let error = match (&why, all_valid) {
                (Some(_), _) => INVALID_UPDATE_VERSION,
                (None, true) => code::NONE,
                // Valid, but another update in the request was not: none is applied.
                (None, false) => INVALID_UPDATE_VERSION,
            };
            UpdatableFeatureResult::default()
                .with_feature(feature)
                .with_error_code(error)
                .with_error_message(why.map(StrBytes::from_string))
        })
        .collect();
    UpdateFeaturesResponse::default().with_results(results)
}

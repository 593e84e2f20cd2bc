//! IncrementalAlterConfigs (KIP-339): set, delete, append to or subtract from single configs of
//! topics and brokers, leaving the others alone. v0 and v1 carry the same fields.

use std::fmt;

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::describe_configs::ConfigResource;
use crate::protocol::requests::str_bytes;
use crate::{Error, Result};

/// One change to one config.
///
/// ```
/// use ferrokafka::admin::AlterConfigOp;
/// let op = AlterConfigOp::set("retention.ms", "60000");
/// assert_eq!(op.to_string(), "set retention.ms=60000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlterConfigOp {
    /// Set the config to a value.
    Set {
        /// The config name.
        name: String,
        /// The new value.
        value: String,
    },
    /// Remove the resource's own value (back to the default or the broker's value).
    Delete {
        /// The config name.
        name: String,
    },
    /// Add values to a list config (`cleanup.policy`, …).
    Append {
        /// The config name.
        name: String,
        /// The values to add, comma-separated.
        value: String,
    },
    /// Remove values from a list config.
    Subtract {
        /// The config name.
        name: String,
        /// The values to remove, comma-separated.
        value: String,
    },
}

impl AlterConfigOp {
    /// Sets `name` to `value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp::Set {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Deletes the resource's own value of `name`.
    pub fn delete(name: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp::Delete { name: name.into() }
    }

    fn wire(&self) -> AlterableConfig {
        let (name, op, value) = match self {
            AlterConfigOp::Set { name, value } => (name, 0, Some(value)),
            AlterConfigOp::Delete { name } => (name, 1, None),
            AlterConfigOp::Append { name, value } => (name, 2, Some(value)),
            AlterConfigOp::Subtract { name, value } => (name, 3, Some(value)),
        };
        AlterableConfig::default()
            .with_name(str_bytes(name))
            .with_config_operation(op)
            .with_value(value.map(|v| str_bytes(v)))
    }
}

impl fmt::Display for AlterConfigOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlterConfigOp::Set { name, value } => write!(f, "set {name}={value}"),
            AlterConfigOp::Delete { name } => write!(f, "delete {name}"),
            AlterConfigOp::Append { name, value } => write!(f, "append {value} to {name}"),
            AlterConfigOp::Subtract { name, value } => write!(f, "subtract {value} from {name}"),
        }
    }
}

/// The request applying each resource's changes (`validate_only`: check without applying).
pub(crate) fn request<'a>(
    changes: impl IntoIterator<Item = (&'a ConfigResource, &'a [AlterConfigOp])>,
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(
            changes
                .into_iter()
                .map(|(r, ops)| {
                    AlterConfigsResource::default()
                        .with_resource_type(r.type_code())
                        .with_resource_name(str_bytes(&r.name()))
                        .with_configs(ops.iter().map(AlterConfigOp::wire).collect())
                })
                .collect(),
        )
}

/// Every resource's answer (`INVALID_CONFIG` with the broker's reason for a bad value).
pub(crate) fn parse(resp: &IncrementalAlterConfigsResponse) -> Vec<(ConfigResource, Result<()>)> {
    resp.responses
        .iter()
        .filter_map(|r| {
            let res = ConfigResource::from_wire(r.resource_type, r.resource_name.as_str())?;
            if r.error_code == 0 {
                return Some((res, Ok(())));
            }
            let e = Error::from_broker_code(r.error_code)
                .with_api("IncrementalAlterConfigs")
                .with_broker_message(r.error_message.as_ref().map(|m| m.to_string()));
            let e = match &res {
                ConfigResource::Topic(t) => e.with_topic(t.clone()),
                ConfigResource::Broker(b) => e.with_broker(b.to_string()),
                ConfigResource::Group(g) => e.with_detail(format!("group {g}")),
            };
            Some((res, Err(e)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use crate::types::BrokerId;
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;

    #[test]
    fn ops_map_to_wire_and_encode_at_every_version() {
        let t = ConfigResource::Topic("a".into());
        let b = ConfigResource::Broker(BrokerId(1));
        let ops = [
            AlterConfigOp::set("retention.ms", "1"),
            AlterConfigOp::delete("cleanup.policy"),
        ];
        let more = [
            AlterConfigOp::Append {
                name: "x".into(),
                value: "y".into(),
            },
            AlterConfigOp::Subtract {
                name: "x".into(),
                value: "y".into(),
            },
        ];
        let req = request([(&t, &ops[..]), (&b, &more[..])], true);
        assert!(req.validate_only);
        let ops0: Vec<i8> = req.resources[0]
            .configs
            .iter()
            .map(|c| c.config_operation)
            .collect();
        let ops1: Vec<i8> = req.resources[1]
            .configs
            .iter()
            .map(|c| c.config_operation)
            .collect();
        assert_eq!((ops0, ops1), (vec![0, 1], vec![2, 3]));
        assert!(req.resources[0].configs[1].value.is_none());
        for v in 0..=1 {
            assert!(encodes(&req, v), "IncrementalAlterConfigs v{v}");
        }
        assert_eq!(more[0].to_string(), "append y to x");
    }

    #[test]
    fn parse_keeps_the_broker_reason() {
        let resp = IncrementalAlterConfigsResponse::default().with_responses(vec![
            AlterConfigsResourceResponse::default()
                .with_resource_type(2)
                .with_resource_name(str_bytes("a"))
                .with_error_code(40)
                .with_error_message(Some(str_bytes("bad value"))),
            AlterConfigsResourceResponse::default()
                .with_resource_type(4)
                .with_resource_name(str_bytes("1")),
        ]);
        let r = parse(&resp);
        let e = r[0].1.as_ref().unwrap_err();
        assert_eq!(
            (e.broker_code(), e.topic(), e.broker_message()),
            (Some(40), Some("a"), Some("bad value"))
        );
        assert_eq!(r[1].0, ConfigResource::Broker(BrokerId(1)));
        assert!(r[1].1.is_ok());
    }
}

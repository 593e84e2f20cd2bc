//! DescribeConfigs: the configs of topics and brokers. Topic resources go to any broker, a
//! broker's own resource to that broker. v1–v4 carry the same request fields (v3 adds
//! documentation, which this client does not ask for).

use std::fmt;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use crate::protocol::requests::str_bytes;
use crate::types::BrokerId;
use crate::{Error, Result};

/// A resource that has configs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ConfigResource {
    /// A topic's configs.
    Topic(String),
    /// One broker's configs (dynamic per-broker and static ones).
    Broker(BrokerId),
    /// A group's configs (KIP-848 / KIP-932 group configs, e.g. a share group's
    /// `share.auto.offset.reset`, `share.record.lock.duration.ms`; Kafka 4.0+).
    Group(String),
}

impl ConfigResource {
    /// The wire `resource_type` (topic 2, broker 4, group 32).
    pub const fn type_code(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => 2,
            ConfigResource::Broker(_) => 4,
            ConfigResource::Group(_) => 32,
        }
    }

    /// The wire `resource_name` (the topic, or the broker id in decimal).
    pub fn name(&self) -> String {
        match self {
            ConfigResource::Topic(t) | ConfigResource::Group(t) => t.clone(),
            ConfigResource::Broker(b) => b.to_string(),
        }
    }

    /// The resource a response names, if this client knows its type.
    pub(crate) fn from_wire(type_code: i8, name: &str) -> Option<ConfigResource> {
        match type_code {
            2 => Some(ConfigResource::Topic(name.to_owned())),
            4 => name
                .parse()
                .ok()
                .map(|id| ConfigResource::Broker(BrokerId(id))),
            32 => Some(ConfigResource::Group(name.to_owned())),
            _ => None,
        }
    }

    /// The broker that must answer for this resource (`None`: any broker).
    pub fn broker(&self) -> Option<BrokerId> {
        match self {
            ConfigResource::Topic(_) | ConfigResource::Group(_) => None,
            ConfigResource::Broker(b) => Some(*b),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigResource::Topic(t) => write!(f, "topic {t}"),
            ConfigResource::Broker(b) => write!(f, "broker {b}"),
            ConfigResource::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// Where a config's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// Set on the topic.
    DynamicTopic,
    /// Set dynamically for this broker.
    DynamicBroker,
    /// Set dynamically as the cluster-wide broker default.
    DynamicDefaultBroker,
    /// From the broker's `server.properties`.
    StaticBroker,
    /// Kafka's default.
    Default,
    /// Set dynamically for the broker's logger.
    DynamicBrokerLogger,
    /// A client metrics or group config, or a source this client does not know.
    Other(i8),
}

impl ConfigSource {
    fn from_wire(code: i8) -> ConfigSource {
        match code {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            c => ConfigSource::Other(c),
        }
    }
}

/// One config of a described resource.
///
/// `Display` prints one line: `retention.ms=3600000 (DynamicTopic)`; sensitive values print
/// as `(sensitive)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// The config name.
    pub name: String,
    /// Its value; `None` for sensitive configs (the broker does not reveal them) or unset ones.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it cannot be changed at run time.
    pub read_only: bool,
    /// Whether it is sensitive (a password).
    pub sensitive: bool,
}

impl fmt::Display for ConfigEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, self.sensitive) {
            (_, true) => write!(f, "{}=(sensitive)", self.name)?,
            (Some(v), false) => write!(f, "{}={v}", self.name)?,
            (None, false) => write!(f, "{}=(null)", self.name)?,
        }
        write!(f, " ({:?})", self.source)
    }
}

/// The request describing every config of each resource (no synonyms, no documentation).
pub(crate) fn request<'a>(
    resources: impl IntoIterator<Item = &'a ConfigResource>,
) -> DescribeConfigsRequest {
    DescribeConfigsRequest::default().with_resources(
        resources
            .into_iter()
            .map(|r| {
                DescribeConfigsResource::default()
                    .with_resource_type(r.type_code())
                    .with_resource_name(str_bytes(&r.name()))
                    .with_configuration_keys(None)
            })
            .collect(),
    )
}

/// Every resource's configs, sorted by name, or its error (`UNKNOWN_TOPIC_OR_PARTITION`, …).
/// Resources of a type this client does not know are skipped.
pub(crate) fn parse(
    resp: &DescribeConfigsResponse,
) -> Vec<(ConfigResource, Result<Vec<ConfigEntry>>)> {
    resp.results
        .iter()
        .filter_map(|r| {
            let res = ConfigResource::from_wire(r.resource_type, r.resource_name.as_str())?;
            if r.error_code != 0 {
                let mut e = Error::from_broker_code(r.error_code)
                    .with_api("DescribeConfigs")
                    .with_broker_message(r.error_message.as_ref().map(|m| m.to_string()));
                e = match &res {
                    ConfigResource::Topic(t) => e.with_topic(t.clone()),
                    ConfigResource::Broker(b) => e.with_broker(b.to_string()),
                    ConfigResource::Group(g) => e.with_detail(format!("group {g}")),
                };
                return Some((res, Err(e)));
            }
            let mut entries: Vec<ConfigEntry> = r
                .configs
                .iter()
                .map(|c| ConfigEntry {
                    name: c.name.to_string(),
                    value: c.value.as_ref().map(|v| v.to_string()),
                    source: ConfigSource::from_wire(c.config_source),
                    read_only: c.read_only,
                    sensitive: c.is_sensitive,
                })
                .collect();
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Some((res, Ok(entries)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::describe_configs_response::{
        DescribeConfigsResourceResult, DescribeConfigsResult,
    };

    #[test]
    fn resources_map_to_wire_and_back() {
        let t = ConfigResource::Topic("a".into());
        let b = ConfigResource::Broker(BrokerId(3));
        assert_eq!((t.type_code(), t.name()), (2, "a".to_owned()));
        assert_eq!((b.type_code(), b.name()), (4, "3".to_owned()));
        assert_eq!(ConfigResource::from_wire(4, "3"), Some(b.clone()));
        assert_eq!(ConfigResource::from_wire(4, "x"), None);
        assert_eq!(ConfigResource::from_wire(9, "x"), None);
        let req = request([&t, &b]);
        assert_eq!(req.resources[1].resource_name.as_str(), "3");
        for v in 1..=4 {
            assert!(encodes(&req, v), "DescribeConfigs v{v}");
        }
    }

    #[test]
    fn parse_sorts_entries_and_keeps_errors() {
        let resp = DescribeConfigsResponse::default().with_results(vec![
            DescribeConfigsResult::default()
                .with_resource_type(2)
                .with_resource_name(str_bytes("a"))
                .with_configs(vec![
                    DescribeConfigsResourceResult::default()
                        .with_name(str_bytes("z"))
                        .with_value(Some(str_bytes("1")))
                        .with_config_source(1),
                    DescribeConfigsResourceResult::default()
                        .with_name(str_bytes("p"))
                        .with_value(None)
                        .with_is_sensitive(true)
                        .with_config_source(5),
                ]),
            DescribeConfigsResult::default()
                .with_resource_type(2)
                .with_resource_name(str_bytes("gone"))
                .with_error_code(3),
        ]);
        let r = parse(&resp);
        let entries = r[0].1.as_ref().unwrap();
        assert_eq!(entries[0].to_string(), "p=(sensitive) (Default)");
        assert_eq!(entries[1].to_string(), "z=1 (DynamicTopic)");
        let e = r[1].1.as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.topic()), (Some(3), Some("gone")));
    }
}

//! Settings of group membership, with the Java consumer's property names and defaults.

use std::time::Duration;

use super::assignor::AssignmentStrategy;
use crate::config::parse::{parse_list, parse_ms, parse_optional};
use crate::types::GroupProtocol;
use crate::{Error, Result};

/// The group-membership settings of a consumer (`ConsumerConfig::group`), with the Java
/// consumer's property names and defaults. This struct is their one holder: the consumer's
/// builder parses these keys through [`GroupConfig::try_set`] and the membership state machine
/// reads them from here. `group.id` is held by the consumer configuration itself, because a
/// consumer that only `assign`s partitions uses it too (for committed offsets), and
/// `retry.backoff.ms` by the common client configuration.
///
/// ```
/// use ferrokafka::consumer::{AssignmentStrategy, ConsumerConfig};
/// use std::time::Duration;
/// let cfg = ConsumerConfig::from_properties([
///     ("bootstrap.servers", "127.0.0.1:9092"),
///     ("group.id", "billing"),
///     ("session.timeout.ms", "10000"),
///     ("partition.assignment.strategy", "cooperative-sticky"),
/// ])
/// .unwrap();
/// assert_eq!(cfg.group.session_timeout, Duration::from_secs(10));
/// assert_eq!(
///     cfg.group.partition_assignment_strategy,
///     vec![AssignmentStrategy::CooperativeSticky]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupConfig {
    /// `group.instance.id` (default none). Set it to make the member *static* (KIP-345): the
    /// coordinator keeps its assignment across restarts within `session.timeout.ms`, and it sends
    /// no LeaveGroup on close or after `max.poll.interval.ms`.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms` (default 45 s): the coordinator removes a member it has not heard a
    /// heartbeat from for this long. The member itself treats the coordinator as lost after the
    /// same time without a successful heartbeat.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (default 3 s): time between heartbeats; must be below
    /// `session.timeout.ms` (Java recommends at most a third of it).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (default 300 s): if the application does not poll for this long the
    /// member leaves the group and rejoins on its next poll. Also sent as the JoinGroup
    /// rebalance timeout.
    pub max_poll_interval: Duration,
    /// `partition.assignment.strategy` (default `range, cooperative-sticky`, Java 4.x), in order
    /// of preference. The group uses the cooperative protocol only when every strategy listed
    /// supports it (only `cooperative-sticky` does), exactly like Java.
    pub partition_assignment_strategy: Vec<AssignmentStrategy>,
    /// `client.rack` (default none): sent in the subscription (v3) for rack-aware assignors.
    pub client_rack: Option<String>,
    /// `group.protocol` (default `classic`, as Java 4.x): `consumer` speaks the KIP-848
    /// protocol (ConsumerGroupHeartbeat; the broker assigns, rebalances are incremental). With
    /// `consumer` the broker owns the session timeout, heartbeat interval and assignor
    /// (`group.consumer.*` broker and group configs): setting `session.timeout.ms`,
    /// `heartbeat.interval.ms` or `partition.assignment.strategy` is a config error, as in Java.
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor` (default none: the broker's `group.consumer.assignors` first
    /// entry, `uniform`): the server-side assignor a `consumer`-protocol member asks for
    /// (`uniform` or `range` on Apache Kafka).
    pub group_remote_assignor: Option<String>,
    /// Classic-only keys set explicitly, with their values (checked against `group.protocol`).
    pub(crate) classic_keys_set: Vec<(&'static str, String)>,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            group_instance_id: None,
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            partition_assignment_strategy: vec![
                AssignmentStrategy::Range,
                AssignmentStrategy::CooperativeSticky,
            ],
            client_rack: None,
            group_protocol: GroupProtocol::Classic,
            group_remote_assignor: None,
            classic_keys_set: Vec::new(),
        }
    }
}

impl GroupConfig {
    /// Sets one property by its Java name. Returns `Ok(false)` for a name this struct does not
    /// hold (so a caller can offer it to other config sections), an error for a bad value.
    pub fn try_set(&mut self, key: &str, value: &str) -> Result<bool> {
        for classic in [
            "session.timeout.ms",
            "heartbeat.interval.ms",
            "partition.assignment.strategy",
        ] {
            if key == classic {
                self.classic_keys_set.retain(|(k, _)| *k != classic);
                self.classic_keys_set.push((classic, value.to_string()));
            }
        }
        match key {
            "group.instance.id" => self.group_instance_id = parse_optional(value),
            "session.timeout.ms" => self.session_timeout = parse_ms(key, value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = parse_ms(key, value)?,
            "group.protocol" => {
                self.group_protocol = GroupProtocol::from_config_name(value.trim())
                    .ok_or_else(|| Error::config(key, value, "expected classic or consumer"))?;
            }
            "group.remote.assignor" => self.group_remote_assignor = parse_optional(value),
            "max.poll.interval.ms" => self.max_poll_interval = parse_ms(key, value)?,
            "client.rack" => self.client_rack = parse_optional(value),
            "partition.assignment.strategy" => {
                let mut list = Vec::new();
                for name in parse_list(value) {
                    let s = AssignmentStrategy::from_config_name(&name).ok_or_else(|| {
                        Error::config(
                            key,
                            value,
                            format!("unknown assignor {name:?}: expected range, roundrobin or cooperative-sticky"),
                        )
                    })?;
                    list.push(s);
                }
                self.partition_assignment_strategy = list;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks the settings and their interactions (Java rejects the same combinations).
    pub fn validate(&self) -> Result<()> {
        if self.group_protocol == GroupProtocol::Consumer {
            if let Some((key, value)) = self.classic_keys_set.first() {
                return Err(Error::config(
                    *key,
                    value,
                    "not used with group.protocol=consumer: the broker sets it (its \
                     group.consumer.* configs; group.remote.assignor picks the assignor)",
                ));
            }
        } else if let Some(a) = &self.group_remote_assignor {
            return Err(Error::config(
                "group.remote.assignor",
                a,
                "only used with group.protocol=consumer",
            ));
        }
        if self.group_instance_id.as_deref() == Some("") {
            return Err(Error::config("group.instance.id", "", "must not be empty"));
        }
        if self.partition_assignment_strategy.is_empty() {
            return Err(Error::config(
                "partition.assignment.strategy",
                "",
                "must name at least one assignor",
            ));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.session_timeout {
            return Err(Error::config(
                "heartbeat.interval.ms",
                self.heartbeat_interval.as_millis().to_string(),
                format!(
                    "must be positive and below session.timeout.ms ({})",
                    self.session_timeout.as_millis()
                ),
            ));
        }
        for (key, d) in [
            ("session.timeout.ms", self.session_timeout),
            ("max.poll.interval.ms", self.max_poll_interval),
        ] {
            if d.as_millis() > i32::MAX as u128 || d.is_zero() {
                return Err(Error::config(
                    key,
                    d.as_millis().to_string(),
                    "must be between 1 and 2147483647 ms (sent as an int32)",
                ));
            }
        }
        Ok(())
    }

    /// Whether the member is static (`group.instance.id` set).
    pub fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_defaults() {
        let c = GroupConfig::default();
        assert_eq!(c.session_timeout, Duration::from_millis(45_000));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(3_000));
        assert_eq!(c.max_poll_interval, Duration::from_millis(300_000));
        assert_eq!(
            c.partition_assignment_strategy,
            vec![
                AssignmentStrategy::Range,
                AssignmentStrategy::CooperativeSticky
            ]
        );
        assert!(c.validate().is_ok());
        assert!(!c.is_static());
    }

    #[test]
    fn properties_by_java_name() {
        let mut c = GroupConfig::default();
        assert!(c.try_set("group.instance.id", "i-1").unwrap());
        assert!(c.try_set("session.timeout.ms", "10000").unwrap());
        assert!(c
            .try_set(
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, roundrobin"
            )
            .unwrap());
        assert!(!c.try_set("fetch.min.bytes", "1").unwrap());
        assert_eq!(c.group_instance_id.as_deref(), Some("i-1"));
        assert_eq!(c.session_timeout, Duration::from_secs(10));
        assert_eq!(
            c.partition_assignment_strategy,
            vec![
                AssignmentStrategy::CooperativeSticky,
                AssignmentStrategy::RoundRobin
            ]
        );
        assert!(c
            .try_set("partition.assignment.strategy", "sticky-ish")
            .is_err());
        assert!(c.try_set("heartbeat.interval.ms", "x").is_err());
    }

    #[test]
    fn validation() {
        let mut c = GroupConfig::default();
        c.heartbeat_interval = c.session_timeout;
        assert!(c.validate().is_err());
        c.heartbeat_interval = Duration::from_secs(1);
        c.partition_assignment_strategy.clear();
        assert!(c.validate().is_err());
    }
}

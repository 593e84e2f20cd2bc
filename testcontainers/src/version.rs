//! Which Apache Kafka version the harness runs, and what differs between the versions it supports.
//!
//! `FERROKAFKA_KAFKA_VERSION` selects it (default [`KAFKA_VERSION`]); it reaches the Maven pom,
//! the jar cache directory, the `kafka-tools` artifact, the Docker image tag, the broker
//! configuration and the class names of the command-line tools. Supported: Kafka 3.9 and later,
//! the first line whose KRaft combined mode can be formatted with a dynamic quorum
//! (`kafka-storage format --standalone`, KIP-853), which the single-node brokers use.

use std::fmt;

use crate::HarnessError;

/// The Apache Kafka version used unless `FERROKAFKA_KAFKA_VERSION` names another.
pub const KAFKA_VERSION: &str = "4.4.0";

/// The environment variable that selects the Kafka version.
pub const VERSION_ENV: &str = "FERROKAFKA_KAFKA_VERSION";

/// The oldest `major.minor` the harness starts: 3.9 brought `--standalone` (KIP-853).
const OLDEST: (u32, u32) = (3, 9);

/// An Apache Kafka release version such as `3.9.1` or `4.4.0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KafkaVersion {
    text: String,
    major: u32,
    minor: u32,
}

impl KafkaVersion {
    /// The version the harness runs: `$FERROKAFKA_KAFKA_VERSION` if set and not empty, else
    /// [`KAFKA_VERSION`]. A malformed or unsupported value is an error naming the variable.
    pub fn current() -> Result<KafkaVersion, HarnessError> {
        match std::env::var(VERSION_ENV) {
            Ok(v) if !v.trim().is_empty() => KafkaVersion::parse(v.trim())
                .map_err(|m| HarnessError::NoBackend(format!("{VERSION_ENV}={v:?}: {m}"))),
            // Unset, empty, or not Unicode (which no version is): the default.
            _ => KafkaVersion::parse(KAFKA_VERSION).map_err(HarnessError::NoBackend),
        }
    }

    /// Parses `major.minor.patch` with an optional suffix (`4.0.0-rc1`). The text ends up in a
    /// pom, a path and an image tag, so only ASCII letters, digits, `.` and `-` are accepted.
    pub fn parse(text: &str) -> Result<KafkaVersion, String> {
        let bad = || format!("not a Kafka version such as {KAFKA_VERSION}");
        if text.is_empty()
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(bad());
        }
        let mut parts = text.split('.');
        let mut number = || -> Result<u32, String> {
            let p = parts.next().ok_or_else(bad)?;
            let digits: &str = p.split('-').next().unwrap_or_default();
            digits.parse::<u32>().map_err(|_| bad())
        };
        let (major, minor) = (number()?, number()?);
        // A patch number is required: Maven has no `4.1` artifact.
        number()?;
        if (major, minor) < OLDEST {
            return Err(format!(
                "the harness supports Kafka {}.{} and later (single-node brokers are formatted \
                 with a dynamic KRaft quorum, `--standalone`, KIP-853)",
                OLDEST.0, OLDEST.1
            ));
        }
        Ok(KafkaVersion {
            text: text.to_string(),
            major,
            minor,
        })
    }

    /// The version as written (`3.9.1`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is `major.minor` or later.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// The main class of a Kafka command-line tool under this version. Kafka 4.0 finished
    /// moving the tools from the Scala `core` module to the Java `tools` module; on 3.9 a few
    /// still live in `kafka.admin` / `kafka.tools` (in the broker jar).
    pub fn tool_class(&self, tool: Tool) -> &'static str {
        let old = !self.at_least(4, 0);
        match tool {
            Tool::Acl if old => "kafka.admin.AclCommand",
            Tool::Acl => "org.apache.kafka.tools.AclCommand",
            Tool::ConsoleProducer if old => "kafka.tools.ConsoleProducer",
            Tool::ConsoleProducer => "org.apache.kafka.tools.ConsoleProducer",
            Tool::ConsoleConsumer => "org.apache.kafka.tools.consumer.ConsoleConsumer",
            Tool::Topic => "org.apache.kafka.tools.TopicCommand",
            Tool::Feature => "org.apache.kafka.tools.FeatureCommand",
            Tool::ConsoleShareConsumer => "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
        }
    }

    /// Whether the broker knows the share-group coordinator settings
    /// (`share.coordinator.state.topic.*`, KIP-932: 4.0 and later). Older brokers would only log
    /// them as unknown, but the harness writes no key a version does not define.
    pub fn has_share_coordinator(&self) -> bool {
        self.at_least(4, 0)
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Kafka command-line tools whose main class depends on the version
/// ([`KafkaVersion::tool_class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `kafka-acls`.
    Acl,
    /// `kafka-console-producer`.
    ConsoleProducer,
    /// `kafka-console-consumer`.
    ConsoleConsumer,
    /// `kafka-topics`.
    Topic,
    /// `kafka-features`.
    Feature,
    /// `kafka-console-share-consumer` (KIP-932; Kafka 4.1 and later).
    ConsoleShareConsumer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_versions() {
        let v = KafkaVersion::parse("3.9.1").unwrap();
        assert_eq!(v.as_str(), "3.9.1");
        assert!(v.at_least(3, 9));
        assert!(!v.at_least(4, 0));
        assert!(!v.has_share_coordinator());
        assert_eq!(v.tool_class(Tool::Acl), "kafka.admin.AclCommand");
        let v = KafkaVersion::parse("4.4.0").unwrap();
        assert!(v.at_least(4, 0) && v.at_least(4, 4) && !v.at_least(4, 5));
        assert!(v.has_share_coordinator());
        assert_eq!(v.tool_class(Tool::Acl), "org.apache.kafka.tools.AclCommand");
        assert!(KafkaVersion::parse("4.0.0-rc1").unwrap().at_least(4, 0));
        assert!(KafkaVersion::parse("10.0.0").unwrap().at_least(4, 4));
        assert!(KafkaVersion::parse(KAFKA_VERSION).is_ok());
    }

    #[test]
    fn refuses_malformed_and_old_versions() {
        for bad in [
            "",
            "4",
            "4.1",
            "4.x.1",
            "4.1.1/../x",
            "4.1.1 ",
            "<4.1.1>",
            "v4.1.1",
        ] {
            assert!(KafkaVersion::parse(bad).is_err(), "{bad:?}");
        }
        let old = KafkaVersion::parse("3.8.1").unwrap_err();
        assert!(old.contains("3.9 and later"), "{old}");
    }
}

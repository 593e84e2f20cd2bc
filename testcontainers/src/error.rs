//! The harness's one error type.

use std::fmt;

/// Why the harness could not provide (or manipulate) a Kafka cluster.
///
/// Every variant carries a human-readable message meant to end up in a test failure, so it says what
/// was tried and what is missing. The type is `Clone` because [`crate::Kafka::shared`] hands the same
/// start-up failure to every test of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HarnessError {
    /// No way to get a broker: no `KAFKA_BOOTSTRAP_SERVERS`, no Docker engine, and no usable Java/Maven.
    NoBackend(String),
    /// Resolving the Kafka jars from Maven Central failed.
    Resolve(String),
    /// A broker node did not become ready; carries the last lines of its log.
    Startup {
        /// The node (`node.id`) that failed.
        node: i32,
        /// What happened (JVM exited, timeout, ...).
        message: String,
        /// The last 50 lines of the node's log.
        log_tail: String,
    },
    /// The operation is not possible for this cluster (fault injection on an external or shared
    /// cluster, or on a Docker container that has no such node).
    Unsupported(String),
    /// No node with this id exists in the cluster.
    UnknownNode(i32),
    /// A file-system or process operation failed.
    Io(String),
    /// The Docker backend failed.
    Docker(String),
    /// The state file of `kafka-test-cluster` is missing or unreadable.
    State(String),
    /// A Kafka command-line tool (e.g. `TopicCommand`) failed; carries its output.
    Tool(String),
    /// The verifier could not read the log back (`verifier::read_log`).
    ReadBack(String),
}

impl HarnessError {
    /// An [`HarnessError::Io`] naming what was being done.
    pub(crate) fn io(context: impl fmt::Display, err: impl fmt::Display) -> Self {
        HarnessError::Io(format!("{context}: {err}"))
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::NoBackend(m) => write!(f, "no Kafka broker available: {m}"),
            HarnessError::Resolve(m) => write!(f, "cannot resolve the Kafka jars: {m}"),
            HarnessError::Startup {
                node,
                message,
                log_tail,
            } => write!(
                f,
                "Kafka node {node} did not start: {message}\n--- last lines of its log ---\n{log_tail}"
            ),
            HarnessError::Unsupported(m) => write!(f, "unsupported: {m}"),
            HarnessError::UnknownNode(id) => write!(f, "no Kafka node with id {id}"),
            HarnessError::Io(m) => write!(f, "I/O error: {m}"),
            HarnessError::Docker(m) => write!(f, "Docker: {m}"),
            HarnessError::State(m) => write!(f, "cluster state: {m}"),
            HarnessError::Tool(m) => write!(f, "Kafka tool failed: {m}"),
            HarnessError::ReadBack(m) => write!(f, "reading the log back: {m}"),
        }
    }
}

impl std::error::Error for HarnessError {}

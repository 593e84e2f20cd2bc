//! The one public error type, [`Error`], and its classification.
//!
//! Every failure the client reports is an [`Error`]. Its [`ErrorKind`] says *what* happened, its
//! [`ErrorClass`] says *what the caller should do about it*:
//!
//! | class | meaning | `is_retriable()` | `is_fatal()` |
//! |---|---|---|---|
//! | [`ErrorClass::Retriable`] | transient; the same request may succeed later | yes | no |
//! | [`ErrorClass::RefreshRetriable`] | transient, but refresh metadata first (leader moved, topic unknown to this broker) | yes | no |
//! | [`ErrorClass::TransactionAbortable`] | the current transaction must be aborted; the producer stays usable | no | no |
//! | [`ErrorClass::ApplicationRecoverable`] | permanent for this request (too large, invalid, not authorized); the app decides | no | no |
//! | [`ErrorClass::InvalidConfiguration`] | the configuration or the request is wrong; fix it | no | no |
//! | [`ErrorClass::Fatal`] | the client instance cannot continue (fenced producer, unsupported broker, cluster authorization) | no | yes |
//!
//! The classes are those of KIP-1050. Every broker error code known to the `kafka-protocol` crate
//! maps to exactly one class (a table test enforces it).

mod codes;

use std::fmt;
use std::sync::Arc;

use codes::class_of_code;
pub(crate) use codes::code;
pub use codes::{BrokerErrorCode, ErrorClass};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The broker answered with a non-zero error code.
    Broker(BrokerErrorCode),
    /// A configuration key or value is invalid.
    Config {
        /// The property name, in Java client spelling (`request.timeout.ms`).
        key: String,
        /// The offending value as given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Connecting to a broker failed (refused, unreachable, DNS failure).
    Connect,
    /// The connection to the broker was closed or reset before the response arrived.
    Disconnected {
        /// Whether the request had been written to the socket. `true` means the broker may have
        /// acted on it (a produce may be persisted); `false` means it never left the client.
        sent: bool,
    },
    /// The request did not complete within `request.timeout.ms`.
    RequestTimeout,
    /// An operation's overall deadline (e.g. `default.api.timeout.ms`) passed.
    Timeout,
    /// The broker's response could not be decoded: it is malformed, truncated, or breaks a bound
    /// (a count larger than the bytes that remain, a frame larger than the maximum).
    MalformedResponse,
    /// A record batch failed its CRC-32C check or is otherwise corrupt.
    CorruptRecord,
    /// Compressing or decompressing a record batch failed, or decompressed data exceeded its cap.
    Compression,
    /// A record is larger than the client allows (`max.request.size` or `buffer.memory`), so it
    /// was never sent: Java's client-side `RecordTooLargeException`. (A broker refusing a batch
    /// as too large is [`ErrorKind::Broker`] `MESSAGE_TOO_LARGE` instead.) Not retriable: the
    /// same record fails the same way.
    RecordTooLarge {
        /// The record's size with its batch header, in bytes.
        size: usize,
        /// The setting it exceeds (`max.request.size`).
        limit_key: &'static str,
        /// That setting's value, in bytes.
        limit: usize,
    },
    /// The broker supports no version of an API in the range this client speaks.
    UnsupportedVersion {
        /// API name (`Metadata`).
        api: &'static str,
        /// Versions this client can speak (after the KIP-896 floor).
        client: (i16, i16),
        /// Versions the broker advertised, or `None` if it does not know the API at all.
        broker: Option<(i16, i16)>,
    },
    /// No broker in `bootstrap.servers` (or in the metadata) could be reached.
    NoBrokerAvailable,
    /// The client (or the connection it used) was shut down.
    Closed,
    /// An argument passed by the application is invalid (e.g. an empty topic name).
    InvalidArgument,
    /// A call that is not legal in the client's current state, such as a transactional send
    /// before `begin_transaction` or a commit after a failed send (Java's
    /// `IllegalStateException`). The detail names the state; the call did nothing.
    IllegalState,
    /// The record was part of a transaction that was aborted before it was sent (Java's
    /// `TransactionAbortedException`); it was never written.
    TransactionAborted,
    /// The broker refused the SASL credentials (`SASL_AUTHENTICATION_FAILED`: wrong password,
    /// unknown user, rejected token), does not enable the mechanism
    /// (`UNSUPPORTED_SASL_MECHANISM`), or broke the SASL exchange (a SCRAM server signature that
    /// does not verify). Fatal: retrying with the same credentials cannot succeed, so the client
    /// does not retry it. The broker's message, if any, is in
    /// [`Error::broker_message`]; the password never is.
    SaslAuthenticationFailed {
        /// The mechanism used (`SCRAM-SHA-256`).
        mechanism: &'static str,
    },
    /// The TLS handshake with a broker failed; the reason says what to fix. Fatal: the same
    /// settings against the same broker fail the same way.
    Tls(TlsFailure),
}

/// Why a TLS handshake failed ([`ErrorKind::Tls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The broker's certificate is not signed by a trusted CA (`ssl.truststore.*`).
    UntrustedCertificate,
    /// The certificate does not name the host the client connected to
    /// (`ssl.endpoint.identification.algorithm`).
    HostnameMismatch,
    /// The certificate has expired or is not valid yet.
    CertificateExpired,
    /// The peer does not speak TLS: a PLAINTEXT / SASL_PLAINTEXT listener (or one that closed the
    /// connection during the handshake, e.g. because it wants a client certificate).
    NotTls,
    /// The client spoke plaintext to a TLS listener (`security.protocol` should be `SSL` or
    /// `SASL_SSL`).
    BrokerExpectsTls,
    /// The broker aborted the handshake with an alert (e.g. it rejected the client certificate).
    RejectedByBroker,
    /// Any other handshake failure.
    Handshake,
}

impl TlsFailure {
    /// A short description of the reason.
    pub const fn describe(self) -> &'static str {
        match self {
            TlsFailure::UntrustedCertificate => {
                "the broker's certificate is not signed by a trusted CA"
            }
            TlsFailure::HostnameMismatch => "the broker's certificate does not match its host name",
            TlsFailure::CertificateExpired => {
                "the broker's certificate has expired or is not valid yet"
            }
            TlsFailure::NotTls => "the broker did not complete a TLS handshake",
            TlsFailure::BrokerExpectsTls => {
                "the broker expects TLS but the client connected in plaintext"
            }
            TlsFailure::RejectedByBroker => "the broker aborted the TLS handshake",
            TlsFailure::Handshake => "the TLS handshake failed",
        }
    }
}

/// Where an error happened: the request's context, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorContext {
    /// Topic the failed request was about.
    pub topic: Option<String>,
    /// Partition the failed request was about.
    pub partition: Option<i32>,
    /// Broker node id (or `host:port` when the node id is not known yet).
    pub broker: Option<String>,
    /// API name (`Produce`, `Metadata`, …).
    pub api: Option<&'static str>,
    /// The broker's own error message, when the response carries one.
    pub broker_message: Option<String>,
}

/// The error type of every ferrokafka operation.
///
/// Cheap to clone (one `Arc`), so one failure can be handed to every request it affects.
///
/// ```
/// use ferrokafka::{Error, ErrorClass};
/// let e = Error::from_broker_code(5); // LEADER_NOT_AVAILABLE
/// assert!(e.is_retriable());
/// assert!(!e.is_fatal());
/// let e = Error::from_broker_code(40); // INVALID_CONFIG
/// assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
/// assert!(!e.is_retriable());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Error {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    class: ErrorClass,
    context: ErrorContext,
    detail: Option<String>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// Builds an error of `kind` with its default class.
    pub fn new(kind: ErrorKind) -> Error {
        let class = default_class(&kind);
        Error::with_class(kind, class)
    }

    fn with_class(kind: ErrorKind, class: ErrorClass) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                class,
                context: ErrorContext::default(),
                detail: None,
                source: None,
            }),
        }
    }

    /// An error for a broker error code, classified by the KIP-1050 table.
    pub fn from_broker_code(code: i16) -> Error {
        Error::new(ErrorKind::Broker(BrokerErrorCode(code)))
    }

    /// A configuration error naming the key and the value.
    ///
    /// ```
    /// let e = ferrokafka::Error::config("acks", "2", "must be 0, 1, all or -1");
    /// assert!(e.to_string().contains("acks"));
    /// assert!(e.to_string().contains("\"2\""));
    /// ```
    pub fn config(
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Error {
        let key = key.into();
        // A secret's value never goes into an error, whoever builds it. An empty one stays
        // empty: it reveals nothing, and `[redacted]` would claim a value was set when the
        // error is that none was (e.g. an encrypted key without ssl.key.password).
        let value = value.into();
        let value = if is_secret_key(&key) && !value.is_empty() {
            REDACTED.to_owned()
        } else {
            value
        };
        Error::new(ErrorKind::Config {
            key,
            value,
            reason: reason.into(),
        })
    }

    /// A malformed-response error with a description of what was wrong.
    pub fn malformed(detail: impl Into<String>) -> Error {
        Error::new(ErrorKind::MalformedResponse).with_detail(detail)
    }

    /// Adds a human-readable detail.
    pub fn with_detail(self, detail: impl Into<String>) -> Error {
        self.map_inner(|i| i.detail = Some(detail.into()))
    }

    /// Adds the underlying cause.
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.map_inner(|i| i.source = Some(Arc::new(source)))
    }

    /// Records the topic and partition the error is about.
    pub fn with_partition(self, topic: impl Into<String>, partition: i32) -> Error {
        self.map_inner(|i| {
            i.context.topic = Some(topic.into());
            i.context.partition = Some(partition);
        })
    }

    /// Records the topic the error is about.
    pub fn with_topic(self, topic: impl Into<String>) -> Error {
        self.map_inner(|i| i.context.topic = Some(topic.into()))
    }

    /// Records the broker (node id or address) the error came from.
    pub fn with_broker(self, broker: impl Into<String>) -> Error {
        self.map_inner(|i| i.context.broker = Some(broker.into()))
    }

    /// Records the API of the failed request.
    pub fn with_api(self, api: &'static str) -> Error {
        self.map_inner(|i| i.context.api = Some(api))
    }

    /// Records the broker's error message (ignored when empty).
    pub fn with_broker_message(self, message: Option<impl Into<String>>) -> Error {
        match message.map(Into::into) {
            Some(m) if !m.is_empty() => self.map_inner(|i| i.context.broker_message = Some(m)),
            _ => self,
        }
    }

    /// Overrides the class (used where the same code means different things in different APIs,
    /// e.g. a retriable code that the caller has given up on).
    pub fn reclassify(self, class: ErrorClass) -> Error {
        self.map_inner(|i| i.class = class)
    }

    fn map_inner(self, f: impl FnOnce(&mut Inner)) -> Error {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => Inner {
                kind: shared.kind.clone(),
                class: shared.class,
                context: shared.context.clone(),
                detail: shared.detail.clone(),
                source: shared.source.clone(),
            },
        };
        f(&mut inner);
        Error {
            inner: Arc::new(inner),
        }
    }

    /// What happened.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// What to do about it.
    pub fn class(&self) -> ErrorClass {
        self.inner.class
    }

    /// Whether retrying the same operation may succeed ([`ErrorClass::Retriable`] or
    /// [`ErrorClass::RefreshRetriable`]).
    pub fn is_retriable(&self) -> bool {
        self.inner.class.is_retriable()
    }

    /// Whether the client instance cannot continue ([`ErrorClass::Fatal`]).
    pub fn is_fatal(&self) -> bool {
        self.inner.class == ErrorClass::Fatal
    }

    /// Whether this is an authentication failure (SASL or TLS): fatal, fix the credentials or
    /// the trust settings.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::SaslAuthenticationFailed { .. } | ErrorKind::Tls(_)
        )
    }

    /// Whether the client's metadata should be refreshed before a retry.
    pub fn needs_metadata_refresh(&self) -> bool {
        self.inner.class == ErrorClass::RefreshRetriable
    }

    /// Whether the broker a request went to may no longer be the place to send it (a partition
    /// leader or a coordinator), so the metadata must be looked up again before the retry:
    /// every [`ErrorClass::RefreshRetriable`] code, `UNKNOWN_LEADER_EPOCH` (only Retriable in
    /// KIP-1050, but it means our metadata and the broker's disagree), and every failure to
    /// reach the broker at all — a refused or timed-out connect, a lost connection, a request
    /// timeout, a node missing from the metadata. A broker that is down keeps refusing
    /// connections while its partitions are led elsewhere, so retrying the same node until
    /// `metadata.max.age.ms` runs out stalls them for minutes; Java's `NetworkClient` requests
    /// a metadata update on every disconnect for the same reason.
    ///
    /// ```
    /// use ferrokafka::{Error, ErrorKind};
    /// assert!(Error::new(ErrorKind::Connect).needs_leader_lookup());
    /// assert!(Error::from_broker_code(6).needs_leader_lookup()); // NOT_LEADER_OR_FOLLOWER
    /// assert!(!Error::from_broker_code(87).needs_leader_lookup()); // INVALID_RECORD
    /// ```
    pub fn needs_leader_lookup(&self) -> bool {
        self.needs_metadata_refresh()
            || self.broker_code() == Some(codes::code::UNKNOWN_LEADER_EPOCH)
            || self.is_connectivity_failure()
    }

    /// Whether the broker could not be reached or did not answer: a refused or timed-out
    /// connect (`Connect`), a lost connection (`Disconnected`), a request timeout, or no
    /// broker available. A broker error code is an answer, so it is not one of these.
    pub fn is_connectivity_failure(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::Connect
                | ErrorKind::NoBrokerAvailable
                | ErrorKind::Disconnected { .. }
                | ErrorKind::RequestTimeout
        )
    }

    /// The broker error, if this error came from one, to compare with a named code:
    ///
    /// ```
    /// use ferrokafka::{BrokerErrorCode, Error};
    /// let e = Error::from_broker_code(36);
    /// assert_eq!(e.broker_error(), Some(BrokerErrorCode::TOPIC_ALREADY_EXISTS));
    /// assert_eq!(BrokerErrorCode::TOPIC_ALREADY_EXISTS.name(), "TOPIC_ALREADY_EXISTS");
    /// ```
    pub fn broker_error(&self) -> Option<BrokerErrorCode> {
        self.broker_code().map(BrokerErrorCode)
    }

    /// The broker error code, if this error came from one.
    pub fn broker_code(&self) -> Option<i16> {
        match self.inner.kind {
            ErrorKind::Broker(BrokerErrorCode(c)) => Some(c),
            _ => None,
        }
    }

    /// Request context: topic, partition, broker, API, broker message.
    pub fn context(&self) -> &ErrorContext {
        &self.inner.context
    }

    /// The topic the error is about, if known.
    pub fn topic(&self) -> Option<&str> {
        self.inner.context.topic.as_deref()
    }

    /// The partition the error is about, if known.
    pub fn partition(&self) -> Option<i32> {
        self.inner.context.partition
    }

    /// The broker the error came from, if known.
    pub fn broker(&self) -> Option<&str> {
        self.inner.context.broker.as_deref()
    }

    /// The API of the failed request, if known.
    pub fn api(&self) -> Option<&'static str> {
        self.inner.context.api
    }

    /// The broker's error message, if the response carried one.
    pub fn broker_message(&self) -> Option<&str> {
        self.inner.context.broker_message.as_deref()
    }
}

/// What an error message shows in place of a secret property's value.
pub(crate) const REDACTED: &str = "[redacted]";

/// Property keys whose values are secrets: their values never appear in errors.
pub(crate) fn is_secret_key(key: &str) -> bool {
    matches!(
        key,
        "sasl.jaas.config"
            | "sasl.password"
            | "ssl.key.password"
            | "ssl.keystore.password"
            | "ssl.truststore.password"
            | "ssl.keystore.key"
            | "ssl.key.pem"
            | "sasl.oauthbearer.config"
    )
}

fn default_class(kind: &ErrorKind) -> ErrorClass {
    match kind {
        ErrorKind::Broker(BrokerErrorCode(code)) => class_of_code(*code),
        ErrorKind::Config { .. } => ErrorClass::InvalidConfiguration,
        ErrorKind::Connect
        | ErrorKind::Disconnected { .. }
        | ErrorKind::RequestTimeout
        | ErrorKind::NoBrokerAvailable => ErrorClass::Retriable,
        // An overall deadline passing is the caller's budget running out; retrying the same
        // operation with a new deadline may still succeed.
        ErrorKind::Timeout => ErrorClass::Retriable,
        // A malformed response or corrupt batch may be a transport fault; the next fetch or a
        // reconnect gets fresh bytes. Persistent corruption shows as repeated failures.
        ErrorKind::MalformedResponse | ErrorKind::CorruptRecord => ErrorClass::Retriable,
        ErrorKind::Compression => ErrorClass::ApplicationRecoverable,
        ErrorKind::RecordTooLarge { .. } => ErrorClass::ApplicationRecoverable,
        ErrorKind::UnsupportedVersion { .. } => ErrorClass::Fatal,
        ErrorKind::Closed => ErrorClass::Fatal,
        ErrorKind::InvalidArgument | ErrorKind::IllegalState => ErrorClass::InvalidConfiguration,
        ErrorKind::TransactionAborted => ErrorClass::TransactionAbortable,
        ErrorKind::SaslAuthenticationFailed { .. } | ErrorKind::Tls(_) => ErrorClass::Fatal,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        match &i.kind {
            ErrorKind::Broker(code) => write!(f, "broker error {code}")?,
            ErrorKind::Config { key, value, reason } => {
                write!(f, "invalid configuration {key}={value:?}: {reason}")?
            }
            ErrorKind::Connect => f.write_str("could not connect to broker")?,
            ErrorKind::Disconnected { sent: true } => {
                f.write_str("connection to broker lost before the response arrived")?
            }
            ErrorKind::Disconnected { sent: false } => {
                f.write_str("connection to broker lost before the request was sent")?
            }
            ErrorKind::RequestTimeout => f.write_str("request timed out (request.timeout.ms)")?,
            ErrorKind::Timeout => f.write_str("operation timed out")?,
            ErrorKind::MalformedResponse => f.write_str("malformed response from broker")?,
            ErrorKind::CorruptRecord => f.write_str("corrupt record batch")?,
            ErrorKind::Compression => f.write_str("compression error")?,
            ErrorKind::RecordTooLarge {
                size,
                limit_key,
                limit,
            } => write!(
                f,
                "record too large: {size} bytes with its batch header, more than {limit_key} ({limit})"
            )?,
            ErrorKind::UnsupportedVersion {
                api,
                client,
                broker,
            } => match broker {
                Some(b) => write!(
                    f,
                    "unsupported version: {api} client range {}..={} does not intersect broker range {}..={}",
                    client.0, client.1, b.0, b.1
                )?,
                None => write!(
                    f,
                    "unsupported version: broker does not support {api} (client range {}..={})",
                    client.0, client.1
                )?,
            },
            ErrorKind::NoBrokerAvailable => f.write_str("no broker available")?,
            ErrorKind::Closed => f.write_str("client closed")?,
            ErrorKind::InvalidArgument => f.write_str("invalid argument")?,
            ErrorKind::IllegalState => f.write_str("illegal state")?,
            ErrorKind::TransactionAborted => f.write_str("transaction aborted")?,
            ErrorKind::SaslAuthenticationFailed { mechanism } => {
                write!(f, "SASL authentication failed ({mechanism})")?
            }
            ErrorKind::Tls(reason) => write!(f, "TLS handshake failed: {}", reason.describe())?,
        }
        if let Some(d) = &i.detail {
            write!(f, ": {d}")?;
        }
        let c = &i.context;
        // A detail that quotes an inner error already carries its tags; print each tag once.
        let tag = |f: &mut fmt::Formatter<'_>, t: String| -> fmt::Result {
            if i.detail.as_deref().is_some_and(|d| d.contains(&t)) {
                Ok(())
            } else {
                f.write_str(&t)
            }
        };
        if let Some(api) = c.api {
            tag(f, format!(" [api {api}]"))?;
        }
        match (&c.topic, c.partition) {
            (Some(t), Some(p)) => tag(f, format!(" [partition {t}-{p}]"))?,
            (Some(t), None) => tag(f, format!(" [topic {t}]"))?,
            _ => {}
        }
        if let Some(b) = &c.broker {
            tag(f, format!(" [broker {b}]"))?;
        }
        if let Some(m) = &c.broker_message {
            write!(f, " [broker says: {m}]")?;
        }
        if let Some(s) = &i.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

/// `{:?}` is the one-line `Display` followed by the class, so that a `main` returning this
/// error (or a `Box<dyn Error>` holding it) prints a readable line; `{:#?}` shows the fields.
///
/// ```
/// let e = ferrokafka::Error::from_broker_code(7); // REQUEST_TIMED_OUT
/// assert_eq!(format!("{e:?}"), format!("{e} (class: Retriable)"));
/// assert!(format!("{e:#?}").contains("kind"));
/// ```
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return write!(f, "{self} (class: {:?})", self.inner.class);
        }
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("class", &self.inner.class)
            .field("context", &self.inner.context)
            .field("detail", &self.inner.detail)
            .field("source", &self.inner.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// A handler for errors a client reports besides the results of its calls: failed connects,
/// metadata failures, retried and background errors (a consumer's fetches, offset lookups,
/// group requests, auto-commits; a producer's retries and fatal errors). Route them to your log
/// or alerting; it runs on the client's background task, so keep it short and do not block.
///
/// ```
/// use ferrokafka::ErrorHandler;
/// use std::sync::Arc;
/// let handler: ErrorHandler = Arc::new(|e| eprintln!("kafka: {e}"));
/// # let _ = handler;
/// ```
pub type ErrorHandler = std::sync::Arc<dyn Fn(&Error) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_error_prints_each_context_tag_once() {
        let inner = Error::new(ErrorKind::NoBrokerAvailable)
            .with_api("Metadata")
            .with_detail("could not connect to broker [broker 127.0.0.1:1]");
        let outer = crate::retry::api_timeout("Metadata", &inner).with_broker("127.0.0.1:1");
        let text = outer.to_string();
        assert_eq!(text.matches("[api Metadata]").count(), 1, "{text}");
        assert_eq!(text.matches("[broker 127.0.0.1:1]").count(), 1, "{text}");
        let plain = Error::from_broker_code(3)
            .with_topic("t")
            .with_api("Produce");
        assert_eq!(
            plain.to_string(),
            "broker error UNKNOWN_TOPIC_OR_PARTITION (3) [api Produce] [topic t]"
        );
    }

    #[test]
    fn a_secret_config_value_is_redacted_unless_empty() {
        let set = Error::config("ssl.key.password", "hunter2", "wrong");
        assert_eq!(
            set.to_string(),
            "invalid configuration ssl.key.password=\"[redacted]\": wrong"
        );
        let unset = Error::config("ssl.key.password", "", "set it");
        assert_eq!(
            unset.to_string(),
            "invalid configuration ssl.key.password=\"\": set it"
        );
    }

    #[test]
    fn leader_not_available_is_retriable_and_invalid_config_is_permanent() {
        let lna = Error::from_broker_code(5);
        assert!(lna.is_retriable());
        assert!(!lna.is_fatal());
        let ic = Error::from_broker_code(40);
        assert!(!ic.is_retriable());
        assert!(!ic.is_fatal());
    }

    #[test]
    fn context_shows_in_display() {
        let e = Error::from_broker_code(6)
            .with_partition("orders", 3)
            .with_broker("2")
            .with_api("Produce")
            .with_broker_message(Some("not the leader"));
        let s = e.to_string();
        for part in [
            "NOT_LEADER_OR_FOLLOWER",
            "orders-3",
            "broker 2",
            "Produce",
            "not the leader",
        ] {
            assert!(s.contains(part), "{s} lacks {part}");
        }
        assert!(e.needs_metadata_refresh());
    }
}

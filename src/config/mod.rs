//! Client configuration: typed builders validated once at `build()`, and construction from the
//! Java client's property names given as string pairs.
//!
//! ```
//! use ferrokafka::config::ClientConfig;
//! use std::time::Duration;
//!
//! // Typed builder.
//! let a = ClientConfig::builder()
//!     .bootstrap_servers("127.0.0.1:9092")
//!     .client_id("billing")
//!     .request_timeout(Duration::from_secs(10))
//!     .build()
//!     .unwrap();
//!
//! // The same from Java property names.
//! let b = ClientConfig::from_properties([
//!     ("bootstrap.servers", "127.0.0.1:9092"),
//!     ("client.id", "billing"),
//!     ("request.timeout.ms", "10000"),
//! ])
//! .unwrap();
//! assert_eq!(a, b);
//!
//! // A bad value is an error that names the key and the value.
//! let err = ClientConfig::from_properties([("request.timeout.ms", "soon")]).unwrap_err();
//! assert!(err.to_string().contains("request.timeout.ms"));
//! assert!(err.to_string().contains("soon"));
//! ```

mod jaas;
pub(crate) mod parse;
mod secret;
mod security;
pub(crate) mod suggest;
mod tls;

pub use parse::BrokerAddress;
use parse::{parse_bool, parse_bootstrap, parse_ms, parse_usize};
pub use secret::Secret;
pub(crate) use secret::REDACTED;
pub use security::{
    ClientCertificate, OAuthBearerToken, SaslConfig, SaslCredentials, SaslMechanism,
    SecurityBuilder, SecurityConfig, SecurityProtocol, TlsContext, TlsSettings, TokenFuture,
    TokenProvider, TrustStore, UnsecuredJwsProvider,
};

use crate::{Error, Result};
use std::time::Duration;

/// Settings shared by every client (admin, producer, consumer): where the cluster is, how to
/// connect, and how long to wait.
///
/// Defaults follow the Java client. Build with [`ClientConfig::builder`] or
/// [`ClientConfig::from_properties`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `bootstrap.servers`: the initial brokers to contact (no default; required).
    pub bootstrap_servers: Vec<BrokerAddress>,
    /// `client.id`: sent with every request, shown in broker logs and quotas (default `ferrokafka`).
    pub client_id: String,
    /// `request.timeout.ms`: how long to wait for one response before failing the request and
    /// closing the connection, as the Java client does (default 30 s).
    pub request_timeout: Duration,
    /// `socket.connection.setup.timeout.ms`: how long a TCP connect plus the ApiVersions handshake
    /// may take (default 10 s).
    pub connection_setup_timeout: Duration,
    /// `reconnect.backoff.ms`: the first wait before reconnecting to a broker after a failure
    /// (default 50 ms). Doubles per consecutive failure, with ±20 % jitter.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`: the cap of that wait (default 1 s).
    pub reconnect_backoff_max: Duration,
    /// `retry.backoff.ms`: the first wait before retrying a failed request, e.g. a metadata
    /// refresh (default 100 ms). Doubles per attempt, with ±20 % jitter.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`: the cap of that wait (default 1 s).
    pub retry_backoff_max: Duration,
    /// `metadata.max.age.ms`: metadata older than this is refreshed even without an error
    /// (default 5 min).
    pub metadata_max_age: Duration,
    /// `default.api.timeout.ms`: the overall deadline of operations that have no timeout of their
    /// own, such as admin calls (default 60 s).
    pub default_api_timeout: Duration,
    /// `receive.message.max.bytes` (librdkafka's name; Java has no such limit): the largest
    /// response frame accepted from a broker, so a corrupt size prefix cannot make the client
    /// allocate without bound (default 100,000,000 bytes, as librdkafka).
    pub max_response_size: usize,
    /// `allow.auto.create.topics`: whether a Metadata request may create a missing topic when the
    /// broker allows it (default `true`, as Java's consumer; producers pass `false` and create
    /// topics explicitly).
    pub allow_auto_create_topics: bool,
    /// `security.protocol`, `ssl.*` and `sasl.*`: TLS and SASL (default `PLAINTEXT`). See
    /// [`SecurityBuilder`] for every key, its default and its librdkafka alias.
    pub security: SecurityConfig,
}

impl ClientConfig {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::default()
    }

    /// Builds a configuration from Java property names. An unknown key or a bad value is an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) error naming both.
    pub fn from_properties<K, V>(props: impl IntoIterator<Item = (K, V)>) -> Result<ClientConfig>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut b = ClientConfig::builder();
        for (k, v) in props {
            b.set(k.as_ref(), v.as_ref())?;
        }
        b.build()
    }
}

/// Builder of [`ClientConfig`]; nothing is validated until [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct ClientConfigBuilder {
    bootstrap_servers: Option<String>,
    security: SecurityBuilder,
    cfg: ClientConfig,
}

impl Default for ClientConfigBuilder {
    fn default() -> Self {
        ClientConfigBuilder {
            bootstrap_servers: None,
            security: SecurityBuilder::default(),
            cfg: ClientConfig {
                bootstrap_servers: Vec::new(),
                client_id: "ferrokafka".to_owned(),
                request_timeout: Duration::from_millis(30_000),
                connection_setup_timeout: Duration::from_millis(10_000),
                reconnect_backoff: Duration::from_millis(50),
                reconnect_backoff_max: Duration::from_millis(1_000),
                retry_backoff: Duration::from_millis(100),
                retry_backoff_max: Duration::from_millis(1_000),
                metadata_max_age: Duration::from_millis(300_000),
                default_api_timeout: Duration::from_millis(60_000),
                max_response_size: 100_000_000,
                allow_auto_create_topics: true,
                security: SecurityConfig::default(),
            },
        }
    }
}

impl ClientConfigBuilder {
    /// `bootstrap.servers`: comma-separated `host:port` list. Required.
    pub fn bootstrap_servers(mut self, servers: impl Into<String>) -> Self {
        self.bootstrap_servers = Some(servers.into());
        self
    }
    /// `client.id` (default `ferrokafka`).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.client_id = id.into();
        self
    }
    /// `request.timeout.ms` (default 30 s). Must be positive.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.cfg.request_timeout = d;
        self
    }
    /// `socket.connection.setup.timeout.ms` (default 10 s). Must be positive.
    pub fn connection_setup_timeout(mut self, d: Duration) -> Self {
        self.cfg.connection_setup_timeout = d;
        self
    }
    /// `reconnect.backoff.ms` (default 50 ms).
    pub fn reconnect_backoff(mut self, d: Duration) -> Self {
        self.cfg.reconnect_backoff = d;
        self
    }
    /// `reconnect.backoff.max.ms` (default 1 s); must not be below `reconnect.backoff.ms`.
    pub fn reconnect_backoff_max(mut self, d: Duration) -> Self {
        self.cfg.reconnect_backoff_max = d;
        self
    }
    /// `retry.backoff.ms` (default 100 ms).
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.cfg.retry_backoff = d;
        self
    }
    /// `retry.backoff.max.ms` (default 1 s); must not be below `retry.backoff.ms`.
    pub fn retry_backoff_max(mut self, d: Duration) -> Self {
        self.cfg.retry_backoff_max = d;
        self
    }
    /// `metadata.max.age.ms` (default 5 min).
    pub fn metadata_max_age(mut self, d: Duration) -> Self {
        self.cfg.metadata_max_age = d;
        self
    }
    /// `default.api.timeout.ms` (default 60 s).
    pub fn default_api_timeout(mut self, d: Duration) -> Self {
        self.cfg.default_api_timeout = d;
        self
    }
    /// `receive.message.max.bytes` (default 100,000,000). At least 1,000.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.cfg.max_response_size = bytes;
        self
    }
    /// `allow.auto.create.topics` (default `true`).
    pub fn allow_auto_create_topics(mut self, allow: bool) -> Self {
        self.cfg.allow_auto_create_topics = allow;
        self
    }

    /// The security settings (`security.protocol`, `ssl.*`, `sasl.*`), e.g. to set an
    /// OAUTHBEARER [`TokenProvider`] in code.
    ///
    /// ```
    /// use ferrokafka::config::{ClientConfig, SaslMechanism, SecurityProtocol};
    /// let cfg = ClientConfig::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .security(|s| {
    ///         s.protocol(SecurityProtocol::SaslPlaintext)
    ///             .sasl_user_password(SaslMechanism::ScramSha256, "alice", "secret");
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert!(!format!("{cfg:?}").contains("secret"));
    /// ```
    pub fn security(mut self, f: impl FnOnce(&mut SecurityBuilder)) -> Self {
        f(&mut self.security);
        self
    }

    /// Sets one property by its Java name. Unknown keys and unparsable values are errors naming
    /// the key and the value, so typos are caught.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        if self.try_set(key, value)? {
            Ok(())
        } else {
            Err(suggest::unknown_key(key, value, &[suggest::CLIENT_KEYS]))
        }
    }

    /// Like [`set`](Self::set), but returns `Ok(false)` for a key this builder does not know, so
    /// that producer and consumer configurations can layer their own keys on top.
    pub fn try_set(&mut self, key: &str, value: &str) -> Result<bool> {
        let c = &mut self.cfg;
        match key {
            "bootstrap.servers" => self.bootstrap_servers = Some(value.to_owned()),
            "client.id" => c.client_id = value.to_owned(),
            "request.timeout.ms" => c.request_timeout = parse_ms(key, value)?,
            "socket.connection.setup.timeout.ms" => {
                c.connection_setup_timeout = parse_ms(key, value)?
            }
            "reconnect.backoff.ms" => c.reconnect_backoff = parse_ms(key, value)?,
            "reconnect.backoff.max.ms" => c.reconnect_backoff_max = parse_ms(key, value)?,
            "retry.backoff.ms" => c.retry_backoff = parse_ms(key, value)?,
            "retry.backoff.max.ms" => c.retry_backoff_max = parse_ms(key, value)?,
            "metadata.max.age.ms" => c.metadata_max_age = parse_ms(key, value)?,
            "default.api.timeout.ms" => c.default_api_timeout = parse_ms(key, value)?,
            "receive.message.max.bytes" => c.max_response_size = parse_usize(key, value)?,
            "allow.auto.create.topics" => c.allow_auto_create_topics = parse_bool(key, value)?,
            _ => return self.security.try_set(key, value),
        }
        Ok(true)
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ClientConfig> {
        let mut cfg = self.cfg;
        cfg.security = self.security.build()?;
        let servers = self.bootstrap_servers.unwrap_or_default();
        cfg.bootstrap_servers = parse_bootstrap("bootstrap.servers", &servers)?;
        let ms = |d: Duration| d.as_millis().to_string();
        if cfg.request_timeout.is_zero() {
            return Err(Error::config("request.timeout.ms", "0", "must be positive"));
        }
        if cfg.connection_setup_timeout.is_zero() {
            return Err(Error::config(
                "socket.connection.setup.timeout.ms",
                "0",
                "must be positive",
            ));
        }
        if cfg.reconnect_backoff_max < cfg.reconnect_backoff {
            return Err(Error::config(
                "reconnect.backoff.max.ms",
                ms(cfg.reconnect_backoff_max),
                format!(
                    "must be at least reconnect.backoff.ms ({})",
                    ms(cfg.reconnect_backoff)
                ),
            ));
        }
        if cfg.retry_backoff_max < cfg.retry_backoff {
            return Err(Error::config(
                "retry.backoff.max.ms",
                ms(cfg.retry_backoff_max),
                format!(
                    "must be at least retry.backoff.ms ({})",
                    ms(cfg.retry_backoff)
                ),
            ));
        }
        if cfg.max_response_size < 1_000 {
            return Err(Error::config(
                "receive.message.max.bytes",
                cfg.max_response_size.to_string(),
                "must be at least 1000",
            ));
        }
        if cfg.client_id.len() > i16::MAX as usize {
            return Err(Error::config("client.id", &cfg.client_id, "too long"));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn key_of(e: &Error) -> String {
        match e.kind() {
            ErrorKind::Config { key, .. } => key.clone(),
            other => panic!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_java_client() {
        let c = ClientConfig::builder()
            .bootstrap_servers("localhost:9092")
            .build()
            .unwrap();
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(50));
        assert_eq!(c.reconnect_backoff_max, Duration::from_secs(1));
        assert_eq!(c.retry_backoff, Duration::from_millis(100));
        assert_eq!(c.metadata_max_age, Duration::from_secs(300));
        assert_eq!(
            c.bootstrap_servers,
            vec![BrokerAddress::new("localhost", 9092)]
        );
    }

    #[test]
    fn errors_name_key_and_value() {
        let e = ClientConfig::from_properties([("bootstrap.servers", "a:1"), ("no.such.key", "x")])
            .unwrap_err();
        assert_eq!(key_of(&e), "no.such.key");
        let e = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("retry.backoff.ms", "-5"),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "retry.backoff.ms");
        assert!(e.to_string().contains("-5"));
        let e = ClientConfig::from_properties([("bootstrap.servers", "nohost")]).unwrap_err();
        assert_eq!(key_of(&e), "bootstrap.servers");
        let e = ClientConfig::from_properties::<&str, &str>([]).unwrap_err();
        assert_eq!(key_of(&e), "bootstrap.servers");
        let e = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("reconnect.backoff.ms", "500"),
            ("reconnect.backoff.max.ms", "100"),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "reconnect.backoff.max.ms");
        let e = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "TLS"),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "security.protocol");
        assert!(!e.is_retriable());
    }
}

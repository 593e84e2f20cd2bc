//! Listener security: PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL (one per cluster,
//! [`MockConfig::security_protocol`](crate::MockConfig::security_protocol)), and the SASL
//! authentication of each connection of a SASL listener, as Kafka's `SaslServerAuthenticator`
//! runs it:
//!
//! 1. Before authentication only ApiVersions (once, first), SaslHandshake and then
//!    SaslAuthenticate are accepted; any other request closes the connection without an answer
//!    (Kafka: `IllegalSaslStateException`, "Unexpected Kafka request of type … during SASL
//!    handshake"). Frames are limited to `sasl.server.max.receive.size` (512 KiB).
//! 2. SaslHandshake names a mechanism: enabled → `NONE` and the enabled mechanisms; else
//!    `UNSUPPORTED_SASL_MECHANISM` (33) with the enabled mechanisms, then the connection closes.
//!    SaslHandshake v0 means the tokens that follow are raw (a 4-byte size and the token, no
//!    Kafka header); v1 means they come in SaslAuthenticate requests.
//! 3. SaslAuthenticate carries the mechanism's messages (PLAIN: one; SCRAM: two). A failure is
//!    answered with `SASL_AUTHENTICATION_FAILED` (58) and a message, then the connection
//!    closes. The messages are Kafka's: PLAIN's own ("Invalid username or password"), and for
//!    SCRAM the generic one that does not tell an unknown user from a wrong password.
//! 4. With `connections.max.reauth.ms` ([`MockConfig::connections_max_reauth`](crate::MockConfig::connections_max_reauth),
//!    KIP-368) a session ends: SaslAuthenticate v1+ tells the client its lifetime; the client
//!    re-authenticates in place (SaslHandshake + SaslAuthenticate on the same connection, same
//!    mechanism); a request after the end without that closes the connection.
//! 5. Authenticated, the connection serves every API. A SaslHandshake or SaslAuthenticate
//!    after that (or on a listener without SASL) is answered with `ILLEGAL_SASL_STATE` (34),
//!    as KafkaApis does; both APIs are advertised on every listener, as Kafka does.

mod config;
mod oauthbearer;
mod plain;
mod scram;
mod session;
#[cfg(feature = "tls")]
pub(crate) mod tls;

pub(crate) use session::{Gate, Session};

use std::collections::HashMap;
use std::io;

/// A listener's `security.protocol`, as Kafka names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Plain TCP, no authentication (the default).
    #[default]
    Plaintext,
    /// SASL authentication over plain TCP.
    SaslPlaintext,
    /// TLS (feature `tls`); no SASL. A client certificate is asked for only with
    /// [`MockConfig::ssl_client_auth`](crate::MockConfig::ssl_client_auth).
    Ssl,
    /// SASL authentication over TLS (feature `tls`).
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name: `PLAINTEXT`, `SASL_PLAINTEXT`, `SSL`, `SASL_SSL` (the client's
    /// `security.protocol`).
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections authenticate with SASL first.
    pub fn is_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    /// Whether connections are TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

impl std::fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `connection.failed.authentication.delay.ms`, Kafka's default: how late a failed
/// authentication is answered before the connection closes.
pub(crate) const FAILED_AUTHENTICATION_DELAY: std::time::Duration =
    std::time::Duration::from_millis(100);

/// The SASL mechanisms the mock serves. OAUTHBEARER validates tokens as Kafka's unsecured
/// validator does (an unsigned JWS, its `sub` the principal, `exp` in the future), so it is
/// enabled only when [`MockConfig::sasl_mechanisms`](crate::MockConfig::sasl_mechanisms) names
/// it; the others are enabled by default.
pub const SASL_MECHANISMS: [&str; 4] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// The mechanisms enabled when none are configured: those that check a password.
const DEFAULT_MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// The security part of a [`MockConfig`](crate::MockConfig). Passwords and keys are not printed.
#[derive(Clone, Default)]
pub(crate) struct SecurityConfig {
    pub protocol: SecurityProtocol,
    /// `None`: [`DEFAULT_MECHANISMS`].
    pub mechanisms: Option<Vec<String>>,
    pub users: Vec<(String, String)>,
    /// The broker's certificate chain and key (PEM) instead of generated ones.
    pub certificate: Option<(String, String)>,
    /// Client certificates are required, signed by this CA (PEM).
    pub client_ca: Option<String>,
    /// `connections.max.reauth.ms` (KIP-368); `None`: sessions do not end.
    pub session_lifetime: Option<std::time::Duration>,
}

impl std::fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("protocol", &self.protocol)
            .field("mechanisms", &self.mechanisms)
            .field(
                "users",
                &self.users.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .field("certificate", &self.certificate.is_some())
            .field("client_ca", &self.client_ca.is_some())
            .field("session_lifetime", &self.session_lifetime)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    Plain,
    Scram(scram::Hash),
    OAuthBearer,
}

impl Mechanism {
    fn parse(name: &str) -> Option<Mechanism> {
        match name {
            "PLAIN" => Some(Mechanism::Plain),
            "SCRAM-SHA-256" => Some(Mechanism::Scram(scram::Hash::Sha256)),
            "SCRAM-SHA-512" => Some(Mechanism::Scram(scram::Hash::Sha512)),
            "OAUTHBEARER" => Some(Mechanism::OAuthBearer),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(scram::Hash::Sha256) => "SCRAM-SHA-256",
            Mechanism::Scram(scram::Hash::Sha512) => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// A user's stored credentials, one per mechanism (derived once at start).
#[derive(Debug)]
struct Credentials {
    plain: plain::Credential,
    sha256: scram::Credential,
    sha512: scram::Credential,
}

/// Why an authentication failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Told to the client as is (Kafka's `SaslAuthenticationException`).
    Message(String),
    /// Told as Kafka's generic "invalid credentials" message (its `SaslException`), which does
    /// not say whether the user exists; the reason is only logged (at debug).
    Generic(&'static str),
}

/// The cluster's listener security, shared by every connection.
#[derive(Debug)]
pub(crate) struct Security {
    pub protocol: SecurityProtocol,
    mechanisms: Vec<Mechanism>,
    users: HashMap<String, Credentials>,
    /// `connections.max.reauth.ms`.
    session_lifetime: Option<std::time::Duration>,
    #[cfg(feature = "tls")]
    pub tls: Option<tls::Tls>,
}

impl Security {
    /// Validates the configuration and derives the users' credentials (and, for SSL and
    /// SASL_SSL, the certificates): a bad configuration fails `MockCluster::start`.
    pub fn new(config: SecurityConfig, host: &str) -> io::Result<Security> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        let names: Vec<String> = config
            .mechanisms
            .unwrap_or_else(|| DEFAULT_MECHANISMS.iter().map(|m| m.to_string()).collect());
        let mechanisms = names
            .iter()
            .map(|n| {
                Mechanism::parse(n).ok_or_else(|| {
                    invalid(format!(
                        "SASL mechanism {n:?} is not served by the mock (served: {})",
                        SASL_MECHANISMS.join(", ")
                    ))
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        if config.protocol.is_sasl() && mechanisms.is_empty() {
            return Err(invalid(format!(
                "{} needs at least one SASL mechanism",
                config.protocol
            )));
        }
        let users = config
            .users
            .iter()
            .map(|(user, password)| {
                let c = Credentials {
                    plain: plain::Credential::derive(password),
                    sha256: scram::Credential::derive(scram::Hash::Sha256, password),
                    sha512: scram::Credential::derive(scram::Hash::Sha512, password),
                };
                (user.clone(), c)
            })
            .collect();
        #[cfg(feature = "tls")]
        let tls = if config.protocol.is_tls() {
            Some(tls::Tls::new(host, config.certificate, config.client_ca)?)
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        {
            let _ = host;
            if config.protocol.is_tls() {
                return Err(invalid(format!(
                    "{} needs ferrokafka-mock's `tls` feature",
                    config.protocol
                )));
            }
        }
        Ok(Security {
            protocol: config.protocol,
            mechanisms,
            users,
            session_lifetime: config.session_lifetime.filter(|l| !l.is_zero()),
            #[cfg(feature = "tls")]
            tls,
        })
    }

    fn enabled(&self, name: &str) -> Option<Mechanism> {
        Mechanism::parse(name).filter(|m| self.mechanisms.contains(m))
    }

    fn mechanism_names(&self) -> Vec<&'static str> {
        self.mechanisms.iter().map(|m| m.name()).collect()
    }

    /// The CA certificate (PEM) that signed the generated broker certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        #[cfg(feature = "tls")]
        {
            self.tls.as_ref().and_then(|t| t.ca_pem.as_deref())
        }
        #[cfg(not(feature = "tls"))]
        None
    }
}

/// Byte slices equal, in time independent of where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

//! Security settings shared by every client: `security.protocol`, the `ssl.*` keys (TLS through
//! rustls) and the `sasl.*` keys (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER).
//!
//! | key | default | alias | meaning |
//! |---|---|---|---|
//! | `security.protocol` | `PLAINTEXT` | | `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` (any case) |
//! | `ssl.endpoint.identification.algorithm` | `https` | | `https` checks the broker's host name against its certificate; empty (or librdkafka's `none`) disables the check (the chain is still verified) |
//! | `ssl.truststore.type` | `PEM` | | only `PEM`; `JKS`/`PKCS12` are refused with the PEM keys to use |
//! | `ssl.truststore.location` | system store | `ssl.ca.location` | PEM file of trusted CA certificates (librdkafka's `probe` means the system store) |
//! | `ssl.truststore.certificates` | | `ssl.ca.pem` | trusted CA certificates as inline PEM |
//! | `ssl.keystore.type` | `PEM` | | only `PEM` |
//! | `ssl.keystore.location` | | | PEM file holding the client's private key and certificate chain (mTLS) |
//! | `ssl.keystore.certificate.chain` | | `ssl.certificate.pem` | the client's certificate chain as inline PEM |
//! | `ssl.keystore.key` | | `ssl.key.pem` | the client's private key as inline PEM (secret) |
//! | (librdkafka) `ssl.certificate.location` / `ssl.key.location` | | | the client's certificate chain and key as separate PEM files |
//! | `ssl.key.password` | | | password of an encrypted PKCS#8 client key (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, PBES2: PBKDF2-HMAC-SHA2 or scrypt with AES-CBC) in any of the key sources above (secret); refused with an unencrypted key, as in the Java client, and unused without a client key. PBES1, PKCS#12 schemes and PBKDF2-HMAC-SHA1 are refused, as are legacy `Proc-Type: 4,ENCRYPTED` keys, each with the `openssl pkcs8 -topk8 -v2 aes-256-cbc` command that converts it |
//! | `ssl.enabled.protocols` | `TLSv1.2,TLSv1.3` | | TLS versions to offer |
//! | `ssl.protocol` | `TLSv1.3` | | accepted for compatibility (`TLS`, `TLSv1.2`, `TLSv1.3`); `ssl.enabled.protocols` decides |
//! | `sasl.mechanism` | `GSSAPI` (refused) | `sasl.mechanisms` | `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER` |
//! | `sasl.jaas.config` | | | Java syntax: `…PlainLoginModule required username=".." password="..";`, `…ScramLoginModule …`, `…OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="..";` (secret) |
//! | (librdkafka) `sasl.username` / `sasl.password` | | | credentials for PLAIN and SCRAM, instead of `sasl.jaas.config` |
//!
//! Every secret value is a [`Secret`]: never in `Debug`, `Display`, errors or logs.

use super::jaas::{parse_jaas, LoginModule};
use super::secret::{is_secret_key, Secret, REDACTED};
use crate::{Error, Result};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `security.protocol`: how the client talks to brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// No TLS, no authentication (the default).
    #[default]
    Plaintext,
    /// TLS, no SASL (optionally a client certificate: mTLS).
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// The Java name (`SASL_SSL`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
    /// Whether connections use TLS.
    pub const fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
    /// Whether connections authenticate with SASL.
    pub const fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
    fn parse(key: &str, value: &str) -> Result<SecurityProtocol> {
        match value.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            _ => Err(Error::config(
                key,
                value,
                "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
            )),
        }
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616): the password travels as is; use it over TLS only.
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802 / 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER` (KIP-255, RFC 7628).
    OAuthBearer,
}

impl SaslMechanism {
    /// The mechanism's name on the wire (`SCRAM-SHA-256`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
    fn parse(key: &str, value: &str) -> Result<SaslMechanism> {
        match value.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            "OAUTHBEARER" => Ok(SaslMechanism::OAuthBearer),
            "GSSAPI" => Err(Error::config(
                key,
                value,
                "GSSAPI (Kerberos) is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or \
                 OAUTHBEARER",
            )),
            _ => Err(Error::config(
                key,
                value,
                "expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
            )),
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAUTHBEARER token from a [`TokenProvider`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthBearerToken {
    /// The compact-serialized JWT (or any token the broker's validator accepts).
    pub value: Secret,
    /// SASL extensions (KIP-342) sent with the token, `key=value`.
    pub extensions: Vec<(String, String)>,
}

/// The future a [`TokenProvider`] returns.
pub type TokenFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<OAuthBearerToken>> + Send + 'a>>;

/// Supplies OAUTHBEARER tokens (KIP-255). Implement it to fetch tokens from your identity
/// provider; it is asked for a token on every connection (and re-authentication), so cache
/// tokens until shortly before they expire.
pub trait TokenProvider: Send + Sync + 'static {
    /// A token that is valid now.
    fn token(&self) -> TokenFuture<'_>;
}

/// Kafka's unsecured JWS token provider (`OAuthBearerLoginModule` with
/// `unsecuredLoginStringClaim_sub`), for tests against a broker that runs the unsecured
/// validator. Never use it in production: the token is not signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredJwsProvider {
    /// The `sub` claim (the principal).
    pub principal: String,
    /// How long each token is valid (`unsecuredLoginLifetimeSeconds`, default 3600 s).
    pub lifetime: Duration,
}

impl UnsecuredJwsProvider {
    /// The compact serialization `base64url(header).base64url(claims).` (empty signature).
    pub fn make_token(&self) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let iat = now.as_secs_f64();
        let exp = iat + self.lifetime.as_secs_f64();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let mut sub = String::new();
        for c in self.principal.chars() {
            match c {
                '"' => sub.push_str("\\\""),
                '\\' => sub.push_str("\\\\"),
                c if (c as u32) < 0x20 => sub.push_str(&format!("\\u{:04x}", c as u32)),
                c => sub.push(c),
            }
        }
        let claims = format!(r#"{{"iat":{iat:.3},"exp":{exp:.3},"sub":"{sub}"}}"#);
        format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims))
    }
}

impl TokenProvider for UnsecuredJwsProvider {
    fn token(&self) -> TokenFuture<'_> {
        let token = self.make_token();
        Box::pin(async move {
            Ok(OAuthBearerToken {
                value: Secret::new(token),
                extensions: Vec::new(),
            })
        })
    }
}

/// The credentials of a SASL mechanism.
#[derive(Clone)]
#[non_exhaustive]
pub enum SaslCredentials {
    /// PLAIN and SCRAM.
    UserPassword {
        /// The user name (not secret).
        username: String,
        /// The password.
        password: Secret,
    },
    /// OAUTHBEARER.
    OAuthBearer(Arc<dyn TokenProvider>),
}

impl fmt::Debug for SaslCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslCredentials::UserPassword { username, .. } => f
                .debug_struct("UserPassword")
                .field("username", username)
                .field("password", &REDACTED)
                .finish(),
            SaslCredentials::OAuthBearer(_) => f.write_str("OAuthBearer(TokenProvider)"),
        }
    }
}

impl PartialEq for SaslCredentials {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                SaslCredentials::UserPassword {
                    username: a,
                    password: pa,
                },
                SaslCredentials::UserPassword {
                    username: b,
                    password: pb,
                },
            ) => a == b && pa == pb,
            (SaslCredentials::OAuthBearer(a), SaslCredentials::OAuthBearer(b)) => {
                std::ptr::eq(Arc::as_ptr(a) as *const u8, Arc::as_ptr(b) as *const u8)
            }
            _ => false,
        }
    }
}
impl Eq for SaslCredentials {}

/// A validated SASL setup: the mechanism and its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslConfig {
    /// `sasl.mechanism`.
    pub mechanism: SaslMechanism,
    /// From `sasl.jaas.config`, `sasl.username`/`sasl.password`, or a [`TokenProvider`].
    pub credentials: SaslCredentials,
}

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TrustStore {
    /// The operating system's store (the default).
    #[default]
    System,
    /// A PEM file (`ssl.truststore.location`).
    PemFile(PathBuf),
    /// Inline PEM (`ssl.truststore.certificates`).
    Pem(String),
}

/// The client's own certificate and key (mTLS).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCertificate {
    /// One PEM file holding the key and the chain (`ssl.keystore.location`).
    KeystoreFile(PathBuf),
    /// Separate PEM files (`ssl.certificate.location`, `ssl.key.location`).
    Files {
        /// The certificate chain.
        certificate: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// Inline PEM (`ssl.keystore.certificate.chain`, `ssl.keystore.key`).
    Pem {
        /// The certificate chain.
        chain: String,
        /// The private key.
        key: Secret,
    },
}

/// TLS settings (used when `security.protocol` is `SSL` or `SASL_SSL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl.endpoint.identification.algorithm=https`: check the broker's host name (default on).
    pub verify_hostname: bool,
    /// Trusted CAs.
    pub trust: TrustStore,
    /// Client certificate, if any.
    pub client_cert: Option<ClientCertificate>,
    /// `ssl.key.password`: decrypts an encrypted PKCS#8 client key.
    pub key_password: Option<Secret>,
    /// `ssl.enabled.protocols` contains `TLSv1.2`.
    pub tls12: bool,
    /// `ssl.enabled.protocols` contains `TLSv1.3`.
    pub tls13: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            verify_hostname: true,
            trust: TrustStore::System,
            client_cert: None,
            key_password: None,
            tls12: true,
            tls13: true,
        }
    }
}

/// A TLS client configuration loaded once (certificates read and parsed at `build()`), shared by
/// every connection of a client.
#[derive(Clone)]
pub struct TlsContext {
    pub(crate) settings: TlsSettings,
    pub(crate) rustls: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

impl PartialEq for TlsContext {
    fn eq(&self, other: &Self) -> bool {
        self.settings == other.settings
    }
}
impl Eq for TlsContext {}

impl TlsContext {
    /// The settings it was built from.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }
}

/// The validated security configuration of a client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityConfig {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// Present iff the protocol uses TLS.
    pub tls: Option<TlsContext>,
    /// Present iff the protocol uses SASL.
    pub sasl: Option<SaslConfig>,
}

/// The raw security properties as set, validated by [`SecurityBuilder::build`].
#[derive(Debug, Clone, Default)]
pub struct SecurityBuilder {
    protocol: SecurityProtocol,
    mechanism: Option<(String, SaslMechanism)>,
    jaas: Option<Secret>,
    username: Option<String>,
    password: Option<Secret>,
    token_provider: Option<ProviderHandle>,
    verify_hostname: Option<bool>,
    truststore_type: Option<String>,
    truststore_location: Option<(&'static str, String)>,
    truststore_pem: Option<String>,
    truststore_password: bool,
    keystore_type: Option<String>,
    keystore_location: Option<String>,
    keystore_chain: Option<String>,
    keystore_key: Option<Secret>,
    cert_location: Option<String>,
    key_location: Option<String>,
    key_password: Option<Secret>,
    keystore_password: bool,
    enabled_protocols: Option<(bool, bool)>,
}

#[derive(Clone)]
struct ProviderHandle(Arc<dyn TokenProvider>);

impl fmt::Debug for ProviderHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenProvider")
    }
}

const PEM_KEYS_HINT: &str = "only PEM is supported: use ssl.truststore.type=PEM with \
     ssl.truststore.location (a PEM file) or ssl.truststore.certificates (inline PEM), and \
     ssl.keystore.type=PEM with ssl.keystore.location (key + chain in one PEM file) or \
     ssl.keystore.certificate.chain + ssl.keystore.key; convert a JKS or PKCS12 store with \
     `keytool -importkeystore -deststoretype PKCS12` then `openssl pkcs12 -nodes`";

impl SecurityBuilder {
    /// Sets `security.protocol`.
    pub fn protocol(&mut self, p: SecurityProtocol) -> &mut Self {
        self.protocol = p;
        self
    }
    /// SASL with a user name and password (PLAIN or SCRAM).
    pub fn sasl_user_password(
        &mut self,
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> &mut Self {
        self.mechanism = Some((mechanism.as_str().to_owned(), mechanism));
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }
    /// OAUTHBEARER with tokens from `provider`.
    pub fn oauthbearer(&mut self, provider: Arc<dyn TokenProvider>) -> &mut Self {
        self.mechanism = Some(("OAUTHBEARER".into(), SaslMechanism::OAuthBearer));
        self.token_provider = Some(ProviderHandle(provider));
        self
    }
    /// Trust the CA certificates of this inline PEM.
    pub fn trust_pem(&mut self, pem: impl Into<String>) -> &mut Self {
        self.truststore_pem = Some(pem.into());
        self
    }

    /// Takes one security property; `Ok(false)` for a key that is not a security key.
    pub fn try_set(&mut self, key: &str, value: &str) -> Result<bool> {
        let shown = || {
            if is_secret_key(key) {
                REDACTED.to_owned()
            } else {
                value.to_owned()
            }
        };
        let non_empty = |v: &str| -> Option<String> {
            let t = v.trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        match key {
            "security.protocol" => self.protocol = SecurityProtocol::parse(key, value)?,
            "sasl.mechanism" | "sasl.mechanisms" => {
                self.mechanism = Some((value.to_owned(), SaslMechanism::parse(key, value)?))
            }
            "sasl.jaas.config" => self.jaas = Some(Secret::new(value)),
            "sasl.username" => self.username = Some(value.to_owned()),
            "sasl.password" => self.password = Some(Secret::new(value)),
            "ssl.endpoint.identification.algorithm" => {
                self.verify_hostname = Some(match value.trim().to_ascii_lowercase().as_str() {
                    "https" => true,
                    "" | "none" => false,
                    _ => {
                        return Err(Error::config(
                            key,
                            value,
                            "expected https, or an empty value to disable the host name check",
                        ))
                    }
                })
            }
            "ssl.truststore.type" => self.truststore_type = Some(value.trim().to_owned()),
            "ssl.truststore.location" | "ssl.ca.location" => {
                self.truststore_location = non_empty(value).map(|v| {
                    let k: &'static str = if key == "ssl.ca.location" {
                        "ssl.ca.location"
                    } else {
                        "ssl.truststore.location"
                    };
                    (k, v)
                })
            }
            "ssl.truststore.certificates" | "ssl.ca.pem" => self.truststore_pem = non_empty(value),
            "ssl.truststore.password" => self.truststore_password = !value.is_empty(),
            "ssl.keystore.type" => self.keystore_type = Some(value.trim().to_owned()),
            "ssl.keystore.location" => self.keystore_location = non_empty(value),
            "ssl.keystore.certificate.chain" | "ssl.certificate.pem" => {
                self.keystore_chain = non_empty(value)
            }
            "ssl.keystore.key" | "ssl.key.pem" => {
                self.keystore_key = non_empty(value).map(Secret::new)
            }
            "ssl.certificate.location" => self.cert_location = non_empty(value),
            "ssl.key.location" => self.key_location = non_empty(value),
            "ssl.key.password" => {
                self.key_password = (!value.is_empty()).then(|| Secret::new(value))
            }
            "ssl.keystore.password" => self.keystore_password = !value.is_empty(),
            "ssl.protocol" => {
                if !matches!(value.trim(), "TLS" | "TLSv1.2" | "TLSv1.3") {
                    return Err(Error::config(
                        key,
                        shown(),
                        "expected TLS, TLSv1.2 or TLSv1.3",
                    ));
                }
            }
            "ssl.enabled.protocols" => {
                let (mut t12, mut t13) = (false, false);
                for p in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match p {
                        "TLSv1.2" => t12 = true,
                        "TLSv1.3" => t13 = true,
                        _ => {
                            return Err(Error::config(
                                key,
                                value,
                                format!("{p} is not supported (TLSv1.2 and TLSv1.3 are)"),
                            ))
                        }
                    }
                }
                if !t12 && !t13 {
                    return Err(Error::config(key, value, "names no TLS version"));
                }
                self.enabled_protocols = Some((t12, t13));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Validates the properties, loads and parses the certificates and keys, and returns the
    /// security configuration. Errors name the key (and, unless it is a secret, the value).
    pub fn build(&self) -> Result<SecurityConfig> {
        let protocol = self.protocol;
        let tls = if protocol.uses_tls() {
            Some(self.build_tls()?)
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            Some(self.build_sasl()?)
        } else {
            None
        };
        Ok(SecurityConfig {
            protocol,
            tls,
            sasl,
        })
    }

    fn build_tls(&self) -> Result<TlsContext> {
        for (key, ty) in [
            ("ssl.truststore.type", &self.truststore_type),
            ("ssl.keystore.type", &self.keystore_type),
        ] {
            if let Some(t) = ty {
                if !t.eq_ignore_ascii_case("PEM") {
                    return Err(Error::config(key, t, PEM_KEYS_HINT));
                }
            }
        }
        if self.truststore_password {
            return Err(Error::config(
                "ssl.truststore.password",
                REDACTED,
                "a PEM truststore has no password (as in the Java client); remove it",
            ));
        }
        if self.keystore_password {
            return Err(Error::config(
                "ssl.keystore.password",
                REDACTED,
                "a PEM keystore has no store password; an encrypted key's password is \
                 ssl.key.password",
            ));
        }
        let trust = match (&self.truststore_location, &self.truststore_pem) {
            (Some((k, _)), Some(_)) => {
                return Err(Error::config(
                    *k,
                    self.truststore_location
                        .as_ref()
                        .map_or("", |(_, v)| v.as_str()),
                    "set either a truststore file or ssl.truststore.certificates, not both",
                ))
            }
            (Some((_, v)), None) if v == "probe" => TrustStore::System,
            (Some((_, v)), None) => TrustStore::PemFile(PathBuf::from(v)),
            (None, Some(pem)) => TrustStore::Pem(pem.clone()),
            (None, None) => TrustStore::System,
        };
        let client_cert = match (
            &self.keystore_location,
            &self.keystore_chain,
            &self.keystore_key,
            &self.cert_location,
            &self.key_location,
        ) {
            (None, None, None, None, None) => None,
            (Some(loc), None, None, None, None) => {
                Some(ClientCertificate::KeystoreFile(PathBuf::from(loc)))
            }
            (None, Some(chain), Some(key), None, None) => Some(ClientCertificate::Pem {
                chain: chain.clone(),
                key: key.clone(),
            }),
            (None, None, None, Some(c), Some(k)) => Some(ClientCertificate::Files {
                certificate: PathBuf::from(c),
                key: PathBuf::from(k),
            }),
            (None, Some(_), None, None, None) => {
                return Err(Error::config(
                    "ssl.keystore.key",
                    "",
                    "ssl.keystore.certificate.chain is set: the private key is needed too",
                ))
            }
            (None, None, Some(_), None, None) => {
                return Err(Error::config(
                    "ssl.keystore.certificate.chain",
                    "",
                    "ssl.keystore.key is set: the certificate chain is needed too",
                ))
            }
            (None, None, None, Some(_), None) => {
                return Err(Error::config(
                    "ssl.key.location",
                    "",
                    "ssl.certificate.location is set: the key file is needed too",
                ))
            }
            (None, None, None, None, Some(_)) => {
                return Err(Error::config(
                    "ssl.certificate.location",
                    "",
                    "ssl.key.location is set: the certificate file is needed too",
                ))
            }
            _ => {
                return Err(Error::config(
                    "ssl.keystore.location",
                    self.keystore_location.clone().unwrap_or_default(),
                    "set one client certificate source: ssl.keystore.location, or \
                     ssl.keystore.certificate.chain + ssl.keystore.key, or \
                     ssl.certificate.location + ssl.key.location",
                ))
            }
        };
        let (tls12, tls13) = self.enabled_protocols.unwrap_or((true, true));
        let settings = TlsSettings {
            verify_hostname: self.verify_hostname.unwrap_or(true),
            trust,
            client_cert,
            key_password: self.key_password.clone(),
            tls12,
            tls13,
        };
        let rustls = super::tls::client_config(&settings).map_err(|e| {
            // Name the key the user set: librdkafka's alias if that was it.
            match (e.kind(), &self.truststore_location) {
                (crate::ErrorKind::Config { key, value, reason }, Some((alias, _)))
                    if key == "ssl.truststore.location" && *alias != key.as_str() =>
                {
                    Error::config(*alias, value.clone(), reason.clone())
                }
                _ => e,
            }
        })?;
        Ok(TlsContext { settings, rustls })
    }

    fn build_sasl(&self) -> Result<SaslConfig> {
        let Some((_, mechanism)) = self.mechanism.clone() else {
            return Err(Error::config(
                "sasl.mechanism",
                "GSSAPI",
                "the default mechanism GSSAPI (Kerberos) is not supported; set sasl.mechanism \
                 to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
            ));
        };
        if let Some(p) = &self.token_provider {
            if mechanism == SaslMechanism::OAuthBearer {
                return Ok(SaslConfig {
                    mechanism,
                    credentials: SaslCredentials::OAuthBearer(p.0.clone()),
                });
            }
        }
        let jaas = match &self.jaas {
            Some(j) => Some(
                parse_jaas(j.expose())
                    .map_err(|why| Error::config("sasl.jaas.config", REDACTED, why))?,
            ),
            None => None,
        };
        if let Some(j) = &jaas {
            let expected = match mechanism {
                SaslMechanism::Plain => LoginModule::Plain,
                SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => LoginModule::Scram,
                SaslMechanism::OAuthBearer => LoginModule::OAuthBearer,
            };
            if j.module != expected {
                return Err(Error::config(
                    "sasl.jaas.config",
                    REDACTED,
                    format!(
                        "its login module ({:?}LoginModule) does not match sasl.mechanism={mechanism}",
                        j.module
                    ),
                ));
            }
        }
        let credentials = match mechanism {
            SaslMechanism::Plain | SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                let (username, password) = match (&jaas, &self.username, &self.password) {
                    (Some(j), _, _) => (
                        j.options.get("username").cloned(),
                        j.options.get("password").cloned().map(Secret::new),
                    ),
                    (None, u, p) => (u.clone(), p.clone()),
                };
                let Some(username) = username.filter(|u| !u.is_empty()) else {
                    return Err(Error::config(
                        "sasl.jaas.config",
                        REDACTED,
                        format!(
                            "{mechanism} needs a user name: username=\"..\" in sasl.jaas.config, \
                             or sasl.username"
                        ),
                    ));
                };
                let Some(password) = password else {
                    return Err(Error::config(
                        "sasl.jaas.config",
                        REDACTED,
                        format!(
                            "{mechanism} needs a password: password=\"..\" in sasl.jaas.config, \
                             or sasl.password"
                        ),
                    ));
                };
                SaslCredentials::UserPassword { username, password }
            }
            SaslMechanism::OAuthBearer => {
                let Some(j) = &jaas else {
                    return Err(Error::config(
                        "sasl.jaas.config",
                        "",
                        "OAUTHBEARER needs a token provider (SecurityBuilder::oauthbearer) or, \
                         for tests, OAuthBearerLoginModule with unsecuredLoginStringClaim_sub",
                    ));
                };
                let Some(sub) = j.options.get("unsecuredLoginStringClaim_sub") else {
                    return Err(Error::config(
                        "sasl.jaas.config",
                        REDACTED,
                        "OAuthBearerLoginModule without unsecuredLoginStringClaim_sub needs a \
                         token provider set in code (SecurityBuilder::oauthbearer)",
                    ));
                };
                let lifetime = match j.options.get("unsecuredLoginLifetimeSeconds") {
                    None => Duration::from_secs(3600),
                    Some(s) => Duration::from_secs(s.trim().parse().map_err(|_| {
                        Error::config(
                            "sasl.jaas.config",
                            REDACTED,
                            "unsecuredLoginLifetimeSeconds is not a number of seconds",
                        )
                    })?),
                };
                SaslCredentials::OAuthBearer(Arc::new(UnsecuredJwsProvider {
                    principal: sub.clone(),
                    lifetime,
                }))
            }
        };
        Ok(SaslConfig {
            mechanism,
            credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn build(props: &[(&str, &str)]) -> Result<SecurityConfig> {
        let mut b = SecurityBuilder::default();
        for (k, v) in props {
            assert!(b.try_set(k, v)?, "{k} not a security key");
        }
        b.build()
    }

    fn key_of(e: &Error) -> String {
        match e.kind() {
            ErrorKind::Config { key, .. } => key.clone(),
            other => panic!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn plaintext_by_default() {
        let c = build(&[]).unwrap();
        assert_eq!(c.protocol, SecurityProtocol::Plaintext);
        assert!(c.tls.is_none() && c.sasl.is_none());
    }

    #[test]
    fn jaas_and_librdkafka_credentials() {
        let c = build(&[
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cret";"#,
            ),
        ])
        .unwrap();
        let sasl = c.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(
            sasl.credentials,
            SaslCredentials::UserPassword {
                username: "alice".into(),
                password: Secret::new("s3cret")
            }
        );
        assert!(!format!("{sasl:?}").contains("s3cret"));
        let c = build(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", "PLAIN"),
            ("sasl.username", "bob"),
            ("sasl.password", "pw"),
        ])
        .unwrap();
        assert_eq!(c.sasl.unwrap().mechanism, SaslMechanism::Plain);
    }

    #[test]
    fn sasl_errors_name_the_key_and_hide_secrets() {
        let e = build(&[("security.protocol", "SASL_PLAINTEXT")]).unwrap_err();
        assert_eq!(key_of(&e), "sasl.mechanism");
        let e = build(&[("sasl.mechanism", "GSSAPI")]).unwrap_err();
        assert_eq!(key_of(&e), "sasl.mechanism");
        let e = build(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="s3cret";"#,
            ),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "sasl.jaas.config");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
        let e = build(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "x.PlainLoginModule required password=\"s3cret",
            ),
        ])
        .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = build(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "a"),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "sasl.jaas.config");
        assert!(build(&[("security.protocol", "TLS")]).is_err());
    }

    #[test]
    fn keystore_types_other_than_pem_name_the_pem_keys() {
        for (k, v) in [
            ("ssl.truststore.type", "JKS"),
            ("ssl.keystore.type", "PKCS12"),
        ] {
            let e = build(&[("security.protocol", "SSL"), (k, v)]).unwrap_err();
            assert_eq!(key_of(&e), k);
            let s = e.to_string();
            assert!(
                s.contains("ssl.truststore.location") && s.contains("ssl.keystore.key"),
                "{s}"
            );
        }
        // A password without a client key is unused, not an error (one properties file may
        // serve several clients).
        build(&[("security.protocol", "SSL"), ("ssl.key.password", "pw")]).unwrap();
        let e = build(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/nonexistent/ca.pem"),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "ssl.truststore.location");
        let e = build(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/nonexistent/ca.pem"),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "ssl.ca.location");
        let e = build(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.certificates", "not pem"),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "ssl.truststore.certificates");
        let e = build(&[
            ("security.protocol", "SSL"),
            ("ssl.endpoint.identification.algorithm", "dns"),
        ])
        .unwrap_err();
        assert_eq!(key_of(&e), "ssl.endpoint.identification.algorithm");
        let e = build(&[("security.protocol", "SSL"), ("ssl.keystore.key", "k")]).unwrap_err();
        assert_eq!(key_of(&e), "ssl.keystore.certificate.chain");
    }

    #[test]
    fn unsecured_jws_has_the_sub_claim() {
        use base64::Engine;
        let t = UnsecuredJwsProvider {
            principal: "ad\"min".into(),
            lifetime: Duration::from_secs(60),
        }
        .make_token();
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "");
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap();
        let claims = String::from_utf8(claims).unwrap();
        assert!(claims.contains(r#""sub":"ad\"min""#), "{claims}");
    }

    /// OpenSSL-made fixtures (see testdata/README.md): one P-256 key, encrypted several ways.
    mod encrypted_keys {
        use super::*;

        const PASSWORD: &str = "fixture-key-pw";
        const CERT: &str = include_str!("../connection/testdata/client-cert.pem");
        const PLAIN: &str = include_str!("../connection/testdata/client-key.pem");
        const PBKDF2_AES256: &str =
            include_str!("../connection/testdata/client-key-pbkdf2-aes256.pem");
        const PBKDF2_AES128: &str =
            include_str!("../connection/testdata/client-key-pbkdf2-aes128.pem");
        const SCRYPT_AES256: &str =
            include_str!("../connection/testdata/client-key-scrypt-aes256.pem");
        const PBKDF2_SHA1: &str = include_str!("../connection/testdata/client-key-pbkdf2-sha1.pem");
        const PBES1: &str = include_str!("../connection/testdata/client-key-pbes1.pem");
        const LEGACY: &str = include_str!("../connection/testdata/client-key-legacy.pem");

        fn fixture(name: &str) -> String {
            format!(
                "{}/src/connection/testdata/{name}",
                env!("CARGO_MANIFEST_DIR")
            )
        }

        /// A keystore file (key then chain, as Kafka's PEM keystores are) in a fresh temp dir.
        fn keystore_file(key: &str) -> (PathBuf, String) {
            let dir = std::env::temp_dir().join(format!(
                "ferrokafka-keytest-{}-{:016x}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("keystore.pem");
            std::fs::write(&path, format!("{key}{CERT}")).unwrap();
            let shown = path.display().to_string();
            (dir, shown)
        }

        /// Builds an SSL config with `key` through each key source (`ssl.keystore.location`,
        /// `ssl.certificate.location` + `ssl.key.location`, inline PEM) plus `extra`.
        fn each_source(key: &str, key_file: &str, extra: &[(&str, &str)]) -> Vec<Result<()>> {
            let (dir, keystore) = keystore_file(key);
            let cert = fixture("client-cert.pem");
            let key_path = fixture(key_file);
            let sources: [Vec<(&str, &str)>; 3] = [
                vec![("ssl.keystore.location", &keystore)],
                vec![
                    ("ssl.certificate.location", &cert),
                    ("ssl.key.location", &key_path),
                ],
                vec![
                    ("ssl.keystore.certificate.chain", CERT),
                    ("ssl.keystore.key", key),
                ],
            ];
            let out = sources
                .into_iter()
                .map(|mut props| {
                    props.push(("security.protocol", "SSL"));
                    props.push(("ssl.truststore.certificates", CERT));
                    props.extend_from_slice(extra);
                    let c = build(&props)?;
                    let tls = c.tls.as_ref().expect("SSL has TLS settings");
                    assert!(tls.settings().client_cert.is_some());
                    let dump = format!("{c:?}");
                    assert!(!dump.contains(PASSWORD), "{dump}");
                    Ok(())
                })
                .collect();
            let _ = std::fs::remove_dir_all(dir);
            out
        }

        /// rustls checks that the key matches the certificate (`with_client_auth_cert`), so a
        /// successful build means the key was decrypted to the right bytes.
        #[test]
        fn pbes2_keys_decrypt_from_every_source() {
            for (key, file) in [
                (PBKDF2_AES256, "client-key-pbkdf2-aes256.pem"),
                (PBKDF2_AES128, "client-key-pbkdf2-aes128.pem"),
                (SCRYPT_AES256, "client-key-scrypt-aes256.pem"),
            ] {
                for r in each_source(key, file, &[("ssl.key.password", PASSWORD)]) {
                    r.unwrap_or_else(|e| panic!("{file}: {e}"));
                }
            }
        }

        /// As in the Java client: a password means the user believes the key is encrypted.
        #[test]
        fn a_password_for_an_unencrypted_key_is_refused() {
            for r in each_source(PLAIN, "client-key.pem", &[("ssl.key.password", PASSWORD)]) {
                let e = r.unwrap_err();
                assert_eq!(key_of(&e), "ssl.key.password", "{e}");
                let s = e.to_string();
                assert!(s.contains("not encrypted"), "{s}");
                assert!(
                    !s.contains(PASSWORD) && !format!("{e:?}").contains(PASSWORD),
                    "{s}"
                );
            }
            for r in each_source(PLAIN, "client-key.pem", &[]) {
                r.unwrap();
            }
            // An empty password is no password.
            for r in each_source(PLAIN, "client-key.pem", &[("ssl.key.password", "")]) {
                r.unwrap();
            }
        }

        #[test]
        fn a_wrong_password_names_ssl_key_password_and_hides_it() {
            for r in each_source(
                PBKDF2_AES256,
                "client-key-pbkdf2-aes256.pem",
                &[("ssl.key.password", "hunter2-wrong")],
            ) {
                let e = r.unwrap_err();
                assert_eq!(key_of(&e), "ssl.key.password", "{e}");
                let (shown, dbg) = (e.to_string(), format!("{e:?}"));
                assert!(shown.contains("wrong password"), "{shown}");
                for text in [&shown, &dbg] {
                    assert!(!text.contains("hunter2-wrong"), "{text}");
                    assert!(!text.contains(PASSWORD), "{text}");
                }
            }
        }

        #[test]
        fn an_encrypted_key_without_a_password_asks_for_ssl_key_password() {
            for extra in [&[][..], &[("ssl.key.password", "")][..]] {
                for r in each_source(SCRYPT_AES256, "client-key-scrypt-aes256.pem", extra) {
                    let e = r.unwrap_err();
                    assert_eq!(key_of(&e), "ssl.key.password");
                    assert!(e.to_string().contains("is encrypted"), "{e}");
                }
            }
        }

        #[test]
        fn legacy_openssl_encryption_says_how_to_convert() {
            let sources = [
                "ssl.keystore.location",
                "ssl.key.location",
                "ssl.keystore.key",
            ];
            for (r, source) in each_source(
                LEGACY,
                "client-key-legacy.pem",
                &[("ssl.key.password", PASSWORD)],
            )
            .into_iter()
            .zip(sources)
            {
                let e = r.unwrap_err();
                assert_eq!(key_of(&e), source);
                let s = e.to_string();
                assert!(s.contains("Proc-Type: 4,ENCRYPTED"), "{s}");
                assert!(s.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc"), "{s}");
                eprintln!("{s}");
            }
        }

        #[test]
        fn unsupported_schemes_say_what_is_supported() {
            for (key, file, named) in [
                (
                    PBKDF2_SHA1,
                    "client-key-pbkdf2-sha1.pem",
                    "PBKDF2-HMAC-SHA1",
                ),
                (PBES1, "client-key-pbes1.pem", "PKCS#12 PBE scheme"),
            ] {
                for r in each_source(key, file, &[("ssl.key.password", PASSWORD)]) {
                    let e = r.unwrap_err();
                    let s = e.to_string();
                    assert_ne!(key_of(&e), "ssl.key.password", "{file}: {s}");
                    assert!(s.contains(named), "{file}: {s}");
                    assert!(s.contains("does not support"), "{file}: {s}");
                    assert!(s.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc"), "{s}");
                    assert!(!s.contains(PASSWORD), "{s}");
                    eprintln!("{file}: {s}");
                }
            }
        }

        /// Valid PEM whose content is no EncryptedPrivateKeyInfo ("hello world").
        #[test]
        fn a_corrupt_encrypted_key_is_called_corrupt() {
            let garbage = "-----BEGIN ENCRYPTED PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n\
                           -----END ENCRYPTED PRIVATE KEY-----\n";
            let e = build(&[
                ("security.protocol", "SSL"),
                ("ssl.truststore.certificates", CERT),
                ("ssl.keystore.certificate.chain", CERT),
                ("ssl.keystore.key", garbage),
                ("ssl.key.password", PASSWORD),
            ])
            .unwrap_err();
            assert_eq!(key_of(&e), "ssl.keystore.key");
            assert!(e.to_string().contains("corrupt"), "{e}");
        }
    }
}

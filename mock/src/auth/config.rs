//! The security part of the public API: [`MockConfig`]'s listener security and SASL users,
//! and the CA certificate of a running cluster. (In a module of its own to keep `lib.rs` short;
//! the methods are the types' own.)

use crate::{server, MockCluster, MockClusterThread, MockConfig, SecurityProtocol};
use std::io;

impl MockConfig {
    /// The brokers' listener security (every broker has one listener). Default
    /// [`SecurityProtocol::Plaintext`]. SASL listeners authenticate the users of
    /// [`MockConfig::sasl_user`]; TLS listeners (feature `tls`) present a certificate signed by
    /// a CA generated at start ([`MockCluster::ca_certificate_pem`]) unless
    /// [`MockConfig::ssl_certificate`] gives one. Clients set the same `security.protocol`.
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.security.protocol = protocol;
        self
    }

    /// Adds a SASL user with its password, for every enabled mechanism: PLAIN checks the
    /// password, SCRAM-SHA-256 / SCRAM-SHA-512 credentials (salt, 4096 iterations, stored and
    /// server keys) are derived from it at start, as `kafka-storage format --add-scram` does.
    pub fn sasl_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.security.users.push((user.into(), password.into()));
        self
    }

    /// The enabled SASL mechanisms (`sasl.enabled.mechanisms`), from [`SASL_MECHANISMS`](crate::SASL_MECHANISMS).
    /// Default: all of them. An unknown name fails [`MockCluster::start`].
    pub fn sasl_mechanisms<S: AsRef<str>>(mut self, mechanisms: &[S]) -> Self {
        self.security.mechanisms = Some(mechanisms.iter().map(|m| m.as_ref().to_owned()).collect());
        self
    }

    /// `connections.max.reauth.ms` (KIP-368): an authenticated SASL session lasts this long;
    /// clients that can (SaslAuthenticate v1+) are told so and re-authenticate in place before
    /// it ends, and a request on an expired session closes the connection. Default: sessions
    /// never end (Kafka's default 0).
    pub fn connections_max_reauth(mut self, lifetime: std::time::Duration) -> Self {
        self.security.session_lifetime = Some(lifetime);
        self
    }

    /// The TLS listeners' certificate chain and private key (PEM; PKCS#8, PKCS#1 or SEC1 key)
    /// instead of a generated one.
    #[cfg(feature = "tls")]
    pub fn ssl_certificate(
        mut self,
        chain_pem: impl Into<String>,
        key_pem: impl Into<String>,
    ) -> Self {
        self.security.certificate = Some((chain_pem.into(), key_pem.into()));
        self
    }

    /// Require a client certificate signed by this CA (PEM) on TLS listeners
    /// (`ssl.client.auth=required`); without it none is asked for.
    #[cfg(feature = "tls")]
    pub fn ssl_client_auth(mut self, ca_pem: impl Into<String>) -> Self {
        self.security.client_ca = Some(ca_pem.into());
        self
    }
}

/// The security accessors on both cluster handles.
macro_rules! security_accessors {
    ($ty:ty) => {
        impl $ty {
            /// The listeners' security protocol.
            pub fn security_protocol(&self) -> SecurityProtocol {
                self.shared.security.protocol
            }

            /// The PEM of the CA that signed the generated broker certificate (SSL and SASL_SSL
            /// without [`MockConfig::ssl_certificate`]), for the client's `ssl.ca.pem` /
            /// `ssl.truststore.certificates`; `None` otherwise.
            pub fn ca_certificate_pem(&self) -> Option<&str> {
                self.shared.security.ca_pem()
            }

            /// Writes [`ca_certificate_pem`](Self::ca_certificate_pem) to `path`, for clients
            /// that read a file (`ssl.ca.location`, `ssl.truststore.location` with type PEM).
            pub fn write_ca_certificate(
                &self,
                path: impl AsRef<std::path::Path>,
            ) -> io::Result<()> {
                write_ca(&self.shared, path.as_ref())
            }
        }
    };
}

security_accessors!(MockCluster);
security_accessors!(MockClusterThread);

fn write_ca(shared: &server::Shared, path: &std::path::Path) -> io::Result<()> {
    match shared.security.ca_pem() {
        Some(pem) => std::fs::write(path, pem),
        None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no generated CA: the listeners are not TLS, or use MockConfig::ssl_certificate",
        )),
    }
}

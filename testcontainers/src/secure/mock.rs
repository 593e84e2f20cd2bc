//! The secure broker's listeners served by the in-process mock (`FERROKAFKA_KAFKA_BACKEND=mock`,
//! or no Java): one mock cluster per listener, since a mock broker has one listener. Each has
//! the harness's users (SASL listeners: PLAIN, both SCRAM hashes, and OAUTHBEARER with Kafka's
//! unsecured validator, as the JVM broker's listeners) and presents the harness's
//! broker certificate (TLS listeners); `SSL` requires a client certificate from the harness's
//! CA, `SSL_EXPIRED` presents the certificate valid only during 2020, `REAUTH` ends sessions
//! after [`SecureOptions::reauth_ms`] (KIP-368). Not served: ACLs (every user may do
//! everything). Each listener has its own topics: a test uses one listener at a time.

use super::{password, Listener, SecureKafka, SecureOptions, USERS};
use crate::HarnessError;
use ferrokafka_mock::{MockCluster, MockConfig, SecurityProtocol};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

/// Whether the secure broker is the mock: forced, or no Java to run Kafka.
pub(super) fn chosen() -> bool {
    match std::env::var("FERROKAFKA_KAFKA_BACKEND") {
        Ok(b) if !b.trim().is_empty() => b.trim() == "mock",
        _ => crate::resolve::find_java().is_err(),
    }
}

impl SecureKafka {
    /// Certificates in `dir` as for the JVM broker, then a mock cluster per listener.
    pub(super) fn start_mock(
        dir: PathBuf,
        opts: &SecureOptions,
    ) -> Result<SecureKafka, HarnessError> {
        fs::create_dir_all(&dir).map_err(|e| HarnessError::io(dir.display(), e))?;
        let mut k = SecureKafka {
            dir,
            ports: Vec::new(),
            process: None,
            owned: true,
            mocks: Vec::new(),
        };
        k.generate_certificates()?;
        let read = |name: &str| {
            let path = k.dir.join(name);
            fs::read_to_string(&path).map_err(|e| HarnessError::io(path.display(), e))
        };
        // The PEM keystores hold the key and the chain; the mock picks each out of the file.
        let broker = read("broker.pem")?;
        let expired = read("broker-expired.pem")?;
        let ca = fs::read_to_string(k.ca_path()).map_err(|e| HarnessError::io("ca.pem", e))?;
        for listener in Listener::ALL {
            let mut config =
                MockConfig::default().sasl_mechanisms(&ferrokafka_mock::SASL_MECHANISMS);
            for user in USERS {
                config = config.sasl_user(user, password(user));
            }
            config = match listener {
                Listener::Plaintext => config,
                Listener::SaslPlaintext => {
                    config.security_protocol(SecurityProtocol::SaslPlaintext)
                }
                Listener::SaslSsl => config
                    .security_protocol(SecurityProtocol::SaslSsl)
                    .ssl_certificate(&*broker, &*broker),
                Listener::Reauth => config
                    .security_protocol(SecurityProtocol::SaslSsl)
                    .ssl_certificate(&*broker, &*broker)
                    .connections_max_reauth(Duration::from_millis(opts.reauth_ms)),
                Listener::Ssl => config
                    .security_protocol(SecurityProtocol::Ssl)
                    .ssl_certificate(&*broker, &*broker)
                    .ssl_client_auth(&*ca),
                Listener::SslExpired => config
                    .security_protocol(SecurityProtocol::Ssl)
                    .ssl_certificate(&*expired, &*expired),
            };
            let cluster = MockCluster::start_in_thread(config).map_err(|e| {
                HarnessError::io(format!("starting the mock {listener:?} listener"), e)
            })?;
            let port = cluster.broker_addrs().first().map_or(0, |a| a.port());
            k.ports.push((listener, port));
            k.mocks.push(cluster);
        }
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listener_gets_a_mock_cluster_and_the_directory_goes_on_drop() {
        let dir =
            std::env::temp_dir().join(format!("ferrokafka-secure-mock-{}", std::process::id()));
        let mut k = SecureKafka::start_mock(dir.clone(), &SecureOptions::default()).expect("mock");
        let mut ports: Vec<u16> = Listener::ALL.iter().map(|l| k.port(*l)).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), Listener::ALL.len(), "one port per listener");
        assert!(!ports.contains(&0));
        assert!(k.ca_path().is_file() && k.client_keystore_path("alice").is_file());
        assert!(k.is_running());
        drop(k);
        assert!(
            !dir.exists(),
            "the certificates' directory is removed on drop"
        );
    }
}

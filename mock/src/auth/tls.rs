//! TLS for SSL and SASL_SSL listeners: rustls (ring) with a CA and a broker certificate
//! generated at start (rcgen), or the certificate the user gives; client certificates
//! required when a client CA is configured (Kafka's `ssl.client.auth=required`).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A TLS listener's acceptor and, when the mock generated it, the CA certificate.
pub(crate) struct Tls {
    pub acceptor: TlsAcceptor,
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("generated_ca", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
}

impl Tls {
    /// `certificate`: the broker's (chain PEM, key PEM), else generated for `host`, 127.0.0.1
    /// and localhost. `client_ca`: require client certificates signed by it.
    pub fn new(
        host: &str,
        certificate: Option<(String, String)>,
        client_ca: Option<String>,
    ) -> io::Result<Tls> {
        let (chain, key, ca_pem) = match certificate {
            Some((chain, key)) => {
                let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| err("the broker certificate chain", e))?;
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                    .map_err(|e| err("the broker private key", e))?;
                (chain, key, None)
            }
            None => {
                let (chain, key, ca) =
                    generate(host).map_err(|e| err("generating certificates", e))?;
                (chain, key, Some(ca))
            }
        };
        // rustls 0.23.48 deprecates ring's provider (no post-quantum key exchange); it is the
        // pure-Rust one the client uses too, and a test broker needs no more.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err("TLS versions", e))?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots
                        .add(cert.map_err(|e| err("the client CA", e))?)
                        .map_err(|e| err("the client CA", e))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| err("the client CA", e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| err("the broker certificate", e))?;
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_pem,
        })
    }
}

type Generated = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

/// A self-signed CA and a broker certificate it signs, valid for `host`, 127.0.0.1, ::1 and
/// localhost.
fn generate(host: &str) -> Result<Generated, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "ferrokafka-mock CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "ferrokafka-mock");
    let mut sans = vec![
        SanType::IpAddress([127, 0, 0, 1].into()),
        SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
        SanType::DnsName("localhost".try_into()?),
    ];
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if !ip.is_loopback() => sans.push(SanType::IpAddress(ip)),
        Ok(_) => {}
        Err(_) if host != "localhost" => sans.push(SanType::DnsName(host.try_into()?)),
        Err(_) => {}
    }
    params.subject_alt_names = sans;
    let cert = params.signed_by(&key, &issuer)?;
    let chain = vec![cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((chain, key, ca_pem))
}

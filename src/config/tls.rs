//! The rustls client configuration, built once from [`TlsSettings`] when the client
//! configuration is built (so a missing file, a wrong key password or an untrusted CA file is a
//! `Config` error naming the property at construction, not at the first connect): PEM files,
//! encrypted PKCS#8 keys, the crypto provider (`ring` unless the application installed one),
//! and the chain-only verifier of `ssl.endpoint.identification.algorithm=`. The handshake itself
//! is the connection layer's (`connection/tls.rs`).

use crate::config::{ClientCertificate, Secret, TlsSettings, TrustStore};
use crate::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// Describes a PEM error without echoing any of its bytes (it may be part of a private key).
fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::MissingSectionEnd { .. } => "a PEM section has no END line".into(),
        E::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
        E::Base64Decode(_) => "a PEM section is not valid base64".into(),
        E::Io(io) => format!("cannot read the file: {io}"),
        E::NoItemsFound => "no PEM item of the expected kind found".into(),
        E::SectionTooLarge => "a PEM section is larger than 256 MB".into(),
        _ => "invalid PEM".into(),
    }
}

fn read_file(key: &'static str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::config(
            key,
            path.display().to_string(),
            format!("cannot read the file: {e}"),
        )
    })
}

fn certs(key: &'static str, shown: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(pem) {
        out.push(c.map_err(|e| Error::config(key, shown, pem_error(&e)))?);
    }
    if out.is_empty() {
        return Err(Error::config(
            key,
            shown,
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found",
        ));
    }
    Ok(out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The PBES2 variants pkcs5 decrypts with the features enabled here (no SHA-1, no DES).
const SUPPORTED: &str = "PBKDF2-HMAC-SHA224/256/384/512 or scrypt, with AES-128/192/256-CBC";

/// How to make a key this client can read, for the errors about one it cannot.
const CONVERT_HINT: &str = "convert it to an encrypted PKCS#8 key (`openssl pkcs8 -topk8 -v2 \
     aes-256-cbc -in key.pem -out key-pkcs8.pem`) and set ssl.key.password";

/// The client's private key from `pem` (the value of `key`, shown as `shown`): unencrypted
/// PKCS#8, PKCS#1 or SEC1, or an `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2: PBKDF2-HMAC-SHA2 or
/// scrypt, AES-128/192/256-CBC) decrypted with `password` (`ssl.key.password`). A password
/// given for an unencrypted key is an error, as in the Java client. No error shows key bytes or
/// the password.
fn private_key(
    key: &'static str,
    shown: &str,
    pem: &[u8],
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>> {
    // OpenSSL's traditional encryption (`openssl genrsa -aes256`, `openssl rsa -aes256`): a
    // PKCS#1/SEC1 block with Proc-Type and DEK-Info headers, MD5-based key derivation. Named
    // here, because rustls would only say it found no key.
    if contains(pem, b"Proc-Type: 4,ENCRYPTED") {
        return Err(Error::config(
            key,
            shown,
            format!(
                "the private key is encrypted in OpenSSL's legacy PEM format (Proc-Type: \
                 4,ENCRYPTED), which is not supported; {CONVERT_HINT}"
            ),
        ));
    }
    if contains(pem, ENCRYPTED_BEGIN.as_bytes()) {
        return encrypted_private_key(key, shown, pem, password);
    }
    let parsed = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        Error::config(
            key,
            shown,
            format!(
                "no private key (PKCS#8, PKCS#1 or SEC1 PEM) found: {}",
                pem_error(&e)
            ),
        )
    })?;
    // As the Java client does (it then parses the key as an EncryptedPrivateKeyInfo and
    // fails): whoever set a password believes the key is protected at rest, and it is not.
    // librdkafka would ignore the password silently; saying so is the safer of the two.
    if password.is_some_and(|p| !p.is_empty()) {
        return Err(Error::config(
            "ssl.key.password",
            crate::config::REDACTED,
            format!(
                "the private key in {key} ({shown}) is not encrypted, so it has no password: \
                 remove ssl.key.password, or encrypt the key (`openssl pkcs8 -topk8 -v2 \
                 aes-256-cbc -in key.pem -out key-pkcs8.pem`)"
            ),
        ));
    }
    Ok(parsed)
}

/// Decrypts the first `ENCRYPTED PRIVATE KEY` section of `pem`.
fn encrypted_private_key(
    key: &'static str,
    shown: &str,
    pem: &[u8],
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>> {
    use pkcs8::der::Decode;
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(Error::config(
            "ssl.key.password",
            "",
            format!(
                "the private key in {key} ({shown}) is encrypted (ENCRYPTED PRIVATE KEY): set \
                 ssl.key.password to its password"
            ),
        ));
    };
    // The file may hold certificates too (ssl.keystore.location): cut out the key's own
    // section, which pem-rfc7468 decodes strictly (one document, no surrounding text).
    let text = String::from_utf8_lossy(pem);
    let section = text.find(ENCRYPTED_BEGIN).and_then(|start| {
        text[start..]
            .find(ENCRYPTED_END)
            .map(|end| &text[start..start + end + ENCRYPTED_END.len()])
    });
    let Some(section) = section else {
        return Err(Error::config(
            key,
            shown,
            "the ENCRYPTED PRIVATE KEY PEM section has no END line",
        ));
    };
    let (_, der) = pkcs8::der::pem::decode_vec(section.as_bytes()).map_err(|_| {
        Error::config(
            key,
            shown,
            "the ENCRYPTED PRIVATE KEY PEM section is not valid base64 PEM",
        )
    })?;
    // pkcs5 parses PBES2 and PKCS#5 PBES1 only: PKCS#12 schemes (`openssl pkcs8 -v1
    // PBE-SHA1-3DES`, old Java keytool exports) fail here, as does a corrupt key.
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(&der).map_err(|_| {
        let reason = match unparsed_scheme(&der) {
            Some(scheme) => format!(
                "the private key is encrypted with {scheme}, which this client does not \
                 support (only PBES2 with {SUPPORTED}); {CONVERT_HINT}"
            ),
            None => format!(
                "the ENCRYPTED PRIVATE KEY is corrupt (not a PKCS#8 EncryptedPrivateKeyInfo); \
                 {CONVERT_HINT}"
            ),
        };
        Error::config(key, shown, reason)
    })?;
    let wrong_password = || {
        Error::config(
            "ssl.key.password",
            crate::config::REDACTED,
            format!("cannot decrypt the private key in {key} ({shown}): wrong password, or the key is corrupt"),
        )
    };
    match info.decrypt(password.expose()) {
        Ok(doc) => {
            // A wrong password that happens to leave valid padding decrypts to garbage: only a
            // well-formed PrivateKeyInfo counts as decrypted.
            if pkcs8::PrivateKeyInfo::from_der(doc.as_bytes()).is_err() {
                return Err(wrong_password());
            }
            Ok(PrivateKeyDer::Pkcs8(doc.as_bytes().to_vec().into()))
        }
        // Bad padding or undecodable plaintext: what a wrong password gives. pkcs5 0.7 reports
        // bad padding on decryption as `EncryptFailed`, so both count.
        Err(pkcs8::Error::EncryptedPrivateKey(
            pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
        ))
        | Err(pkcs8::Error::Asn1(_)) => Err(wrong_password()),
        Err(e) => Err(Error::config(
            key,
            shown,
            format!(
                "the private key is encrypted with {}, which this client does not support \
                 (only PBES2 with {SUPPORTED}); {CONVERT_HINT}",
                parsed_scheme(&info.encryption_algorithm, &e)
            ),
        )),
    }
}

/// Names a scheme pkcs5 parses but cannot decrypt here (`e` is its error), for the message.
fn parsed_scheme(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>, e: &pkcs8::Error) -> String {
    use pkcs8::pkcs5::pbes2::Pbkdf2Prf;
    match scheme.pbes2() {
        // RustCrypto gates SHA-1 behind `sha1-insecure`; refusing it keeps SHA-1 out of the
        // build, and OpenSSL has written HMAC-SHA256 by default since 1.1.0.
        Some(p)
            if p.kdf
                .pbkdf2()
                .is_some_and(|k| k.prf == Pbkdf2Prf::HmacWithSha1) =>
        {
            "PBES2 with PBKDF2-HMAC-SHA1 (OpenSSL 1.0's default, or `-v2prf hmacWithSHA1`)".into()
        }
        Some(_) => format!("a PBES2 variant this client lacks ({e})"),
        None => format!("PKCS#5 PBES1 ({e})"),
    }
}

/// For an `EncryptedPrivateKeyInfo` pkcs5 cannot parse: the scheme its algorithm identifier
/// names, if it is a well-formed one (else the key is taken to be corrupt).
fn unparsed_scheme(der: &[u8]) -> Option<String> {
    use pkcs8::der::asn1::OctetStringRef;
    use pkcs8::der::{Decode, Reader, SliceReader};
    let mut r = SliceReader::new(der).ok()?;
    let oid = r
        .sequence(|r| {
            let alg = pkcs8::spki::AlgorithmIdentifierRef::decode(r)?;
            OctetStringRef::decode(r)?;
            Ok(alg.oid)
        })
        .ok()?
        .to_string();
    // RFC 7292 Appendix C: pkcs-12PbeIds, 1.2.840.113549.1.12.1.1 to .6.
    Some(if oid.starts_with("1.2.840.113549.1.12.1.") {
        format!(
            "a PKCS#12 PBE scheme ({oid}, e.g. `openssl pkcs8 -v1 PBE-SHA1-3DES` or an old \
             keytool export)"
        )
    } else {
        format!("the encryption algorithm {oid}")
    })
}

/// The crypto provider: the application's process-wide default if it installed one (say
/// aws-lc-rs, for post-quantum key exchange), else *ring*, the pure-Rust provider this crate
/// builds with (aws-lc-rs needs a C toolchain, which the static musl build and the "no C
/// library" rule avoid).
fn provider() -> Arc<CryptoProvider> {
    if let Some(installed) = CryptoProvider::get_default() {
        return installed.clone();
    }
    // rustls 0.23.48 deprecates *ring*'s provider because it has no post-quantum key exchange;
    // it is still supported and the only pure-Rust one (see the function docs). Without the
    // allow, every build with a current rustls prints the warning to our users.
    #[allow(deprecated)]
    let ring = rustls::crypto::ring::default_provider();
    Arc::new(ring)
}

/// Builds the rustls client configuration: trusted roots, protocol versions, client
/// certificate, host name policy. Errors are [`ErrorKind::Config`] naming the key.
pub(crate) fn client_config(s: &TlsSettings) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = RootCertStore::empty();
    let (trust_key, trust_shown, trust_certs) = match &s.trust {
        TrustStore::PemFile(p) => {
            let shown = p.display().to_string();
            let pem = read_file("ssl.truststore.location", p)?;
            (
                "ssl.truststore.location",
                shown.clone(),
                certs("ssl.truststore.location", &shown, &pem)?,
            )
        }
        TrustStore::Pem(pem) => (
            "ssl.truststore.certificates",
            "(inline PEM)".to_owned(),
            certs(
                "ssl.truststore.certificates",
                "(inline PEM)",
                pem.as_bytes(),
            )?,
        ),
        TrustStore::System => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), |e| e.to_string());
                return Err(Error::config(
                    "ssl.truststore.location",
                    "",
                    format!(
                        "no truststore set and the system CA store is unusable ({why}); set \
                         ssl.truststore.location to a PEM file"
                    ),
                ));
            }
            (
                "ssl.truststore.location",
                "(system store)".to_owned(),
                found.certs,
            )
        }
    };
    let system = matches!(s.trust, TrustStore::System);
    for c in trust_certs {
        if let Err(e) = roots.add(c) {
            // The system store may hold certificates webpki cannot parse; skip those.
            if !system {
                return Err(Error::config(
                    trust_key,
                    &trust_shown,
                    format!("not a usable CA certificate: {e}"),
                ));
            }
        }
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (s.tls13, &rustls::version::TLS13),
        (s.tls12, &rustls::version::TLS12),
    ]
    .into_iter()
    .filter_map(|(on, v)| on.then_some(v))
    .collect();
    let provider = provider();
    let roots = Arc::new(roots);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| Error::config("ssl.enabled.protocols", "", e.to_string()))?;
    let webpki = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider)
        .build()
        .map_err(|e| Error::config(trust_key, &trust_shown, e.to_string()))?;
    let builder = if s.verify_hostname {
        builder.with_webpki_verifier(webpki)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier { inner: webpki }))
    };
    let cfg = match &s.client_cert {
        None => builder.with_no_client_auth(),
        Some(cc) => {
            let (chain, key, key_name) = match cc {
                ClientCertificate::KeystoreFile(p) => {
                    let shown = p.display().to_string();
                    let pem = read_file("ssl.keystore.location", p)?;
                    // The key first: a legacy encrypted key's headers would make the certificate
                    // scan fail with a bare "not valid base64".
                    let key = private_key(
                        "ssl.keystore.location",
                        &shown,
                        &pem,
                        s.key_password.as_ref(),
                    )?;
                    (
                        certs("ssl.keystore.location", &shown, &pem)?,
                        key,
                        "ssl.keystore.location",
                    )
                }
                ClientCertificate::Files { certificate, key } => {
                    let cpem = read_file("ssl.certificate.location", certificate)?;
                    let kpem = read_file("ssl.key.location", key)?;
                    (
                        certs(
                            "ssl.certificate.location",
                            &certificate.display().to_string(),
                            &cpem,
                        )?,
                        private_key(
                            "ssl.key.location",
                            &key.display().to_string(),
                            &kpem,
                            s.key_password.as_ref(),
                        )?,
                        "ssl.key.location",
                    )
                }
                ClientCertificate::Pem { chain, key } => (
                    certs(
                        "ssl.keystore.certificate.chain",
                        "(inline PEM)",
                        chain.as_bytes(),
                    )?,
                    private_key(
                        "ssl.keystore.key",
                        "[redacted]",
                        key.expose().as_bytes(),
                        s.key_password.as_ref(),
                    )?,
                    "ssl.keystore.key",
                ),
            };
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::config(key_name, "", format!("unusable client key: {e}")))?
        }
    };
    Ok(Arc::new(cfg))
}

/// `ssl.endpoint.identification.algorithm=""`: the chain is verified against the trusted CAs
/// (validity dates, signatures), but the host name is not.
#[derive(Debug)]
struct ChainOnlyVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

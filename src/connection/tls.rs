//! The TLS handshake of one connection (rustls, over the client configuration that
//! `config/tls.rs` built), with failures mapped to [`ErrorKind::Tls`] with a [`TlsFailure`]
//! reason.

use crate::config::BrokerAddress;
use crate::error::TlsFailure;
use crate::{Error, ErrorKind, Result};
use rustls::pki_types::ServerName;
use rustls::CertificateError;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Runs the TLS handshake over `tcp` to `addr`. Failures are [`ErrorKind::Tls`] errors whose
/// reason says what to fix (untrusted CA, host name, expired, not a TLS listener, ...).
pub(crate) async fn handshake(
    cfg: &Arc<rustls::ClientConfig>,
    addr: &BrokerAddress,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from(addr.host.clone()).map_err(|e| {
        Error::new(ErrorKind::Tls(TlsFailure::Handshake))
            .with_broker(addr.to_string())
            .with_detail(format!(
                "{:?} is not a valid TLS server name: {e}",
                addr.host
            ))
    })?;
    let connector = tokio_rustls::TlsConnector::from(cfg.clone());
    connector
        .connect(name, tcp)
        .await
        .map_err(|e| tls_error(&e).with_broker(addr.to_string()))
}

/// Maps an I/O error after the TLS handshake (the first reads of a TLS 1.3 connection may
/// still carry the broker's alert, e.g. that it wants a client certificate) to a
/// [`ErrorKind::Tls`] error when rustls caused it, else to a retriable connect error.
pub(crate) fn io_error(e: std::io::Error) -> Error {
    let from_rustls = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    if from_rustls {
        tls_error(&e)
    } else {
        Error::new(ErrorKind::Connect).with_source(e)
    }
}

/// Maps an I/O error of the handshake (rustls wraps its own errors in `io::Error`).
fn tls_error(e: &std::io::Error) -> Error {
    if let Some(r) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        let failure = match r {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer
                | CertificateError::BadSignature
                | CertificateError::UnknownRevocationStatus => TlsFailure::UntrustedCertificate,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsFailure::HostnameMismatch,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => TlsFailure::CertificateExpired,
                _ => TlsFailure::UntrustedCertificate,
            },
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                TlsFailure::NotTls
            }
            rustls::Error::AlertReceived(_) => TlsFailure::RejectedByBroker,
            _ => TlsFailure::Handshake,
        };
        return Error::new(ErrorKind::Tls(failure)).with_detail(r.to_string());
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe => Error::new(ErrorKind::Tls(TlsFailure::NotTls))
            .with_detail(format!(
                "the broker closed the connection during the TLS handshake ({e}); is this a \
                 PLAINTEXT or SASL_PLAINTEXT listener, or does it require a client certificate?"
            )),
        _ => Error::new(ErrorKind::Tls(TlsFailure::Handshake)).with_detail(e.to_string()),
    }
}

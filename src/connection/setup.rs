//! What a connection's setup needs before the socket task runs: its settings
//! ([`ConnectionConfig`]) and reading one response frame (ApiVersions, the SASL exchange) with
//! errors that say what the peer is when it is not a Kafka listener. A leaf of `connection/`:
//! `conn.rs` and `sasl.rs` both use it.

use super::transport::Transport;
use crate::protocol::frame::decode_frame;
use crate::{Error, ErrorKind, Result};
use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Settings of one connection, derived from the client configuration.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// `client.id` sent in every request header.
    pub client_id: String,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `socket.connection.setup.timeout.ms`: TCP connect plus handshake.
    pub setup_timeout: Duration,
    /// `receive.message.max.bytes`: largest accepted response frame.
    pub max_response_size: usize,
    /// Requests written but unanswered before the connection stops taking more.
    pub max_in_flight: usize,
    /// `security.protocol` with its TLS context and SASL credentials.
    pub security: crate::config::SecurityConfig,
}

impl ConnectionConfig {
    /// Derives connection settings from a client configuration.
    pub fn from_client(cfg: &crate::config::ClientConfig, max_in_flight: usize) -> Self {
        ConnectionConfig {
            client_id: cfg.client_id.clone(),
            request_timeout: cfg.request_timeout,
            setup_timeout: cfg.connection_setup_timeout,
            max_response_size: cfg.max_response_size,
            max_in_flight: max_in_flight.max(1),
            security: cfg.security.clone(),
        }
    }
}

/// Reads one response frame during connection setup. A TLS record where a Kafka frame should
/// be means the client spoke plaintext to a TLS listener.
pub(super) async fn read_one_frame(io: &mut Transport, max: usize) -> Result<Bytes> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        // A TLS record starts with its content type (0x15 alert, 0x16 handshake) and version
        // 0x03; a Kafka response of that size (over 350 MB) is not plausible.
        if matches!(io, Transport::Plain(_))
            && buf.len() >= 2
            && matches!(buf[0], 0x15 | 0x16)
            && buf[1] == 0x03
        {
            return Err(
                Error::new(ErrorKind::Tls(crate::TlsFailure::BrokerExpectsTls))
                    .with_detail("set security.protocol to SSL or SASL_SSL for this listener"),
            );
        }
        // "HTTP" read as a size prefix is 1.2 GB: say what the peer is instead.
        if buf.starts_with(b"HTTP") {
            return Err(Error::new(ErrorKind::Connect).with_detail(format!(
                "the port answered like an HTTP server ({}), not a Kafka broker: \
                 check the host and port in bootstrap.servers",
                http_status_line(&buf)
            )));
        }
        if let Some(frame) = decode_frame(&mut buf, max).map_err(not_kafka)? {
            return Ok(frame);
        }
        let n = io.read_buf(&mut buf).await.map_err(super::tls::io_error)?;
        if n == 0 {
            return Err(Error::new(ErrorKind::Connect)
                .with_detail("broker closed the connection during the handshake"));
        }
    }
}

/// A connection-setup answer that does not decode (a bad size prefix, a header or body that
/// breaks the schema) means the peer is not a Kafka broker, or not one this client can talk
/// to. It becomes a failed connect (retriable, like a refused port: the port may be a broker
/// later) rather than a `MalformedResponse`, so every client counts it as "no broker
/// reachable" and the error says what to check.
pub(super) fn not_kafka(e: Error) -> Error {
    if !matches!(e.kind(), ErrorKind::MalformedResponse) {
        return e;
    }
    Error::new(ErrorKind::Connect).with_detail(format!(
        "the port's answer to ApiVersions is not a Kafka response ({e}); is it a Kafka listener?"
    ))
}

/// The first line of an HTTP response (at most 80 bytes), with anything but printable ASCII
/// replaced, so a hostile peer cannot put newlines or escapes into the error line.
fn http_status_line(buf: &[u8]) -> String {
    buf.iter()
        .take_while(|&&b| b != b'\r' && b != b'\n')
        .take(80)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

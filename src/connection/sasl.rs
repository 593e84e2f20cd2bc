//! SASL authentication (KIP-152): SaslHandshake v1 names the mechanism, then SaslAuthenticate
//! requests carry the mechanism's rounds, driven here over the socket before the socket task
//! starts, and again by the socket task on the same socket, with nothing in flight, before the
//! session the broker granted ends (KIP-368 re-authentication). The mechanisms themselves are
//! I/O-free (`protocol::sasl`). Nothing here logs or returns a password or token.

use super::setup::{read_one_frame, ConnectionConfig};
use super::transport::Transport;
use crate::config::{SaslConfig, SaslCredentials, SaslMechanism};
use crate::protocol::header::{encode_request, split_response_header};
use crate::protocol::requests::{sasl_authenticate, sasl_handshake};
use crate::protocol::sasl::scram::{ScramClient, ScramHash};
use crate::protocol::sasl::{oauthbearer_message, plain_message, OAUTHBEARER_ERROR_ACK};
use crate::protocol::{guard, ApiRequest, ApiVersionTable};
use crate::{Error, ErrorKind, Result};
use bytes::BytesMut;
use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest};
use kafka_protocol::protocol::HeaderVersion;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tracing::debug;

/// The outcome of a successful authentication.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authenticated {
    /// The first correlation id the connection may use next.
    pub next_correlation_id: i32,
    /// The session lifetime the broker granted (KIP-368), if limited.
    pub session_lifetime: Option<Duration>,
}

struct Exchange<'a> {
    io: &'a mut Transport,
    cfg: &'a ConnectionConfig,
    correlation_id: i32,
    auth_version: i16,
    mechanism: &'static str,
    session_lifetime: Option<Duration>,
}

impl Exchange<'_> {
    async fn send<R: ApiRequest>(&mut self, req: &R, version: i16) -> Result<R::Response> {
        let mut buf = BytesMut::new();
        encode_request(
            &mut buf,
            req,
            version,
            self.correlation_id,
            &self.cfg.client_id,
        )?;
        self.correlation_id += 1;
        self.io
            .write_all(&buf)
            .await
            .map_err(super::tls::io_error)?;
        let frame = read_one_frame(self.io, self.cfg.max_response_size).await?;
        let body = split_response_header(frame, R::Response::header_version(version))?;
        guard::decode_response::<R::Response>(R::KEY as i16, version, body)
            .map_err(|e| e.with_api(R::NAME))
    }

    /// One SaslAuthenticate round: our bytes out, the broker's bytes back.
    async fn round(&mut self, bytes: Vec<u8>) -> Result<bytes::Bytes> {
        let version = self.auth_version;
        let resp = self
            .send(&sasl_authenticate::request(bytes), version)
            .await?;
        let answer = sasl_authenticate::parse(&resp, self.mechanism)?;
        if answer.session_lifetime.is_some() {
            self.session_lifetime = answer.session_lifetime;
        }
        Ok(answer.auth_bytes)
    }

    fn failed(&self, detail: impl Into<String>) -> Error {
        Error::new(ErrorKind::SaslAuthenticationFailed {
            mechanism: self.mechanism,
        })
        .with_api("SaslAuthenticate")
        .with_detail(detail)
    }
}

/// Most requests one authentication sends (SaslHandshake plus SCRAM's two rounds; an
/// OAUTHBEARER error acknowledgement is the third round at most): a re-authentication on a live
/// connection reserves this many correlation ids.
pub(crate) const MAX_REQUESTS: i32 = 4;

/// Authenticates `io` with `sasl`, numbering its requests from `first_correlation_id` (1 on a
/// fresh connection, after ApiVersions used 0). Also used for KIP-368 re-authentication of a
/// connection with nothing in flight.
pub(crate) async fn authenticate(
    io: &mut Transport,
    versions: &ApiVersionTable,
    sasl: &SaslConfig,
    cfg: &ConnectionConfig,
    first_correlation_id: i32,
) -> Result<Authenticated> {
    let mechanism = sasl.mechanism.as_str();
    let handshake_ok = versions
        .broker_range(ApiKey::SaslHandshake)
        .is_some_and(|(lo, hi)| lo <= sasl_handshake::VERSION && sasl_handshake::VERSION <= hi);
    if !handshake_ok {
        return Err(
            Error::new(ErrorKind::SaslAuthenticationFailed { mechanism }).with_detail(
                "the broker does not offer SaslHandshake v1: is this a SASL listener?",
            ),
        );
    }
    let auth_version = versions
        .version_for(<SaslAuthenticateRequest as ApiRequest>::KEY)
        .map_err(|e| e.with_api("SaslAuthenticate"))?;
    let mut x = Exchange {
        io,
        cfg,
        correlation_id: first_correlation_id,
        auth_version,
        mechanism,
        session_lifetime: None,
    };
    let resp = x
        .send(&sasl_handshake::request(mechanism), sasl_handshake::VERSION)
        .await?;
    sasl_handshake::parse(&resp, mechanism)?;
    match (&sasl.mechanism, &sasl.credentials) {
        (SaslMechanism::Plain, SaslCredentials::UserPassword { username, password }) => {
            x.round(plain_message(username, password.expose())).await?;
        }
        (
            m @ (SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512),
            SaslCredentials::UserPassword { username, password },
        ) => {
            let hash = if *m == SaslMechanism::ScramSha256 {
                ScramHash::Sha256
            } else {
                ScramHash::Sha512
            };
            let mut scram = ScramClient::new(hash, username, password.expose())
                .map_err(|e| x.failed(e.to_string()))?;
            let first = scram.client_first().map_err(|e| x.failed(e.to_string()))?;
            let server_first = x.round(first).await?;
            let client_final = scram
                .handle_server_first(&server_first)
                .map_err(|e| x.failed(e.to_string()))?;
            let server_final = x.round(client_final).await?;
            scram
                .handle_server_final(&server_final)
                .map_err(|e| x.failed(e.to_string()))?;
            if !scram.is_done() {
                return Err(x.failed("the SCRAM exchange did not complete"));
            }
        }
        (SaslMechanism::OAuthBearer, SaslCredentials::OAuthBearer(provider)) => {
            let token = provider.token().await?;
            let answer = x
                .round(oauthbearer_message(token.value.expose(), &token.extensions))
                .await?;
            if !answer.is_empty() {
                // An error challenge (a JSON status, no secret): acknowledge it; the broker then
                // fails the exchange, and we report its status either way.
                let status = String::from_utf8_lossy(&answer)
                    .chars()
                    .take(300)
                    .collect::<String>();
                let e = x.failed(format!("the broker rejected the token: {status}"));
                return Err(match x.round(OAUTHBEARER_ERROR_ACK.to_vec()).await {
                    Err(broker) if broker.is_authentication_failure() => broker,
                    _ => e,
                });
            }
        }
        _ => {
            return Err(Error::config(
                "sasl.mechanism",
                mechanism,
                "the credentials do not fit the mechanism",
            ))
        }
    }
    debug!(mechanism, session_lifetime_ms = ?x.session_lifetime.map(|d| d.as_millis()), "SASL authenticated");
    Ok(Authenticated {
        next_correlation_id: x.correlation_id,
        session_lifetime: x.session_lifetime,
    })
}

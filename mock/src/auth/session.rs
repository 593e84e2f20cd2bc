//! One connection's SASL state machine (Kafka's `SaslServerAuthenticator` states
//! HANDSHAKE_OR_VERSIONS_REQUEST → HANDSHAKE_REQUEST → AUTHENTICATE → COMPLETE).

use super::{oauthbearer, scram, Failure, Mechanism, Security};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::time::Instant;

/// `sasl.server.max.receive.size`, Kafka's default: the largest frame before authentication.
pub(crate) const MAX_SASL_RECEIVE: usize = 524_288;

const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const SASL_AUTHENTICATION_FAILED: i16 = 58;

/// What the connection does with a frame.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Serve it as any request (authenticated, no SASL on this listener, or the handshake's
    /// ApiVersions).
    Serve,
    /// Write this answer; the authentication goes on.
    Reply(Bytes),
    /// Write this answer, then close: a failed authentication.
    Fail(Bytes, String),
    /// Close without an answer.
    Close(String),
}

#[derive(Debug)]
enum State {
    /// Authenticated, or a listener without SASL.
    Complete,
    HandshakeOrVersions,
    Handshake,
    Authenticate {
        mechanism: Mechanism,
        /// SaslHandshake v1+: tokens in SaslAuthenticate requests; v0: raw tokens.
        framed: bool,
        scram: scram::Exchange,
        oauth: oauthbearer::Exchange,
    },
}

/// One connection's authentication.
#[derive(Debug)]
pub(crate) struct Session {
    state: State,
    /// KIP-368, with `connections.max.reauth.ms` set: the mechanism of the authenticated session
    /// and when it ends. Past the end a request closes the connection, unless the client
    /// re-authenticated in place (SaslHandshake + SaslAuthenticate again on the connection).
    session: Option<(Mechanism, Instant)>,
    /// The client sent SaslAuthenticate v1+, so it can re-authenticate (Kafka's
    /// `connectedClientSupportsReauthentication`).
    can_reauthenticate: bool,
}

impl Session {
    pub fn new(security: &Security) -> Session {
        Session {
            state: if security.protocol.is_sasl() {
                State::HandshakeOrVersions
            } else {
                State::Complete
            },
            session: None,
            can_reauthenticate: false,
        }
    }

    /// The largest frame accepted now.
    pub fn max_frame(&self, otherwise: usize) -> usize {
        match self.state {
            State::Complete => otherwise,
            _ => MAX_SASL_RECEIVE,
        }
    }

    /// Decides what happens to `frame` (a request, or a raw token after SaslHandshake v0).
    pub fn gate(&mut self, security: &Security, frame: &Bytes) -> Gate {
        match &mut self.state {
            State::Complete => self.authenticated(security, frame),
            State::Authenticate {
                mechanism,
                framed: false,
                scram,
                oauth,
            } => {
                let mechanism = *mechanism;
                // Raw tokens: an answer is a size-prefixed token, a failure closes silently.
                match evaluate(security, mechanism, scram, oauth, frame) {
                    Ok((token, done)) => {
                        self.finish(done, mechanism, security);
                        let mut out = BytesMut::with_capacity(token.len() + 4);
                        out.extend_from_slice(&(token.len() as u32).to_be_bytes());
                        out.extend_from_slice(&token);
                        Gate::Reply(out.freeze())
                    }
                    Err(f) => Gate::Close(match f {
                        Failure::Generic(reason) => {
                            format!("{} ({reason})", message(&f, mechanism))
                        }
                        Failure::Message(m) => m,
                    }),
                }
            }
            _ => self.request(security, frame),
        }
    }

    /// After a successful step: authenticated if the mechanism is done; a session of
    /// `connections.max.reauth.ms` starts.
    fn finish(&mut self, done: bool, mechanism: Mechanism, security: &Security) {
        if done {
            self.state = State::Complete;
            self.session = security
                .session_lifetime
                .map(|l| (mechanism, Instant::now() + l));
        }
    }

    /// A request on an authenticated connection: served, or (KIP-368) a re-authentication
    /// begins, or the session expired.
    fn authenticated(&mut self, security: &Security, frame: &Bytes) -> Gate {
        let Some((_, ends)) = self.session else {
            return Gate::Serve;
        };
        let key = frame.get(..2).map(|b| i16::from_be_bytes([b[0], b[1]]));
        if key == Some(ApiKey::SaslHandshake as i16) && self.can_reauthenticate {
            return self.handshake(security, frame);
        }
        if Instant::now() >= ends {
            return Gate::Close(
                "the SASL session expired (connections.max.reauth.ms) without re-authentication"
                    .into(),
            );
        }
        Gate::Serve
    }

    /// A Kafka request before authentication completed.
    fn request(&mut self, security: &Security, frame: &Bytes) -> Gate {
        let Some(key) = frame
            .get(..2)
            .and_then(|b| ApiKey::try_from(i16::from_be_bytes([b[0], b[1]])).ok())
        else {
            return Gate::Close("not a Kafka request before SASL authentication".into());
        };
        match (&self.state, key) {
            (State::HandshakeOrVersions, ApiKey::ApiVersions) => {
                // An ApiVersions the mock cannot serve is answered with UNSUPPORTED_VERSION and
                // does not move the state, as Kafka does.
                let version = frame.get(2..4).map(|b| i16::from_be_bytes([b[0], b[1]]));
                let served = crate::api::versions::range(key);
                if version.is_some_and(|v| served.is_some_and(|(a, b)| (a..=b).contains(&v))) {
                    self.state = State::Handshake;
                }
                Gate::Serve
            }
            (State::HandshakeOrVersions | State::Handshake, ApiKey::SaslHandshake) => {
                self.handshake(security, frame)
            }
            (State::Authenticate { .. }, ApiKey::SaslAuthenticate) => {
                self.authenticate(security, frame)
            }
            (State::Authenticate { .. }, _) => Gate::Close(format!(
                "unexpected Kafka request of type {key:?} during SASL authentication"
            )),
            _ => Gate::Close(format!(
                "unexpected Kafka request of type {key:?} during SASL handshake"
            )),
        }
    }

    fn handshake(&mut self, security: &Security, frame: &Bytes) -> Gate {
        let (header, mut body) = match parse(ApiKey::SaslHandshake, frame) {
            Ok(parsed) => parsed,
            Err(why) => return Gate::Close(why),
        };
        let version = header.request_api_version;
        let req = match SaslHandshakeRequest::decode(&mut body, version) {
            Ok(r) => r,
            Err(e) => return Gate::Close(format!("malformed SaslHandshake: {e}")),
        };
        let names = security
            .mechanism_names()
            .into_iter()
            .map(StrBytes::from_static_str)
            .collect();
        let mut resp = SaslHandshakeResponse::default().with_mechanisms(names);
        // A re-authentication must keep the session's mechanism (Kafka answers the handshake,
        // then fails the exchange; here the handshake fails at once).
        let mechanism = security
            .enabled(req.mechanism.as_str())
            .filter(|m| self.session.is_none_or(|(original, _)| original == *m));
        match mechanism {
            Some(mechanism) => {
                self.state = State::Authenticate {
                    mechanism,
                    framed: version >= 1,
                    scram: scram::Exchange::First,
                    oauth: oauthbearer::Exchange::default(),
                };
                reply(ApiKey::SaslHandshake, &header, &resp).map_or_else(Gate::Close, Gate::Reply)
            }
            None => {
                resp.error_code = UNSUPPORTED_SASL_MECHANISM;
                let why = format!(
                    "unsupported SASL mechanism {:?} (enabled: {})",
                    req.mechanism.as_str(),
                    security.mechanism_names().join(", ")
                );
                match reply(ApiKey::SaslHandshake, &header, &resp) {
                    Ok(out) => Gate::Fail(out, why),
                    Err(e) => Gate::Close(e),
                }
            }
        }
    }

    fn authenticate(&mut self, security: &Security, frame: &Bytes) -> Gate {
        let State::Authenticate {
            mechanism,
            scram,
            oauth,
            ..
        } = &mut self.state
        else {
            return Gate::Close("SaslAuthenticate before SaslHandshake".into());
        };
        let mechanism = *mechanism;
        let (header, mut body) = match parse(ApiKey::SaslAuthenticate, frame) {
            Ok(parsed) => parsed,
            Err(why) => return Gate::Close(why),
        };
        let req = match SaslAuthenticateRequest::decode(&mut body, header.request_api_version) {
            Ok(r) => r,
            Err(e) => return Gate::Close(format!("malformed SaslAuthenticate: {e}")),
        };
        match evaluate(security, mechanism, scram, oauth, &req.auth_bytes) {
            Ok((token, done)) => {
                self.can_reauthenticate |= header.request_api_version >= 1;
                self.finish(done, mechanism, security);
                let mut resp = SaslAuthenticateResponse::default().with_auth_bytes(token.into());
                // The session's lifetime is told to clients that can re-authenticate (v1+).
                if let (true, true, Some(l)) =
                    (done, self.can_reauthenticate, security.session_lifetime)
                {
                    resp.session_lifetime_ms = i64::try_from(l.as_millis()).unwrap_or(i64::MAX);
                }
                reply(ApiKey::SaslAuthenticate, &header, &resp)
                    .map_or_else(Gate::Close, Gate::Reply)
            }
            Err(f) => {
                let text = message(&f, mechanism);
                let resp = SaslAuthenticateResponse::default()
                    .with_error_code(SASL_AUTHENTICATION_FAILED)
                    .with_error_message(Some(StrBytes::from_string(text.clone())));
                let why = match f {
                    Failure::Generic(reason) => format!("{text} ({reason})"),
                    Failure::Message(_) => text,
                };
                match reply(ApiKey::SaslAuthenticate, &header, &resp) {
                    Ok(out) => Gate::Fail(out, why),
                    Err(e) => Gate::Close(e),
                }
            }
        }
    }
}

/// Runs one token through the mechanism: the answer token and whether it completed.
fn evaluate(
    security: &Security,
    mechanism: Mechanism,
    exchange: &mut scram::Exchange,
    oauth: &mut oauthbearer::Exchange,
    token: &[u8],
) -> Result<(Vec<u8>, bool), Failure> {
    match mechanism {
        Mechanism::Plain => {
            super::plain::authenticate(token, |u| security.users.get(u).map(|c| c.plain.clone()))
                .map(|_| (Vec::new(), true))
        }
        Mechanism::Scram(hash) => exchange
            .evaluate(hash, token, |u| {
                security.users.get(u).map(|c| match hash {
                    scram::Hash::Sha256 => c.sha256.clone(),
                    scram::Hash::Sha512 => c.sha512.clone(),
                })
            })
            .map(|step| (step.token, step.complete)),
        Mechanism::OAuthBearer => oauth.evaluate(token),
    }
}

fn message(failure: &Failure, mechanism: Mechanism) -> String {
    match failure {
        Failure::Message(m) => m.clone(),
        Failure::Generic(_) => format!(
            "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
            mechanism.name()
        ),
    }
}

/// The header of a SASL request (of a served version, its body passing the request guard)
/// and its body.
fn parse(key: ApiKey, frame: &Bytes) -> Result<(RequestHeader, Bytes), String> {
    let version = frame
        .get(2..4)
        .map(|b| i16::from_be_bytes([b[0], b[1]]))
        .ok_or("request shorter than its header")?;
    let served = crate::api::versions::range(key);
    if !served.is_some_and(|(a, b)| (a..=b).contains(&version)) {
        return Err(format!("{key:?} v{version} is not served"));
    }
    let mut body = frame.clone();
    let header = RequestHeader::decode(&mut body, key.request_header_version(version))
        .map_err(|e| format!("request header: {e}"))?;
    crate::guard::check_request(key as i16, version, &body)?;
    Ok((header, body))
}

/// A framed response to `header`'s request.
fn reply<R: Encodable>(key: ApiKey, header: &RequestHeader, resp: &R) -> Result<Bytes, String> {
    let version = header.request_api_version;
    let mut body = BytesMut::new();
    resp.encode(&mut body, version)
        .map_err(|e| format!("response does not encode: {e}"))?;
    crate::server::frame(key, version, header.correlation_id, &body)
}

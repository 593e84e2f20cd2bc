//! SaslAuthenticate (KIP-152): carries one round of a SASL mechanism's bytes. v1+ answers the
//! session lifetime the broker grants (KIP-368; 0 when re-authentication is off).

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};

use crate::error::code::{ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED};
use crate::{Error, ErrorKind, Result};

/// The request carrying `auth_bytes`. The same at every version (0–2).
pub(crate) fn request(auth_bytes: Vec<u8>) -> SaslAuthenticateRequest {
    SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(auth_bytes))
}

/// One round's answer.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The broker's bytes for the mechanism (SCRAM's server-first / server-final).
    pub auth_bytes: Bytes,
    /// The session lifetime (KIP-368, v1+); `None` when the broker does not limit it.
    pub session_lifetime: Option<Duration>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("auth_bytes_len", &self.auth_bytes.len())
            .field("session_lifetime", &self.session_lifetime)
            .finish()
    }
}

/// The answer, or a fatal [`ErrorKind::SaslAuthenticationFailed`] with the broker's message for
/// `SASL_AUTHENTICATION_FAILED` and `ILLEGAL_SASL_STATE`.
pub(crate) fn parse(resp: &SaslAuthenticateResponse, mechanism: &'static str) -> Result<Answer> {
    let message = resp.error_message.as_ref().map(|m| m.to_string());
    match resp.error_code {
        0 => Ok(Answer {
            auth_bytes: resp.auth_bytes.clone(),
            session_lifetime: (resp.session_lifetime_ms > 0)
                .then(|| Duration::from_millis(resp.session_lifetime_ms as u64)),
        }),
        SASL_AUTHENTICATION_FAILED | ILLEGAL_SASL_STATE => Err(Error::new(
            ErrorKind::SaslAuthenticationFailed { mechanism },
        )
        .with_api("SaslAuthenticate")
        .with_detail(if resp.error_code == ILLEGAL_SASL_STATE {
            "ILLEGAL_SASL_STATE"
        } else {
            "SASL_AUTHENTICATION_FAILED"
        })
        .with_broker_message(message)),
        code => Err(Error::from_broker_code(code)
            .with_api("SaslAuthenticate")
            .with_broker_message(message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, str_bytes};

    #[test]
    fn every_version_encodes_and_parses() {
        for v in 0..=2 {
            assert!(encodes(&request(b"abc".to_vec()), v), "v{v}");
        }
        let ok = SaslAuthenticateResponse::default()
            .with_auth_bytes(Bytes::from_static(b"v=x"))
            .with_session_lifetime_ms(10_000);
        let a = parse(&ok, "PLAIN").unwrap();
        assert_eq!(a.session_lifetime, Some(Duration::from_secs(10)));
        assert_eq!(&a.auth_bytes[..], b"v=x");
        assert_eq!(
            parse(&SaslAuthenticateResponse::default(), "PLAIN")
                .unwrap()
                .session_lifetime,
            None
        );
    }

    #[test]
    fn authentication_failure_is_fatal_and_keeps_the_message() {
        let resp = SaslAuthenticateResponse::default()
            .with_error_code(SASL_AUTHENTICATION_FAILED)
            .with_error_message(Some(str_bytes("invalid credentials")));
        let e = parse(&resp, "SCRAM-SHA-512").unwrap_err();
        assert!(e.is_fatal() && !e.is_retriable() && e.is_authentication_failure());
        assert_eq!(e.broker_message(), Some("invalid credentials"));
    }
}

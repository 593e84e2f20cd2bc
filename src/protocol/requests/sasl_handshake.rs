//! SaslHandshake (KIP-152): names the mechanism before SaslAuthenticate. v1 means the
//! authentication bytes then travel inside SaslAuthenticate requests (v0's raw tokens are not
//! used by this client).

use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};

use super::str_bytes;
use crate::error::code::UNSUPPORTED_SASL_MECHANISM;
use crate::{Error, ErrorKind, Result};

/// The version this client sends (the broker must speak v1: every Kafka since 1.0 does).
pub(crate) const VERSION: i16 = 1;

/// The request for `mechanism`.
pub(crate) fn request(mechanism: &str) -> SaslHandshakeRequest {
    SaslHandshakeRequest::default().with_mechanism(str_bytes(mechanism))
}

/// `Ok` when the broker enabled `mechanism`; otherwise a fatal
/// [`ErrorKind::SaslAuthenticationFailed`] listing the broker's mechanisms.
pub(crate) fn parse(resp: &SaslHandshakeResponse, mechanism: &'static str) -> Result<()> {
    match resp.error_code {
        0 => Ok(()),
        UNSUPPORTED_SASL_MECHANISM => {
            let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
            Err(
                Error::new(ErrorKind::SaslAuthenticationFailed { mechanism })
                    .with_api("SaslHandshake")
                    .with_detail(format!(
                        "the broker does not enable {mechanism} on this listener (it enables: {})",
                        enabled.join(", ")
                    )),
            )
        }
        code => Err(Error::from_broker_code(code).with_api("SaslHandshake")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;

    #[test]
    fn every_version_encodes_and_errors_are_typed() {
        for v in 0..=1 {
            assert!(encodes(&request("PLAIN"), v), "v{v}");
        }
        assert!(parse(&SaslHandshakeResponse::default(), "PLAIN").is_ok());
        let resp = SaslHandshakeResponse::default()
            .with_error_code(UNSUPPORTED_SASL_MECHANISM)
            .with_mechanisms(vec![str_bytes("PLAIN"), str_bytes("SCRAM-SHA-512")]);
        let e = parse(&resp, "SCRAM-SHA-256").unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::SaslAuthenticationFailed {
                mechanism: "SCRAM-SHA-256"
            }
        ));
        assert!(e.is_fatal());
        assert!(e.to_string().contains("SCRAM-SHA-512"), "{e}");
    }
}

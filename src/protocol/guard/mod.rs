//! Bounds-checking pass run over every response body before `kafka-protocol` decodes it.
//!
//! PLACEHOLDER: filled in by the response-guard work.

use crate::Result;

/// Checks that a response body of `api_key` at `version` (after the response header) is
/// well-formed enough to hand to `kafka-protocol`: every count and length it declares fits in
/// the bytes that remain.
pub fn check_response(api_key: i16, version: i16, body: &[u8]) -> Result<()> {
    let _ = (api_key, version, body);
    Ok(())
}

/// Guards then decodes a response body (placeholder until the guard lands).
pub fn decode_response<R: kafka_protocol::protocol::Decodable>(
    api_key: i16,
    version: i16,
    mut body: bytes::Bytes,
) -> Result<R> {
    check_response(api_key, version, &body)?;
    R::decode(&mut body, version).map_err(|e| crate::Error::malformed(e.to_string()))
}

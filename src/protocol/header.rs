//! Request and response headers.
//!
//! Request header v1 is `api_key, api_version, correlation_id, client_id (nullable string)`; v2
//! adds an (empty) tagged-field section. Response header v0 is `correlation_id`; v1 adds tagged
//! fields. Which header version an API version uses comes from `kafka-protocol`'s generated
//! tables (via [`super::api::ApiRequest`]).

use super::api::ApiRequest;
use super::frame::{patch_size_prefix, reserve_size_prefix};
use crate::{Error, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Encodes one complete request frame (size prefix, header, body) at the end of `buf`.
///
/// `client_id` is sent as given; the caller validated its length at configuration time.
pub(crate) fn encode_request<R: ApiRequest>(
    buf: &mut BytesMut,
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<()> {
    let start = reserve_size_prefix(buf);
    buf.put_i16(R::KEY as i16);
    buf.put_i16(version);
    buf.put_i32(correlation_id);
    // client_id is a nullable non-compact string in every header version (KIP-482 keeps it so
    // brokers can always parse it).
    let id = client_id.as_bytes();
    let id_len = i16::try_from(id.len())
        .map_err(|_| Error::config("client.id", client_id, "longer than 32767 bytes"))?;
    buf.put_i16(id_len);
    buf.put_slice(id);
    if R::header_version(version) >= 2 {
        buf.put_u8(0); // no tagged fields
    }
    request.encode(buf, version).map_err(|e| {
        Error::new(crate::ErrorKind::InvalidArgument)
            .with_api(R::NAME)
            .with_detail(format!("cannot encode request: {e}"))
    })?;
    patch_size_prefix(buf, start)
}

/// Reads the correlation id at the front of a response frame without consuming it, so a
/// connection can route the frame before knowing its API.
pub(crate) fn peek_correlation_id(frame: &[u8]) -> Result<i32> {
    match frame.get(..4) {
        Some(b) => Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Error::malformed(format!(
            "response frame of {} bytes has no correlation id",
            frame.len()
        ))),
    }
}

/// Strips the response header (of `header_version` 0 or 1) from `frame` and returns the body.
pub(crate) fn split_response_header(mut frame: Bytes, header_version: i16) -> Result<Bytes> {
    if frame.len() < 4 {
        return Err(Error::malformed("truncated response header"));
    }
    frame.advance(4);
    if header_version >= 1 {
        skip_tagged_fields(&mut frame)?;
    }
    Ok(frame)
}

/// Skips a tagged-field section, bounding every size by the bytes that remain.
fn skip_tagged_fields(buf: &mut Bytes) -> Result<()> {
    let count = read_uvarint(buf)?;
    for _ in 0..count {
        let _tag = read_uvarint(buf)?;
        let size = read_uvarint(buf)? as usize;
        if size > buf.remaining() {
            return Err(Error::malformed(
                "tagged field longer than the response header",
            ));
        }
        buf.advance(size);
    }
    Ok(())
}

fn read_uvarint(buf: &mut Bytes) -> Result<u32> {
    let mut value: u32 = 0;
    for i in 0..5 {
        if !buf.has_remaining() {
            return Err(Error::malformed("truncated varint in response header"));
        }
        let b = buf.get_u8();
        if i == 4 && b > 0x0f {
            return Err(Error::malformed(
                "varint overflows 32 bits in response header",
            ));
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Error::malformed(
        "varint longer than 5 bytes in response header",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::MetadataRequest;

    #[test]
    fn request_header_layout() {
        let mut buf = BytesMut::new();
        encode_request(&mut buf, &MetadataRequest::default(), 9, 7, "ab").unwrap();
        // size, api key 3, version 9, correlation 7, client id "ab", tagged 0, body...
        assert_eq!(&buf[4..16], &[0, 3, 0, 9, 0, 0, 0, 7, 0, 2, b'a', b'b']);
        assert_eq!(buf[16], 0);
        let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        assert_eq!(size, buf.len() - 4);
    }

    #[test]
    fn response_header_v1_tagged_fields_are_bounded() {
        let ok = Bytes::from_static(&[0, 0, 0, 1, 1, 5, 2, 0xaa, 0xbb, 0x42]);
        assert_eq!(&split_response_header(ok, 1).unwrap()[..], &[0x42]);
        let bad = Bytes::from_static(&[0, 0, 0, 1, 1, 5, 0x7f, 0xaa]);
        assert!(split_response_header(bad, 1).is_err());
        let bad = Bytes::from_static(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(split_response_header(bad, 1).is_err());
        assert!(split_response_header(Bytes::from_static(&[0, 0]), 0).is_err());
    }
}

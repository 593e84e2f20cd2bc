//! Size-prefixed framing: every Kafka request and response is `int32 size` followed by `size`
//! bytes.
//!
//! Decoding follows tokio-util's `Decoder` convention: "need more bytes" is a normal result
//! (`Ok(None)`), not an error. The size is bounded by a maximum so a corrupt or hostile prefix
//! cannot make the client reserve gigabytes.

use crate::{Error, Result};
use bytes::{Buf, Bytes, BytesMut};

/// Bytes of the size prefix.
pub const SIZE_PREFIX_LEN: usize = 4;

/// Takes one complete frame body off the front of `buf`, or returns `Ok(None)` if more bytes are
/// needed. Reserves room for the rest of a partially received frame, bounded by `max_frame`.
///
/// # Errors
/// [`ErrorKind::MalformedResponse`](crate::ErrorKind::MalformedResponse) if the size prefix is
/// negative or larger than `max_frame`; the connection cannot be resynchronised after that.
///
/// ```
/// use bytes::BytesMut;
/// use ferrokafka::__private::protocol::frame::decode_frame;
/// let mut buf = BytesMut::from(&[0u8, 0, 0, 2, 0xab][..]);
/// assert!(decode_frame(&mut buf, 1024).unwrap().is_none()); // one byte still missing
/// buf.extend_from_slice(&[0xcd]);
/// assert_eq!(&decode_frame(&mut buf, 1024).unwrap().unwrap()[..], &[0xab, 0xcd]);
/// ```
pub fn decode_frame(buf: &mut BytesMut, max_frame: usize) -> Result<Option<Bytes>> {
    if buf.len() < SIZE_PREFIX_LEN {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let size = usize::try_from(size)
        .map_err(|_| Error::malformed(format!("negative frame size {size}")))?;
    if size > max_frame {
        return Err(Error::malformed(format!(
            "frame of {size} bytes exceeds the maximum of {max_frame} (receive.message.max.bytes)"
        )));
    }
    let total = SIZE_PREFIX_LEN + size;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    buf.advance(SIZE_PREFIX_LEN);
    Ok(Some(buf.split_to(size).freeze()))
}

/// Writes the 4-byte size prefix for the frame that starts at `start` in `buf` (the prefix was
/// reserved with [`reserve_size_prefix`]).
pub(crate) fn patch_size_prefix(buf: &mut BytesMut, start: usize) -> Result<()> {
    let body = buf.len() - start - SIZE_PREFIX_LEN;
    let size = i32::try_from(body).map_err(|_| {
        Error::new(crate::ErrorKind::InvalidArgument).with_detail("request too large")
    })?;
    buf[start..start + SIZE_PREFIX_LEN].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Appends a placeholder size prefix and returns where the frame starts.
pub(crate) fn reserve_size_prefix(buf: &mut BytesMut) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; SIZE_PREFIX_LEN]);
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_negative_and_oversized() {
        let mut b = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert!(decode_frame(&mut b, 100).is_err());
        let mut b = BytesMut::from(&[0x7fu8, 0xff, 0xff, 0xff][..]);
        assert!(decode_frame(&mut b, 100).is_err());
        // An oversized prefix must not make us reserve the declared size.
        assert!(b.capacity() < 1 << 20);
    }

    #[test]
    fn splits_back_to_back_frames() {
        let mut b = BytesMut::from(&[0u8, 0, 0, 1, 7, 0, 0, 0, 0, 0, 0, 0, 2, 8][..]);
        assert_eq!(&decode_frame(&mut b, 10).unwrap().unwrap()[..], &[7]);
        assert_eq!(decode_frame(&mut b, 10).unwrap().unwrap().len(), 0);
        assert!(decode_frame(&mut b, 10).unwrap().is_none());
        assert_eq!(b.len(), 5);
    }
}

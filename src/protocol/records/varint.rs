//! Zigzag varints (`int32`) and varlongs (`int64`) as Kafka writes them (protobuf encoding:
//! little-endian base-128 groups, high bit = "more follows").
//!
//! Decoding is overflow-safe: a varint longer than 5 bytes or a varlong longer than 10 bytes is
//! an error, as in Kafka's `ByteUtils`. Like Kafka, bits of the last group beyond the type's
//! width are ignored rather than rejected, so anything Java accepts we accept.

use bytes::BufMut;

use crate::{Error, Result};

/// Most bytes a varint (`int32`) occupies.
pub const MAX_VARINT_LEN: usize = 5;
/// Most bytes a varlong (`int64`) occupies.
pub const MAX_VARLONG_LEN: usize = 10;

#[inline]
fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline]
fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

#[inline]
fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Number of bytes [`put_varint`] writes for `v`.
#[inline]
pub fn varint_size(v: i32) -> usize {
    unsigned_size(u64::from(zigzag32(v)))
}

/// Number of bytes [`put_varlong`] writes for `v`.
#[inline]
pub fn varlong_size(v: i64) -> usize {
    unsigned_size(zigzag64(v))
}

#[inline]
fn unsigned_size(v: u64) -> usize {
    // Each byte carries 7 bits; a zero still takes one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends `v` as a zigzag varint.
#[inline]
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_unsigned(buf, u64::from(zigzag32(v)));
}

/// Appends `v` as a zigzag varlong.
#[inline]
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_unsigned(buf, zigzag64(v));
}

#[inline]
fn put_unsigned(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Decodes a zigzag varint at the start of `input`; returns the value and the bytes consumed.
///
/// Errors (`MalformedResponse`) when `input` ends mid-varint or the varint is longer than
/// [`MAX_VARINT_LEN`] bytes.
#[inline]
pub fn read_varint(input: &[u8]) -> Result<(i32, usize)> {
    let (v, n) = read_unsigned(input, MAX_VARINT_LEN, "varint")?;
    // Bits beyond 32 are dropped, as Java does (its 5th group is shifted out of the int).
    Ok((unzigzag32(v as u32), n))
}

/// Decodes a zigzag varlong at the start of `input`; returns the value and the bytes consumed.
///
/// Errors (`MalformedResponse`) when `input` ends mid-varlong or the varlong is longer than
/// [`MAX_VARLONG_LEN`] bytes.
#[inline]
pub fn read_varlong(input: &[u8]) -> Result<(i64, usize)> {
    let (v, n) = read_unsigned(input, MAX_VARLONG_LEN, "varlong")?;
    Ok((unzigzag64(v), n))
}

#[inline]
fn read_unsigned(input: &[u8], max_len: usize, what: &str) -> Result<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in input.iter().take(max_len).enumerate() {
        // i < 10, so the shift is at most 63: never an overflowing shift.
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if input.len() < max_len {
        Err(Error::malformed(format!("truncated {what}")))
    } else {
        Err(Error::malformed(format!(
            "{what} longer than {max_len} bytes"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        let cases: &[(i32, &[u8])] = &[
            (0, &[0]),
            (-1, &[1]),
            (1, &[2]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 1]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(v, enc) in cases {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf, enc, "{v}");
            assert_eq!(varint_size(v), enc.len());
            assert_eq!(read_varint(enc).ok(), Some((v, enc.len())));
        }
    }

    #[test]
    fn varlong_extremes() {
        for v in [0, -1, 1, i64::MAX, i64::MIN, i64::from(i32::MIN) - 1] {
            let mut buf = Vec::new();
            put_varlong(&mut buf, v);
            assert_eq!(buf.len(), varlong_size(v));
            assert_eq!(read_varlong(&buf).ok(), Some((v, buf.len())));
        }
        let mut buf = Vec::new();
        put_varlong(&mut buf, i64::MIN);
        assert_eq!(buf.len(), MAX_VARLONG_LEN);
    }

    #[test]
    fn too_long_and_truncated() {
        assert!(read_varint(&[0x80; 6]).is_err());
        assert!(read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).is_err());
        assert!(read_varlong(&[0x80; 11]).is_err());
        assert!(read_varint(&[0x80]).is_err());
        assert!(read_varint(&[]).is_err());
    }
}

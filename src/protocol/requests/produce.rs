//! A Produce request writer that encodes record batches straight into the request frame.
//!
//! `kafka-protocol`'s `ProduceRequest` holds each partition's records as a separate `Bytes`, so
//! every batch would be built in one buffer and copied into the frame. This writer emits the
//! frame (size prefix, header, body) itself and lets the caller write each batch in place.
//!
//! Lengths that are only known after a batch is written are patched: `int32` for versions
//! before 9, and a fixed-width 5-byte unsigned varint for the flexible versions (a varint with
//! continuation padding, which Kafka's `ByteUtils.readUnsignedVarint` reads like any other).

use crate::protocol::frame::{patch_size_prefix, reserve_size_prefix};
use crate::{Error, ErrorKind, Result};
use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::ApiKey;

/// Writes one Produce request (v3–v12) into a buffer.
///
/// ```
/// use bytes::{BufMut, BytesMut};
/// use ferrokafka::__private::protocol::produce::ProduceRequestWriter;
/// let mut buf = BytesMut::new();
/// let mut w = ProduceRequestWriter::begin(&mut buf, 9, 1, "app", None, -1, 30_000, 1).unwrap();
/// w.topic("orders", 1).unwrap();
/// w.partition(0, |b| { b.put_slice(b"batch bytes"); Ok(()) }).unwrap();
/// w.finish().unwrap();
/// ```
#[derive(Debug)]
pub struct ProduceRequestWriter<'a> {
    buf: &'a mut BytesMut,
    start: usize,
    flexible: bool,
    topics_left: u32,
    partitions_left: u32,
    in_topic: bool,
}

impl<'a> ProduceRequestWriter<'a> {
    /// Starts a request with `topic_count` topics. `acks` is `0`, `1` or `-1`.
    #[allow(clippy::too_many_arguments)]
    pub fn begin(
        buf: &'a mut BytesMut,
        version: i16,
        correlation_id: i32,
        client_id: &str,
        transactional_id: Option<&str>,
        acks: i16,
        timeout_ms: i32,
        topic_count: u32,
    ) -> Result<Self> {
        if !(3..=12).contains(&version) {
            return Err(Error::new(ErrorKind::UnsupportedVersion {
                api: "Produce",
                client: (3, 12),
                broker: None,
            })
            .with_detail(format!("writer asked for v{version}")));
        }
        let flexible = version >= 9;
        let start = reserve_size_prefix(buf);
        // Request header: v2 (with tagged fields) for flexible versions, else v1.
        buf.put_i16(ApiKey::Produce as i16);
        buf.put_i16(version);
        buf.put_i32(correlation_id);
        put_string_i16(buf, Some(client_id), "client.id")?;
        if flexible {
            buf.put_u8(0);
        }
        // Body.
        if flexible {
            put_compact_string(buf, transactional_id);
        } else {
            put_string_i16(buf, transactional_id, "transactional.id")?;
        }
        buf.put_i16(acks);
        buf.put_i32(timeout_ms);
        put_count(buf, flexible, topic_count);
        Ok(ProduceRequestWriter {
            buf,
            start,
            flexible,
            topics_left: topic_count,
            partitions_left: 0,
            in_topic: false,
        })
    }

    /// Starts the next topic, which will have `partition_count` partitions.
    pub fn topic(&mut self, name: &str, partition_count: u32) -> Result<()> {
        self.close_topic()?;
        if self.topics_left == 0 {
            return Err(misuse("more topics than announced"));
        }
        self.topics_left -= 1;
        if self.flexible {
            put_compact_string(self.buf, Some(name));
        } else {
            put_string_i16(self.buf, Some(name), "topic")?;
        }
        put_count(self.buf, self.flexible, partition_count);
        self.partitions_left = partition_count;
        self.in_topic = true;
        Ok(())
    }

    /// Writes one partition: its index, then the records `write` appends to the buffer (one or
    /// more record batches), with their length patched in afterwards.
    pub fn partition(
        &mut self,
        index: i32,
        write: impl FnOnce(&mut BytesMut) -> Result<()>,
    ) -> Result<()> {
        if !self.in_topic || self.partitions_left == 0 {
            return Err(misuse("more partitions than announced"));
        }
        self.partitions_left -= 1;
        self.buf.put_i32(index);
        let len_pos = self.buf.len();
        let len_width = if self.flexible { 5 } else { 4 };
        self.buf.put_bytes(0, len_width);
        write(self.buf)?;
        let len = self.buf.len() - len_pos - len_width;
        let len = u32::try_from(len).map_err(|_| misuse("records larger than 4 GiB"))?;
        if self.flexible {
            // COMPACT_RECORDS: length + 1 as an unsigned varint, padded to 5 bytes.
            let v = len
                .checked_add(1)
                .ok_or_else(|| misuse("records length overflows"))?;
            let b = &mut self.buf[len_pos..len_pos + 5];
            b[0] = (v & 0x7f) as u8 | 0x80;
            b[1] = ((v >> 7) & 0x7f) as u8 | 0x80;
            b[2] = ((v >> 14) & 0x7f) as u8 | 0x80;
            b[3] = ((v >> 21) & 0x7f) as u8 | 0x80;
            b[4] = (v >> 28) as u8;
            self.buf.put_u8(0); // partition tagged fields
        } else {
            let v = i32::try_from(len).map_err(|_| misuse("records larger than 2 GiB"))?;
            self.buf[len_pos..len_pos + 4].copy_from_slice(&v.to_be_bytes());
        }
        Ok(())
    }

    fn close_topic(&mut self) -> Result<()> {
        if self.in_topic {
            if self.partitions_left != 0 {
                return Err(misuse("fewer partitions than announced"));
            }
            if self.flexible {
                self.buf.put_u8(0); // topic tagged fields
            }
            self.in_topic = false;
        }
        Ok(())
    }

    /// Finishes the request and patches its size prefix.
    pub fn finish(mut self) -> Result<()> {
        self.close_topic()?;
        if self.topics_left != 0 {
            return Err(misuse("fewer topics than announced"));
        }
        if self.flexible {
            self.buf.put_u8(0); // request tagged fields
        }
        patch_size_prefix(self.buf, self.start)
    }
}

fn misuse(what: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument)
        .with_api("Produce")
        .with_detail(what.to_owned())
}

fn put_count(buf: &mut BytesMut, flexible: bool, n: u32) {
    if flexible {
        put_uvarint(buf, n.saturating_add(1));
    } else {
        buf.put_i32(n as i32);
    }
}

fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_compact_string(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        None => buf.put_u8(0),
        Some(s) => {
            put_uvarint(buf, (s.len() as u32).saturating_add(1));
            buf.put_slice(s.as_bytes());
        }
    }
}

fn put_string_i16(buf: &mut BytesMut, s: Option<&str>, what: &str) -> Result<()> {
    match s {
        None => buf.put_i16(-1),
        Some(s) => {
            let len = i16::try_from(s.len())
                .map_err(|_| Error::config(what, s, "longer than 32767 bytes"))?;
            buf.put_i16(len);
            buf.put_slice(s.as_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_match_announcements() {
        let mut buf = BytesMut::new();
        let mut w = ProduceRequestWriter::begin(&mut buf, 12, 1, "c", None, -1, 1000, 1).unwrap();
        w.topic("t", 1).unwrap();
        assert!(
            w.topic("u", 1).is_err(),
            "partition missing and topic over count"
        );
        let mut buf = BytesMut::new();
        let w = ProduceRequestWriter::begin(&mut buf, 8, 1, "c", None, 1, 1000, 1).unwrap();
        assert!(w.finish().is_err());
        assert!(
            ProduceRequestWriter::begin(&mut BytesMut::new(), 13, 1, "c", None, 1, 1, 0).is_err()
        );
    }

    #[test]
    fn padded_varint_length_is_patched() {
        let mut buf = BytesMut::new();
        let mut w = ProduceRequestWriter::begin(&mut buf, 9, 7, "c", None, -1, 1000, 1).unwrap();
        w.topic("t", 1).unwrap();
        w.partition(3, |b| {
            b.put_bytes(0xab, 300);
            Ok(())
        })
        .unwrap();
        w.finish().unwrap();
        // ... index(4) | varint(5) | 300 bytes | tagged(1) | topic tagged(1) | request tagged(1)
        let tail = buf.len() - 3 - 300 - 5;
        assert_eq!(&buf[tail..tail + 5], &[0xad, 0x82, 0x80, 0x80, 0x00][..]);
    }
}

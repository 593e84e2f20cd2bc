//! A Produce request writer that encodes record batches straight into the request frame.
//!
//! `kafka-protocol`'s `ProduceRequest` holds each partition's records as a separate `Bytes`, so
//! every batch would be built in one buffer and copied into the frame. This writer emits the
//! frame (size prefix, header, body) itself and lets the caller write each batch in place.
//!
//! Lengths that are only known after a batch is written are patched: `int32` for versions
//! before 9, and a fixed-width 5-byte unsigned varint for the flexible versions (a varint with
//! continuation padding, which Kafka's `ByteUtils.readUnsignedVarint` reads like any other).
//!
//! The response is read here too ([`parse_response`]), so the sender never looks at wire
//! fields: it asks the parsed response for each partition it wrote and gets either what the
//! broker appended or a typed error.

use crate::protocol::frame::{patch_size_prefix, reserve_size_prefix};
use crate::{Error, ErrorKind, Result};
use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{ApiKey, ProduceResponse};
use std::collections::HashMap;

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

/// What the broker appended for one partition of a Produce request, as sent on the wire
/// (`-1` where the broker does not know or the version lacks the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionAppended {
    /// Offset of the batch's first record (`-1` when acknowledged as a duplicate).
    pub base_offset: i64,
    /// The broker's append time in ms, for `LogAppendTime` topics.
    pub log_append_time_ms: i64,
    /// The partition's log start offset.
    pub log_start_offset: i64,
}

/// A Produce response indexed by partition: built once per response, then asked once per
/// batch the request carried ([`partition`](ParsedProduceResponse::partition)).
#[derive(Debug)]
pub struct ParsedProduceResponse<'a> {
    /// How long the broker throttled the connection, in ms.
    pub throttle_time_ms: i32,
    /// Borrowed from the response: the index costs one map per response and copies nothing.
    /// A partition listed twice keeps its last answer.
    partitions: HashMap<(&'a str, i32), &'a PartitionProduceResponse>,
}

/// Indexes a decoded Produce response by partition. Never fails: a partition the response
/// lacks is reported when it is asked for.
pub fn parse_response(resp: &ProduceResponse) -> ParsedProduceResponse<'_> {
    let mut partitions = HashMap::new();
    for t in &resp.responses {
        for p in &t.partition_responses {
            partitions.insert((t.name.0.as_str(), p.index), p);
        }
    }
    ParsedProduceResponse {
        throttle_time_ms: resp.throttle_time_ms,
        partitions,
    }
}

impl ParsedProduceResponse<'_> {
    /// The broker's answer for `topic`/`partition`: what it appended, its error (naming the
    /// partition, the API and the broker's message), or a malformed-response error when the
    /// partition is missing from the response.
    pub fn partition(&self, topic: &str, partition: i32) -> Result<PartitionAppended> {
        match self.partitions.get(&(topic, partition)) {
            None => Err(
                Error::malformed("partition missing from the Produce response")
                    .with_partition(topic, partition),
            ),
            Some(p) if p.error_code == 0 => Ok(PartitionAppended {
                base_offset: p.base_offset,
                log_append_time_ms: p.log_append_time_ms,
                log_start_offset: p.log_start_offset,
            }),
            Some(p) => Err(produce_error(p.error_code)
                .with_partition(topic, partition)
                .with_api("Produce")
                .with_broker_message(p.error_message.as_ref().map(|m| m.to_string()))),
        }
    }
}

/// A Produce partition error, with what to change for the codes a setting causes: the
/// client-side `RecordTooLarge` names its limit, and a broker refusing a batch as too large
/// should say as much (issue #24).
fn produce_error(code: i16) -> Error {
    let e = Error::from_broker_code(code);
    match code {
        crate::error::code::MESSAGE_TOO_LARGE => e.with_detail(
            "the broker refused the batch as too large for the topic: raise max.message.bytes on \
             the topic (message.max.bytes on the broker), or lower batch.size and \
             max.request.size on the producer",
        ),
        _ => e,
    }
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

    fn response(topics: &[(&str, Vec<PartitionProduceResponse>)]) -> ProduceResponse {
        use kafka_protocol::messages::produce_response::TopicProduceResponse;
        let responses = topics
            .iter()
            .map(|(name, parts)| {
                TopicProduceResponse::default()
                    .with_name(crate::protocol::requests::topic_name(name))
                    .with_partition_responses(parts.clone())
            })
            .collect();
        ProduceResponse::default()
            .with_responses(responses)
            .with_throttle_time_ms(7)
    }

    #[test]
    fn parses_appended_partitions() {
        let resp = response(&[(
            "t",
            vec![
                PartitionProduceResponse::default()
                    .with_index(0)
                    .with_base_offset(42)
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(3),
                PartitionProduceResponse::default()
                    .with_index(1)
                    .with_base_offset(-1)
                    .with_log_append_time_ms(1_700_000_000_000)
                    .with_log_start_offset(-1),
            ],
        )]);
        let parsed = parse_response(&resp);
        assert_eq!(parsed.throttle_time_ms, 7);
        assert_eq!(
            parsed.partition("t", 0).unwrap(),
            PartitionAppended {
                base_offset: 42,
                log_append_time_ms: -1,
                log_start_offset: 3
            }
        );
        assert_eq!(
            parsed.partition("t", 1).unwrap(),
            PartitionAppended {
                base_offset: -1,
                log_append_time_ms: 1_700_000_000_000,
                log_start_offset: -1
            }
        );
    }

    #[test]
    fn partition_error_is_typed_and_names_the_partition() {
        use crate::error::code::{LEADER_NOT_AVAILABLE, MESSAGE_TOO_LARGE};
        use kafka_protocol::protocol::StrBytes;
        let resp = response(&[(
            "t",
            vec![
                PartitionProduceResponse::default()
                    .with_index(0)
                    .with_error_code(LEADER_NOT_AVAILABLE)
                    .with_error_message(Some(StrBytes::from_static_str("moved"))),
                PartitionProduceResponse::default()
                    .with_index(1)
                    .with_error_code(MESSAGE_TOO_LARGE),
            ],
        )]);
        let parsed = parse_response(&resp);
        let e = parsed.partition("t", 0).unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::Broker(crate::error::BrokerErrorCode(LEADER_NOT_AVAILABLE))
        );
        let text = e.to_string();
        assert!(text.contains("moved") && text.contains("Produce"), "{text}");
        let e = parsed.partition("t", 1).unwrap_err();
        assert!(e.to_string().contains("max.message.bytes"), "{e}");
    }

    #[test]
    fn missing_partition_is_a_malformed_response() {
        let resp = response(&[("t", vec![PartitionProduceResponse::default().with_index(0)])]);
        let parsed = parse_response(&resp);
        for (topic, partition) in [("t", 1), ("u", 0)] {
            let e = parsed.partition(topic, partition).unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::MalformedResponse);
        }
        // An empty response: every partition is missing, nothing panics.
        let empty = ProduceResponse::default();
        assert!(parse_response(&empty).partition("t", 0).is_err());
    }
}

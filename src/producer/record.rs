//! [`ProducerRecord`]: what the application sends, and its exact encoded size in a v2 record batch.
//!
//! A record inside a v2 batch is laid out as (KIP-98, `DefaultRecord` in the Java client):
//!
//! ```text
//! length           varint   (zigzag) size of everything after this field
//! attributes       int8     always 0 (no per-record attributes are defined)
//! timestampDelta   varlong  timestamp - batch base timestamp
//! offsetDelta      varint   index of the record in its batch
//! keyLength        varint   -1 for a null key
//! key              bytes
//! valueLength      varint   -1 for a null value
//! value            bytes
//! headersCount     varint
//! headers          [headerKeyLength varint, headerKey, headerValueLength varint, headerValue]
//! ```

use bytes::Bytes;

use crate::types::OptPreview;

// The record batch v2 header size is defined once, with the codec's other layout constants.
pub(crate) use crate::protocol::records::RECORD_BATCH_OVERHEAD;

pub use crate::protocol::records::Header;

/// A record to send: topic, optional partition, key, value, headers and timestamp.
///
/// ```
/// use ferrokafka::producer::ProducerRecord;
/// let r = ProducerRecord::new("orders")
///     .key("customer-7")
///     .value(r#"{"total": 42}"#)
///     .header("trace-id", "4bf92f35");
/// assert_eq!(r.topic, "orders");
/// assert_eq!(r.partition, None); // chosen by the partitioner
/// assert!(r.estimated_size() > 0);
/// ```
///
/// `Debug` shows the start of the key and value and their sizes, never the whole payload (a
/// rejected record travels in [`DeliveryError`](super::DeliveryError), whose `Debug` a `?` in
/// `main` prints).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerRecord {
    /// Topic to write to.
    pub topic: String,
    /// Explicit partition; `None` lets the partitioner choose (by key, or sticky when keyless).
    pub partition: Option<i32>,
    /// Key; `None` is a null key (not the same as an empty key: an empty key is hashed).
    pub key: Option<Bytes>,
    /// Value; `None` is a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers, in order; keys may repeat.
    pub headers: Vec<Header>,
    /// Create time in milliseconds since the Unix epoch; `None` means "when appended", as the Java
    /// client stamps `System.currentTimeMillis()` in `send()`.
    pub timestamp: Option<i64>,
}

impl std::fmt::Debug for ProducerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerRecord")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("key", &OptPreview(self.key.as_deref()))
            .field("value", &OptPreview(self.value.as_deref()))
            .field("headers", &HeadersPreview(&self.headers))
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

/// At most four headers (each shortened by its own `Debug`), then how many more.
struct HeadersPreview<'a>(&'a [Header]);

impl std::fmt::Debug for HeadersPreview<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 4;
        let mut list = f.debug_list();
        list.entries(self.0.iter().take(SHOWN));
        if self.0.len() > SHOWN {
            list.entry(&format_args!("… {} more", self.0.len() - SHOWN));
        }
        list.finish()
    }
}

impl ProducerRecord {
    /// A record for `topic` with no key, value, headers, partition or timestamp.
    pub fn new(topic: impl Into<String>) -> ProducerRecord {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sends to this partition instead of letting the partitioner choose.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the key (hashed with murmur2 to choose the partition unless one is given).
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Appends a header with a value.
    pub fn header(mut self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }

    /// Appends a header with a null value.
    pub fn null_header(mut self, key: impl AsRef<str>) -> Self {
        self.headers.push(Header::null(key));
        self
    }

    /// Sets the create timestamp (milliseconds since the Unix epoch).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// An upper bound of the record's encoded size in a v2 batch, whatever its position in the
    /// batch: the exact [`encoded_size`](Self::encoded_size) with the widest timestamp delta
    /// (10-byte varlong) and offset delta (5-byte varint). At most 13 bytes above the real size.
    /// The accumulator reserves this much of `buffer.memory` per record.
    pub fn estimated_size(&self) -> usize {
        let body = body_size_without_deltas(self.key.as_ref(), self.value.as_ref(), &self.headers)
            + 10
            + 5;
        varint_size(body as i64) + body
    }

    /// The exact encoded size of the record in a v2 batch, given its timestamp delta from the
    /// batch's base timestamp and its offset delta (index in the batch).
    pub fn encoded_size(&self, timestamp_delta: i64, offset_delta: i32) -> usize {
        record_size(
            self.key.as_ref(),
            self.value.as_ref(),
            &self.headers,
            timestamp_delta,
            offset_delta,
        )
    }
}

/// The exact encoded size of a record in a v2 batch from its parts (see the module docs).
pub(crate) fn record_size(
    key: Option<&Bytes>,
    value: Option<&Bytes>,
    headers: &[Header],
    timestamp_delta: i64,
    offset_delta: i32,
) -> usize {
    let body = body_size_without_deltas(key, value, headers)
        + varint_size(timestamp_delta)
        + varint_size(i64::from(offset_delta));
    varint_size(body as i64) + body
}

/// Attributes, key, value and headers: everything in the record body except the two deltas.
fn body_size_without_deltas(
    key: Option<&Bytes>,
    value: Option<&Bytes>,
    headers: &[Header],
) -> usize {
    let mut n = 1; // attributes
    n += nullable_bytes_size(key.map(Bytes::len));
    n += nullable_bytes_size(value.map(Bytes::len));
    n += varint_size(headers.len() as i64);
    for h in headers {
        n += varint_size(h.key.len() as i64) + h.key.len();
        n += nullable_bytes_size(h.value.as_ref().map(Bytes::len));
    }
    n
}

/// A length-prefixed byte field: varint length (-1 when null) plus the bytes.
fn nullable_bytes_size(len: Option<usize>) -> usize {
    match len {
        None => varint_size(-1),
        Some(l) => varint_size(l as i64) + l,
    }
}

/// Bytes of a zigzag-encoded varint/varlong holding `v` (1 to 10).
pub(crate) fn varint_size(v: i64) -> usize {
    let zz = ((v << 1) ^ (v >> 63)) as u64;
    // 7 payload bits per byte; zero still takes one byte.
    let bits = 64 - (zz | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zigzag varint encoder, written independently of `varint_size`, to cross-check it.
    fn put_varint(out: &mut Vec<u8>, v: i64) {
        let mut zz = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if zz < 0x80 {
                out.push(zz as u8);
                return;
            }
            out.push((zz as u8 & 0x7f) | 0x80);
            zz >>= 7;
        }
    }

    fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
        match b {
            None => put_varint(out, -1),
            Some(b) => {
                put_varint(out, b.len() as i64);
                out.extend_from_slice(b);
            }
        }
    }

    /// Encodes a record the way the v2 format lays it out.
    fn encode(r: &ProducerRecord, ts_delta: i64, off_delta: i32) -> Vec<u8> {
        let mut body = vec![0u8];
        put_varint(&mut body, ts_delta);
        put_varint(&mut body, i64::from(off_delta));
        put_bytes(&mut body, r.key.as_deref());
        put_bytes(&mut body, r.value.as_deref());
        put_varint(&mut body, r.headers.len() as i64);
        for h in &r.headers {
            put_bytes(&mut body, Some(&h.key[..]));
            put_bytes(&mut body, h.value.as_deref());
        }
        let mut out = Vec::new();
        put_varint(&mut out, body.len() as i64);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn varint_sizes_match_an_encoder() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            -65,
            8191,
            8192,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(varint_size(v), b.len(), "{v}");
        }
    }

    #[test]
    fn encoded_size_is_exact() {
        let big = Bytes::from(vec![7u8; 300]);
        let records = [
            ProducerRecord::new("t"),
            ProducerRecord::new("t").key("").value(""),
            ProducerRecord::new("t")
                .key("k")
                .value("v")
                .header("h", "x")
                .null_header("n"),
            ProducerRecord::new("t")
                .value(big.clone())
                .header("big", big),
        ];
        for r in &records {
            for (ts, off) in [
                (0, 0),
                (1, 1),
                (-5, 63),
                (1_000_000, 64),
                (i64::MAX, i32::MAX),
            ] {
                let enc = encode(r, ts, off);
                assert_eq!(r.encoded_size(ts, off), enc.len(), "{r:?} {ts} {off}");
                assert!(r.estimated_size() >= enc.len());
                assert!(r.estimated_size() <= enc.len() + 13);
            }
        }
        // The smallest record: length 1 + attributes 1 + deltas 2 + null key 1 + null value 1 +
        // zero headers 1 = 7 bytes, as in the Java client.
        assert_eq!(ProducerRecord::new("t").encoded_size(0, 0), 7);
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;
    use crate::producer::{DeliveryError, Persistence};
    use crate::{Error, ErrorKind};

    fn huge() -> ProducerRecord {
        let mut r = ProducerRecord::new("orders")
            .key(vec![b'k'; 100_000])
            .value(vec![b'v'; 2_000_000]);
        for i in 0..1_000 {
            r = r.header(format!("h{i}"), vec![b'x'; 1_000]);
        }
        r
    }

    /// Issue #24: a rejected 2 MB record's `Debug` was 2,000,310 characters.
    #[test]
    fn debug_of_a_huge_record_and_its_delivery_error_is_short() {
        let r = huge();
        let d = format!("{r:?}");
        assert!(d.len() < 800, "{} chars: {d}", d.len());
        assert!(d.contains("(2000000 B)") && d.contains("(100000 B)"), "{d}");
        assert!(d.contains("996 more"), "{d}");
        let e = DeliveryError {
            error: Error::new(ErrorKind::Connect),
            persistence: Persistence::NotPersisted,
            record: Box::new(r),
        };
        let d = format!("{e:?}");
        assert!(d.len() < 1_200, "{} chars: {d}", d.len());
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(format!("{boxed:?}").len() < 1_200);
    }

    #[test]
    fn debug_of_a_small_record_shows_it_whole() {
        let r = ProducerRecord::new("t").key("k1").value("hello\n");
        let d = format!("{r:?}");
        assert!(d.contains(r#"key: b"k1""#), "{d}");
        assert!(d.contains(r#"value: b"hello\n""#), "{d}");
        assert!(!d.contains('…'), "{d}");
    }
}

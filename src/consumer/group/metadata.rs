//! The consumer protocol's metadata bytes: the subscription a member sends in JoinGroup and the
//! assignment the leader sends in SyncGroup (`ConsumerProtocolSubscription` /
//! `ConsumerProtocolAssignment`, each prefixed by an `int16` version).
//!
//! Encoding uses the `kafka-protocol` types. Decoding does **not**: these bytes come from other
//! clients (every member's subscription reaches the leader), and `kafka-protocol` pre-allocates
//! arrays by the count read from the wire, which can abort the process (see the engineering notes,
//! "Known pitfalls"). A small reader here bounds every count by the bytes that remain.
//!
//! Versions above 3 are read as version 3: later versions only append fields, which is how Java's
//! `ConsumerProtocol` stays forward compatible.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    consumer_protocol_assignment, consumer_protocol_subscription, ConsumerProtocolAssignment,
    ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use crate::types::TopicPartition;
use crate::{Error, Result};

/// The newest consumer protocol version this client writes and reads.
pub const CONSUMER_PROTOCOL_VERSION: i16 = 3;

/// What a member sends in JoinGroup: its topics and (cooperative protocol) what it owns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Topics the member consumes.
    pub topics: Vec<String>,
    /// Opaque assignor data (unused by the built-in assignors).
    pub user_data: Option<Bytes>,
    /// Partitions the member owns (v1+), sent under the cooperative protocol.
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which `owned_partitions` were assigned (v2+), -1 if none.
    pub generation_id: i32,
    /// The member's `client.rack` (v3+).
    pub rack_id: Option<String>,
}

/// What the leader sends each member in SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// The partitions assigned to the member.
    pub partitions: Vec<TopicPartition>,
    /// Opaque assignor data.
    pub user_data: Option<Bytes>,
}

/// Groups partitions by topic, topics and partitions sorted (the wire layout).
fn by_topic(partitions: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut map: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        map.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    for v in map.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    map
}

fn encode_versioned(version: i16, body: &impl Encodable) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&version.to_be_bytes());
    body.encode(&mut buf, version)
        .map_err(|e| Error::new(crate::ErrorKind::InvalidArgument).with_detail(e.to_string()))?;
    Ok(buf.freeze())
}

impl Subscription {
    /// Encodes as `int16 version` + `ConsumerProtocolSubscription` at `version` (0..=3).
    pub fn encode(&self, version: i16) -> Result<Bytes> {
        let owned = by_topic(&self.owned_partitions)
            .into_iter()
            .map(|(t, p)| {
                consumer_protocol_subscription::TopicPartition::default()
                    .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                    .with_partitions(p)
            })
            .collect();
        let body = ConsumerProtocolSubscription::default()
            .with_topics(
                self.topics
                    .iter()
                    .map(|t| StrBytes::from_string(t.clone()))
                    .collect(),
            )
            .with_user_data(self.user_data.clone())
            .with_owned_partitions(owned)
            .with_generation_id(self.generation_id)
            .with_rack_id(self.rack_id.clone().map(StrBytes::from_string));
        encode_versioned(version, &body)
    }

    /// Decodes bytes from another member, bounding every count by the bytes that remain.
    pub fn decode(bytes: &[u8]) -> Result<Subscription> {
        let mut r = Reader::new(bytes);
        let version = r.version()?;
        let n = r.count(2)?;
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            topics.push(r.string()?);
        }
        let user_data = r.nullable_bytes()?;
        let owned_partitions = if version >= 1 {
            r.topic_partitions()?
        } else {
            Vec::new()
        };
        let generation_id = if version >= 2 { r.i32()? } else { -1 };
        let rack_id = if version >= 3 {
            r.nullable_string()?
        } else {
            None
        };
        Ok(Subscription {
            topics,
            user_data,
            owned_partitions,
            generation_id,
            rack_id,
        })
    }
}

impl Assignment {
    /// Encodes as `int16 version` + `ConsumerProtocolAssignment` (version 3, like Java; the
    /// layout is the same in every version).
    pub fn encode(&self) -> Result<Bytes> {
        let assigned = by_topic(&self.partitions)
            .into_iter()
            .map(|(t, p)| {
                consumer_protocol_assignment::TopicPartition::default()
                    .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                    .with_partitions(p)
            })
            .collect();
        let body = ConsumerProtocolAssignment::default()
            .with_assigned_partitions(assigned)
            .with_user_data(self.user_data.clone());
        encode_versioned(CONSUMER_PROTOCOL_VERSION, &body)
    }

    /// Decodes the assignment from SyncGroup. Empty bytes mean "no assignment" (what the broker
    /// returns to a member the leader left out).
    pub fn decode(bytes: &[u8]) -> Result<Assignment> {
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        let mut r = Reader::new(bytes);
        r.version()?;
        let partitions = r.topic_partitions()?;
        let user_data = r.nullable_bytes()?;
        Ok(Assignment {
            partitions,
            user_data,
        })
    }
}

/// A bounded big-endian reader over untrusted bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(Error::malformed(format!(
                "consumer protocol metadata: need {n} bytes, {} remain",
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn version(&mut self) -> Result<i16> {
        let v = self.i16()?;
        if v < 0 {
            return Err(Error::malformed(format!(
                "consumer protocol metadata: negative version {v}"
            )));
        }
        Ok(v.min(CONSUMER_PROTOCOL_VERSION))
    }

    /// An array count; each element takes at least `min_elem` bytes, so a count that could not
    /// fit in what remains is rejected before anything is allocated.
    fn count(&mut self, min_elem: usize) -> Result<usize> {
        let n = self.i32()?;
        if n < 0 {
            return Err(Error::malformed("consumer protocol metadata: null array"));
        }
        let n = n as usize;
        if n.saturating_mul(min_elem) > self.buf.len() {
            return Err(Error::malformed(format!(
                "consumer protocol metadata: array of {n} does not fit in {} bytes",
                self.buf.len()
            )));
        }
        Ok(n)
    }

    fn nullable_string(&mut self) -> Result<Option<String>> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let b = self.take(len as usize)?;
        String::from_utf8(b.to_vec())
            .map(Some)
            .map_err(|_| Error::malformed("consumer protocol metadata: string is not UTF-8"))
    }

    fn string(&mut self) -> Result<String> {
        self.nullable_string()?
            .ok_or_else(|| Error::malformed("consumer protocol metadata: null string"))
    }

    fn nullable_bytes(&mut self) -> Result<Option<Bytes>> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        Ok(Some(Bytes::copy_from_slice(self.take(len as usize)?)))
    }

    /// `[topic string, [int32 partition]]`, flattened.
    fn topic_partitions(&mut self) -> Result<Vec<TopicPartition>> {
        let topics = self.count(2 + 4)?;
        let mut out = Vec::new();
        for _ in 0..topics {
            let topic = self.string()?;
            let n = self.count(4)?;
            out.reserve(n);
            for _ in 0..n {
                out.push(TopicPartition::new(topic.clone(), self.i32()?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Decodable;

    fn sub() -> Subscription {
        Subscription {
            topics: vec!["a".into(), "b".into()],
            user_data: Some(Bytes::from_static(b"ud")),
            owned_partitions: vec![TopicPartition::new("a", 1), TopicPartition::new("a", 0)],
            generation_id: 7,
            rack_id: Some("r1".into()),
        }
    }

    #[test]
    fn subscription_round_trip_every_version() {
        for v in 0..=3 {
            let bytes = sub().encode(v).unwrap();
            let back = Subscription::decode(&bytes).unwrap();
            assert_eq!(back.topics, sub().topics);
            assert_eq!(back.user_data, sub().user_data);
            let owned = if v >= 1 {
                vec![TopicPartition::new("a", 0), TopicPartition::new("a", 1)]
            } else {
                vec![]
            };
            assert_eq!(back.owned_partitions, owned);
            assert_eq!(back.generation_id, if v >= 2 { 7 } else { -1 });
            assert_eq!(back.rack_id.as_deref(), (v >= 3).then_some("r1"));
            // Our decoder agrees with kafka-protocol's on our own (trusted) bytes.
            let mut body = bytes.slice(2..);
            let kp = ConsumerProtocolSubscription::decode(&mut body, v).unwrap();
            assert_eq!(kp.topics.len(), 2);
            assert_eq!(kp.generation_id, back.generation_id);
        }
    }

    #[test]
    fn assignment_round_trip_and_empty() {
        let a = Assignment {
            partitions: vec![TopicPartition::new("t", 2), TopicPartition::new("s", 0)],
            user_data: None,
        };
        let back = Assignment::decode(&a.encode().unwrap()).unwrap();
        assert_eq!(
            back.partitions,
            vec![TopicPartition::new("s", 0), TopicPartition::new("t", 2)]
        );
        assert_eq!(Assignment::decode(&[]).unwrap(), Assignment::default());
    }

    #[test]
    fn newer_versions_read_as_v3() {
        let mut bytes = sub().encode(3).unwrap().to_vec();
        bytes[1] = 9; // version 9, with an extra trailing field
        bytes.extend_from_slice(&[0, 0, 0, 1]);
        assert_eq!(Subscription::decode(&bytes).unwrap().generation_id, 7);
    }

    #[test]
    fn hostile_counts_are_rejected_without_allocating() {
        // version 0, topics count i32::MAX, nothing after.
        let e = Subscription::decode(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(e.kind(), &crate::ErrorKind::MalformedResponse);
        // Assignment: one topic "t" with i32::MAX partitions.
        let bytes = [0, 3, 0, 0, 0, 1, 0, 1, b't', 0x7f, 0xff, 0xff, 0xff];
        assert!(Assignment::decode(&bytes).is_err());
        assert!(Subscription::decode(&[0xff, 0xff]).is_err());
        assert!(Subscription::decode(&[0]).is_err());
        // Every truncation of a valid encoding fails cleanly.
        let full = sub().encode(3).unwrap();
        for cut in 0..full.len() {
            assert!(Subscription::decode(&full[..cut]).is_err(), "cut at {cut}");
        }
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = Subscription::decode(&bytes);
            let _ = Assignment::decode(&bytes);
        }
    }
}

//! Test support: random valid request bodies generated from the guard's own tables (recording
//! where each length and count prefix is), hand-built requests, and a dispatch from API key to
//! kafka-protocol's request type.

use super::schema::{type_at, FieldType, StructSchema};
use bytes::Bytes;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::fmt::Debug;

/// The encoding of a length or count prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Len {
    I16,
    I32,
    Compact,
}

/// A generated body and the offsets of its length and count prefixes.
pub(super) struct Body {
    pub bytes: Vec<u8>,
    pub lengths: Vec<(usize, Len)>,
}

/// A random body of `schema` at `version` that kafka-protocol decodes completely.
pub(super) fn body(rng: &mut fastrand::Rng, schema: &StructSchema, version: i16) -> Body {
    let mut g = Gen {
        rng,
        version,
        out: Vec::new(),
        lengths: Vec::new(),
        depth: 0,
    };
    g.structure(schema);
    Body {
        bytes: g.out,
        lengths: g.lengths,
    }
}

pub(super) fn uvarint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Gen<'r> {
    rng: &'r mut fastrand::Rng,
    version: i16,
    out: Vec<u8>,
    lengths: Vec<(usize, Len)>,
    depth: u32,
}

impl Gen<'_> {
    fn length(&mut self, compact: bool, wide: bool, n: Option<usize>) {
        let n = n.map_or(-1, |n| n as i64);
        let kind = match (compact, wide) {
            (true, _) => Len::Compact,
            (false, true) => Len::I32,
            (false, false) => Len::I16,
        };
        self.lengths.push((self.out.len(), kind));
        match kind {
            Len::Compact => uvarint(&mut self.out, (n + 1) as u32),
            Len::I32 => self.out.extend_from_slice(&(n as i32).to_be_bytes()),
            Len::I16 => self.out.extend_from_slice(&(n as i16).to_be_bytes()),
        }
    }

    fn value(&mut self, ty: &FieldType) {
        match *ty {
            FieldType::Bool => self.out.push(u8::from(self.rng.bool())),
            FieldType::Int8
            | FieldType::Int16
            | FieldType::Int32
            | FieldType::Int64
            | FieldType::Uuid => {
                for _ in 0..ty.min_size(self.version) {
                    self.out.push(self.rng.u8(..));
                }
            }
            FieldType::String { compact, nullable } => {
                if nullable && self.rng.u8(..4) == 0 {
                    return self.length(compact, false, None);
                }
                let n = self.rng.usize(1..10);
                self.length(compact, false, Some(n));
                for _ in 0..n {
                    self.out.push(self.rng.alphanumeric() as u8);
                }
            }
            FieldType::Bytes { compact, nullable } => {
                if nullable && self.rng.u8(..4) == 0 {
                    return self.length(compact, true, None);
                }
                let n = self.rng.usize(0..40);
                self.length(compact, true, Some(n));
                for _ in 0..n {
                    self.out.push(self.rng.u8(..));
                }
            }
            FieldType::Array {
                compact,
                nullable,
                element,
            } => {
                if nullable && self.rng.u8(..4) == 0 {
                    return self.length(compact, true, None);
                }
                let n = if self.depth > 3 {
                    0
                } else {
                    self.rng.usize(1..4)
                };
                self.length(compact, true, Some(n));
                self.depth += 1;
                for _ in 0..n {
                    self.value(element);
                }
                self.depth -= 1;
            }
            FieldType::Struct(s) => self.structure(s),
        }
    }

    fn structure(&mut self, s: &StructSchema) {
        let v = self.version;
        for f in s.fields {
            if let Some(ty) = type_at(f.versions, v) {
                self.value(&ty);
            }
        }
        if v < s.flexible_min {
            return;
        }
        // Known tagged fields valid in this version (each with probability 1/2), sometimes an
        // unknown one.
        let mut tagged: Vec<(u32, Body)> = Vec::new();
        for t in s.tagged_fields {
            if let Some(ty) = type_at(t.versions, v).filter(|_| self.rng.bool()) {
                let mut sub = Gen {
                    rng: &mut *self.rng,
                    version: v,
                    out: Vec::new(),
                    lengths: Vec::new(),
                    depth: self.depth + 1,
                };
                sub.value(&ty);
                let (bytes, lengths) = (sub.out, sub.lengths);
                tagged.push((t.tag, Body { bytes, lengths }));
            }
        }
        if self.rng.u8(..4) == 0 {
            let n = self.rng.usize(0..6);
            let bytes = vec![0xab; n];
            let unknown = Body {
                bytes,
                lengths: Vec::new(),
            };
            tagged.push((1000 + self.rng.u32(..100), unknown));
        }
        uvarint(&mut self.out, tagged.len() as u32);
        for (tag, Body { bytes, lengths }) in tagged {
            uvarint(&mut self.out, tag);
            uvarint(&mut self.out, bytes.len() as u32);
            let base = self.out.len();
            self.lengths
                .extend(lengths.into_iter().map(|(at, k)| (at + base, k)));
            self.out.extend_from_slice(&bytes);
        }
    }
}

/// Calls `$f::<RequestType>($args)` for the request type of API key `$key`.
macro_rules! for_request {
    ($key:expr, $f:ident($($arg:expr),*)) => {
        match $key {
            0 => $f::<ProduceRequest>($($arg),*),
            1 => $f::<FetchRequest>($($arg),*),
            2 => $f::<ListOffsetsRequest>($($arg),*),
            3 => $f::<MetadataRequest>($($arg),*),
            8 => $f::<OffsetCommitRequest>($($arg),*),
            9 => $f::<OffsetFetchRequest>($($arg),*),
            10 => $f::<FindCoordinatorRequest>($($arg),*),
            11 => $f::<JoinGroupRequest>($($arg),*),
            12 => $f::<HeartbeatRequest>($($arg),*),
            13 => $f::<LeaveGroupRequest>($($arg),*),
            14 => $f::<SyncGroupRequest>($($arg),*),
            15 => $f::<DescribeGroupsRequest>($($arg),*),
            16 => $f::<ListGroupsRequest>($($arg),*),
            18 => $f::<ApiVersionsRequest>($($arg),*),
            19 => $f::<CreateTopicsRequest>($($arg),*),
            20 => $f::<DeleteTopicsRequest>($($arg),*),
            21 => $f::<DeleteRecordsRequest>($($arg),*),
            22 => $f::<InitProducerIdRequest>($($arg),*),
            32 => $f::<DescribeConfigsRequest>($($arg),*),
            37 => $f::<CreatePartitionsRequest>($($arg),*),
            42 => $f::<DeleteGroupsRequest>($($arg),*),
            24 => $f::<AddPartitionsToTxnRequest>($($arg),*),
            25 => $f::<AddOffsetsToTxnRequest>($($arg),*),
            26 => $f::<EndTxnRequest>($($arg),*),
            28 => $f::<TxnOffsetCommitRequest>($($arg),*),
            17 => $f::<SaslHandshakeRequest>($($arg),*),
            36 => $f::<SaslAuthenticateRequest>($($arg),*),
            44 => $f::<IncrementalAlterConfigsRequest>($($arg),*),
            47 => $f::<OffsetDeleteRequest>($($arg),*),
            57 => $f::<UpdateFeaturesRequest>($($arg),*),
            60 => $f::<DescribeClusterRequest>($($arg),*),
            65 => $f::<DescribeTransactionsRequest>($($arg),*),
            68 => $f::<ConsumerGroupHeartbeatRequest>($($arg),*),
            69 => $f::<ConsumerGroupDescribeRequest>($($arg),*),
            k => panic!("no request type for API key {k}"),
        }
    };
}
pub(super) use for_request;

/// Decodes `body` as `R` (it must be consumed completely), re-encodes it with kafka-protocol and
/// checks the re-encoding decodes to the same value. Returns the re-encoding.
pub(super) fn reencode<R: Decodable + Encodable + PartialEq + Debug>(
    version: i16,
    body: &[u8],
) -> Vec<u8> {
    let mut buf = Bytes::copy_from_slice(body);
    let value = R::decode(&mut buf, version).expect("a generated body decodes");
    assert!(buf.is_empty(), "{} bytes left by the decoder", buf.len());
    let out = encode(&value, version);
    let again = R::decode(&mut Bytes::from(out.clone()), version).expect("re-decodes");
    assert_eq!(value, again);
    out
}

/// What the guard and then the decoder made of a body.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Refused,
    /// Accepted; the decoder failed (bad UTF-8, …), without allocating past the body.
    DecodeError,
    /// Accepted and decoded; the length of kafka-protocol's re-encoding of the value.
    Decoded(usize),
}

/// The guard, then (if it accepts) kafka-protocol's decoder, as `server::handle` runs them.
pub(super) fn guard_then_decode<R: Decodable + Encodable>(
    key: i16,
    version: i16,
    body: &[u8],
) -> Outcome {
    if super::check_request(key, version, body).is_err() {
        return Outcome::Refused;
    }
    match R::decode(&mut Bytes::copy_from_slice(body), version) {
        Ok(value) => {
            let mut out = bytes::BytesMut::new();
            match value.encode(&mut out, version) {
                Ok(()) => Outcome::Decoded(out.len()),
                Err(_) => Outcome::DecodeError,
            }
        }
        Err(_) => Outcome::DecodeError,
    }
}

pub(super) fn encode<R: Encodable>(req: &R, version: i16) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    req.encode(&mut out, version).expect("encodes");
    out.to_vec()
}

pub(super) fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

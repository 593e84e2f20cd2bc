//! A random *valid* response-body generator driven by the guard's own schema tables.
//!
//! Not circular: every generated body must also decode completely with kafka-protocol and
//! round-trip through its encoder, so a table that disagrees with kafka-protocol fails the tests.

use ferrokafka::__private::protocol::guard::covered_responses;
use ferrokafka::__private::protocol::guard::schema::{type_at, FieldType, StructSchema};

/// splitmix64: small, deterministic, good enough to pick shapes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn gen_struct(s: &StructSchema, version: i16, rng: &mut Rng, depth: u32, out: &mut Vec<u8>) {
    for field in s.fields {
        if let Some(ty) = type_at(field.versions, version) {
            gen_value(&ty, version, rng, depth, out);
        }
    }
    if s.is_flexible(version) {
        let mut fields: Vec<(u32, Vec<u8>)> = Vec::new();
        for tagged in s.tagged_fields {
            if let Some(ty) = type_at(tagged.versions, version) {
                if rng.chance(2) {
                    let mut value = Vec::new();
                    gen_value(&ty, version, rng, depth, &mut value);
                    fields.push((tagged.tag, value));
                }
            }
        }
        // Unknown tags (higher than any known one), which the decoder keeps as raw bytes.
        for i in 0..rng.below(3) {
            let len = rng.below(5) as usize;
            let value = (0..len).map(|_| rng.next() as u8).collect();
            fields.push((1000 + i as u32 * 7, value));
        }
        put_uvarint(out, fields.len() as u32);
        for (tag, value) in fields {
            put_uvarint(out, tag);
            put_uvarint(out, value.len() as u32);
            out.extend_from_slice(&value);
        }
    }
}

fn gen_len(out: &mut Vec<u8>, compact: bool, classic_width: usize, len: Option<usize>) {
    match (compact, len) {
        (true, None) => put_uvarint(out, 0),
        (true, Some(n)) => put_uvarint(out, n as u32 + 1),
        (false, None) => out.extend_from_slice(&[0xff; 4][..classic_width]),
        (false, Some(n)) => out.extend_from_slice(&(n as u32).to_be_bytes()[4 - classic_width..]),
    }
}

fn gen_value(ty: &FieldType, version: i16, rng: &mut Rng, depth: u32, out: &mut Vec<u8>) {
    fn raw(rng: &mut Rng, n: usize, out: &mut Vec<u8>) {
        out.extend((0..n).map(|_| rng.next() as u8));
    }
    match *ty {
        FieldType::Bool => out.push(rng.below(2) as u8),
        FieldType::Int8 => raw(rng, 1, out),
        FieldType::Int16 | FieldType::Uint16 => raw(rng, 2, out),
        FieldType::Int32 => raw(rng, 4, out),
        FieldType::Int64 => raw(rng, 8, out),
        FieldType::Float64 => out.extend_from_slice(&(rng.below(1000) as f64).to_be_bytes()),
        FieldType::Uuid => raw(rng, 16, out),
        FieldType::String { compact, nullable } => {
            if nullable && rng.chance(3) {
                gen_len(out, compact, 2, None);
            } else {
                let len = rng.below(9) as usize;
                gen_len(out, compact, 2, Some(len));
                out.extend((0..len).map(|_| b'a' + rng.below(26) as u8));
            }
        }
        FieldType::Bytes { compact, nullable } => {
            if nullable && rng.chance(3) {
                gen_len(out, compact, 4, None);
            } else {
                let len = rng.below(12) as usize;
                gen_len(out, compact, 4, Some(len));
                raw(rng, len, out);
            }
        }
        FieldType::Array {
            compact,
            nullable,
            element,
        } => {
            if nullable && rng.chance(3) {
                gen_len(out, compact, 4, None);
            } else {
                let count = if depth > 4 { 0 } else { rng.below(4) as usize };
                gen_len(out, compact, 4, Some(count));
                for _ in 0..count {
                    gen_value(element, version, rng, depth + 1, out);
                }
            }
        }
        FieldType::Struct(s) => gen_struct(s, version, rng, depth + 1, out),
        FieldType::NullableStruct(s) => {
            if rng.chance(3) {
                out.push(0xff);
            } else {
                out.push(1);
                gen_struct(s, version, rng, depth + 1, out);
            }
        }
        _ => panic!("schema type {ty:?} unknown to this generator"),
    }
}

/// Every (api key, version) pair the guard covers.
pub fn all_pairs() -> Vec<(i16, i16)> {
    covered_responses()
        .iter()
        .flat_map(|r| (r.body.min_version..=r.body.max_version).map(move |v| (r.api_key, v)))
        .collect()
}

pub fn gen_body(api_key: i16, version: i16, seed: u64) -> Vec<u8> {
    let schema = covered_responses()
        .iter()
        .find(|r| r.api_key == api_key)
        .expect("covered");
    let mut rng = Rng(seed ^ ((api_key as u64) << 48) ^ ((version as u64) << 32));
    let mut out = Vec::new();
    gen_struct(schema.body, version, &mut rng, 0, &mut out);
    out
}

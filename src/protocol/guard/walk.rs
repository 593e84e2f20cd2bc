//! The validating walk over a response body: reads every count and length the way kafka-protocol
//! will, checks it against the bytes that remain, and never allocates from a wire value.

use super::schema::{type_at, FieldType, StructSchema, TaggedFieldSchema};

/// Why a body was rejected, and where (field names, innermost first, collected while unwinding so
/// that the success path never builds a path).
#[derive(Debug)]
pub(super) struct Fault {
    pub(super) reason: String,
    pub(super) path: Vec<String>,
}

impl Fault {
    fn new(reason: impl Into<String>) -> Fault {
        Fault {
            reason: reason.into(),
            path: Vec::new(),
        }
    }

    fn at(mut self, segment: impl Into<String>) -> Fault {
        self.path.push(segment.into());
        self
    }
}

type Walk<T = ()> = Result<T, Fault>;

/// A cursor over the body. All reads are bounds-checked.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize) -> Walk<&'a [u8]> {
        if n > self.buf.len() {
            return Err(Fault::new(format!(
                "needs {n} bytes but only {} remain",
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Walk<[u8; N]> {
        let Some((head, tail)) = self.buf.split_first_chunk::<N>() else {
            return Err(Fault::new(format!(
                "needs {N} bytes but only {} remain",
                self.buf.len()
            )));
        };
        self.buf = tail;
        Ok(*head)
    }

    fn int8(&mut self) -> Walk<i8> {
        self.array::<1>().map(i8::from_be_bytes)
    }

    fn int16(&mut self) -> Walk<i16> {
        self.array::<2>().map(i16::from_be_bytes)
    }

    fn int32(&mut self) -> Walk<i32> {
        self.array::<4>().map(i32::from_be_bytes)
    }

    /// An unsigned varint exactly as kafka-protocol reads it: at most 5 bytes, bits past 32
    /// dropped, a 5th byte with its continuation bit set simply ends the number.
    fn uvarint(&mut self) -> Walk<u32> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let [b] = self.array::<1>()?;
            let b = u32::from(b);
            value |= (b & 0x7f) << (i * 7);
            if b < 0x80 {
                break;
            }
        }
        Ok(value)
    }

    fn skip(&mut self, n: u64) -> Walk {
        let n = usize::try_from(n).map_err(|_| Fault::new(format!("length {n} too large")))?;
        self.take(n).map(|_| ())
    }
}

/// Walks one struct at `version`.
pub(super) fn walk_struct(r: &mut Reader<'_>, s: &StructSchema, version: i16) -> Walk {
    if !s.supports(version) {
        return Err(Fault::new(format!(
            "version {version} not supported by {} ({}-{})",
            s.name, s.min_version, s.max_version
        )));
    }
    for field in s.fields {
        if let Some(ty) = type_at(field.versions, version) {
            walk_value(r, &ty, version).map_err(|f| f.at(field.name))?;
        }
    }
    if s.is_flexible(version) {
        walk_tagged_fields(r, s.tagged_fields, version).map_err(|f| f.at("_tagged_fields"))?;
    }
    Ok(())
}

/// Walks the tagged-fields section: `uvarint` count, then per field `uvarint` tag, `uvarint` size
/// and `size` bytes. Known tags must be exactly `size` bytes of their own type, because
/// kafka-protocol decodes them from the main buffer without looking at `size`: with that
/// equality, what the guard walked is what the decoder will read.
fn walk_tagged_fields(r: &mut Reader<'_>, known: &[TaggedFieldSchema], version: i16) -> Walk {
    let count = r.uvarint()?;
    // Each tagged field takes at least 2 bytes (tag and size).
    if u64::from(count) * 2 > r.remaining() as u64 {
        return Err(Fault::new(format!(
            "{count} tagged fields cannot fit in {} bytes",
            r.remaining()
        )));
    }
    for _ in 0..count {
        let tag = r.uvarint()?;
        let size = r.uvarint()?;
        let Some(field) = known.iter().find(|f| f.tag == tag) else {
            r.skip(u64::from(size))
                .map_err(|f| f.at(format!("tag {tag}")))?;
            continue;
        };
        let Some(ty) = type_at(field.versions, version) else {
            return Err(Fault::new(format!(
                "tag {tag} is not valid in version {version}"
            )));
        };
        let len = usize::try_from(size).map_err(|_| Fault::new("tagged field size too large"))?;
        let mut inner = Reader::new(r.take(len).map_err(|f| f.at(field.name))?);
        walk_value(&mut inner, &ty, version).map_err(|f| f.at(field.name))?;
        if inner.remaining() != 0 {
            return Err(Fault::new(format!(
                "tagged field declares {size} bytes but its value takes {}",
                len - inner.remaining()
            ))
            .at(field.name));
        }
    }
    Ok(())
}

/// Walks one value of type `ty`.
fn walk_value(r: &mut Reader<'_>, ty: &FieldType, version: i16) -> Walk {
    match *ty {
        FieldType::Bool | FieldType::Int8 => r.skip(1),
        FieldType::Int16 | FieldType::Uint16 => r.skip(2),
        FieldType::Int32 => r.skip(4),
        FieldType::Int64 | FieldType::Float64 => r.skip(8),
        FieldType::Uuid => r.skip(16),
        FieldType::String { compact, nullable } => {
            let len = if compact {
                compact_length(r, nullable)?
            } else {
                let n = r.int16()?;
                classic_length(i32::from(n), nullable)?
            };
            r.skip(len)
        }
        FieldType::Bytes { compact, nullable } => {
            let len = if compact {
                compact_length(r, nullable)?
            } else {
                let n = r.int32()?;
                classic_length(n, nullable)?
            };
            r.skip(len)
        }
        FieldType::Array {
            compact,
            nullable,
            element,
        } => {
            let count = if compact {
                compact_length(r, nullable)?
            } else {
                let n = r.int32()?;
                classic_length(n, nullable)?
            };
            // kafka-protocol calls Vec::with_capacity(count): make sure the elements can be there
            // before it does. Every element takes at least one byte, even an empty struct.
            let min = element.min_encoded_size(version).max(1);
            if count.saturating_mul(min) > r.remaining() as u64 {
                return Err(Fault::new(format!(
                    "array of {count} elements (at least {min} bytes each) cannot fit in {} bytes",
                    r.remaining()
                )));
            }
            for i in 0..count {
                walk_value(r, element, version).map_err(|f| f.at(format!("[{i}]")))?;
            }
            Ok(())
        }
        FieldType::Struct(s) => walk_struct(r, s, version),
        FieldType::NullableStruct(s) => {
            let marker = r.int8()?;
            if marker == 1 {
                walk_struct(r, s, version)
            } else {
                Ok(())
            }
        }
    }
}

/// A classic (`int16`/`int32`) length or count: `-1` is null (zero bytes follow), other negatives
/// are rejected, as kafka-protocol does.
fn classic_length(n: i32, nullable: bool) -> Walk<u64> {
    match n {
        -1 if nullable => Ok(0),
        -1 => Err(Fault::new("null where the field is not nullable")),
        n if n < 0 => Err(Fault::new(format!("negative length {n}"))),
        // n >= 0 here.
        n => Ok(n.unsigned_abs().into()),
    }
}

/// A compact length or count: `uvarint` value + 1, `0` is null.
fn compact_length(r: &mut Reader<'_>, nullable: bool) -> Walk<u64> {
    match r.uvarint()? {
        0 if nullable => Ok(0),
        0 => Err(Fault::new("null where the field is not nullable")),
        n => Ok(u64::from(n) - 1),
    }
}

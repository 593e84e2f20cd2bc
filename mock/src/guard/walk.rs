//! The walk: reads a request body the way kafka-protocol's decoder will, and refuses it before
//! anything is read under a count or length that the remaining bytes cannot back. Nothing is
//! allocated from a wire value; only a refusal builds its message.

use super::schema::{type_at, FieldType, StructSchema, TaggedFieldSchema};

/// A refusal: why, and where (field names, innermost first, pushed while unwinding).
#[derive(Debug)]
pub(super) struct Fault {
    pub reason: String,
    pub path: Vec<String>,
}

impl Fault {
    fn new(reason: String) -> Fault {
        Fault {
            reason,
            path: Vec::new(),
        }
    }
}

type Walk<T = ()> = Result<T, Fault>;

/// Adds `segment` to the path of a refusal.
fn at<T>(r: Walk<T>, segment: impl FnOnce() -> String) -> Walk<T> {
    r.map_err(|mut f| {
        f.path.push(segment());
        f
    })
}

/// A bounds-checked cursor over the body, at one version.
pub(super) struct Walker<'a> {
    buf: &'a [u8],
    version: i16,
}

impl<'a> Walker<'a> {
    pub(super) fn new(buf: &'a [u8], version: i16) -> Walker<'a> {
        Walker { buf, version }
    }

    fn left(&self) -> u64 {
        self.buf.len() as u64
    }

    fn take(&mut self, n: u64) -> Walk<&'a [u8]> {
        match usize::try_from(n).ok().filter(|&n| n <= self.buf.len()) {
            Some(n) => {
                let (head, tail) = self.buf.split_at(n);
                self.buf = tail;
                Ok(head)
            }
            None => Err(Fault::new(format!(
                "needs {n} bytes, {} left",
                self.buf.len()
            ))),
        }
    }

    fn be<const N: usize>(&mut self) -> Walk<[u8; N]> {
        let bytes = self.take(N as u64)?;
        bytes
            .try_into()
            .map_err(|_| Fault::new(format!("needs {N} bytes")))
    }

    /// kafka-protocol's `UnsignedVarInt`: at most 5 bytes, bits past 32 dropped.
    fn uvarint(&mut self) -> Walk<u32> {
        let mut value = 0u32;
        for shift in [0, 7, 14, 21, 28] {
            let [b] = self.be::<1>()?;
            value |= u32::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
        }
        Ok(value)
    }

    /// A length or count; `None` is null. Classic: `int16`/`int32`, `-1` null, other negatives
    /// refused. Compact: `uvarint` n + 1, `0` null.
    fn length(&mut self, compact: bool, wide: bool, nullable: bool) -> Walk<u64> {
        let n = if compact {
            i64::from(self.uvarint()?) - 1
        } else if wide {
            i64::from(i32::from_be_bytes(self.be()?))
        } else {
            i64::from(i16::from_be_bytes(self.be()?))
        };
        match n {
            -1 if nullable => Ok(0),
            -1 => Err(Fault::new("null in a field that is not nullable".into())),
            n => u64::try_from(n).map_err(|_| Fault::new(format!("negative length {n}"))),
        }
    }

    pub(super) fn walk_struct(&mut self, s: &StructSchema) -> Walk {
        let v = self.version;
        if v < s.min_version || v > s.max_version {
            return Err(Fault::new(format!("{} does not decode v{v}", s.name)));
        }
        for f in s.fields {
            if let Some(ty) = type_at(f.versions, v) {
                at(self.walk_value(&ty), || f.name.to_owned())?;
            }
        }
        if v >= s.flexible_min {
            at(self.walk_tagged(s.tagged_fields), || {
                "_tagged_fields".into()
            })?;
        }
        Ok(())
    }

    /// `uvarint` count, then per field `uvarint` tag, `uvarint` size, `size` bytes. A known tag
    /// must take exactly `size` bytes: kafka-protocol decodes it from the body without looking
    /// at `size`, so this is what keeps the walk and the decoder on the same bytes.
    fn walk_tagged(&mut self, known: &[TaggedFieldSchema]) -> Walk {
        let count = self.uvarint()?;
        if u64::from(count) * 2 > self.left() {
            return Err(Fault::new(format!(
                "{count} tagged fields in {} bytes",
                self.left()
            )));
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()?;
            let bytes = at(self.take(u64::from(size)), || format!("tag {tag}"))?;
            let Some(field) = known.iter().find(|f| f.tag == tag) else {
                continue; // kept as an unknown tagged field (a slice of the body)
            };
            let Some(ty) = type_at(field.versions, self.version) else {
                return Err(Fault::new(format!(
                    "tag {tag} is not valid in this version"
                )));
            };
            let mut inner = Walker::new(bytes, self.version);
            at(inner.walk_value(&ty), || field.name.to_owned())?;
            if !inner.buf.is_empty() {
                return Err(Fault::new(format!(
                    "tagged field {} declares {size} bytes, its value takes fewer",
                    field.name
                )));
            }
        }
        Ok(())
    }

    fn walk_value(&mut self, ty: &FieldType) -> Walk {
        match *ty {
            FieldType::Bool
            | FieldType::Int8
            | FieldType::Int16
            | FieldType::Int32
            | FieldType::Int64
            | FieldType::Uuid => self.take(ty.min_size(self.version)).map(drop),
            FieldType::String { compact, nullable } => {
                let len = self.length(compact, false, nullable)?;
                self.take(len).map(drop)
            }
            FieldType::Bytes { compact, nullable } => {
                let len = self.length(compact, true, nullable)?;
                self.take(len).map(drop)
            }
            FieldType::Array {
                compact,
                nullable,
                element,
            } => {
                let count = self.length(compact, true, nullable)?;
                // The decoder is about to call Vec::with_capacity(count): the elements must be
                // able to be there. Each takes at least one byte, even an empty struct.
                let min = element.min_size(self.version).max(1);
                if count.saturating_mul(min) > self.left() {
                    return Err(Fault::new(format!(
                        "{count} elements of at least {min} bytes in {} bytes",
                        self.left()
                    )));
                }
                for i in 0..count {
                    at(self.walk_value(element), || format!("[{i}]"))?;
                }
                Ok(())
            }
            FieldType::Struct(s) => self.walk_struct(s),
        }
    }
}

//! The vocabulary of the guard's schema tables: what one response body looks like on the wire,
//! field by field and version by version.
//!
//! The tables themselves (module `tables`) are generated; these types are public so that tests
//! (and tools) can walk the same description the guard walks.

/// The wire type of one field, for one range of versions.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum FieldType {
    /// `bool`: one byte (any non-zero value decodes as `true`).
    Bool,
    /// `int8`.
    Int8,
    /// `int16`, big-endian.
    Int16,
    /// `uint16`, big-endian.
    Uint16,
    /// `int32`, big-endian.
    Int32,
    /// `int64`, big-endian.
    Int64,
    /// `float64`, big-endian IEEE 754.
    Float64,
    /// `uuid`: 16 bytes.
    Uuid,
    /// A string: `int16` length (`-1` = null), or in flexible versions a compact `uvarint`
    /// length + 1 (`0` = null).
    String {
        /// Compact (`uvarint` length + 1) rather than `int16` length.
        compact: bool,
        /// Null is a valid value.
        nullable: bool,
    },
    /// Bytes or records: `int32` length (`-1` = null), or compact `uvarint` length + 1.
    Bytes {
        /// Compact (`uvarint` length + 1) rather than `int32` length.
        compact: bool,
        /// Null is a valid value.
        nullable: bool,
    },
    /// An array: `int32` count (`-1` = null), or compact `uvarint` count + 1 (`0` = null),
    /// followed by that many elements.
    Array {
        /// Compact (`uvarint` count + 1) rather than `int32` count.
        compact: bool,
        /// Null is a valid value.
        nullable: bool,
        /// The type of every element.
        element: &'static FieldType,
    },
    /// A nested struct, encoded inline.
    Struct(&'static StructSchema),
    /// A nullable nested struct: an `int8` marker (`1` = present, anything else = null), then the
    /// struct when present.
    NullableStruct(&'static StructSchema),
}

/// A field's wire type in the versions `min..=max`.
#[derive(Debug, Clone, Copy)]
pub struct VersionedType {
    /// First version (inclusive).
    pub min: i16,
    /// Last version (inclusive).
    pub max: i16,
    /// The wire type in those versions.
    pub ty: FieldType,
}

/// One regular (positional) field of a struct.
#[derive(Debug, Clone, Copy)]
pub struct FieldSchema {
    /// Field name, as kafka-protocol spells it (`snake_case`).
    pub name: &'static str,
    /// The wire type per version range; in a version no range covers, the field is absent.
    pub versions: &'static [VersionedType],
}

/// One tagged field of a struct (flexible versions only).
#[derive(Debug, Clone, Copy)]
pub struct TaggedFieldSchema {
    /// The field's tag.
    pub tag: u32,
    /// Field name, as kafka-protocol spells it.
    pub name: &'static str,
    /// The wire type per version range; in a version no range covers, kafka-protocol rejects the
    /// tag.
    pub versions: &'static [VersionedType],
}

/// A struct: the body of a response, or a nested struct.
#[derive(Debug)]
pub struct StructSchema {
    /// kafka-protocol's type name (`MetadataResponseTopic`).
    pub name: &'static str,
    /// First version kafka-protocol accepts.
    pub min_version: i16,
    /// Last version kafka-protocol accepts.
    pub max_version: i16,
    /// First flexible version (tagged-fields section present), `i16::MAX` if none.
    pub flexible_min: i16,
    /// The regular fields, in wire order.
    pub fields: &'static [FieldSchema],
    /// The tagged fields kafka-protocol decodes (other tags are skipped by size).
    pub tagged_fields: &'static [TaggedFieldSchema],
}

/// One guarded response type.
#[derive(Debug)]
pub struct ResponseSchema {
    /// The API key.
    pub api_key: i16,
    /// The API name (`Metadata`).
    pub name: &'static str,
    /// The schema of the response body.
    pub body: &'static StructSchema,
}

/// The wire type of `versions` at `version`, or `None` if absent in that version.
pub fn type_at(versions: &[VersionedType], version: i16) -> Option<FieldType> {
    versions
        .iter()
        .find(|v| v.min <= version && version <= v.max)
        .map(|v| v.ty)
}

impl StructSchema {
    /// Whether `version` is a flexible version of this struct (it ends with tagged fields).
    pub fn is_flexible(&self, version: i16) -> bool {
        version >= self.flexible_min
    }

    /// Whether kafka-protocol accepts this struct at `version`.
    pub fn supports(&self, version: i16) -> bool {
        self.min_version <= version && version <= self.max_version
    }
}

impl FieldType {
    /// The fewest bytes a value of this type occupies at `version` (a null or empty value).
    ///
    /// Used to bound array counts: `count × min_encoded_size ≤ remaining`. Structs recurse; the
    /// schemas are finite trees, so this terminates.
    pub fn min_encoded_size(&self, version: i16) -> u64 {
        match *self {
            FieldType::Bool | FieldType::Int8 => 1,
            FieldType::Int16 | FieldType::Uint16 => 2,
            FieldType::Int32 => 4,
            FieldType::Int64 | FieldType::Float64 => 8,
            FieldType::Uuid => 16,
            FieldType::String { compact, .. } => {
                if compact {
                    1
                } else {
                    2
                }
            }
            FieldType::Bytes { compact, .. } | FieldType::Array { compact, .. } => {
                if compact {
                    1
                } else {
                    4
                }
            }
            FieldType::NullableStruct(_) => 1,
            FieldType::Struct(s) => {
                let fields: u64 = s
                    .fields
                    .iter()
                    .filter_map(|f| type_at(f.versions, version))
                    .map(|t| t.min_encoded_size(version))
                    .sum();
                fields + u64::from(s.is_flexible(version))
            }
        }
    }
}

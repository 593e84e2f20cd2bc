//! The vocabulary of the generated tables (`tables/`): what one request body looks like on the
//! wire, field by field and version by version, as kafka-protocol 0.18's decoder reads it.
//!
//! Only the wire types the served requests use exist here; if a regenerated table names another
//! (`Float64`, `NullableStruct`, …) it fails to compile, and the type and its walk are added then.

/// The wire type of one field, for one range of versions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldType {
    /// `bool`: one byte.
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    /// 16 bytes.
    Uuid,
    /// `int16` length (`-1` null), or compact: `uvarint` length + 1 (`0` null).
    String {
        compact: bool,
        nullable: bool,
    },
    /// Bytes or records: `int32` length (`-1` null), or compact: `uvarint` length + 1.
    Bytes {
        compact: bool,
        nullable: bool,
    },
    /// `int32` count (`-1` null), or compact: `uvarint` count + 1 (`0` null); then the elements.
    Array {
        compact: bool,
        nullable: bool,
        element: &'static FieldType,
    },
    /// A nested struct, inline.
    Struct(&'static StructSchema),
}

/// A field's wire type in the versions `min..=max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VersionedType {
    pub min: i16,
    pub max: i16,
    pub ty: FieldType,
}

/// One positional field; absent in the versions no range covers.
#[derive(Debug)]
pub(crate) struct FieldSchema {
    pub name: &'static str,
    pub versions: &'static [VersionedType],
}

/// One tagged field kafka-protocol decodes (other tags are skipped by their size).
#[derive(Debug)]
pub(crate) struct TaggedFieldSchema {
    pub tag: u32,
    pub name: &'static str,
    /// In a (flexible) version no range covers, kafka-protocol rejects the tag.
    pub versions: &'static [VersionedType],
}

/// A struct: a request body or a nested struct.
#[derive(Debug)]
pub(crate) struct StructSchema {
    /// kafka-protocol's type name.
    pub name: &'static str,
    /// The versions kafka-protocol's decoder accepts.
    pub min_version: i16,
    pub max_version: i16,
    /// First flexible version (ends with tagged fields), `i16::MAX` if none.
    pub flexible_min: i16,
    pub fields: &'static [FieldSchema],
    pub tagged_fields: &'static [TaggedFieldSchema],
}

/// One guarded request type and the versions the mock serves.
#[derive(Debug)]
pub(crate) struct RequestSchema {
    pub api_key: i16,
    pub name: &'static str,
    pub min_version: i16,
    pub max_version: i16,
    pub body: &'static StructSchema,
}

/// The wire type at `version`, `None` if the field is absent in that version.
pub(crate) fn type_at(versions: &[VersionedType], version: i16) -> Option<FieldType> {
    versions
        .iter()
        .find(|v| v.min <= version && version <= v.max)
        .map(|v| v.ty)
}

impl FieldType {
    /// The fewest bytes a value of this type takes at `version` (null, empty, zero-length).
    /// Bounds array counts before kafka-protocol's `Vec::with_capacity(count)`.
    pub(crate) fn min_size(&self, version: i16) -> u64 {
        match *self {
            FieldType::Bool | FieldType::Int8 => 1,
            FieldType::Int16 => 2,
            FieldType::Int32 => 4,
            FieldType::Int64 => 8,
            FieldType::Uuid => 16,
            FieldType::String { compact: true, .. }
            | FieldType::Bytes { compact: true, .. }
            | FieldType::Array { compact: true, .. } => 1,
            FieldType::String { compact: false, .. } => 2,
            FieldType::Bytes { compact: false, .. } | FieldType::Array { compact: false, .. } => 4,
            FieldType::Struct(s) => {
                let fields: u64 = s
                    .fields
                    .iter()
                    .filter_map(|f| type_at(f.versions, version))
                    .map(|t| t.min_size(version))
                    .sum();
                fields + u64::from(version >= s.flexible_min)
            }
        }
    }
}

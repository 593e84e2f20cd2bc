//! Record batch v2 codec (magic 2): encode, decode, compression.
//!
//! PLACEHOLDER: filled in by the record-batch work.

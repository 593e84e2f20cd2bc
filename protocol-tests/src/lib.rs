//! Conformance, golden-vector, property and malformed-input tests for ferrokafka's protocol layer.

//! The Kafka wire protocol, with no I/O: framing, request/response headers, version negotiation,
//! the record batch v2 codec and guarded response decoding.
//!
//! Message schemas (request and response bodies) come from the `kafka-protocol` crate. Every
//! response body passes [`guard::check_response`] before `kafka-protocol` decodes it, because
//! that crate pre-allocates arrays from counts read off the wire and can abort the process on
//! hostile input.

pub(crate) mod api;
pub mod frame;
pub mod guard;
pub(crate) mod header;
pub mod records;
pub(crate) mod requests;
pub mod sasl;
pub mod versions;

pub use api::ApiRequest;
pub use requests::produce;
pub use versions::ApiVersionTable;

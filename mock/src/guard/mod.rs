//! The request guard: a bounds-checking walk over every request body before kafka-protocol
//! decodes it.
//!
//! # Why
//!
//! kafka-protocol 0.18 decodes an array with `Vec::with_capacity(n)`, `n` read off the wire, and
//! some strings and bytes into `vec![0; n]`. Four bytes (`7f ff ff ff` as the topic count of a
//! Metadata request) ask for hundreds of gigabytes; the allocation fails and the process aborts,
//! and the mock runs inside the user's test process. A malformed request must close only its
//! connection (one WARN line), so `server::handle` runs [`check_request`] on the body after the
//! header (decoded separately, by `RequestHeader`, whose decoder only slices the body) and before
//! `api::dispatch`; a refusal becomes `Close::Malformed`.
//!
//! # How
//!
//! The same design as the ferrokafka client's response guard (`src/protocol/guard`), written
//! for the mock and for requests: for every served request type a generated table
//! ([`schema::StructSchema`], module `tables`) lists per field and version the wire type the
//! decoder reads. The walk ([`walk`]) reads the body as the decoder will and, before anything is
//! read under a length or a count, checks it against the bytes left: a string or bytes length
//! must fit, and an array's `count × smallest element encoding` must fit, so a count no body
//! could back is refused before any element is looked at. Every element is then walked, so an
//! accepted body contains every value it declares. Known tagged fields (Fetch's `cluster_id`)
//! must take exactly their declared size, because the decoder reads them from the body without
//! looking at the size; unknown tags are skipped by size. Bytes after the last field are accepted,
//! as the decoder ignores them.
//!
//! Once a body is accepted, every `Vec::with_capacity(n)` of the decoder has its `n` elements in
//! the body and every owned buffer is at most the body's length: decoding allocates at most a
//! small factor (a Rust element's size over its smallest encoding) times the body, which the
//! framing caps at `socket.request.max.bytes` (100 MiB). The walk allocates nothing from wire
//! values; Produce's records are bytes to it (skipped by length), checked later by the handler.
//!
//! # Tables
//!
//! `mock/tools/gen_request_guard.py` generates `tables/` from kafka-protocol 0.18.0's own
//! decoders (`src/messages/*_request.rs`), for exactly the API keys and versions of `SERVED` in
//! `api/versions.rs`: a version outside them (or an unknown key) is refused. It reuses the
//! decoder parsing of the client's generator (`protocol-tests/tools/gen_guard_tables.py`). Re-run
//! it when `SERVED` or kafka-protocol changes. The tests check every table against the decoder:
//! bodies generated from a table must decode completely, and kafka-protocol's re-encoding of
//! them must pass the guard.

mod schema;
mod tables;
mod walk;

#[cfg(test)]
mod built;
#[cfg(test)]
mod gen;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;

use schema::RequestSchema;

/// The guarded request type of `api_key`.
fn request(api_key: i16) -> Option<&'static RequestSchema> {
    tables::REQUESTS.iter().find(|r| r.api_key == api_key)
}

/// Checks a request body of `api_key` at `version` (after the request header): every length and
/// count it declares fits in the bytes that follow. `Err`: why not, naming the API, version and
/// field (e.g. `Metadata v12 request at topics: …`).
pub(crate) fn check_request(api_key: i16, version: i16, body: &[u8]) -> Result<(), String> {
    let Some(req) = request(api_key) else {
        return Err(format!("API key {api_key} has no request guard"));
    };
    if !(req.min_version..=req.max_version).contains(&version) {
        return Err(format!(
            "{} v{version} request is not guarded (served: v{}-v{})",
            req.name, req.min_version, req.max_version
        ));
    }
    walk::Walker::new(body, version)
        .walk_struct(req.body)
        .map_err(|fault| {
            let mut path = fault.path;
            path.reverse();
            let path = path.join(".").replace(".[", "[");
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(" at {path}")
            };
            format!("{} v{version} request{at}: {}", req.name, fault.reason)
        })
}

//! Broker connections: one tokio task owns each socket; requests are pipelined by correlation id
//! with a bounded number in flight; each request has a timeout; a dead connection fails all its
//! pending requests with a retriable error; reconnects back off exponentially with jitter; a
//! [`ConnectionPool`] keeps separate connections per [`Purpose`].
//!
//! TLS and SASL are not implemented yet; `transport.rs` holds the seam (`open` for TLS,
//! `authenticate` for SASL, after the ApiVersions handshake).

mod backoff;
mod conn;
mod pool;
mod transport;

pub use backoff::Backoff;
pub(crate) use backoff::Jitter;
pub use conn::{BrokerConnection, ConnectionConfig, PendingResponse};
pub use pool::{ConnectionPool, Purpose, DEFAULT_MAX_IN_FLIGHT};
pub use transport::{Io, Transport};

#[cfg(test)]
mod tests;

//! Broker connections: one tokio task owns each socket; requests are pipelined by correlation id
//! with a bounded number in flight; each request has a timeout; a dead connection fails all its
//! pending requests with a retriable error; reconnects back off exponentially with jitter; a
//! [`ConnectionPool`] keeps separate connections per [`Purpose`].
//!
//! Security: `transport.rs` opens TCP and, for `SSL`/`SASL_SSL`, runs the TLS handshake
//! (`tls.rs`, rustls with `ring`); after the ApiVersions handshake `sasl.rs` authenticates
//! `SASL_*` connections (SaslHandshake + SaslAuthenticate); `setup.rs` holds the settings and
//! the setup-time frame reader both use.

mod conn;
mod pool;
mod sasl;
mod setup;
pub(crate) mod tls;
mod transport;

pub use conn::{BrokerConnection, PendingResponse};
pub use pool::{ConnectionPool, Purpose, DEFAULT_MAX_IN_FLIGHT};
pub use setup::ConnectionConfig;
pub use transport::{Io, Transport};

#[cfg(test)]
mod tests;

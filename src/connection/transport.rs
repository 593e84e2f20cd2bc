//! The byte stream under a connection, and the seam where TLS and SASL will go.
//!
//! A connection is established in three steps: [`open`] (TCP, later TLS), the ApiVersions
//! handshake, then [`authenticate`] (SASL, later). Everything above works on [`Transport`], a
//! boxed byte stream, so TLS only changes [`open`] and SASL only [`authenticate`].

use crate::config::BrokerAddress;
use crate::protocol::ApiVersionTable;
use crate::{Error, ErrorKind, Result};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A byte stream to a broker.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed byte stream to a broker (plain TCP today; TLS later).
pub type Transport = Box<dyn Io>;

/// Opens the byte stream to `addr` within `timeout`.
pub(crate) async fn open(addr: &BrokerAddress, timeout: Duration) -> Result<Transport> {
    let target = (addr.host.as_str(), addr.port);
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(Error::new(ErrorKind::Connect)
                .with_broker(addr.to_string())
                .with_source(e))
        }
        Err(_) => {
            return Err(Error::new(ErrorKind::Connect)
                .with_broker(addr.to_string())
                .with_detail(format!(
                    "not connected within {} ms (socket.connection.setup.timeout.ms)",
                    timeout.as_millis()
                )))
        }
    };
    // Requests are written whole; Nagle would only add latency to small ones (produce acks,
    // heartbeats).
    stream
        .set_nodelay(true)
        .map_err(|e| Error::new(ErrorKind::Connect).with_source(e))?;
    Ok(Box::new(stream))
}

/// SASL authentication seam: runs after the ApiVersions handshake. PLAINTEXT has nothing to do.
pub(crate) async fn authenticate(
    _io: &mut Transport,
    _versions: &ApiVersionTable,
    _addr: &BrokerAddress,
) -> Result<()> {
    Ok(())
}

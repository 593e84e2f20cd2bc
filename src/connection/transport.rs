//! The byte stream under a connection: plain TCP or TLS over TCP.
//!
//! A connection is established in three steps: [`open`] (TCP, then the TLS handshake when
//! `security.protocol` is `SSL`/`SASL_SSL`), the ApiVersions handshake, then
//! [`authenticate`](super::sasl::authenticate) (SASL, for `SASL_*`). Everything above works on
//! [`Transport`], an enum rather than a boxed trait object, so the plaintext path costs one
//! branch per read or write and no allocation.

use super::tls;
use crate::config::{BrokerAddress, SecurityConfig};
use crate::{Error, ErrorKind, Result};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A byte stream to a broker.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The byte stream to a broker.
#[derive(Debug)]
pub enum Transport {
    /// `PLAINTEXT` and `SASL_PLAINTEXT`.
    Plain(TcpStream),
    /// `SSL` and `SASL_SSL` (boxed: the TLS state is large).
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Opens the byte stream to `addr` within `timeout`: TCP, then TLS if `security` asks for it.
pub(crate) async fn open(
    addr: &BrokerAddress,
    timeout: Duration,
    security: &SecurityConfig,
) -> Result<Transport> {
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
    match &security.tls {
        None => Ok(Transport::Plain(stream)),
        Some(ctx) => {
            let tls = tls::handshake(&ctx.rustls, addr, stream).await?;
            Ok(Transport::Tls(Box::new(tls)))
        }
    }
}

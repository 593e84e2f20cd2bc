//! One connection to one broker: a handle ([`BrokerConnection`]) and the task that owns the
//! socket.
//!
//! ```text
//!  callers ──encode──► mpsc (bounded) ──► socket task ──write──► broker
//!     ▲                                       │   in flight: VecDeque<Pending> (≤ max_in_flight)
//!     └──── oneshot(frame) ◄──route by correlation id──read◄─┘
//! ```
//! Callers encode requests and decode responses themselves, so the socket task only moves
//! bytes and timers. The task stops taking new requests while `max_in_flight` are unanswered,
//! which back-pressures callers through the bounded channel. When a request exceeds its timeout
//! the connection is closed (as the Java client does: a late response could otherwise be
//! mistaken for the next one's), and every pending request fails with a retriable error that
//! says whether it was written.
//!
//! KIP-368: when the broker limits the SASL session, the task re-authenticates the same socket
//! at 85–95 % of the lifetime (as Java): it stops writing, lets what is in flight complete,
//! runs SaslHandshake + SaslAuthenticate, and goes on with the queued requests. Requests are
//! never moved to another connection, so an idempotent producer's in-flight batches keep their
//! order; callers only wait for the few milliseconds the exchange takes.

use super::sasl;
use super::setup::{not_kafka, read_one_frame, ConnectionConfig};
use super::transport::{self, Transport};
use crate::config::BrokerAddress;
use crate::error::code::UNSUPPORTED_VERSION;
use crate::protocol::frame::decode_frame;
use crate::protocol::header::{encode_request, peek_correlation_id, split_response_header};
use crate::protocol::{guard, ApiRequest, ApiVersionTable};
use crate::{Error, ErrorKind, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{HeaderVersion, StrBytes};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, trace, warn};

struct Command {
    correlation_id: i32,
    frame: Bytes,
    expect_response: bool,
    api: &'static str,
    timeout: Duration,
    reply: oneshot::Sender<Result<Bytes>>,
}

struct Pending {
    correlation_id: i32,
    api: &'static str,
    deadline: Instant,
    reply: oneshot::Sender<Result<Bytes>>,
}

struct Shared {
    addr: BrokerAddress,
    node_id: Option<i32>,
    versions: ApiVersionTable,
    client_id: String,
    request_timeout: Duration,
    next_correlation_id: AtomicI32,
    closed: AtomicBool,
    tx: mpsc::Sender<Command>,
}

/// A handle to one broker connection. Cheap to clone; all clones share the socket task, which
/// ends when the last handle is dropped or the connection fails.
#[derive(Clone)]
pub struct BrokerConnection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BrokerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConnection")
            .field("addr", &self.shared.addr)
            .field("node_id", &self.shared.node_id)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl BrokerConnection {
    /// Connects to `addr`, negotiates API versions and starts the socket task.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future closes the half-open socket; nothing was sent but the
    /// ApiVersions handshake.
    pub async fn connect(
        addr: &BrokerAddress,
        node_id: Option<i32>,
        cfg: &ConnectionConfig,
    ) -> Result<BrokerConnection> {
        let broker = node_id.map_or_else(|| addr.to_string(), |id| id.to_string());
        let setup = async {
            let mut io = transport::open(addr, cfg.setup_timeout, &cfg.security).await?;
            let versions = handshake(&mut io, cfg).await?;
            // Correlation id 0 was used by the handshake.
            let mut next_id = 1;
            let mut lifetime = None;
            if let Some(sasl_cfg) = &cfg.security.sasl {
                let auth = sasl::authenticate(&mut io, &versions, sasl_cfg, cfg, 1).await?;
                next_id = auth.next_correlation_id;
                lifetime = auth.session_lifetime;
            }
            Ok::<_, Error>((io, versions, next_id, lifetime))
        };
        let authenticated_at = Instant::now();
        let (io, versions, next_id, lifetime) =
            match tokio::time::timeout(cfg.setup_timeout, setup).await {
                Ok(r) => r.map_err(|e| e.with_broker(broker.clone()))?,
                Err(_) => {
                    return Err(Error::new(ErrorKind::Connect)
                        .with_broker(broker)
                        .with_detail(
                            "connection setup (TCP, TLS, ApiVersions, SASL) timed out \
                         (socket.connection.setup.timeout.ms)",
                        ))
                }
            };
        debug!(broker = %addr, node_id, "connected");
        // The channel is small: the in-flight bound is enforced by the task, and callers
        // waiting here are the backpressure.
        let (tx, rx) = mpsc::channel(cfg.max_in_flight.max(8));
        let shared = Arc::new(Shared {
            addr: addr.clone(),
            node_id,
            versions,
            client_id: cfg.client_id.clone(),
            request_timeout: cfg.request_timeout,
            next_correlation_id: AtomicI32::new(next_id),
            closed: AtomicBool::new(false),
            tx,
        });
        let task = SocketTask {
            shared: Arc::downgrade(&shared),
            broker,
            rx,
            max_in_flight: cfg.max_in_flight,
            max_response_size: cfg.max_response_size,
            reauth_at: lifetime.map(|l| authenticated_at + reauth_after(l)),
            cfg: cfg.clone(),
        };
        tokio::spawn(task.run(io));
        Ok(BrokerConnection { shared })
    }

    /// The broker's address.
    pub fn addr(&self) -> &BrokerAddress {
        &self.shared.addr
    }

    /// The broker's node id, when known (not for bootstrap connections).
    pub fn node_id(&self) -> Option<i32> {
        self.shared.node_id
    }

    /// The versions negotiated with this broker.
    pub fn versions(&self) -> &ApiVersionTable {
        &self.shared.versions
    }

    /// Whether the socket task has stopped (the connection failed or was closed).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire) || self.shared.tx.is_closed()
    }

    fn broker_label(&self) -> String {
        self.shared
            .node_id
            .map_or_else(|| self.shared.addr.to_string(), |id| id.to_string())
    }

    /// Sends `request` at the highest negotiated version and waits for its response, within
    /// `request.timeout.ms`.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: once queued, the request is written even if this future is
    /// dropped, and its response is then discarded. Dropping is harmless for reads; for writes
    /// (produce, commit) assume the broker may have applied it.
    pub async fn send<R: ApiRequest>(&self, request: &R) -> Result<R::Response> {
        let version = self.version_for::<R>()?;
        self.send_version(request, version, self.shared.request_timeout)
            .await
    }

    /// Like [`send`](Self::send) with an explicit version and timeout (e.g. a long-poll fetch
    /// waits `fetch.max.wait.ms` on top of the request timeout).
    ///
    /// # Cancel safety
    /// As [`send`](Self::send).
    pub async fn send_version<R: ApiRequest>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        let frame = self.submit(request, version, timeout, true).await?;
        let header_version = R::Response::header_version(version);
        let body = split_response_header(frame, header_version)
            .map_err(|e| e.with_api(R::NAME).with_broker(self.broker_label()))?;
        guard::decode_response::<R::Response>(R::KEY as i16, version, body)
            .map_err(|e| e.with_api(R::NAME).with_broker(self.broker_label()))
    }

    /// Sends a request that gets no response (a Produce with `acks=0`), returning once it is
    /// handed to the socket task.
    ///
    /// # Cancel safety
    /// As [`send`](Self::send).
    pub async fn send_no_response<R: ApiRequest>(&self, request: &R, version: i16) -> Result<()> {
        self.submit(request, version, self.shared.request_timeout, false)
            .await
            .map(drop)
    }

    /// The version to use for `R` on this connection.
    pub fn version_for<R: ApiRequest>(&self) -> Result<i16> {
        self.shared
            .versions
            .version_for(R::KEY)
            .map_err(|e| e.with_broker(self.broker_label()))
    }

    async fn submit<R: ApiRequest>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
        expect_response: bool,
    ) -> Result<Bytes> {
        let correlation_id = self.next_correlation_id();
        let size_hint = request.compute_size(version).unwrap_or(0);
        let mut buf = BytesMut::with_capacity(size_hint + 64 + self.shared.client_id.len());
        encode_request(
            &mut buf,
            request,
            version,
            correlation_id,
            &self.shared.client_id,
        )?;
        self.submit_frame(
            R::NAME,
            buf.freeze(),
            correlation_id,
            timeout,
            expect_response,
        )
        .await
    }

    /// A fresh correlation id for a request the caller encodes itself (see
    /// [`send_encoded`](Self::send_encoded)).
    pub fn next_correlation_id(&self) -> i32 {
        self.shared
            .next_correlation_id
            .fetch_add(1, Ordering::Relaxed)
    }

    /// The `client.id` to put in headers of requests the caller encodes itself.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// Sends a request the caller encoded itself (e.g. a Produce request whose record batches
    /// were written straight into the frame) with `correlation_id` from
    /// [`next_correlation_id`](Self::next_correlation_id), and decodes the response as
    /// `R::Response`. With `expect_response == false` (Produce with `acks=0`) returns `Ok(None)`
    /// once the frame is handed to the socket task.
    ///
    /// # Cancel safety
    /// As [`send`](Self::send).
    pub async fn send_encoded<R: ApiRequest>(
        &self,
        frame: Bytes,
        correlation_id: i32,
        version: i16,
        timeout: Duration,
        expect_response: bool,
    ) -> Result<Option<R::Response>> {
        self.enqueue_encoded::<R>(frame, correlation_id, version, timeout, expect_response)
            .await?
            .wait()
            .await
    }

    async fn submit_frame(
        &self,
        api: &'static str,
        frame: Bytes,
        correlation_id: i32,
        timeout: Duration,
        expect_response: bool,
    ) -> Result<Bytes> {
        let rx = self
            .enqueue_frame(api, frame, correlation_id, timeout, expect_response)
            .await?;
        self.await_frame(api, rx).await
    }

    async fn enqueue_frame(
        &self,
        api: &'static str,
        frame: Bytes,
        correlation_id: i32,
        timeout: Duration,
        expect_response: bool,
    ) -> Result<oneshot::Receiver<Result<Bytes>>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command {
            correlation_id,
            frame,
            expect_response,
            api,
            timeout,
            reply,
        };
        if self.shared.tx.send(cmd).await.is_err() {
            return Err(self.disconnected(false, api));
        }
        Ok(rx)
    }

    async fn await_frame(
        &self,
        api: &'static str,
        rx: oneshot::Receiver<Result<Bytes>>,
    ) -> Result<Bytes> {
        match rx.await {
            Ok(r) => r,
            // The task ended without answering: it failed before writing the request.
            Err(_) => Err(self.disconnected(false, api)),
        }
    }

    /// Queues a request the caller encoded itself and returns a handle to its response.
    /// Requests queued one after the other by one task are written to the socket in that order
    /// (unlike requests sent from separate tasks, which race for the queue): the idempotent
    /// producer relies on this to keep a partition's batches in sequence order.
    ///
    /// # Cancel safety
    /// Cancel safe while waiting for room in the queue (nothing was queued); once this returns,
    /// the request will be written even if the handle is dropped.
    pub async fn enqueue_encoded<R: ApiRequest>(
        &self,
        frame: Bytes,
        correlation_id: i32,
        version: i16,
        timeout: Duration,
        expect_response: bool,
    ) -> Result<PendingResponse<R>> {
        let rx = self
            .enqueue_frame(R::NAME, frame, correlation_id, timeout, expect_response)
            .await?;
        Ok(PendingResponse {
            conn: self.clone(),
            rx,
            version,
            expect_response,
            _request: std::marker::PhantomData,
        })
    }

    fn disconnected(&self, sent: bool, api: &'static str) -> Error {
        Error::new(ErrorKind::Disconnected { sent })
            .with_api(api)
            .with_broker(self.broker_label())
    }
}

/// The response to a request queued with [`BrokerConnection::enqueue_encoded`].
pub struct PendingResponse<R: ApiRequest> {
    conn: BrokerConnection,
    rx: oneshot::Receiver<Result<Bytes>>,
    version: i16,
    expect_response: bool,
    _request: std::marker::PhantomData<fn() -> R>,
}

impl<R: ApiRequest> std::fmt::Debug for PendingResponse<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingResponse")
            .field("api", &R::NAME)
            .finish()
    }
}

impl<R: ApiRequest> PendingResponse<R> {
    /// Waits for the response and decodes it; `Ok(None)` for a request that gets none (written).
    ///
    /// # Cancel safety
    /// Cancel safe; the response is then discarded.
    pub async fn wait(self) -> Result<Option<R::Response>> {
        let frame = self.conn.await_frame(R::NAME, self.rx).await?;
        if !self.expect_response {
            return Ok(None);
        }
        let label = self.conn.broker_label();
        let body = split_response_header(frame, R::Response::header_version(self.version))
            .map_err(|e| e.with_api(R::NAME).with_broker(label.clone()))?;
        guard::decode_response::<R::Response>(R::KEY as i16, self.version, body)
            .map(Some)
            .map_err(|e| e.with_api(R::NAME).with_broker(label))
    }
}

/// Sends ApiVersions on a fresh stream and returns the broker's table. A broker that does not
/// know our ApiVersions version answers `UNSUPPORTED_VERSION` in v0 format with its own range;
/// we then retry at the highest version it supports.
async fn handshake(io: &mut Transport, cfg: &ConnectionConfig) -> Result<ApiVersionTable> {
    let (_, mut version) = crate::protocol::versions::client_range(ApiKey::ApiVersions);
    for _attempt in 0..2 {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("ferrokafka"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut buf = BytesMut::new();
        encode_request(&mut buf, &req, version, 0, &cfg.client_id)?;
        io.write_all(&buf).await.map_err(super::tls::io_error)?;
        let frame = read_one_frame(io, cfg.max_response_size).await?;
        // ApiVersions responses always use header v0 so that old clients can parse them.
        let body = split_response_header(frame, ApiVersionsResponse::header_version(version))
            .map_err(not_kafka)?;
        let resp: ApiVersionsResponse = match guard::decode_response(18, version, body.clone()) {
            Ok(r) => r,
            // An UNSUPPORTED_VERSION answer is encoded as v0 whatever we asked for.
            Err(_) if version > 0 => guard::decode_response(18, 0, body).map_err(not_kafka)?,
            Err(e) => return Err(not_kafka(e)),
        };
        if resp.error_code == UNSUPPORTED_VERSION {
            let theirs = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map(|k| k.max_version);
            match theirs {
                Some(v) if v < version && v >= 0 => {
                    version = v;
                    continue;
                }
                _ => {
                    return Err(Error::from_broker_code(UNSUPPORTED_VERSION).with_api("ApiVersions"))
                }
            }
        }
        if resp.error_code != 0 {
            return Err(Error::from_broker_code(resp.error_code).with_api("ApiVersions"));
        }
        return Ok(ApiVersionTable::from_response(&resp));
    }
    Err(Error::from_broker_code(UNSUPPORTED_VERSION).with_api("ApiVersions"))
}

struct SocketTask {
    // Weak, so the task notices when every handle is gone (the channel closes too).
    shared: std::sync::Weak<Shared>,
    broker: String,
    rx: mpsc::Receiver<Command>,
    max_in_flight: usize,
    max_response_size: usize,
    /// KIP-368: from this instant no new request is written (the broker closes a connection
    /// that sends one after its session expired); once nothing is in flight the task
    /// re-authenticates and moves this to the new session's point.
    reauth_at: Option<Instant>,
    /// For re-authentication: the SASL settings and timeouts.
    cfg: ConnectionConfig,
}

/// When to re-authenticate within a session of `lifetime`: a random point in 85–95 % of it, as
/// Java does, so a client's connections (all opened at start) do not re-authenticate at once.
fn reauth_after(lifetime: Duration) -> Duration {
    lifetime.mul_f64(0.85 + 0.10 * fastrand::f64())
}

impl SocketTask {
    /// Marks the connection closed for the pool and for callers (`is_closed`).
    fn mark_closed(&self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.closed.store(true, Ordering::Release);
        }
    }

    /// KIP-368 re-authentication of `io`, with nothing in flight: SaslHandshake and
    /// SaslAuthenticate as at connect, within `socket.connection.setup.timeout.ms`. Sets the
    /// next re-authentication point from the session the broker granted now.
    async fn reauthenticate(&mut self, io: &mut Transport) -> Result<()> {
        let Some(shared) = self.shared.upgrade() else {
            // Every handle is gone: nothing will be sent again.
            return Err(Error::new(ErrorKind::Closed));
        };
        let Some(sasl_cfg) = self.cfg.security.sasl.as_ref() else {
            self.reauth_at = None;
            return Ok(());
        };
        let first = shared
            .next_correlation_id
            .fetch_add(sasl::MAX_REQUESTS, Ordering::Relaxed);
        let started = Instant::now();
        let auth = tokio::time::timeout(
            self.cfg.setup_timeout,
            sasl::authenticate(io, &shared.versions, sasl_cfg, &self.cfg, first),
        )
        .await
        .map_err(|_| {
            Error::new(ErrorKind::Disconnected { sent: true }).with_detail(
                "SASL re-authentication timed out (socket.connection.setup.timeout.ms)",
            )
        })??;
        self.reauth_at = auth.session_lifetime.map(|l| started + reauth_after(l));
        debug!(
            broker = %self.broker,
            took_ms = started.elapsed().as_millis() as u64,
            session_lifetime_ms = ?auth.session_lifetime.map(|d| d.as_millis()),
            "SASL session re-authenticated"
        );
        Ok(())
    }

    async fn run(mut self, io: Transport) {
        let (mut reader, mut writer) = tokio::io::split(io);
        let mut in_flight: VecDeque<Pending> = VecDeque::new();
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let result: Result<()> = loop {
            let reauth_due = self.reauth_at.is_some_and(|t| Instant::now() >= t);
            if reauth_due && in_flight.is_empty() {
                if !rbuf.is_empty() {
                    break Err(Error::malformed(
                        "unsolicited bytes from the broker with nothing in flight",
                    ));
                }
                // Invariant: both halves come from the split above (or the one below), so
                // `unsplit` cannot panic.
                let mut io = reader.unsplit(writer);
                let outcome = self.reauthenticate(&mut io).await;
                (reader, writer) = tokio::io::split(io);
                match outcome {
                    Ok(()) => continue,
                    Err(e) => {
                        // Queued requests were not written: their callers retry on a new
                        // connection, whose authentication reports a refusal properly.
                        warn!(broker = %self.broker, error = %e, "SASL re-authentication failed; closing the connection");
                        break Err(e);
                    }
                }
            }
            let next_deadline = in_flight
                .iter()
                .map(|p| p.deadline)
                .chain(self.reauth_at.filter(|_| !reauth_due))
                .min();
            tokio::select! {
                biased;
                read = reader.read_buf(&mut rbuf) => {
                    match read {
                        Ok(0) => break Err(Error::new(ErrorKind::Disconnected { sent: true })
                            .with_detail("broker closed the connection")),
                        Ok(_) => {
                            if let Err(e) = self.route_frames(&mut rbuf, &mut in_flight) {
                                break Err(e);
                            }
                        }
                        Err(e) => break Err(Error::new(ErrorKind::Disconnected { sent: true }).with_source(e)),
                    }
                }
                _ = sleep_until_opt(next_deadline) => {
                    let now = Instant::now();
                    if self.reauth_at.is_some_and(|t| now >= t) && !in_flight.iter().any(|p| p.deadline <= now) {
                        continue;
                    }
                    if let Some(pos) = in_flight.iter().position(|p| p.deadline <= now) {
                        if let Some(p) = in_flight.remove(pos) {
                            warn!(broker = %self.broker, api = p.api, "request timed out; closing connection");
                            // Closed before the caller hears of the timeout: a retry it makes at
                            // once must not get this connection back from the pool.
                            self.mark_closed();
                            let _ = p.reply.send(Err(Error::new(ErrorKind::RequestTimeout)
                                .with_api(p.api)
                                .with_broker(self.broker.clone())));
                        }
                        break Err(Error::new(ErrorKind::Disconnected { sent: true })
                            .with_detail("connection closed after a request timed out"));
                    }
                }
                cmd = self.rx.recv(), if !reauth_due && in_flight.len() < self.max_in_flight => {
                    let Some(cmd) = cmd else { break Ok(()) };
                    if cmd.reply.is_closed() {
                        // The caller gave up before the request was written: skip it.
                        continue;
                    }
                    trace!(broker = %self.broker, api = cmd.api, correlation_id = cmd.correlation_id, "write");
                    if let Err(e) = writer.write_all(&cmd.frame).await {
                        self.mark_closed();
                        let err = Error::new(ErrorKind::Disconnected { sent: true }).with_source(e);
                        let _ = cmd.reply.send(Err(err.clone().with_api(cmd.api).with_broker(self.broker.clone())));
                        break Err(err);
                    }
                    if cmd.expect_response {
                        in_flight.push_back(Pending {
                            correlation_id: cmd.correlation_id,
                            api: cmd.api,
                            deadline: Instant::now() + cmd.timeout,
                            reply: cmd.reply,
                        });
                    } else {
                        let _ = cmd.reply.send(Ok(Bytes::new()));
                    }
                }
            }
        };
        self.mark_closed();
        let _ = writer.shutdown().await;
        let err = match result {
            Ok(()) => Error::new(ErrorKind::Closed),
            Err(e) => {
                debug!(broker = %self.broker, error = %e, "connection closed");
                e
            }
        };
        for p in in_flight.drain(..) {
            let _ = p.reply.send(Err(err
                .clone()
                .with_api(p.api)
                .with_broker(self.broker.clone())));
        }
        // Requests still queued were never written: closing the channel drops their reply
        // senders, which their callers report as `Disconnected { sent: false }`.
        self.rx.close();
    }

    fn route_frames(&self, rbuf: &mut BytesMut, in_flight: &mut VecDeque<Pending>) -> Result<()> {
        while let Some(frame) = decode_frame(rbuf, self.max_response_size)? {
            let id = peek_correlation_id(&frame)?;
            // Kafka answers requests on a connection in order, so the response belongs to the
            // oldest pending request; anything else means the stream is out of sync.
            match in_flight.pop_front() {
                Some(p) if p.correlation_id == id => {
                    let _ = p.reply.send(Ok(frame));
                }
                Some(p) => {
                    let err = Error::malformed(format!(
                        "response correlation id {id} does not match the oldest request ({})",
                        p.correlation_id
                    ));
                    let _ = p.reply.send(Err(err.clone()));
                    return Err(err);
                }
                None => {
                    return Err(Error::malformed(format!(
                        "unsolicited response with correlation id {id}"
                    )))
                }
            }
        }
        Ok(())
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

//! Listeners and connections: frames in, one request at a time per connection (a broker answers
//! a connection's requests in order), responses out.

use crate::api;
use crate::fault::{Faults, RequestRecord};
use crate::groups::Groups;
use crate::intercept::Verdict;
use crate::state::ClusterState;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::{debug, warn};

/// `socket.request.max.bytes`, Kafka's default: larger frames close the connection.
const MAX_REQUEST_BYTES: usize = 104_857_600;

/// State shared by every broker and connection.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<ClusterState>,
    /// Woken whenever records are appended or topics change (fetch long polls wait on it).
    pub data: Notify,
    /// The classic group coordinator.
    pub groups: Groups,
    /// Injected faults, the request log, which brokers are up.
    pub faults: Faults,
    /// The test's interceptors ([`crate::Control::intercept`]).
    pub interceptors: crate::intercept::Interceptors,
    /// The runtime the cluster was started on: brokers added later serve on it.
    pub runtime: tokio::runtime::Handle,
    /// The accept loops of brokers added after the start (aborted with the cluster).
    pub added: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Shared {
    /// Must be called inside the tokio runtime that serves the cluster.
    pub fn new(state: ClusterState) -> Shared {
        Shared {
            faults: Faults::new(state.brokers.len()),
            state: Mutex::new(state),
            data: Notify::new(),
            groups: Groups::default(),
            interceptors: Default::default(),
            runtime: tokio::runtime::Handle::current(),
            added: Mutex::new(Vec::new()),
        }
    }

    /// The cluster state. A panic while it was held is a bug of the mock; its state is still
    /// used (the test that hit the bug sees the panic in the mock's log).
    pub fn lock(&self) -> MutexGuard<'_, ClusterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a handler needs to know about the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    /// The broker this connection reached.
    pub node: i32,
    pub client_id: &'a str,
    /// An interceptor's error answer for this request ([`crate::Verdict::Error`]).
    pub forced: Option<i16>,
}

impl Ctx<'_> {
    /// The injected error for this request, if any: an interceptor's verdict, else the first
    /// matching fault rule (used up by one). `targets` as [`Faults::take`] takes them.
    pub fn take_fault(&self, api: i16, targets: &[(&str, i32)]) -> Option<crate::fault::Hit> {
        match self.forced {
            Some(code) => Some(crate::fault::Hit::all(code)),
            None => self.shared.faults.take(api, self.node, targets),
        }
    }
}

/// Why a connection is closed.
#[derive(Debug)]
pub(crate) enum Close {
    /// A request that does not decode.
    Malformed(String),
    /// An API or version the mock does not serve.
    Unsupported(String),
    /// The broker was set down while the request was served: no answer.
    Down,
    /// A drop fault matched the request (before or after applying it): no answer.
    Dropped,
}

/// Encodes a response body.
pub(crate) fn encode<R: Encodable>(resp: &R, version: i16) -> Result<Option<BytesMut>, Close> {
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, version)
        .map_err(|e| Close::Malformed(format!("response does not encode at v{version}: {e}")))?;
    Ok(Some(buf))
}

/// Decodes a request body.
pub(crate) fn decode<R: Decodable>(body: &mut Bytes, version: i16) -> Result<R, Close> {
    R::decode(body, version).map_err(|e| Close::Malformed(e.to_string()))
}

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, node: i32) {
    let Some(mut up) = shared.faults.watch(node) else {
        return;
    };
    let addr = listener.local_addr().ok();
    let mut listener = Some(listener);
    // Connections live in this set: aborting the accept loop (the cluster dropped) drops the set,
    // which aborts every connection of this broker.
    let mut conns = JoinSet::new();
    loop {
        if !*up.borrow_and_update() {
            // Down: the port refuses connections and every open one is closed.
            if listener.take().is_some() {
                debug!(node, "broker down: listener closed");
            }
            conns.abort_all();
        } else if listener.is_none() {
            // Up again: the same port (SO_REUSEADDR is set by tokio's bind on Unix).
            match addr.map(TcpListener::bind) {
                Some(bind) => match bind.await {
                    Ok(l) => {
                        debug!(node, "broker up: listening again");
                        listener = Some(l);
                    }
                    Err(e) => {
                        warn!(node, error = %e, "cannot listen again; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                None => return,
            }
        }
        tokio::select! {
            accepted = accept(listener.as_ref()), if listener.is_some() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    debug!(node, %peer, "connection accepted");
                    conns.spawn(serve(stream, shared.clone(), node));
                }
                Err(e) => {
                    warn!(node, error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            changed = up.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn accept(
    listener: Option<&TcpListener>,
) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>, node: i32) {
    let Some(mut up) = shared.faults.watch(node) else {
        return;
    };
    // A broker set down closes its connections at once (also one accepted just before).
    tokio::select! {
        _ = serve_requests(stream, &shared, node) => {}
        _ = up.wait_for(|up| !*up) => {}
    }
}

async fn serve_requests(stream: TcpStream, shared: &Arc<Shared>, node: i32) {
    let peer = stream.peer_addr().ok();
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    loop {
        let size = match rd.read_i32().await {
            Ok(s) => s,
            Err(_) => return, // closed by the client
        };
        let size = match usize::try_from(size) {
            Ok(s) if (4..=MAX_REQUEST_BYTES).contains(&s) => s,
            _ => {
                warn!(
                    node,
                    ?peer,
                    size,
                    "request size out of range; closing the connection"
                );
                return;
            }
        };
        let mut frame = vec![0u8; size];
        if rd.read_exact(&mut frame).await.is_err() {
            warn!(
                node,
                ?peer,
                size,
                "truncated request; closing the connection"
            );
            return;
        }
        let mut body = Bytes::from(frame);
        match handle(shared, node, &mut body).await {
            Ok(Some(out)) => {
                // Injected latency: this connection's next request waits too, as on a broker
                // answering in order.
                let rtt = shared.faults.rtt(node);
                if !rtt.is_zero() {
                    tokio::time::sleep(rtt).await;
                }
                if wr.write_all(&out).await.is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(Close::Down) => return,
            Err(Close::Dropped) => {
                debug!(node, ?peer, "injected drop; closing the connection");
                return;
            }
            Err(Close::Malformed(why)) => {
                warn!(
                    node,
                    ?peer,
                    "malformed request ({why}); closing the connection"
                );
                return;
            }
            Err(Close::Unsupported(why)) => {
                warn!(node, ?peer, "{why}; closing the connection");
                return;
            }
        }
    }
}

/// One request: its header, the handler, the framed response (`None`: no response, acks=0).
async fn handle(shared: &Arc<Shared>, node: i32, body: &mut Bytes) -> Result<Option<Bytes>, Close> {
    if body.len() < 8 {
        return Err(Close::Malformed("request shorter than its header".into()));
    }
    let key_raw = i16::from_be_bytes([body[0], body[1]]);
    let version = i16::from_be_bytes([body[2], body[3]]);
    let correlation_id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    let Ok(key) = ApiKey::try_from(key_raw) else {
        return Err(Close::Unsupported(format!("unknown API key {key_raw}")));
    };
    let supported = api::versions::range(key);
    let in_range = supported.is_some_and(|(min, max)| (min..=max).contains(&version));
    if !in_range && key != ApiKey::ApiVersions {
        return Err(Close::Unsupported(format!(
            "{key:?} v{version} is not served (served: {})",
            supported.map_or("none".to_owned(), |(a, b)| format!("v{a}-v{b}"))
        )));
    }
    let header_version = key.request_header_version(version);
    let header = if in_range {
        RequestHeader::decode(body, header_version)
            .map_err(|e| Close::Malformed(format!("request header: {e}")))?
    } else {
        // An ApiVersions request newer than the mock serves: its body and header may be in a
        // format the mock does not know; the answer is v0 with UNSUPPORTED_VERSION (KIP-511).
        body.advance(body.len());
        RequestHeader::default()
    };
    // Before any decoding of the body: a count or length no body could back closes the
    // connection here instead of making kafka-protocol reserve it (see `guard`).
    if in_range {
        crate::guard::check_request(key_raw, version, body).map_err(Close::Malformed)?;
    }
    let client_id = header
        .client_id
        .as_ref()
        .map_or("", |c| c.as_str())
        .to_owned();
    shared.faults.record(RequestRecord {
        broker: node,
        api: key_raw.into(),
        version,
        client_id: client_id.clone(),
        correlation_id,
    });
    // Interceptors: the request is looked into only while one is registered for this API.
    let mut forced = None;
    let mut intercepted_drop_after = false;
    if in_range && shared.interceptors.any_for(key_raw) {
        let req = crate::intercept::InterceptedRequest {
            broker: node,
            api: key_raw.into(),
            version,
            client_id: client_id.clone(),
            targets: crate::drops::targets(key, version, body),
        };
        match shared.interceptors.judge(&req) {
            Verdict::Pass => {}
            Verdict::Delay(d) => tokio::time::sleep(d).await,
            Verdict::Error(code) => forced = Some(code),
            Verdict::DropBefore => return Err(Close::Dropped),
            Verdict::DropAfter => intercepted_drop_after = true,
        }
    }
    // Drop rules: looked into only while one is pending for this API.
    let dropped = if in_range && shared.faults.drops_pending(key_raw) {
        let targets = crate::drops::targets(key, version, body);
        let targets: Vec<(&str, i32)> = targets.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        shared.faults.take_drop(key_raw, node, &targets)
    } else {
        None
    };
    if dropped == Some(false) {
        return Err(Close::Dropped);
    }
    let ctx = Ctx {
        shared,
        node,
        client_id: &client_id,
        forced,
    };
    let (reply, response_version) = if in_range {
        (api::dispatch(ctx, key, version, body).await?, version)
    } else {
        (api::versions::unsupported(), 0)
    };
    if !shared.faults.is_up(node) {
        return Err(Close::Down);
    }
    if dropped == Some(true) || intercepted_drop_after {
        return Err(Close::Dropped);
    }
    let Some(reply) = reply else {
        return Ok(None);
    };
    let mut out = BytesMut::with_capacity(reply.len() + 16);
    out.put_i32(0);
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header
        .encode(&mut out, key.response_header_version(response_version))
        .map_err(|e| Close::Malformed(format!("response header: {e}")))?;
    out.extend_from_slice(&reply);
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    Ok(Some(out.freeze()))
}

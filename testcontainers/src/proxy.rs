//! A fault-injecting TCP proxy in front of one broker.
//!
//! [`FaultProxy::start`] listens on a free 127.0.0.1 port and forwards every accepted connection to
//! the broker. [`Kafka::start_proxied`](crate::Kafka::start_proxied) advertises the proxies'
//! ports as the brokers' client listener, so every client connection — bootstrap and the ones
//! metadata points to — passes through them, while inter-broker and controller traffic uses the
//! brokers' own listeners.
//!
//! The proxy runs on its own thread and tokio runtime, so a test may block its runtime (or use none)
//! without slowing forwarding. Faults are switched at run time through [`FaultProxy`]'s methods and
//! apply to open and new connections alike:
//!
//! | fault | method |
//! |---|---|
//! | added latency, fixed + uniform jitter, per direction chunk (order kept) | [`FaultProxy::set_latency`] |
//! | bandwidth cap per connection and direction | [`FaultProxy::set_bandwidth`] |
//! | reset (RST) every open connection now | [`FaultProxy::reset_all`] |
//! | reset each connection once it forwarded N bytes | [`FaultProxy::reset_after_bytes`] |
//! | blackhole: accept, then neither forward nor close | [`FaultProxy::set_blackhole`] |
//! | one direction stalled (half-open) | [`FaultProxy::set_stalled`] |
//! | the broker answered but the response is dropped (and its connection reset) | [`FaultProxy::drop_responses`] |

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A direction of a proxied connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Requests: client → broker.
    ToBroker,
    /// Responses: broker → client.
    ToClient,
}

/// The faults in force; every connection watches one copy.
#[derive(Debug, Clone, Default)]
struct Faults {
    latency: Duration,
    jitter: Duration,
    /// Bytes per second per connection and direction; `None` = unlimited.
    bandwidth: Option<u64>,
    /// Bumped by `reset_all`: a connection opened under an older epoch resets itself.
    reset_epoch: u64,
    reset_after_bytes: Option<u64>,
    blackhole: bool,
    stalled: Option<Direction>,
}

impl Faults {
    fn holds(&self, dir: Direction) -> bool {
        self.blackhole || self.stalled == Some(dir)
    }
}

/// Counters since the proxy started.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    /// Connections whose task has not ended (a gauge; [`OpenGuard`] keeps it).
    open: AtomicU64,
    resets: AtomicU64,
    to_broker: AtomicU64,
    to_client: AtomicU64,
    dropped_responses: AtomicU64,
    /// Responses still to drop (each one resets its connection).
    drop_budget: AtomicU64,
}

/// What a proxy has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections accepted whose proxy task has not ended: client connections still open
    /// through the proxy (a gauge, unlike the other fields). A client that closed a socket
    /// brings it down once the proxy saw the close and closed the broker's side too.
    pub open: u64,
    /// Connections the proxy reset (RST) on purpose.
    pub resets: u64,
    /// Bytes forwarded client → broker.
    pub bytes_to_broker: u64,
    /// Bytes forwarded broker → client.
    pub bytes_to_client: u64,
    /// Response frames dropped by [`FaultProxy::drop_responses`].
    pub dropped_responses: u64,
}

impl std::fmt::Display for ProxyStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} connections ({} open), {} resets, {} responses dropped, {} B to broker, {} B to \
             client",
            self.accepted,
            self.open,
            self.resets,
            self.dropped_responses,
            self.bytes_to_broker,
            self.bytes_to_client
        )
    }
}

#[derive(Debug)]
struct Shared {
    faults: watch::Sender<Faults>,
    counters: Counters,
    upstream: Mutex<SocketAddr>,
}

/// One listener forwarding to one broker, with switchable faults. Stops (closing every connection)
/// on Drop.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Binds 127.0.0.1:0 and forwards to `upstream` (changeable later with
    /// [`FaultProxy::set_upstream`], e.g. when the broker's port is chosen after the proxy's).
    pub fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let shared = Arc::new(Shared {
            faults: watch::Sender::new(Faults::default()),
            counters: Counters::default(),
            upstream: Mutex::new(upstream),
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || runtime.block_on(serve(std_listener, s, rx)))?;
        Ok(FaultProxy {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where new connections are forwarded.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// Delays every chunk by `latency` plus a uniform random `0..=jitter`, in both directions. A
    /// chunk never overtakes an earlier one, so jitter delays but never reorders bytes.
    pub fn set_latency(&self, latency: Duration, jitter: Duration) {
        self.shared.faults.send_modify(|f| {
            f.latency = latency;
            f.jitter = jitter;
        });
    }

    /// Caps each connection to `bytes_per_sec` in each direction (`None`: unlimited).
    pub fn set_bandwidth(&self, bytes_per_sec: Option<u64>) {
        self.shared
            .faults
            .send_modify(|f| f.bandwidth = bytes_per_sec.filter(|&b| b > 0));
    }

    /// Resets (TCP RST) every connection open now; later connections are unaffected.
    pub fn reset_all(&self) {
        self.shared.faults.send_modify(|f| f.reset_epoch += 1);
    }

    /// Resets each connection once it forwarded `bytes` in total (both directions); `None` turns
    /// this off.
    pub fn reset_after_bytes(&self, bytes: Option<u64>) {
        self.shared
            .faults
            .send_modify(|f| f.reset_after_bytes = bytes);
    }

    /// Blackhole on: connections are accepted (and kept) but nothing is forwarded in either
    /// direction and nothing is closed. Off: forwarding resumes on connections still open.
    pub fn set_blackhole(&self, on: bool) {
        self.shared.faults.send_modify(|f| f.blackhole = on);
    }

    /// Stops forwarding in one direction (`None`: both flow). `ToClient` stalled is a half-open
    /// connection whose requests still reach the broker.
    pub fn set_stalled(&self, direction: Option<Direction>) {
        self.shared.faults.send_modify(|f| f.stalled = direction);
    }

    /// Drops the next `count` response frames after the broker wrote them (so the request took
    /// effect) and resets the connection each one was on: the "possibly persisted" case. Adds to
    /// any count still pending.
    pub fn drop_responses(&self, count: u64) {
        self.shared
            .counters
            .drop_budget
            .fetch_add(count, Ordering::Relaxed);
    }

    /// Turns every fault off (pending response drops included).
    pub fn clear(&self) {
        self.shared.counters.drop_budget.store(0, Ordering::Relaxed);
        self.shared.faults.send_modify(|f| {
            // Keep the epoch: clearing must not reset connections itself.
            *f = Faults {
                reset_epoch: f.reset_epoch,
                ..Faults::default()
            }
        });
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.shared.counters;
        ProxyStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            open: c.open.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            bytes_to_broker: c.to_broker.load(Ordering::Relaxed),
            bytes_to_client: c.to_client.load(Ordering::Relaxed),
            dropped_responses: c.dropped_responses.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Accepts until shutdown; dropping the runtime afterwards drops every connection task.
async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
                let open = OpenGuard::new(shared.clone());
                tokio::spawn(async move {
                    connection(client, &open.0).await;
                    drop(open);
                });
            }
        }
    }
}

/// Counts one connection in `open` from accept until dropped: after `connection` returned on
/// any path, or with the task when the runtime shuts down (a guard, so no early return or
/// cancellation can skip the decrement).
struct OpenGuard(Arc<Shared>);

impl OpenGuard {
    fn new(shared: Arc<Shared>) -> OpenGuard {
        shared.counters.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(shared)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a connection ended.
enum End {
    /// A side closed or failed: close the other one too.
    Closed,
    /// A fault asked for a reset.
    Reset,
}

async fn connection(client: TcpStream, shared: &Shared) {
    let mut faults = shared.faults.subscribe();
    let epoch = faults.borrow().reset_epoch;
    // A blackhole holds new connections too, before the broker ever sees them.
    if faults.wait_for(|f| !f.blackhole).await.is_err() {
        return;
    }
    let upstream = *lock(&shared.upstream);
    let Ok(mut broker) = TcpStream::connect(upstream).await else {
        // The broker is down: close the client's connection, as a dead broker would refuse it.
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    let mut client = client;
    let total = AtomicU64::new(0);
    let end = {
        let (cr, cw) = client.split();
        let (br, bw) = broker.split();
        let s = shared;
        tokio::select! {
            end = pump(cr, bw, Direction::ToBroker, s, &total) => end,
            end = pump(br, cw, Direction::ToClient, s, &total) => end,
            _ = faults.wait_for(|f| f.reset_epoch != epoch) => End::Reset,
        }
    };
    if let End::Reset = end {
        shared.counters.resets.fetch_add(1, Ordering::Relaxed);
        // SO_LINGER 0: closing sends RST instead of FIN, as a crashed peer or a middlebox would.
        let _ = client.set_zero_linger();
        let _ = broker.set_zero_linger();
    }
}

/// One direction: a reader stamping chunks with their delivery time and a writer honouring it,
/// joined by a bounded queue (back-pressure to the sender when the writer is held).
async fn pump(
    mut from: tokio::net::tcp::ReadHalf<'_>,
    mut to: tokio::net::tcp::WriteHalf<'_>,
    dir: Direction,
    shared: &Shared,
    total: &AtomicU64,
) -> End {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(16);
    // `move`: the reader owns `tx`, so the writer sees the queue close when the reader ends.
    let reader = async move {
        let mut faults = shared.faults.subscribe();
        let mut frames = FrameTracker::default();
        let mut last_due = Instant::now();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if faults.wait_for(|f| !f.holds(dir)).await.is_err() {
                return End::Closed;
            }
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return End::Closed,
                Ok(n) => n,
            };
            let mut chunk = &buf[..n];
            let mut reset = false;
            if dir == Direction::ToClient {
                // Forward up to the start of a response we drop, then reset.
                if let Some(cut) = frames.cut_for_drop(chunk, &shared.counters) {
                    chunk = &chunk[..cut];
                    reset = true;
                }
            }
            let f = faults.borrow().clone();
            let jitter = if f.jitter.is_zero() {
                Duration::ZERO
            } else {
                f.jitter.mul_f64(fastrand::f64())
            };
            let due = (Instant::now() + f.latency + jitter).max(last_due);
            last_due = due;
            if !chunk.is_empty() && tx.send((due, chunk.to_vec())).await.is_err() {
                return End::Closed;
            }
            if reset {
                // Let the writer flush what came before the dropped response.
                while !tx.is_closed() && tx.capacity() < tx.max_capacity() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                return End::Reset;
            }
        }
    };
    let writer = async move {
        let mut faults = shared.faults.subscribe();
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if faults.wait_for(|f| !f.holds(dir)).await.is_err() {
                return End::Closed;
            }
            // Copied out: a watch guard must not be held across the sleep.
            let bandwidth = faults.borrow().bandwidth;
            if let Some(rate) = bandwidth {
                let secs = chunk.len() as f64 / rate as f64;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            if to.write_all(&chunk).await.is_err() {
                return End::Closed;
            }
            let counter = match dir {
                Direction::ToBroker => &shared.counters.to_broker,
                Direction::ToClient => &shared.counters.to_client,
            };
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let sum = total.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
            if faults.borrow().reset_after_bytes.is_some_and(|n| sum >= n) {
                return End::Reset;
            }
        }
        // The reader ended: pass the close on (FIN) after the bytes already queued.
        let _ = to.shutdown().await;
        End::Closed
    };
    // The reader ending first (EOF) still lets the writer drain; a reset ends both at once.
    tokio::pin!(writer);
    tokio::select! {
        end = reader => match end {
            End::Reset => End::Reset,
            End::Closed => writer.await,
        },
        end = &mut writer => end,
    }
}

/// Tracks Kafka frame boundaries (`int32` size prefix) in the broker → client stream, so a dropped
/// response is a whole frame.
#[derive(Debug, Default)]
struct FrameTracker {
    /// Size-prefix bytes seen of the current frame (0..4).
    header: [u8; 4],
    header_len: usize,
    /// Body bytes still to come of the current frame.
    body_left: u64,
}

impl FrameTracker {
    /// Walks `chunk`; if a response starts in it while a drop is pending, claims the drop and
    /// returns the offset where that response starts (the bytes before it are forwarded).
    fn cut_for_drop(&mut self, chunk: &[u8], counters: &Counters) -> Option<usize> {
        let mut i = 0;
        while i < chunk.len() {
            if self.body_left > 0 {
                let take = self.body_left.min((chunk.len() - i) as u64);
                self.body_left -= take;
                i += take as usize;
                continue;
            }
            if self.header_len == 0 && claim_drop(counters) {
                return Some(i);
            }
            self.header[self.header_len] = chunk[i];
            self.header_len += 1;
            i += 1;
            if self.header_len == 4 {
                // A negative size is not Kafka; treat it as an empty frame and carry on forwarding.
                self.body_left = u64::try_from(i32::from_be_bytes(self.header)).unwrap_or(0);
                self.header_len = 0;
            }
        }
        None
    }
}

fn claim_drop(c: &Counters) -> bool {
    let claimed = c
        .drop_budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok();
    if claimed {
        c.dropped_responses.fetch_add(1, Ordering::Relaxed);
    }
    claimed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn frame_tracker_cuts_at_the_next_frame_start() {
        let c = Counters::default();
        let mut t = FrameTracker::default();
        let mut stream = frame(b"abc");
        stream.extend(frame(b"defgh"));
        // No drop pending: nothing cut, boundaries tracked across split chunks.
        assert_eq!(t.cut_for_drop(&stream[..5], &c), None);
        c.drop_budget.store(1, Ordering::Relaxed);
        assert_eq!(t.cut_for_drop(&stream[5..], &c), Some(2));
        assert_eq!(c.dropped_responses.load(Ordering::Relaxed), 1);
        assert_eq!(c.drop_budget.load(Ordering::Relaxed), 0);
    }

    /// Polls `proxy`'s stats until `want` holds (5 s at most).
    fn wait_stats(proxy: &FaultProxy, what: &str, want: impl Fn(&ProxyStats) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !want(&proxy.stats()) {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: {}",
                proxy.stats()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn open_counts_connections_until_the_client_closes() {
        // A plain listener stands in for the broker: the kernel completes the proxy's connect
        // from its backlog; nothing needs to be said for the close to travel through.
        let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let proxy = FaultProxy::start(upstream.local_addr().expect("addr")).expect("proxy");
        let a = std::net::TcpStream::connect(proxy.addr()).expect("connect a");
        let b = std::net::TcpStream::connect(proxy.addr()).expect("connect b");
        wait_stats(&proxy, "two open", |s| s.accepted == 2 && s.open == 2);
        drop(a);
        wait_stats(&proxy, "a closed", |s| s.open == 1);
        drop(b);
        wait_stats(&proxy, "b closed", |s| s.open == 0);
        assert_eq!(proxy.stats().accepted, 2);
        assert!(proxy.stats().to_string().contains("2 connections (0 open)"));
    }

    #[test]
    fn open_falls_back_when_the_broker_refuses_or_the_proxy_resets() {
        // A port with no listener: the proxy's connect is refused and it closes the client.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let dead_addr = dead.local_addr().expect("addr");
        drop(dead);
        let proxy = FaultProxy::start(dead_addr).expect("proxy");
        let _refused = std::net::TcpStream::connect(proxy.addr()).expect("connect");
        wait_stats(&proxy, "refused upstream", |s| {
            s.accepted == 1 && s.open == 0
        });
        // A reset ends the task while the client still holds its socket.
        let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        proxy.set_upstream(upstream.local_addr().expect("addr"));
        let _held = std::net::TcpStream::connect(proxy.addr()).expect("connect");
        wait_stats(&proxy, "open", |s| s.open == 1);
        proxy.reset_all();
        wait_stats(&proxy, "reset", |s| s.resets == 1 && s.open == 0);
    }

    #[test]
    fn frame_tracker_handles_split_size_prefixes() {
        let c = Counters::default();
        let mut t = FrameTracker::default();
        let stream = [frame(b"xy"), frame(b"z")].concat();
        for b in &stream[..7] {
            assert_eq!(t.cut_for_drop(std::slice::from_ref(b), &c), None);
        }
        assert_eq!(t.body_left, 0);
        assert_eq!(t.header_len, 1);
    }
}

//! Deterministic connection-layer fault tests against a scripted peer on loopback: request
//! timeouts, resets mid-request, hostile frame sizes, a silent handshake, and the in-flight
//! bound. (Behaviour against a real broker is covered by tests/integration.)

use super::*;
use crate::config::{BrokerAddress, ClientConfig};
use crate::ErrorKind;
use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::MetadataRequest;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn cfg(port: u16) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers(format!("127.0.0.1:{port}"))
        .request_timeout(Duration::from_millis(300))
        .connection_setup_timeout(Duration::from_millis(500))
        .reconnect_backoff(Duration::from_millis(10))
        .reconnect_backoff_max(Duration::from_millis(20))
        .build()
        .unwrap()
}

/// Reads one request frame; returns its correlation id, or None at EOF.
async fn read_request(s: &mut TcpStream) -> Option<i32> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).await.ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut body).await.ok()?;
    Some(i32::from_be_bytes([body[4], body[5], body[6], body[7]]))
}

/// An ApiVersions v4 response advertising Metadata v0-12 and ApiVersions v0-4.
fn api_versions_response(correlation_id: i32) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i32(0); // size, patched below
    b.put_i32(correlation_id);
    b.put_i16(0); // error_code
    b.put_u8(3); // compact array: 2 entries
    for (k, lo, hi) in [(3i16, 0i16, 12i16), (18, 0, 4)] {
        b.put_i16(k);
        b.put_i16(lo);
        b.put_i16(hi);
        b.put_u8(0); // tagged fields
    }
    b.put_i32(0); // throttle_time_ms
    b.put_u8(0); // tagged fields
    let size = (b.len() - 4) as i32;
    b[..4].copy_from_slice(&size.to_be_bytes());
    b
}

/// A Metadata v12 response (header v1) with no brokers and no topics.
fn metadata_response(correlation_id: i32) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i32(0);
    b.put_i32(correlation_id);
    b.put_u8(0); // header tagged fields
    b.put_i32(0); // throttle
    b.put_u8(1); // brokers: empty compact array
    b.put_u8(0); // cluster_id: null compact string
    b.put_i32(-1); // controller_id
    b.put_u8(1); // topics: empty
    b.put_u8(0); // tagged fields
    let size = (b.len() - 4) as i32;
    b[..4].copy_from_slice(&size.to_be_bytes());
    b
}

async fn peer() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

async fn accept_and_handshake(l: &TcpListener) -> TcpStream {
    let (mut s, _) = l.accept().await.unwrap();
    let id = read_request(&mut s).await.unwrap();
    s.write_all(&api_versions_response(id)).await.unwrap();
    s
}

fn addr(port: u16) -> BrokerAddress {
    BrokerAddress::new("127.0.0.1", port)
}

#[tokio::test]
async fn request_timeout_closes_connection_and_fails_pending() {
    let (l, port) = peer().await;
    let server = tokio::spawn(async move {
        let mut s = accept_and_handshake(&l).await;
        // Read requests but never answer.
        while read_request(&mut s).await.is_some() {}
    });
    let c = cfg(port);
    let pool = ConnectionPool::new(&c);
    let conn = pool.get(&addr(port), None, Purpose::Control).await.unwrap();
    let req = MetadataRequest::default();
    let (a, b) = tokio::join!(conn.send(&req), conn.send(&req));
    let kinds = [a.unwrap_err(), b.unwrap_err()];
    assert!(kinds.iter().all(|e| e.is_retriable()));
    assert!(
        kinds.iter().any(|e| *e.kind() == ErrorKind::RequestTimeout),
        "{kinds:?}"
    );
    assert!(conn.is_closed());
    server.abort();
}

#[tokio::test]
async fn a_timed_out_connection_is_closed_before_the_caller_hears_of_it() {
    let (l, port) = peer().await;
    let server = tokio::spawn(async move {
        let mut s = accept_and_handshake(&l).await;
        while read_request(&mut s).await.is_some() {}
    });
    let c = cfg(port);
    let pool = ConnectionPool::new(&c);
    let conn = pool.get(&addr(port), None, Purpose::Control).await.unwrap();
    let e = conn.send(&MetadataRequest::default()).await.unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::RequestTimeout);
    // Checked at once, with no yield in between: a retry must get a new connection.
    assert!(conn.is_closed());
    server.abort();
}

#[tokio::test]
async fn reset_mid_request_is_retriable_and_says_it_was_sent() {
    let (l, port) = peer().await;
    tokio::spawn(async move {
        let mut s = accept_and_handshake(&l).await;
        let _ = read_request(&mut s).await;
        drop(s); // connection reset while the request is in flight
    });
    let c = cfg(port);
    let conn =
        BrokerConnection::connect(&addr(port), Some(7), &ConnectionConfig::from_client(&c, 5))
            .await
            .unwrap();
    let e = conn.send(&MetadataRequest::default()).await.unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Disconnected { sent: true });
    assert!(e.is_retriable());
    assert_eq!(e.broker(), Some("7"));
    assert_eq!(e.api(), Some("Metadata"));
}

#[tokio::test]
async fn hostile_frame_size_is_an_error_not_an_allocation() {
    let (l, port) = peer().await;
    tokio::spawn(async move {
        let mut s = accept_and_handshake(&l).await;
        let _ = read_request(&mut s).await;
        s.write_all(&[0x7f, 0xff, 0xff, 0xff]).await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let c = cfg(port);
    let conn = BrokerConnection::connect(&addr(port), None, &ConnectionConfig::from_client(&c, 5))
        .await
        .unwrap();
    let e = conn.send(&MetadataRequest::default()).await.unwrap_err();
    assert!(e.to_string().contains("exceeds the maximum"), "{e}");
}

#[tokio::test]
async fn silent_handshake_fails_within_setup_timeout_then_backs_off() {
    let (l, port) = peer().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s); // accept, never answer
        }
    });
    let c = cfg(port);
    let pool = ConnectionPool::new(&c);
    let t0 = std::time::Instant::now();
    let e = pool
        .get(&addr(port), None, Purpose::Control)
        .await
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Connect);
    assert!(e.is_retriable());
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn in_flight_requests_are_bounded_and_answered_in_order() {
    let (l, port) = peer().await;
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut s = accept_and_handshake(&l).await;
        let mut queue = Vec::new();
        // Collect requests until none arrives for 100 ms; report how many were in flight.
        loop {
            match tokio::time::timeout(Duration::from_millis(100), read_request(&mut s)).await {
                Ok(Some(id)) => queue.push(id),
                Ok(None) => return,
                Err(_) => {
                    let _ = seen_tx.send(queue.len());
                    for id in queue.drain(..) {
                        s.write_all(&metadata_response(id)).await.unwrap();
                    }
                }
            }
        }
    });
    let c = cfg(port);
    let conn = BrokerConnection::connect(&addr(port), None, &ConnectionConfig::from_client(&c, 3))
        .await
        .unwrap();
    let futs: Vec<_> = (0..7)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.send(&MetadataRequest::default()).await })
        })
        .collect();
    for f in futs {
        f.await.unwrap().unwrap();
    }
    let mut max = 0;
    while let Ok(n) = seen_rx.try_recv() {
        max = max.max(n);
    }
    assert_eq!(max, 3, "the peer saw {max} requests in flight at once");
}

#[tokio::test]
async fn close_all_closes_idle_sockets_and_refuses_new_connections() {
    // Issue #30: a closed client whose handle lived on kept its sockets open, since the pool
    // holds a handle of every connection.
    let (l, port) = peer().await;
    let c = cfg(port);
    let pool = ConnectionPool::new(&c);
    let accept = async {
        let mut s = accept_and_handshake(&l).await;
        // EOF once the pool let go of its only handle; nothing else is ever sent.
        let eof = tokio::time::timeout(Duration::from_secs(5), read_request(&mut s)).await;
        assert_eq!(eof.ok(), Some(None), "the socket closed after close_all");
    };
    let client = async {
        let conn = pool.get(&addr(port), None, Purpose::Control).await.unwrap();
        drop(conn);
        assert!(!pool.is_closed());
        pool.close_all();
        assert!(pool.is_closed());
    };
    tokio::join!(accept, client);
    let e = pool
        .get(&addr(port), None, Purpose::Control)
        .await
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Closed);
    // Refused before connecting: the listener sees no new connection.
    let next = tokio::time::timeout(Duration::from_millis(200), l.accept()).await;
    assert!(next.is_err(), "no connect after close_all");
}

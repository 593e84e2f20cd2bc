//! Hostile request bodies over TCP: counts and lengths no body can back, and truncations at
//! every byte. Each closes its own connection; the process lives (no allocation of the size a
//! count claims: this binary's allocator records the largest single allocation), and a fresh
//! connection is still answered.

use bytes::{BufMut, Bytes, BytesMut};
use ferrokafka_mock::{MockCluster, MockConfig};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, ProduceRequest, RequestHeader, ResponseHeader,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The system allocator, recording the largest single allocation asked of it.
struct Recording;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// No request here is over a few hundred bytes: nothing in the process may ask for more than
/// this at once (the mock's read buffer is 64 KiB).
const LARGEST_ALLOWED: usize = 4 << 20;

fn assert_no_large_allocation() {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= LARGEST_ALLOWED,
        "an allocation of {largest} bytes"
    );
}

/// A request frame: size, header (client id "hostile"), then `body` as given.
fn frame(key: ApiKey, version: i16, correlation: i32, body: &[u8]) -> Bytes {
    let mut msg = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation)
        .with_client_id(Some(StrBytes::from_static_str("hostile")))
        .encode(&mut msg, key.request_header_version(version))
        .expect("header");
    msg.extend_from_slice(body);
    let mut out = BytesMut::new();
    out.put_i32(msg.len() as i32);
    out.extend_from_slice(&msg);
    out.freeze()
}

fn encode<R: Encodable>(req: &R, version: i16) -> Vec<u8> {
    let mut out = BytesMut::new();
    req.encode(&mut out, version).expect("body");
    out.to_vec()
}

/// Sends one frame on a new connection; `None`: the mock closed the connection.
async fn send(cluster: &MockCluster, frame: &[u8]) -> Option<Bytes> {
    let mut conn = TcpStream::connect(cluster.broker_addrs()[0])
        .await
        .expect("connect");
    conn.write_all(frame).await.expect("write");
    let read = async {
        let size = conn.read_i32().await.ok()?;
        let mut buf = vec![0u8; usize::try_from(size).ok()?];
        conn.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("an answer or a close within 5 s")
}

/// A fresh connection still gets Metadata v12 answered.
async fn metadata_is_answered(cluster: &MockCluster) {
    let body = encode(&MetadataRequest::default().with_topics(None), 12);
    let mut resp = send(cluster, &frame(ApiKey::Metadata, 12, 99, &body))
        .await
        .expect("Metadata answered");
    let header = ResponseHeader::decode(&mut resp, ApiKey::Metadata.response_header_version(12))
        .expect("response header");
    assert_eq!(header.correlation_id, 99);
    let meta = MetadataResponse::decode(&mut resp, 12).expect("Metadata response");
    assert_eq!(meta.brokers.len(), 1);
}

#[tokio::test]
async fn metadata_with_a_huge_topic_count_closes_only_its_connection() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    // v12 (flexible): topics is a compact array, uvarint count + 1 = 0x80000000.
    let body = [0x80, 0x80, 0x80, 0x80, 0x08, 1, 0, 0];
    assert!(send(&cluster, &frame(ApiKey::Metadata, 12, 1, &body))
        .await
        .is_none());
    // v1: an int32 count.
    let body = [0x7f, 0xff, 0xff, 0xff];
    assert!(send(&cluster, &frame(ApiKey::Metadata, 1, 2, &body))
        .await
        .is_none());
    metadata_is_answered(&cluster).await;
    assert_no_large_allocation();
}

#[tokio::test]
async fn produce_with_a_huge_topic_data_count_closes_only_its_connection() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    // v3: null transactional id, acks 1, timeout 30 s, topic_data count 0x7fffffff.
    let body = [0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0x7f, 0xff, 0xff, 0xff];
    assert!(send(&cluster, &frame(ApiKey::Produce, 3, 1, &body))
        .await
        .is_none());
    // v9: the same count, compact.
    let body = [0, 0, 1, 0, 0, 0x75, 0x30, 0x80, 0x80, 0x80, 0x80, 0x08, 0];
    assert!(send(&cluster, &frame(ApiKey::Produce, 9, 2, &body))
        .await
        .is_none());
    metadata_is_answered(&cluster).await;
    assert_no_large_allocation();
}

#[tokio::test]
async fn truncations_at_every_byte_close_the_connection_without_large_allocations() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    cluster.create_topic("orders", 1).expect("topic");
    let metadata = MetadataRequest::default().with_topics(Some(vec![
        kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
            .with_name(Some(TopicName(StrBytes::from_static_str("orders")))),
    ]));
    let produce = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("orders")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from_static(&[0xee; 61])))])]);
    let cases = [
        (ApiKey::Metadata, 12, encode(&metadata, 12)),
        (ApiKey::Metadata, 4, encode(&metadata, 4)),
        (ApiKey::Produce, 9, encode(&produce, 9)),
        (ApiKey::Produce, 3, encode(&produce, 3)),
    ];
    for (key, version, body) in cases {
        for cut in 0..body.len() {
            let answer = send(&cluster, &frame(key, version, 7, &body[..cut])).await;
            assert!(
                answer.is_none(),
                "{key:?} v{version} cut at {cut}: answered"
            );
        }
    }
    metadata_is_answered(&cluster).await;
    assert_no_large_allocation();
}

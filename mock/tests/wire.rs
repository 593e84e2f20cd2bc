//! The mock at the byte level: bad input closes one connection and nothing else; versions it
//! does not serve; acks=0.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferrokafka_mock::{MockCluster, MockConfig};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(cluster: &MockCluster) -> TcpStream {
    TcpStream::connect(cluster.broker_addrs()[0])
        .await
        .expect("connect")
}

fn frame<R: Encodable>(key: ApiKey, version: i16, correlation: i32, req: &R) -> Bytes {
    let mut body = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation)
        .with_client_id(Some(StrBytes::from_static_str("wire-test")))
        .encode(&mut body, key.request_header_version(version))
        .expect("header");
    req.encode(&mut body, version).expect("body");
    let mut out = BytesMut::new();
    out.put_i32(body.len() as i32);
    out.extend_from_slice(&body);
    out.freeze()
}

/// Reads one response; `None` when the connection was closed.
async fn read_response(conn: &mut TcpStream) -> Option<Bytes> {
    let size = tokio::time::timeout(Duration::from_secs(5), conn.read_i32())
        .await
        .expect("an answer or a close within 5 s")
        .ok()?;
    let mut buf = vec![0u8; size as usize];
    conn.read_exact(&mut buf).await.ok()?;
    Some(Bytes::from(buf))
}

async fn call<Req: Encodable, Resp: Decodable>(
    conn: &mut TcpStream,
    key: ApiKey,
    version: i16,
    correlation: i32,
    req: &Req,
) -> Resp {
    conn.write_all(&frame(key, version, correlation, req))
        .await
        .expect("write");
    let mut resp = read_response(conn).await.expect("a response");
    let header = ResponseHeader::decode(&mut resp, key.response_header_version(version))
        .expect("response header");
    assert_eq!(header.correlation_id, correlation);
    Resp::decode(&mut resp, version).expect("response body")
}

#[tokio::test]
async fn malformed_requests_close_only_their_connection() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    // A Metadata v12 header followed by a body cut short.
    let mut conn = connect(&cluster).await;
    let full = frame(
        ApiKey::Metadata,
        12,
        1,
        &MetadataRequest::default().with_topics(None),
    );
    let mut cut = BytesMut::new();
    cut.put_i32(full.len() as i32 - 4 - 2);
    cut.extend_from_slice(&full[4..full.len() - 2]);
    conn.write_all(&cut).await.expect("write");
    assert!(
        read_response(&mut conn).await.is_none(),
        "connection closed"
    );

    // A negative frame size and an absurd one.
    for size in [-5i32, i32::MAX] {
        let mut conn = connect(&cluster).await;
        conn.write_all(&size.to_be_bytes()).await.expect("write");
        assert!(
            read_response(&mut conn).await.is_none(),
            "size {size}: closed"
        );
    }
    // An unknown API key.
    let mut conn = connect(&cluster).await;
    let mut raw = BytesMut::new();
    raw.put_i32(10);
    raw.put_i16(9999);
    raw.put_i16(0);
    raw.put_i32(7);
    raw.put_i16(-1);
    conn.write_all(&raw).await.expect("write");
    assert!(
        read_response(&mut conn).await.is_none(),
        "unknown key: closed"
    );

    // The cluster still serves a new connection.
    let mut conn = connect(&cluster).await;
    let resp: MetadataResponse = call(
        &mut conn,
        ApiKey::Metadata,
        12,
        2,
        &MetadataRequest::default().with_topics(None),
    )
    .await;
    assert_eq!(resp.brokers.len(), 1);
}

#[tokio::test]
async fn an_api_versions_request_too_new_gets_v0_unsupported_version() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    let mut conn = connect(&cluster).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::ApiVersions as i16);
    body.put_i16(99);
    body.put_i32(5);
    body.put_i16(-1); // client id null
    body.put_u8(0); // tagged fields of a v2 header
    let mut raw = BytesMut::new();
    raw.put_i32(body.len() as i32);
    raw.extend_from_slice(&body);
    conn.write_all(&raw).await.expect("write");
    let mut resp = read_response(&mut conn).await.expect("answered");
    assert_eq!(resp.get_i32(), 5, "correlation id");
    let v = ApiVersionsResponse::decode(&mut resp, 0).expect("v0 body");
    assert_eq!(v.error_code, 35, "UNSUPPORTED_VERSION");
    assert!(v
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::ApiVersions as i16 && k.max_version == 3));

    // A served version on the same connection afterwards.
    let ok: ApiVersionsResponse = call(
        &mut conn,
        ApiKey::ApiVersions,
        3,
        6,
        &ApiVersionsRequest::default(),
    )
    .await;
    assert_eq!(ok.error_code, 0);
}

fn produce(records: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])])
}

/// One uncompressed batch with one record, its CRC right or wrong.
fn one_record_batch(good_crc: bool) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i64(0);
    b.put_i32(0);
    b.put_i32(-1);
    b.put_i8(2);
    b.put_u32(0);
    b.put_i16(0);
    b.put_i32(0);
    b.put_i64(1);
    b.put_i64(1);
    b.put_i64(-1);
    b.put_i16(-1);
    b.put_i32(-1);
    b.put_i32(1);
    // record: length 7, attributes, ts delta 0, offset delta 0, key null (-1 → 1), value len 1, 'x', 0 headers
    b.extend_from_slice(&[14, 0, 0, 0, 1, 2, b'x', 0]);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let mut crc = crc32c::crc32c(&b[21..]);
    if !good_crc {
        crc ^= 1;
    }
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

#[tokio::test]
async fn produce_checks_crc_and_acks_zero_gets_no_answer() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    cluster.create_topic("t", 1).expect("topic");
    let mut conn = connect(&cluster).await;
    let bad: ProduceResponse = call(
        &mut conn,
        ApiKey::Produce,
        9,
        1,
        &produce(one_record_batch(false), -1),
    )
    .await;
    assert_eq!(
        bad.responses[0].partition_responses[0].error_code, 2,
        "CORRUPT_MESSAGE"
    );
    assert_eq!(cluster.high_watermark("t", 0), Some(0), "nothing written");

    // acks=0: no response; the next request's answer is the next thing on the wire.
    conn.write_all(&frame(
        ApiKey::Produce,
        9,
        2,
        &produce(one_record_batch(true), 0),
    ))
    .await
    .expect("write");
    let ok: ProduceResponse = call(
        &mut conn,
        ApiKey::Produce,
        9,
        3,
        &produce(one_record_batch(true), 1),
    )
    .await;
    let p = &ok.responses[0].partition_responses[0];
    assert_eq!(
        (p.error_code, p.base_offset),
        (0, 1),
        "the acks=0 record took offset 0"
    );
    assert_eq!(cluster.high_watermark("t", 0), Some(2));
}

/// `one_record_batch` as producer `pid` at epoch 0 writes it with sequence `seq`.
fn idempotent_batch(pid: i64, seq: i32) -> Bytes {
    let mut b = BytesMut::from(&one_record_batch(true)[..]);
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&0i16.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

/// Producer 4242's batch with sequence `seq`: (error code, log start offset) of the answer.
async fn send(conn: &mut TcpStream, correlation: i32, seq: i32) -> (i16, i64) {
    let req = produce(idempotent_batch(4242, seq), -1);
    let r: ProduceResponse = call(conn, ApiKey::Produce, 9, correlation, &req).await;
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.log_start_offset)
}

#[tokio::test]
async fn sequence_errors_report_the_log_start_offset() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    cluster.create_topic("t", 1).expect("topic");
    let mut conn = connect(&cluster).await;
    assert_eq!(send(&mut conn, 1, 0).await, (0, 0));
    // A gap: OUT_OF_ORDER_SEQUENCE_NUMBER, with the log start (0), not -1.
    assert_eq!(send(&mut conn, 2, 5).await, (45, 0));
    cluster.fail_next(ferrokafka_mock::ApiKey::Produce, 1, 59);
    assert_eq!(send(&mut conn, 3, 1).await, (59, 0), "UNKNOWN_PRODUCER_ID");
    assert_eq!(send(&mut conn, 4, 1).await, (0, 0));
}

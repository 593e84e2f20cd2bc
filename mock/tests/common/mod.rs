//! Raw-request helpers shared by the byte-level test files (`groups_wire.rs`, `faults_wire.rs`).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The client id every request of these helpers carries (the request log shows it).
pub const CLIENT_ID: &str = "wire";

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Sends `req` at `version` and decodes the answer; panics (naming the API and version) if the
/// connection closes or the answer does not decode within 5 s.
pub async fn call<Req: Encodable, Resp: Decodable>(
    conn: &mut TcpStream,
    key: ApiKey,
    version: i16,
    req: &Req,
) -> Resp {
    let mut body = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(s(CLIENT_ID)))
        .encode(&mut body, key.request_header_version(version))
        .expect("header");
    req.encode(&mut body, version).expect("body");
    let mut out = BytesMut::new();
    out.put_i32(body.len() as i32);
    out.extend_from_slice(&body);
    conn.write_all(&out).await.expect("write");
    let size = tokio::time::timeout(Duration::from_secs(5), conn.read_i32())
        .await
        .expect("answered within 5 s")
        .unwrap_or_else(|e| panic!("{key:?} v{version}: connection closed: {e}"));
    let mut buf = vec![0u8; size as usize];
    conn.read_exact(&mut buf).await.expect("read");
    let mut resp = Bytes::from(buf);
    let header = ResponseHeader::decode(&mut resp, key.response_header_version(version))
        .expect("response header");
    assert_eq!(header.correlation_id, 7);
    Resp::decode(&mut resp, version).unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"))
}

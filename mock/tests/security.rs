//! SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS listeners, driven by the ferrokafka client:
//! records produced and consumed through each, a wrong password and a mechanism the listener
//! does not enable failing fast with the client's typed error, and the authentication state
//! machine at the byte level (a request before authenticating closes the connection, SASL
//! requests out of place answer ILLEGAL_SASL_STATE, SaslHandshake v0's raw tokens).

mod common;

use common::{call, s};
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use ferrokafka::ErrorKind;
use ferrokafka_mock::{MockCluster, MockConfig, SecurityProtocol};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Encodable;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const N: u64 = 100;

async fn cluster(protocol: SecurityProtocol) -> MockCluster {
    MockCluster::start(
        MockConfig::default()
            .security_protocol(protocol)
            .sasl_user("alice", "alice-secret")
            .sasl_user("bob", "bob-secret"),
    )
    .await
    .expect("mock cluster")
}

/// Client properties for `cluster` with `extra` (SASL and TLS settings) and short timeouts.
fn props(cluster: &MockCluster, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p = vec![
        ("bootstrap.servers".to_owned(), cluster.bootstrap()),
        (
            "security.protocol".to_owned(),
            cluster.security_protocol().name().to_owned(),
        ),
        ("request.timeout.ms".to_owned(), "10000".to_owned()),
        ("reconnect.backoff.max.ms".to_owned(), "500".to_owned()),
    ];
    p.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    p
}

fn sasl<'a>(mechanism: &'a str, user: &'a str, password: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("sasl.mechanism", mechanism),
        ("sasl.username", user),
        ("sasl.password", password),
    ]
}

fn producer(p: &[(String, String)]) -> Producer {
    Producer::new(
        ProducerConfig::from_properties(p.iter().map(|(a, b)| (a.as_str(), b.as_str())))
            .expect("producer config"),
    )
    .expect("producer")
}

/// Produces `N` records to a new 2-partition topic and reads every one back.
async fn round_trip(cluster: &MockCluster, p: &[(String, String)], topic: &str) {
    cluster.create_topic(topic, 2).expect("topic");
    let prod = producer(p);
    let mut pending = Vec::new();
    for i in 0..N {
        let rec = ProducerRecord::new(topic)
            .key(format!("k{}", i % 7))
            .value(i.to_be_bytes().to_vec());
        pending.push(prod.send(rec).await.expect("buffered"));
    }
    for d in pending {
        d.await
            .unwrap_or_else(|e| panic!("{topic}: delivery failed: {e}"));
    }
    prod.close(Duration::from_secs(5)).await.expect("close");
    let hw = (0..2)
        .map(|p| cluster.high_watermark(topic, p).expect("partition"))
        .sum::<i64>();
    assert_eq!(hw, N as i64, "{topic}: records stored");

    let c = Consumer::new(
        ConsumerConfig::from_properties(
            p.iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .chain([("auto.offset.reset", "earliest")]),
        )
        .expect("consumer config"),
    )
    .expect("consumer");
    c.assign(&[TopicPartition::new(topic, 0), TopicPartition::new(topic, 1)])
        .expect("assign");
    let mut seen = vec![false; N as usize];
    let mut count = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while count < N {
        assert!(
            Instant::now() < deadline,
            "{topic}: {count} of {N} consumed"
        );
        for r in c.poll(Duration::from_millis(200)).await.expect("poll") {
            let v = r.value.as_ref().expect("value");
            let i = u64::from_be_bytes(v[..8].try_into().expect("8 bytes")) as usize;
            assert!(!seen[i], "{topic}: record {i} twice");
            seen[i] = true;
            count += 1;
        }
    }
    c.close().await.expect("close consumer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_round_trips_with_plain_and_both_scram_hashes() {
    let cluster = cluster(SecurityProtocol::SaslPlaintext).await;
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let p = props(&cluster, &sasl(mechanism, "alice", "alice-secret"));
        round_trip(&cluster, &p, &format!("sasl-{mechanism}")).await;
    }
}

#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_round_trip_trusting_the_generated_ca_from_a_file() {
    let cluster = cluster(SecurityProtocol::Ssl).await;
    let dir = std::env::temp_dir().join(format!("ferrokafka-mock-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("ca.pem");
    cluster.write_ca_certificate(&ca).expect("CA written");
    let ca = ca.display().to_string();
    let p = props(&cluster, &[("ssl.ca.location", ca.as_str())]);
    round_trip(&cluster, &p, "ssl").await;
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_scram_sha_512_round_trip_trusting_the_generated_ca() {
    let cluster = cluster(SecurityProtocol::SaslSsl).await;
    let ca = cluster.ca_certificate_pem().expect("a generated CA");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let mut extra = sasl("SCRAM-SHA-512", "bob", "bob-secret").to_vec();
    extra.push(("ssl.ca.pem", ca));
    round_trip(&cluster, &props(&cluster, &extra), "sasl-ssl").await;
}

/// The first send's error: the producer fails it rather than retrying.
async fn send_error(p: &[(String, String)]) -> (ferrokafka::Error, Duration) {
    let prod = producer(p);
    let started = Instant::now();
    let r = match prod.send(ProducerRecord::new("denied").value("x")).await {
        Err(e) => Err(e.error),
        Ok(f) => f.await.map(drop).map_err(|e| e.error),
    };
    (r.expect_err("must fail"), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_fatal_typed_error_with_the_brokers_message() {
    let cluster = cluster(SecurityProtocol::SaslPlaintext).await;
    for (mechanism, said) in [
        (
            "PLAIN",
            "Authentication failed: Invalid username or password",
        ),
        (
            "SCRAM-SHA-256",
            "due to invalid credentials with SASL mechanism SCRAM-SHA-256",
        ),
        (
            "SCRAM-SHA-512",
            "due to invalid credentials with SASL mechanism SCRAM-SHA-512",
        ),
    ] {
        let p = props(&cluster, &sasl(mechanism, "alice", "not-the-password"));
        let (e, took) = send_error(&p).await;
        assert!(
            matches!(e.kind(), ErrorKind::SaslAuthenticationFailed { .. }),
            "{mechanism}: {e}"
        );
        assert!(e.is_fatal() && !e.is_retriable(), "{mechanism}: {e}");
        assert!(
            e.broker_message().is_some_and(|m| m.contains(said)),
            "{mechanism}: {e}"
        );
        assert!(!e.to_string().contains("not-the-password"), "{e}");
        assert!(took < Duration::from_secs(5), "{mechanism}: after {took:?}");
    }
    // An unknown user is told the same as a wrong password.
    let p = props(&cluster, &sasl("SCRAM-SHA-256", "mallory", "x"));
    let (e, _) = send_error(&p).await;
    assert!(
        e.broker_message()
            .is_some_and(|m| m.contains("invalid credentials")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mechanism_the_listener_does_not_enable_names_the_enabled_ones() {
    let cluster = MockCluster::start(
        MockConfig::default()
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .sasl_mechanisms(&["SCRAM-SHA-512"])
            .sasl_user("alice", "alice-secret"),
    )
    .await
    .expect("mock");
    let p = props(&cluster, &sasl("PLAIN", "alice", "alice-secret"));
    let (e, took) = send_error(&p).await;
    assert!(
        matches!(e.kind(), ErrorKind::SaslAuthenticationFailed { .. }),
        "{e}"
    );
    assert!(e.is_fatal(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("does not enable PLAIN") && text.contains("SCRAM-SHA-512"),
        "{text}"
    );
    assert!(took < Duration::from_secs(5), "after {took:?}");
    assert!(
        MockCluster::start(MockConfig::default().sasl_mechanisms(&["GSSAPI"]))
            .await
            .is_err(),
        "a mechanism the mock does not serve is a configuration error"
    );
}

/// Whether the broker closed the connection (EOF or reset) within 2 s, without answering.
async fn closed_without_answer(conn: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

fn metadata() -> MetadataRequest {
    MetadataRequest::default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_before_authentication_close_the_connection() {
    let cluster = cluster(SecurityProtocol::SaslPlaintext).await;
    let addr = cluster.broker_addrs()[0];

    // Metadata first: closed, no answer (Kafka: "Unexpected Kafka request … during SASL handshake").
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    send(&mut conn, ApiKey::Metadata, 12, &metadata()).await;
    assert!(closed_without_answer(&mut conn).await);

    // ApiVersions is answered (SASL APIs listed), then Metadata still closes the connection.
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let v: ApiVersionsResponse = call(
        &mut conn,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default(),
    )
    .await;
    for key in [ApiKey::SaslHandshake, ApiKey::SaslAuthenticate] {
        assert!(
            v.api_keys.iter().any(|k| k.api_key == key as i16),
            "{key:?}"
        );
    }
    send(&mut conn, ApiKey::Metadata, 12, &metadata()).await;
    assert!(closed_without_answer(&mut conn).await);

    // SaslAuthenticate before SaslHandshake: closed.
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    send(
        &mut conn,
        ApiKey::SaslAuthenticate,
        2,
        &auth(b"\0alice\0alice-secret"),
    )
    .await;
    assert!(closed_without_answer(&mut conn).await);

    // An unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled ones, then closed.
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let h: SaslHandshakeResponse =
        call(&mut conn, ApiKey::SaslHandshake, 1, &handshake("GSSAPI")).await;
    assert_eq!(h.error_code, 33);
    let names: Vec<&str> = h.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(names, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    assert!(closed_without_answer(&mut conn).await);

    // A wrong password: SASL_AUTHENTICATION_FAILED with a message, then closed.
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let h: SaslHandshakeResponse =
        call(&mut conn, ApiKey::SaslHandshake, 1, &handshake("PLAIN")).await;
    assert_eq!(h.error_code, 0);
    let a: SaslAuthenticateResponse = call(
        &mut conn,
        ApiKey::SaslAuthenticate,
        2,
        &auth(b"\0alice\0nope"),
    )
    .await;
    assert_eq!(a.error_code, 58);
    assert!(a
        .error_message
        .is_some_and(|m| m.contains("Invalid username or password")));
    assert!(closed_without_answer(&mut conn).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_requests_out_of_place_are_illegal_sasl_state_and_v0_uses_raw_tokens() {
    // Authenticated (framed): a second SaslHandshake or SaslAuthenticate is ILLEGAL_SASL_STATE.
    let cluster = cluster(SecurityProtocol::SaslPlaintext).await;
    let addr = cluster.broker_addrs()[0];
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let h: SaslHandshakeResponse =
        call(&mut conn, ApiKey::SaslHandshake, 1, &handshake("PLAIN")).await;
    assert_eq!(h.error_code, 0);
    let a: SaslAuthenticateResponse = call(
        &mut conn,
        ApiKey::SaslAuthenticate,
        1,
        &auth(b"\0alice\0alice-secret"),
    )
    .await;
    assert_eq!(a.error_code, 0);
    let h: SaslHandshakeResponse =
        call(&mut conn, ApiKey::SaslHandshake, 1, &handshake("PLAIN")).await;
    assert_eq!(h.error_code, 34);
    let a: SaslAuthenticateResponse =
        call(&mut conn, ApiKey::SaslAuthenticate, 0, &auth(b"x")).await;
    assert_eq!(a.error_code, 34);
    let m: MetadataResponse = call(&mut conn, ApiKey::Metadata, 12, &metadata()).await;
    assert_eq!(m.brokers.len(), 1);

    // SaslHandshake v0: the PLAIN token goes raw (size + bytes) and is answered raw (empty).
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let h: SaslHandshakeResponse =
        call(&mut conn, ApiKey::SaslHandshake, 0, &handshake("PLAIN")).await;
    assert_eq!(h.error_code, 0);
    let token = b"\0bob\0bob-secret";
    conn.write_all(&(token.len() as i32).to_be_bytes())
        .await
        .expect("write");
    conn.write_all(token).await.expect("write");
    let answered = tokio::time::timeout(Duration::from_secs(2), conn.read_i32()).await;
    assert_eq!(answered.expect("answered").expect("size"), 0);
    let m: MetadataResponse = call(&mut conn, ApiKey::Metadata, 12, &metadata()).await;
    assert_eq!(m.brokers.len(), 1);

    // A PLAINTEXT listener advertises both APIs and answers them ILLEGAL_SASL_STATE.
    let plain = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    let mut conn = TcpStream::connect(plain.broker_addrs()[0])
        .await
        .expect("connect");
    let h: SaslHandshakeResponse =
        call(&mut conn, ApiKey::SaslHandshake, 1, &handshake("PLAIN")).await;
    assert_eq!(h.error_code, 34);
}

/// KIP-368: SaslAuthenticate v1+ tells the session's lifetime; a request after it closes the
/// connection; a re-authentication in place (same mechanism) renews it; a client producing
/// across several lifetimes loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_connections_max_reauth_unless_renewed_in_place() {
    let cluster = MockCluster::start(
        MockConfig::default()
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .sasl_user("alice", "alice-secret")
            .connections_max_reauth(Duration::from_millis(400)),
    )
    .await
    .expect("mock");
    let addr = cluster.broker_addrs()[0];
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let h: SaslHandshakeResponse =
        call(&mut conn, ApiKey::SaslHandshake, 1, &handshake("PLAIN")).await;
    assert_eq!(h.error_code, 0);
    let a: SaslAuthenticateResponse = call(
        &mut conn,
        ApiKey::SaslAuthenticate,
        2,
        &auth(b"\0alice\0alice-secret"),
    )
    .await;
    assert_eq!((a.error_code, a.session_lifetime_ms), (0, 400));
    // Renewed in place before the end.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let h: SaslHandshakeResponse =
        call(&mut conn, ApiKey::SaslHandshake, 1, &handshake("PLAIN")).await;
    assert_eq!(h.error_code, 0);
    let a: SaslAuthenticateResponse = call(
        &mut conn,
        ApiKey::SaslAuthenticate,
        2,
        &auth(b"\0alice\0alice-secret"),
    )
    .await;
    assert_eq!((a.error_code, a.session_lifetime_ms), (0, 400));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let m: MetadataResponse = call(&mut conn, ApiKey::Metadata, 12, &metadata()).await;
    assert_eq!(
        m.brokers.len(),
        1,
        "500 ms after the first login, 250 after the renewal"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut conn, ApiKey::Metadata, 12, &metadata()).await;
    assert!(
        closed_without_answer(&mut conn).await,
        "the renewed session ended too"
    );

    let p = props(
        &cluster,
        &[
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
            ("linger.ms", "20"),
        ],
    );
    cluster.create_topic("reauth", 1).expect("topic");
    let prod = producer(&p);
    let started = Instant::now();
    let mut n = 0i64;
    while started.elapsed() < Duration::from_millis(2_000) {
        let f = prod
            .send(ProducerRecord::new("reauth").value("x"))
            .await
            .expect("buffered");
        f.await.unwrap_or_else(|e| panic!("record {n}: {e}"));
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cluster.high_watermark("reauth", 0), Some(n));
}

/// Hostile input before and during authentication: random SaslAuthenticate tokens for every
/// mechanism (framed and raw), random frames instead of the handshake, and a frame above
/// `sasl.server.max.receive.size`; each is refused on its connection (an error answer, or the
/// connection closed) and the broker goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sasl_input_fails_its_connection_only() {
    let cluster = MockCluster::start(
        MockConfig::default()
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .sasl_mechanisms(&ferrokafka_mock::SASL_MECHANISMS)
            .sasl_user("alice", "alice-secret"),
    )
    .await
    .expect("mock");
    let addr = cluster.broker_addrs()[0];
    let mut rng = fastrand::Rng::with_seed(28);
    for round in 0..60 {
        let mechanism = ferrokafka_mock::SASL_MECHANISMS[round % 4];
        let token: Vec<u8> = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect();
        let mut conn = TcpStream::connect(addr).await.expect("connect");
        let framed = round % 3 != 0;
        let version = if framed { 1 } else { 0 };
        let h: SaslHandshakeResponse = call(
            &mut conn,
            ApiKey::SaslHandshake,
            version,
            &handshake(mechanism),
        )
        .await;
        assert_eq!(h.error_code, 0);
        if framed {
            send(&mut conn, ApiKey::SaslAuthenticate, 2, &auth(&token)).await;
        } else {
            conn.write_all(&(token.len() as i32).to_be_bytes())
                .await
                .expect("write");
            conn.write_all(&token).await.expect("write");
        }
        // Whatever the answer (an error, a SCRAM server-first or OAUTHBEARER challenge for a
        // token that happens to parse, nothing), the connection is not authenticated: Metadata
        // next closes it unless the exchange is still going (then it is out of place: closed).
        send(&mut conn, ApiKey::Metadata, 12, &metadata()).await;
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), conn.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "round {round}: the connection stayed open");
    }
    for round in 0..40 {
        let mut conn = TcpStream::connect(addr).await.expect("connect");
        let mut frame: Vec<u8> = (0..rng.usize(8..200)).map(|_| rng.u8(..)).collect();
        frame[0] = 0; // a known API key (0..=127), so the gate decides, not the key lookup
        let mut out = (frame.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&frame);
        conn.write_all(&out).await.expect("write");
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), conn.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "random frame {round}: the connection stayed open"
        );
    }
    // Above 512 KiB before authentication: closed before the frame is read.
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    conn.write_all(&(600_000i32).to_be_bytes())
        .await
        .expect("write");
    assert!(closed_without_answer(&mut conn).await);
    // The broker still authenticates and serves.
    let p = props(&cluster, &sasl("SCRAM-SHA-256", "alice", "alice-secret"));
    round_trip(&cluster, &p, "after-hostile-input").await;
}

fn handshake(mechanism: &str) -> SaslHandshakeRequest {
    SaslHandshakeRequest::default().with_mechanism(s(mechanism))
}

fn auth(token: &[u8]) -> SaslAuthenticateRequest {
    SaslAuthenticateRequest::default().with_auth_bytes(bytes::Bytes::copy_from_slice(token))
}

/// Sends a request without waiting for an answer.
async fn send<R: Encodable>(conn: &mut TcpStream, key: ApiKey, version: i16, req: &R) {
    let mut body = bytes::BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(3)
        .encode(&mut body, key.request_header_version(version))
        .expect("header");
    req.encode(&mut body, version).expect("body");
    conn.write_all(&(body.len() as i32).to_be_bytes())
        .await
        .expect("write");
    conn.write_all(&body).await.expect("write");
}

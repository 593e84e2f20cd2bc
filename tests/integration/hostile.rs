//! Hostile and broken brokers (issue #12): every client pointed at a port that is not a Kafka
//! broker fails with one readable `Display` line that names the broker and says what is wrong,
//! within `default.api.timeout.ms` (admin, consumer) or `delivery.timeout.ms` (producer).
//!
//! The endpoints are small tokio servers started inside the test: they *are* the fault (a port
//! answering garbage, an HTTP server, a TLS listener, a blackhole), not a Kafka mock. The last
//! case is a real Kafka PLAINTEXT port spoken to with `security.protocol=SSL`.

use crate::support::{shared_bootstrap, LogBuf};
use ferrokafka::admin::AdminClient;
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Persistence, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use ferrokafka::{Error, ErrorClass, ErrorKind, TlsFailure};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `default.api.timeout.ms` and `delivery.timeout.ms` of these tests (instead of 60 s / 120 s).
const BUDGET_MS: u64 = 3_000;
/// Slack on top of the budget: these are correctness bounds (the call does end, and not long
/// after its timeout), not performance figures; the machine has two shared cores.
const SLACK: Duration = Duration::from_secs(5);

/// What the endpoint does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostile {
    /// Answers the first read with 256 pseudo-random bytes, then keeps reading.
    RandomBytes,
    /// Answers with a size prefix of 2 GB (`0x7fff_ffff`), then nothing.
    HugePrefix,
    /// Answers with a 100-byte size prefix, 10 bytes of it, then closes.
    TruncatedFrame,
    /// An HTTP/1.1 server: `400 Bad Request`, then closes.
    Http,
    /// A TLS listener (rustls, self-signed certificate).
    Tls,
    /// Accepts, reads, never answers, never closes.
    Blackhole,
}

impl Hostile {
    const ALL: [Hostile; 6] = [
        Hostile::RandomBytes,
        Hostile::HugePrefix,
        Hostile::TruncatedFrame,
        Hostile::Http,
        Hostile::Tls,
        Hostile::Blackhole,
    ];

    /// Substrings one of which the error's `Display` must contain: what is wrong, in words.
    fn says(self) -> &'static [&'static str] {
        match self {
            Hostile::RandomBytes => &["not a Kafka", "malformed", "frame"],
            Hostile::HugePrefix => &["2147483647 bytes", "receive.message.max.bytes"],
            Hostile::TruncatedFrame => &["closed the connection"],
            Hostile::Http => &["HTTP server"],
            Hostile::Tls => &["expects TLS"],
            Hostile::Blackhole => &["timed out"],
        }
    }
}

/// A hostile endpoint on 127.0.0.1; the server task ends with the runtime.
async fn serve(kind: Hostile) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr").to_string();
    let tls = (kind == Hostile::Tls).then(tls_acceptor);
    tokio::spawn(async move {
        // Each accepted socket is served on its own task; a failing one only ends itself.
        while let Ok((sock, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let _ = handle(kind, sock, tls).await;
            });
        }
    });
    addr
}

async fn handle(
    kind: Hostile,
    mut sock: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    if let Some(acceptor) = tls {
        // The plaintext client's ApiVersions fails the handshake; rustls then sends an alert,
        // which is what a Kafka SSL listener does too.
        let mut s = acceptor.accept(sock).await?;
        loop {
            if s.read(&mut buf).await? == 0 {
                return Ok(());
            }
        }
    }
    // Every case but the blackhole answers the client's first request (ApiVersions).
    if sock.read(&mut buf).await? == 0 {
        return Ok(());
    }
    match kind {
        Hostile::RandomBytes => {
            // Seeded, so a failure can be reproduced; the first four bytes make a negative
            // frame size, the rest is noise.
            let mut rng = fastrand::Rng::with_seed(12);
            let noise: Vec<u8> = (0..256).map(|_| rng.u8(..)).collect();
            sock.write_all(&noise).await?;
        }
        Hostile::HugePrefix => sock.write_all(&0x7fff_ffffu32.to_be_bytes()).await?,
        Hostile::TruncatedFrame => {
            sock.write_all(&100u32.to_be_bytes()).await?;
            sock.write_all(&[0u8; 10]).await?;
            sock.shutdown().await?;
            return Ok(());
        }
        Hostile::Http => {
            sock.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\
                  Connection: close\r\n\r\nBad Request",
            )
            .await?;
            sock.shutdown().await?;
            return Ok(());
        }
        Hostile::Blackhole | Hostile::Tls => {}
    }
    // Hold the connection open, reading whatever comes, until the client gives up.
    while sock.read(&mut buf).await? > 0 {}
    Ok(())
}

/// A rustls server configuration with a self-signed certificate for `localhost`.
fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    let cert = rustls_pki_types::CertificateDer::from(ck.cert.der().to_vec());
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(
        ck.signing_key.serialize_der(),
    ));
    // Deprecated in rustls 0.23.48 (no post-quantum key exchange); still the pure-Rust one.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// Properties every client of these tests shares: short timeouts and backoffs.
fn props(bootstrap: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let budget = BUDGET_MS.to_string();
    let p: Vec<(String, String)> = [
        ("bootstrap.servers", bootstrap),
        ("client.id", "ferrokafka-hostile"),
        ("request.timeout.ms", "1000"),
        ("socket.connection.setup.timeout.ms", "1000"),
        ("reconnect.backoff.ms", "50"),
        ("reconnect.backoff.max.ms", "500"),
        ("default.api.timeout.ms", budget.as_str()),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p
}

/// The error's `Display` is one readable line: no newline, no `Debug` braces, names the broker,
/// and says one of `says`.
fn assert_readable(line: &str, broker: &str, says: &[&str]) {
    assert!(!line.contains('\n'), "more than one line: {line:?}");
    assert!(
        !line.contains('{') && !line.contains('}'),
        "Debug braces: {line}"
    );
    assert!(line.contains(broker), "does not name {broker}: {line}");
    let lower = line.to_lowercase();
    assert!(
        says.iter().any(|s| lower.contains(&s.to_lowercase())),
        "says none of {says:?}: {line}"
    );
}

/// The classification a client hands out for each endpoint.
fn assert_classified(kind: Hostile, e: &Error) {
    if kind == Hostile::Tls {
        // Speaking plaintext to a TLS port cannot start working by retrying: fatal, typed.
        assert!(
            matches!(e.kind(), ErrorKind::Tls(TlsFailure::BrokerExpectsTls)),
            "{kind:?}: kind {:?}: {e}",
            e.kind()
        );
        assert_eq!(e.class(), ErrorClass::Fatal, "{kind:?}: {e}");
        assert!(e.is_authentication_failure(), "{e}");
    } else {
        // A wrong port is a connect failure the client keeps retrying (the port may turn into
        // a broker); the kind says no broker could be reached, not merely "timed out".
        assert!(
            matches!(e.kind(), ErrorKind::Connect | ErrorKind::NoBrokerAvailable),
            "{kind:?}: kind {:?}: {e}",
            e.kind()
        );
        assert!(e.is_retriable(), "{kind:?}: {e}");
        assert!(!e.is_fatal(), "{kind:?}: {e}");
    }
}

/// Admin: `list_topics` fails within `default.api.timeout.ms`.
async fn admin_fails(kind: Hostile, bootstrap: &str) -> (Error, Duration) {
    let cfg = ClientConfig::from_properties(props(bootstrap, &[])).expect("config");
    let admin = AdminClient::new(cfg);
    let started = Instant::now();
    let e = admin
        .list_topics()
        .await
        .expect_err("a hostile port lists no topics");
    let took = started.elapsed();
    println!("admin    {kind:?}: {took:.1?}: {e}");
    (e, took)
}

/// Producer: the delivery report says NotPersisted within `delivery.timeout.ms`.
async fn producer_fails(
    kind: Hostile,
    bootstrap: &str,
    extra: &[(&str, &str)],
) -> (Error, Duration) {
    let budget = BUDGET_MS.to_string();
    let mut x: Vec<(&str, &str)> = vec![
        ("delivery.timeout.ms", budget.as_str()),
        ("max.block.ms", budget.as_str()),
        ("linger.ms", "0"),
    ];
    x.extend_from_slice(extra);
    let cfg = ProducerConfig::from_properties(props(bootstrap, &x)).expect("config");
    let producer = Producer::new(cfg).expect("producer");
    let started = Instant::now();
    let outcome = match producer
        .send(ProducerRecord::new("hostile").value("v"))
        .await
    {
        Ok(delivery) => delivery.await,
        Err(e) => Err(e),
    };
    let took = started.elapsed();
    let e = outcome.expect_err("a hostile port persists nothing");
    println!("producer {kind:?}: {took:.1?}: {e}");
    assert_eq!(
        e.persistence,
        Persistence::NotPersisted,
        "{kind:?}: nothing reached a broker: {e}"
    );
    assert!(
        e.to_string().contains("not delivered"),
        "the report's own line: {e}"
    );
    let _ = producer.close(Duration::from_secs(1)).await;
    (e.error, took)
}

/// Consumer: `poll` returns the typed error within `default.api.timeout.ms`.
async fn consumer_fails(
    kind: Hostile,
    bootstrap: &str,
    extra: &[(&str, &str)],
) -> (Error, Duration) {
    let mut x: Vec<(&str, &str)> = vec![("enable.auto.commit", "false")];
    x.extend_from_slice(extra);
    let cfg = ConsumerConfig::from_properties(props(bootstrap, &x)).expect("config");
    let c = Consumer::new(cfg).expect("consumer");
    c.assign(&[TopicPartition::new("hostile", 0)])
        .expect("assign");
    let started = Instant::now();
    let limit = Duration::from_millis(BUDGET_MS) + SLACK;
    let e = loop {
        match c.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(records) => assert!(records.is_empty(), "records from a hostile port"),
        }
        assert!(
            started.elapsed() < limit,
            "{kind:?}: no error from poll within {limit:?}"
        );
    };
    let took = started.elapsed();
    println!("consumer {kind:?}: {took:.1?}: {e}");
    let _ = c.close_within(Duration::from_secs(1)).await;
    (e, took)
}

fn check(kind: Hostile, broker: &str, e: &Error, took: Duration) {
    assert_readable(&e.to_string(), broker, kind.says());
    assert_classified(kind, e);
    let bound = Duration::from_millis(BUDGET_MS) + SLACK;
    assert!(
        took < bound,
        "{kind:?}: took {took:?}, bound {bound:?}: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_fails_readably_against_every_hostile_endpoint() {
    for kind in Hostile::ALL {
        let addr = serve(kind).await;
        let (e, took) = admin_fails(kind, &addr).await;
        check(kind, &addr, &e, took);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_delivery_fails_not_persisted_against_every_hostile_endpoint() {
    for kind in Hostile::ALL {
        let addr = serve(kind).await;
        let (e, took) = producer_fails(kind, &addr, &[]).await;
        check(kind, &addr, &e, took);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_poll_fails_readably_against_every_hostile_endpoint() {
    for kind in Hostile::ALL {
        let addr = serve(kind).await;
        let (e, took) = consumer_fails(kind, &addr, &[]).await;
        check(kind, &addr, &e, took);
    }
}

/// Each failed connect is logged at WARN with the broker and the reason, at most once per
/// broker and purpose per 10 s; the retries in between go to DEBUG. A current-thread runtime
/// keeps every task on the thread whose default subscriber captures them.
#[test]
fn failed_connects_log_one_rate_limited_warn_naming_broker_and_reason() {
    let buf = LogBuf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addrs = tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            // About 3 s of retries every 50–500 ms each: a dozen failed connects or more per
            // client, to one HTTP endpoint per client.
            let (a, p, c) = (
                serve(Hostile::Http).await,
                serve(Hostile::Http).await,
                serve(Hostile::Http).await,
            );
            let (e, _) = admin_fails(Hostile::Http, &a).await;
            assert_readable(&e.to_string(), &a, Hostile::Http.says());
            let (e, _) = producer_fails(Hostile::Http, &p, &[]).await;
            assert_readable(&e.to_string(), &p, Hostile::Http.says());
            let (e, _) = consumer_fails(Hostile::Http, &c, &[]).await;
            assert_readable(&e.to_string(), &c, Hostile::Http.says());
            [a, p, c]
        })
    });
    let lines = buf.lines();
    for l in &lines {
        println!("captured: {l}");
    }
    for addr in &addrs {
        let warns: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("WARN") && l.contains(addr.as_str()))
            .collect();
        assert!(
            !warns.is_empty(),
            "no WARN for the failed connects to {addr}"
        );
        for w in &warns {
            assert!(w.contains("HTTP server"), "WARN does not say why: {w}");
        }
        // Each client talks to its broker for one purpose here (Control: metadata), so 3 s
        // of retries give one WARN, not one per retry.
        assert_eq!(
            warns.len(),
            1,
            "WARN not rate-limited for {addr}: {warns:#?}"
        );
    }
}

/// A real Kafka PLAINTEXT port spoken to in TLS: the handshake fails, and the error says the
/// broker does not speak TLS (fatal: retrying cannot fix `security.protocol`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plaintext_kafka_port_says_the_broker_does_not_speak_tls() {
    let bootstrap = shared_bootstrap();
    let broker = bootstrap.split(',').next().expect("one broker").to_string();
    let ssl = [("security.protocol", "SSL")];
    let says: &[&str] = &["TLS"];
    let check_tls = |who: &str, e: &Error, took: Duration| {
        assert_readable(&e.to_string(), &broker, says);
        assert!(
            matches!(e.kind(), ErrorKind::Tls(TlsFailure::NotTls)),
            "{who}: kind {:?}: {e}",
            e.kind()
        );
        assert!(e.is_fatal(), "{who}: {e}");
        let bound = Duration::from_millis(BUDGET_MS) + SLACK;
        assert!(took < bound, "{who}: took {took:?}: {e}");
    };
    let cfg = ClientConfig::from_properties(props(&bootstrap, &ssl)).expect("config");
    let started = Instant::now();
    let e = AdminClient::new(cfg)
        .list_topics()
        .await
        .expect_err("no TLS on a PLAINTEXT port");
    let took = started.elapsed();
    println!("admin    SSL→PLAINTEXT: {took:.1?}: {e}");
    check_tls("admin", &e, took);

    let (e, took) = producer_fails(Hostile::Tls, &bootstrap, &ssl).await;
    check_tls("producer", &e, took);
    let (e, took) = consumer_fails(Hostile::Tls, &bootstrap, &ssl).await;
    check_tls("consumer", &e, took);
}

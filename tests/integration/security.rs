//! TLS and SASL against a real broker with SASL_PLAINTEXT, SASL_SSL, SSL (client certificate
//! required), a short-reauth SASL_SSL listener and an SSL listener whose certificate expired,
//! SCRAM/PLAIN/OAUTHBEARER users, client keys plain and encrypted, and ACLs
//! (`ferrokafka_testcontainers::secure`). User alice may use topics and groups named `alice*`;
//! bob has no ACL.

use ferrokafka::admin::{AclBinding, AdminClient, NewTopic, ResourceType};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Persistence, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::AclOperation;
use ferrokafka::types::TopicPartition;
use ferrokafka::{ErrorKind, TlsFailure};
use ferrokafka_testcontainers::secure::{password, Listener, SecureKafka, CLIENT_KEY_PASSWORD};
use ferrokafka_testcontainers::unique_topic;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{blocking, LogBuf};

async fn broker() -> &'static SecureKafka {
    blocking(SecureKafka::shared)
        .await
        .unwrap_or_else(|e| panic!("no secure Kafka broker for the security tests: {e}"))
}

/// The harness's client properties plus short timeouts and backoffs.
fn props(
    k: &SecureKafka,
    listener: Listener,
    user: &str,
    mechanism: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut p = k.client_properties(listener, user, mechanism);
    for (a, b) in [
        ("request.timeout.ms", "15000"),
        ("socket.connection.setup.timeout.ms", "10000"),
        ("reconnect.backoff.ms", "50"),
        ("reconnect.backoff.max.ms", "1000"),
    ] {
        p.push((a.into(), b.into()));
    }
    for (a, b) in extra {
        p.retain(|(k, _)| k != a);
        p.push(((*a).into(), (*b).into()));
    }
    p
}

fn client(p: &[(String, String)]) -> ClientConfig {
    ClientConfig::from_properties(p.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .unwrap_or_else(|e| panic!("client config: {e}"))
}

async fn create_topic(p: &[(String, String)], topic: &str, partitions: i32) {
    let admin = AdminClient::new(client(p));
    admin
        .create_topic(NewTopic::new(topic, partitions, 1))
        .await
        .unwrap_or_else(|e| panic!("create {topic}: {e}"));
    admin
        .wait_for_topic(topic, partitions as usize, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("wait for {topic}: {e}"));
}

fn producer(p: &[(String, String)]) -> Producer {
    let cfg = ProducerConfig::from_properties(p.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .unwrap_or_else(|e| panic!("producer config: {e}"));
    Producer::new(cfg).unwrap_or_else(|e| panic!("producer: {e}"))
}

fn consumer(p: &[(String, String)]) -> Consumer {
    let mut p = p.to_vec();
    p.push(("auto.offset.reset".into(), "earliest".into()));
    p.push(("fetch.max.wait.ms".into(), "100".into()));
    let cfg = ConsumerConfig::from_properties(p.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .unwrap_or_else(|e| panic!("consumer config: {e}"));
    Consumer::new(cfg).unwrap_or_else(|e| panic!("consumer: {e}"))
}

/// Produces `n` numbered records to a fresh `alice*` topic, checks every one is Persisted,
/// then consumes them all back (each exactly once).
async fn round_trip(listener: Listener, user: &str, mechanism: &str, n: u64) {
    let k = broker().await;
    round_trip_with(
        props(k, listener, user, mechanism, &[]),
        listener,
        user,
        mechanism,
        n,
    )
    .await;
}

/// [`round_trip`] with the client properties `p` (for `listener`) given.
async fn round_trip_with(
    p: Vec<(String, String)>,
    listener: Listener,
    user: &str,
    mechanism: &str,
    n: u64,
) {
    let topic = unique_topic(&format!(
        "alice-{}-{}",
        listener.security_protocol(),
        mechanism
    ));
    create_topic(&p, &topic, 2).await;
    let started = Instant::now();
    let prod = producer(&p);
    let mut pending = Vec::with_capacity(n as usize);
    for i in 0..n {
        let rec = ProducerRecord::new(&topic)
            .key(format!("k{}", i % 13))
            .value(i.to_be_bytes().to_vec());
        pending.push(prod.send(rec).await.expect("buffered"));
    }
    for f in pending {
        let m = f.await.unwrap_or_else(|e| panic!("delivery failed: {e}"));
        assert_eq!(m.persistence, Persistence::Persisted);
    }
    prod.close(Duration::from_secs(10)).await.expect("close");
    let c = consumer(&p);
    c.assign(&[
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ])
    .expect("assign");
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.len() as u64) < n {
        assert!(
            Instant::now() < deadline,
            "{listener:?}/{mechanism}: only {} of {n} records consumed",
            seen.len()
        );
        for r in c
            .poll(Duration::from_millis(500))
            .await
            .unwrap_or_else(|e| panic!("poll: {e}"))
        {
            let v = r.value.as_ref().expect("value");
            let i = u64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
            assert!(seen.insert(i), "record {i} consumed twice");
        }
    }
    c.close().await.expect("close consumer");
    eprintln!(
        "{listener:?} {mechanism} as {user}: {n} records produced and consumed in {:?}",
        started.elapsed()
    );
}

const N: u64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_plain_round_trip() {
    round_trip(Listener::SaslPlaintext, "alice", "PLAIN", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_scram_sha_256_round_trip() {
    round_trip(Listener::SaslPlaintext, "alice", "SCRAM-SHA-256", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_scram_sha_512_round_trip() {
    round_trip(Listener::SaslPlaintext, "alice", "SCRAM-SHA-512", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_oauthbearer_round_trip() {
    round_trip(Listener::SaslPlaintext, "alice", "OAUTHBEARER", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_plain_round_trip() {
    round_trip(Listener::SaslSsl, "alice", "PLAIN", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_scram_sha_256_round_trip() {
    round_trip(Listener::SaslSsl, "alice", "SCRAM-SHA-256", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_scram_sha_512_round_trip() {
    round_trip(Listener::SaslSsl, "alice", "SCRAM-SHA-512", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_oauthbearer_round_trip() {
    round_trip(Listener::SaslSsl, "alice", "OAUTHBEARER", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_client_certificate_round_trip() {
    round_trip(Listener::Ssl, "alice", "", N).await;
}

/// The SSL listener's client properties for `user` with the harness's encrypted copy of the
/// client key (PKCS#8 PBES2) and `key_password` as `ssl.key.password`.
fn encrypted_key_props(k: &SecureKafka, user: &str, key_password: &str) -> Vec<(String, String)> {
    let keystore = k.client_encrypted_keystore_path(user).display().to_string();
    props(
        k,
        Listener::Ssl,
        user,
        "",
        &[
            ("ssl.keystore.location", &keystore),
            ("ssl.key.password", key_password),
        ],
    )
}

/// mTLS with an encrypted client key, from each key source: `ssl.key.password` decrypts it and
/// the broker accepts the certificate (principal alice, so her ACLs apply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_with_encrypted_client_key_and_key_password_round_trip() {
    let k = broker().await;
    let p = encrypted_key_props(k, "alice", CLIENT_KEY_PASSWORD);
    round_trip_with(p, Listener::Ssl, "alice", "encrypted-key", 100).await;

    // The same key through the other two sources: Java's inline PEM pair and librdkafka's two
    // files.
    let path = k.client_encrypted_keystore_path("alice");
    let pem = std::fs::read_to_string(&path).expect("encrypted keystore");
    let end = "-----END ENCRYPTED PRIVATE KEY-----\n";
    let split = pem.find(end).expect("an encrypted key first") + end.len();
    let (key, chain) = pem.split_at(split);
    let without_keystore = |extra: &[(&str, &str)]| {
        let mut p = props(k, Listener::Ssl, "alice", "", extra);
        p.retain(|(k, _)| k != "ssl.keystore.location");
        p.push(("ssl.key.password".into(), CLIENT_KEY_PASSWORD.into()));
        p
    };
    let inline = without_keystore(&[
        ("ssl.keystore.certificate.chain", chain),
        ("ssl.keystore.key", key),
    ]);
    round_trip_with(inline, Listener::Ssl, "alice", "encrypted-inline-key", 20).await;
    let dir = std::env::temp_dir().join(unique_topic("ferrokafka-encrypted-key"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (key_file, cert_file) = (dir.join("client.key"), dir.join("client.crt"));
    std::fs::write(&key_file, key).expect("key file");
    std::fs::write(&cert_file, chain).expect("certificate file");
    let files = without_keystore(&[
        ("ssl.certificate.location", &cert_file.display().to_string()),
        ("ssl.key.location", &key_file.display().to_string()),
    ]);
    round_trip_with(files, Listener::Ssl, "alice", "encrypted-key-file", 20).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A wrong `ssl.key.password` fails when the config is built, before any connection, naming
/// `ssl.key.password` and never showing the password; so does a missing one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_password_fails_at_config_creation() {
    let k = broker().await;
    let wrong = "not-the-key-password";
    let p = encrypted_key_props(k, "alice", wrong);
    let iter = || p.iter().map(|(a, b)| (a.as_str(), b.as_str()));
    let errors = [
        ("client", ClientConfig::from_properties(iter()).err()),
        ("producer", ProducerConfig::from_properties(iter()).err()),
        ("consumer", ConsumerConfig::from_properties(iter()).err()),
    ];
    for (what, e) in errors {
        let e = e.unwrap_or_else(|| panic!("{what}: a wrong ssl.key.password must be refused"));
        match e.kind() {
            ErrorKind::Config { key, .. } => assert_eq!(key, "ssl.key.password", "{what}: {e}"),
            other => panic!("{what}: not a config error: {other:?}: {e}"),
        }
        let (shown, dbg) = (e.to_string(), format!("{e:?}"));
        assert!(shown.contains("wrong password"), "{what}: {shown}");
        for text in [&shown, &dbg] {
            assert!(!text.contains(wrong), "{what}: password shown: {text}");
            assert!(!text.contains(CLIENT_KEY_PASSWORD), "{what}: {text}");
        }
        eprintln!("{what}: {e}");
    }
    let mut p = encrypted_key_props(k, "alice", "");
    p.retain(|(k, _)| k != "ssl.key.password");
    let e = ClientConfig::from_properties(p.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .expect_err("an encrypted key without ssl.key.password must be refused");
    assert!(
        matches!(e.kind(), ErrorKind::Config { key, .. } if key == "ssl.key.password"),
        "{e}"
    );
    eprintln!("no password: {e}");
}

/// The SSL_EXPIRED listener's certificate is from the trusted CA and names 127.0.0.1, but was
/// valid only in 2020: a fatal, typed `CertificateExpired` naming the broker, at once (no retry
/// until a timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_broker_certificate_is_a_typed_tls_error() {
    let k = broker().await;
    let p = props(k, Listener::SslExpired, "alice", "", &[]);
    let (e, took) = tls_failure(p).await;
    assert_tls(&e, took, TlsFailure::CertificateExpired);
    let shown = e.to_string();
    assert!(shown.contains("expired"), "{shown}");
    let port = k.port(Listener::SslExpired).to_string();
    assert!(
        e.broker().is_some_and(|b| b.contains(&port)) || shown.contains(&port),
        "the SSL_EXPIRED broker is not named: {shown}"
    );
}

fn with_password(p: &mut [(String, String)], user: &str, mechanism: &str, pw: &str) {
    for (k, v) in p.iter_mut() {
        if k == "sasl.jaas.config" {
            *v = ferrokafka_testcontainers::secure::jaas(user, mechanism)
                .replace(&password(user), pw);
        }
    }
}

/// Wrong password: every client gets a fatal `SaslAuthenticationFailed` within one request
/// timeout (15 s here), and the password is not in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_fatal_typed_error_for_admin_producer_and_consumer() {
    let k = broker().await;
    for (listener, mechanism) in [
        (Listener::SaslPlaintext, "SCRAM-SHA-256"),
        (Listener::SaslSsl, "SCRAM-SHA-512"),
        (Listener::SaslSsl, "PLAIN"),
    ] {
        let mut p = props(k, listener, "alice", mechanism, &[]);
        with_password(&mut p, "alice", mechanism, "not-the-password");
        let check = |what: &str, e: &ferrokafka::Error, took: Duration| {
            assert!(
                matches!(e.kind(), ErrorKind::SaslAuthenticationFailed { .. }),
                "{what} {listener:?}/{mechanism}: {e}"
            );
            assert!(e.is_fatal() && !e.is_retriable(), "{e}");
            assert!(!e.to_string().contains("not-the-password"), "{e}");
            assert!(
                took < Duration::from_secs(15),
                "{what}: surfaced after {took:?}"
            );
            eprintln!("{what} {listener:?}/{mechanism}: {took:?}: {e}");
        };
        // Each client's error handler hears of the failed authentication too (issue #24).
        let heard = Arc::new(std::sync::Mutex::new(
            Vec::<(String, ferrokafka::Error)>::new(),
        ));
        let handler = |who: &'static str| -> ferrokafka::ErrorHandler {
            let heard = heard.clone();
            Arc::new(move |e: &ferrokafka::Error| {
                heard
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((who.to_owned(), e.clone()))
            })
        };
        let admin = AdminClient::with_error_handler(client(&p), Some(handler("admin")));
        let t = Instant::now();
        let e = admin
            .create_topic(NewTopic::new(unique_topic("alice-wrongpw"), 1, 1))
            .await
            .expect_err("wrong password must fail");
        check("admin", &e, t.elapsed());

        let prod = Producer::with_error_handler(
            ProducerConfig::from_properties(p.iter().map(|(a, b)| (a.as_str(), b.as_str())))
                .expect("producer config"),
            Some(handler("producer")),
        )
        .expect("producer");
        let t = Instant::now();
        let r = match prod
            .send(ProducerRecord::new(unique_topic("alice-wrongpw")).value("x"))
            .await
        {
            Err(e) => Err(e.error),
            Ok(f) => f.await.map(drop).map_err(|e| e.error),
        };
        check(
            "producer",
            &r.expect_err("wrong password must fail"),
            t.elapsed(),
        );

        let c = Consumer::with_error_handler(
            ConsumerConfig::from_properties(p.iter().map(|(a, b)| (a.as_str(), b.as_str())))
                .expect("consumer config"),
            Some(handler("consumer")),
        )
        .expect("consumer");
        c.assign(&[TopicPartition::new(unique_topic("alice-wrongpw"), 0)])
            .expect("assign");
        let t = Instant::now();
        let e = loop {
            match c.poll(Duration::from_millis(500)).await {
                Err(e) => break e,
                Ok(_) if t.elapsed() > Duration::from_secs(30) => {
                    panic!("consumer poll never failed with a wrong password")
                }
                Ok(_) => {}
            }
        };
        check("consumer", &e, t.elapsed());
        let heard = heard.lock().unwrap_or_else(|p| p.into_inner());
        for who in ["admin", "producer", "consumer"] {
            assert!(
                heard.iter().any(|(w, e)| w == who
                    && matches!(e.kind(), ErrorKind::SaslAuthenticationFailed { .. })),
                "{who}'s error handler did not hear of the failed authentication: {:?}",
                heard
                    .iter()
                    .map(|(w, e)| format!("{w}: {e}"))
                    .collect::<Vec<_>>()
            );
        }
    }
}

async fn tls_failure(p: Vec<(String, String)>) -> (ferrokafka::Error, Duration) {
    let admin = AdminClient::new(client(&p));
    let t = Instant::now();
    let e = admin
        .create_topic(NewTopic::new(unique_topic("alice-tls"), 1, 1))
        .await
        .expect_err("the TLS handshake must fail");
    (e, t.elapsed())
}

fn assert_tls(e: &ferrokafka::Error, took: Duration, want: TlsFailure) {
    assert_eq!(e.kind(), &ErrorKind::Tls(want), "{e}");
    assert!(e.is_fatal(), "{e}");
    assert!(e.broker().is_some(), "no broker named: {e}");
    assert!(took < Duration::from_secs(15), "{want:?} after {took:?}");
    eprintln!("{want:?} in {took:?}: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_is_a_typed_tls_error() {
    let k = broker().await;
    let untrusted = k.untrusted_ca_path().display().to_string();
    let p = props(
        k,
        Listener::SaslSsl,
        "alice",
        "PLAIN",
        &[("ssl.truststore.location", &untrusted)],
    );
    let (e, took) = tls_failure(p).await;
    assert_tls(&e, took, TlsFailure::UntrustedCertificate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostname_mismatch_is_a_typed_tls_error_unless_the_check_is_off() {
    let k = broker().await;
    // The broker's certificate names 127.0.0.1 and kafka.test, not localhost.
    let by_name = format!("localhost:{}", k.port(Listener::SaslSsl));
    let p = props(
        k,
        Listener::SaslSsl,
        "alice",
        "PLAIN",
        &[("bootstrap.servers", &by_name)],
    );
    let (e, took) = tls_failure(p).await;
    assert_tls(&e, took, TlsFailure::HostnameMismatch);
    // ssl.endpoint.identification.algorithm= (empty) disables the host name check only.
    let p = props(
        k,
        Listener::SaslSsl,
        "alice",
        "PLAIN",
        &[
            ("bootstrap.servers", &by_name),
            ("ssl.endpoint.identification.algorithm", ""),
        ],
    );
    create_topic(&p, &unique_topic("alice-nohostcheck"), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_mismatches_are_typed_tls_errors_not_hangs() {
    let k = broker().await;
    // A TLS client on the SASL_PLAINTEXT port.
    let tls_on_plain = format!("127.0.0.1:{}", k.port(Listener::SaslPlaintext));
    let p = props(
        k,
        Listener::SaslSsl,
        "alice",
        "PLAIN",
        &[("bootstrap.servers", &tls_on_plain)],
    );
    let (e, took) = tls_failure(p).await;
    assert_tls(&e, took, TlsFailure::NotTls);
    // A plaintext client on the SASL_SSL port.
    let plain_on_tls = format!("127.0.0.1:{}", k.port(Listener::SaslSsl));
    let p = props(
        k,
        Listener::SaslPlaintext,
        "alice",
        "PLAIN",
        &[("bootstrap.servers", &plain_on_tls)],
    );
    let (e, took) = tls_failure(p).await;
    assert!(
        matches!(e.kind(), ErrorKind::Tls(_) | ErrorKind::Connect),
        "{e}"
    );
    assert!(took < Duration::from_secs(15), "after {took:?}: {e}");
    eprintln!("plaintext client on a TLS port, {took:?}: {e}");
    // The SSL listener without a client certificate.
    let mut p = props(k, Listener::Ssl, "alice", "", &[]);
    p.retain(|(k, _)| !k.starts_with("ssl.keystore"));
    let (e, took) = tls_failure(p).await;
    assert!(matches!(e.kind(), ErrorKind::Tls(_)), "{e}");
    assert!(took < Duration::from_secs(15), "after {took:?}: {e}");
    eprintln!("no client certificate, {took:?}: {e}");
}

/// alice may write `alice*` topics only: records to a topic she may not write fail alone
/// (TOPIC_AUTHORIZATION_FAILED, NotPersisted, permanent) while her own topic's are all
/// Persisted, from the same producer at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_authorization_failure_fails_only_that_topics_records() {
    let k = broker().await;
    let admin_p = props(k, Listener::SaslSsl, "admin", "SCRAM-SHA-256", &[]);
    let denied = unique_topic("denied");
    create_topic(&admin_p, &denied, 1).await;
    let p = props(k, Listener::SaslSsl, "alice", "SCRAM-SHA-256", &[]);
    let allowed = unique_topic("alice-acl");
    create_topic(&p, &allowed, 1).await;
    let prod = producer(&p);
    let t = Instant::now();
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    for i in 0..2_000u64 {
        let topic = if i % 4 == 0 { &denied } else { &allowed };
        let rec = ProducerRecord::new(topic).value(i.to_be_bytes().to_vec());
        match prod.send(rec).await {
            Ok(f) if topic == &allowed => ok.push(f),
            Ok(f) => refused.push(Ok(f)),
            Err(e) => {
                assert_eq!(
                    topic, &denied,
                    "send to the allowed topic failed: {}",
                    e.error
                );
                refused.push(Err(e));
            }
        }
    }
    let n_ok = ok.len();
    for f in ok {
        let m = f
            .await
            .unwrap_or_else(|e| panic!("allowed record failed: {}", e.error));
        assert_eq!(m.persistence, Persistence::Persisted);
    }
    let n_refused = refused.len();
    for r in refused {
        let e = match r {
            Ok(f) => f
                .await
                .expect_err("a record to the denied topic was written"),
            Err(e) => e,
        };
        assert_eq!(e.persistence, Persistence::NotPersisted, "{}", e.error);
        assert_eq!(e.error.broker_code(), Some(29), "{}", e.error);
        assert!(!e.error.is_retriable(), "{}", e.error);
    }
    eprintln!(
        "{n_ok} records Persisted to {allowed}, {n_refused} refused for {denied} in {:?}",
        t.elapsed()
    );
    prod.close(Duration::from_secs(10)).await.expect("close");
}

/// KIP-368: the REAUTH listener grants 10 s sessions; a 30 s produce loop over it loses
/// nothing and needs no retry, and each connection re-authenticates in place (the DEBUG log
/// shows re-authentications and no connection opened after the first records). A
/// current-thread runtime keeps every task on the capturing thread.
#[test]
fn reauthentication_in_place_during_a_30s_produce_loses_nothing() {
    let buf = LogBuf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let k = SecureKafka::shared().unwrap_or_else(|e| panic!("no secure broker: {e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let p = props(k, Listener::Reauth, "alice", "SCRAM-SHA-512", &[]);
    let topic = unique_topic("alice-reauth");
    rt.block_on(create_topic(&p, &topic, 1));
    let (n, retries, connects_after_warmup) = tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let prod = producer(&p);
            let start = Instant::now();
            let mut pending = Vec::new();
            let mut i = 0u64;
            let mut warm_log_len = None;
            while start.elapsed() < Duration::from_secs(30) {
                for _ in 0..50 {
                    let rec = ProducerRecord::new(&topic).value(i.to_be_bytes().to_vec());
                    pending.push(prod.send(rec).await.expect("buffered"));
                    i += 1;
                }
                if warm_log_len.is_none() && start.elapsed() > Duration::from_secs(2) {
                    // Every connection the producer needs is open by now.
                    warm_log_len = Some(buf.0.lock().expect("log buffer").len());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let n = pending.len() as u64;
            for f in pending {
                let m = f
                    .await
                    .unwrap_or_else(|e| panic!("record failed: {}", e.error));
                assert_eq!(m.persistence, Persistence::Persisted);
            }
            let metrics = prod.metrics();
            prod.close(Duration::from_secs(10)).await.expect("close");
            assert_eq!(metrics.get("record-error-total"), Some(0.0));
            let log = buf.0.lock().expect("log buffer").clone();
            let after = String::from_utf8_lossy(&log[warm_log_len.unwrap_or(0)..]).into_owned();
            let connects = after
                .lines()
                .filter(|l| l.contains(" connected broker="))
                .count();
            (
                n,
                metrics.get("record-retry-total").unwrap_or(-1.0),
                connects,
            )
        })
    });
    let log = String::from_utf8_lossy(&buf.0.lock().expect("log buffer")).into_owned();
    let reauths = log.matches("SASL session re-authenticated").count();
    let seen = rt.block_on(async {
        let c = consumer(&p);
        c.assign(&[TopicPartition::new(&topic, 0)]).expect("assign");
        let mut seen = HashSet::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while (seen.len() as u64) < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} consumed",
                seen.len()
            );
            for r in c.poll(Duration::from_millis(500)).await.expect("poll") {
                let v = r.value.as_ref().expect("value");
                seen.insert(u64::from_be_bytes(v[..8].try_into().expect("8 bytes")));
            }
        }
        c.close().await.expect("close consumer");
        seen.len() as u64
    });
    eprintln!(
        "reauth: {n} records, {seen} consumed, {retries} retries, {reauths} re-authentications, \
         {connects_after_warmup} connections opened after the first 2 s"
    );
    assert_eq!(seen, n);
    assert_eq!(
        retries, 0.0,
        "records were retried: a connection outlived its session"
    );
    assert!(reauths >= 2, "no in-place re-authentication in the log");
    assert_eq!(
        connects_after_warmup, 0,
        "connections were replaced instead of re-authenticated"
    );
}

/// The TRACE log of full SASL sessions (PLAIN, SCRAM, OAUTHBEARER; one wrong password) holds no
/// password and no token. A current-thread runtime keeps every task on the capturing thread.
#[test]
fn trace_logs_never_contain_passwords_or_tokens() {
    use std::sync::Arc;
    let buf = LogBuf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let k = SecureKafka::shared().unwrap_or_else(|e| panic!("no secure broker: {e}"));
    let token = ferrokafka::config::UnsecuredJwsProvider {
        principal: "alice".into(),
        lifetime: Duration::from_secs(600),
    }
    .make_token();
    struct Fixed(String);
    impl ferrokafka::config::TokenProvider for Fixed {
        fn token(&self) -> ferrokafka::config::TokenFuture<'_> {
            let t = self.0.clone();
            Box::pin(async move {
                Ok(ferrokafka::config::OAuthBearerToken {
                    value: ferrokafka::config::Secret::new(t),
                    extensions: Vec::new(),
                })
            })
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            for mechanism in ["PLAIN", "SCRAM-SHA-256"] {
                let p = props(k, Listener::SaslSsl, "alice", mechanism, &[]);
                let topic = unique_topic("alice-redact");
                create_topic(&p, &topic, 1).await;
                let prod = producer(&p);
                let f = prod
                    .send(ProducerRecord::new(&topic).value("v"))
                    .await
                    .expect("buffered");
                f.await.expect("delivered");
                prod.close(Duration::from_secs(5)).await.expect("close");
                // A failed session too: its error is logged and returned.
                let mut bad = p.clone();
                with_password(&mut bad, "alice", mechanism, "wrong-pw-0xdead");
                let e = AdminClient::new(client(&bad))
                    .create_topic(NewTopic::new(unique_topic("alice-redact"), 1, 1))
                    .await
                    .expect_err("wrong password");
                tracing::error!(error = %e, debug = ?e, "as an application would log it");
            }
            let p = props(k, Listener::SaslSsl, "alice", "PLAIN", &[]);
            let cfg = ClientConfig::from_properties(p.iter().map(|(a, b)| (a.as_str(), b.as_str())))
                .expect("config");
            let mut b = ClientConfig::builder()
                .bootstrap_servers(k.bootstrap(Listener::SaslSsl))
                .security(|s| {
                    s.protocol(ferrokafka::config::SecurityProtocol::SaslSsl)
                        .oauthbearer(Arc::new(Fixed(token.clone())));
                });
            b.set("ssl.truststore.location", &k.ca_path().display().to_string())
                .expect("truststore");
            let oauth = b.build().expect("oauth config");
            tracing::info!(config = ?oauth, plain = ?cfg, "configs as an application would log them");
            AdminClient::new(oauth)
                .create_topic(NewTopic::new(unique_topic("alice-redact"), 1, 1))
                .await
                .expect("OAUTHBEARER session");
        })
    });
    let log = String::from_utf8_lossy(&buf.0.lock().expect("log buffer")).into_owned();
    assert!(log.lines().count() > 20, "too little was logged:\n{log}");
    assert!(
        log.contains("SASL authenticated"),
        "no SASL session in the log"
    );
    for secret in [
        password("alice"),
        "wrong-pw-0xdead".to_string(),
        token.clone(),
        token.split('.').nth(1).unwrap_or("x").to_string(),
    ] {
        assert!(
            !log.contains(&secret),
            "the TRACE log contains a secret ({} bytes)",
            secret.len()
        );
    }
    eprintln!("{} TRACE log lines, no secret in them", log.lines().count());
}

/// alice may not use a group outside `alice*`: subscribing with one surfaces
/// GROUP_AUTHORIZATION_FAILED from `poll` as a fatal error naming the group and the ACL to
/// grant; the member stops for good, so every later `poll` and commit reports it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_authorization_failure_is_fatal_for_the_consumer() {
    let k = broker().await;
    let topic = unique_topic("alice-grp");
    let base = props(k, Listener::SaslSsl, "alice", "SCRAM-SHA-256", &[]);
    create_topic(&base, &topic, 1).await;
    let group = unique_topic("denied-group");
    let p = props(
        k,
        Listener::SaslSsl,
        "alice",
        "SCRAM-SHA-256",
        &[("group.id", &group), ("enable.auto.commit", "false")],
    );
    let c = consumer(&p);
    c.subscribe([topic.clone()]).expect("subscribe");
    let t = Instant::now();
    let e = loop {
        match c.poll(Duration::from_millis(500)).await {
            Err(e) => break e,
            Ok(_) if t.elapsed() > Duration::from_secs(30) => {
                panic!("poll never reported GROUP_AUTHORIZATION_FAILED")
            }
            Ok(_) => {}
        }
    };
    let took = t.elapsed();
    let denied = |e: &ferrokafka::Error| {
        assert_eq!(e.broker_code(), Some(30), "{e}");
        assert!(e.is_fatal() && !e.is_retriable(), "{e}");
        let line = e.to_string();
        assert!(line.contains(&group) && line.contains("READ"), "{line}");
    };
    denied(&e);
    // Fatal means final: the next poll does not rejoin, it reports the same error at once.
    let t2 = Instant::now();
    let again = c
        .poll(Duration::from_secs(5))
        .await
        .expect_err("a denied member polled without error");
    denied(&again);
    assert!(t2.elapsed() < Duration::from_secs(1), "{:?}", t2.elapsed());
    let commit = c
        .commit(&[(TopicPartition::new(&topic, 0), ferrokafka::types::Offset(0))])
        .await
        .expect_err("a denied member committed");
    denied(&commit);
    eprintln!("group denied after {took:?}: {e}");
}

/// bob has no ACL: his idempotent producer's InitProducerId is refused with
/// CLUSTER_AUTHORIZATION_FAILED (Kafka 4 wants IDEMPOTENT_WRITE on the cluster or WRITE on some
/// topic), a fatal error that says what to grant or to turn off; every record fails
/// NotPersisted, none hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_without_acls_is_told_to_grant_idempotent_write() {
    let k = broker().await;
    let admin_p = props(k, Listener::SaslSsl, "admin", "SCRAM-SHA-256", &[]);
    let topic = unique_topic("bobs");
    create_topic(&admin_p, &topic, 1).await;
    // DESCRIBE on the topic lets bob's metadata request through (without it the broker
    // answers TOPIC_AUTHORIZATION_FAILED first); with no WRITE anywhere and no
    // IDEMPOTENT_WRITE, InitProducerId is the call refused.
    let describe = AclBinding::allow(
        ResourceType::Topic,
        &topic,
        "User:bob",
        AclOperation::Describe,
    );
    for (acl, r) in AdminClient::new(client(&admin_p))
        .create_acls(std::slice::from_ref(&describe))
        .await
        .unwrap_or_else(|e| panic!("create ACL: {e}"))
    {
        r.unwrap_or_else(|e| panic!("create {acl}: {e}"));
    }
    let p = props(
        k,
        Listener::SaslSsl,
        "bob",
        "SCRAM-SHA-256",
        &[
            ("enable.idempotence", "true"),
            ("delivery.timeout.ms", "30000"),
        ],
    );
    let prod = producer(&p);
    let t = Instant::now();
    let mut failures = Vec::new();
    for i in 0..10u64 {
        let rec = ProducerRecord::new(&topic).value(i.to_be_bytes().to_vec());
        match prod.send(rec).await {
            Ok(f) => failures.push(f.await.expect_err("bob's record was written")),
            Err(e) => failures.push(e),
        }
    }
    let took = t.elapsed();
    for e in &failures {
        assert_eq!(e.persistence, Persistence::NotPersisted, "{}", e.error);
        assert_eq!(e.error.broker_code(), Some(31), "{}", e.error);
        assert!(e.error.is_fatal(), "{}", e.error);
        let line = e.error.to_string();
        assert!(
            line.contains("IDEMPOTENT_WRITE") && line.contains("enable.idempotence=false"),
            "{line}"
        );
    }
    assert!(took < Duration::from_secs(30), "{took:?}");
    eprintln!(
        "{} records refused in {took:?}: {}",
        failures.len(),
        failures[0].error
    );
    let _ = prod.close(Duration::from_secs(5)).await;
}

/// The ACL admin calls against the StandardAuthorizer: the super user creates a prefixed ACL
/// for bob, finds it with a filter (and only it), deletes it with that filter; alice, who has
/// no DESCRIBE on the cluster, is refused with CLUSTER_AUTHORIZATION_FAILED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_are_created_described_and_deleted_with_filters() {
    use ferrokafka::admin::{AclFilter, PatternType};
    let k = broker().await;
    let admin = AdminClient::new(client(&props(
        k,
        Listener::SaslSsl,
        "admin",
        "SCRAM-SHA-256",
        &[],
    )));
    let prefix = unique_topic("bobs-acl");
    let acl = AclBinding::allow(ResourceType::Topic, &prefix, "User:bob", AclOperation::Read)
        .pattern(PatternType::Prefixed);
    let created = admin
        .create_acls(std::slice::from_ref(&acl))
        .await
        .expect("create");
    assert!(created[0].1.is_ok(), "{:?}", created[0].1);
    let filter = AclFilter::any()
        .resource(ResourceType::Topic, &prefix)
        .principal("User:bob");
    // KRaft applies ACL changes when each broker replays the metadata record: describe until
    // the broker answered shows the change (bounded), rather than racing it.
    let describe_until = |want: Vec<AclBinding>| {
        let admin = &admin;
        let filter = &filter;
        async move {
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let got = admin.describe_acls(filter).await.expect("describe");
                if got == want || Instant::now() > deadline {
                    return got;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let found = describe_until(vec![acl.clone()]).await;
    assert_eq!(found, vec![acl.clone()], "exactly the ACL created");
    // Filters narrow: another principal finds nothing on that resource.
    let none = admin
        .describe_acls(
            &AclFilter::any()
                .resource(ResourceType::Topic, &prefix)
                .principal("User:carol"),
        )
        .await
        .expect("describe carol");
    assert!(none.is_empty(), "{none:?}");
    let deleted = admin
        .delete_acls(std::slice::from_ref(&filter))
        .await
        .expect("delete");
    let gone = deleted[0].1.as_ref().expect("the filter's result");
    eprintln!("acl deleted: {gone:?}");
    assert_eq!(gone.len(), 1, "the one ACL deleted: {gone:?}");
    let left = describe_until(Vec::new()).await;
    assert!(left.is_empty(), "{left:?}");
    let alice = AdminClient::new(client(&props(
        k,
        Listener::SaslSsl,
        "alice",
        "SCRAM-SHA-256",
        &[],
    )));
    let e = alice
        .describe_acls(&AclFilter::any())
        .await
        .expect_err("alice may not describe ACLs");
    assert_eq!(e.broker_code(), Some(31), "{e}");
    assert!(!e.is_retriable(), "{e}");
}

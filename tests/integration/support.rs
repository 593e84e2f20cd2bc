//! Shared helpers for the integration tests.

use ferrokafka::config::ClientConfig;
use ferrokafka_testcontainers::{Kafka, Topology};
use std::time::Duration;

/// The process-wide shared broker's bootstrap list (starts it on first use).
pub fn shared_bootstrap() -> String {
    match Kafka::shared() {
        Ok(k) => k.bootstrap(),
        Err(e) => panic!("no Kafka broker for the integration tests: {e}"),
    }
}

/// A client configuration for `bootstrap` with short backoffs, so tests run quickly.
pub fn config(bootstrap: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("ferrokafka-it")
        .reconnect_backoff(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_millis(500))
        .request_timeout(Duration::from_secs(15))
        .connection_setup_timeout(Duration::from_secs(5))
        .build()
        .expect("valid test configuration")
}

/// Starts a dedicated cluster (blocking work runs off the async runtime's threads).
pub async fn dedicated(topology: Topology) -> Kafka {
    tokio::task::spawn_blocking(move || Kafka::start(topology))
        .await
        .expect("harness thread")
        .unwrap_or_else(|e| panic!("cannot start a dedicated {topology:?} cluster: {e}"))
}

/// A dedicated 3-node cluster with a fault proxy in front of each node (JVM backend).
pub async fn proxied_cluster() -> std::sync::Arc<Kafka> {
    std::sync::Arc::new(
        blocking(|| Kafka::start_proxied(Topology::Cluster3))
            .await
            .unwrap_or_else(|e| panic!("proxied 3-node cluster: {e}")),
    )
}

/// A dedicated single-node broker whose feature levels Kafka's `FeatureCommand` changed first
/// (`args` after `--bootstrap-server`, e.g. `["disable", "--feature", "share.version"]`), to
/// stand in for an older broker.
pub async fn dedicated_with_features(args: &'static [&'static str]) -> Kafka {
    let kafka = dedicated(Topology::Single).await;
    let b = kafka.bootstrap();
    let out = blocking(move || {
        ferrokafka_testcontainers::JvmRuntime::locate()
            .expect("java and the Kafka jars")
            .kafka_tool(ferrokafka_testcontainers::Tool::Feature)
            .expect("kafka-tools")
            .args(["--bootstrap-server", &b])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("FeatureCommand runs")
    })
    .await;
    assert!(
        out.status.success(),
        "FeatureCommand {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The single node applies the feature record it wrote itself; give it a moment.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    kafka
}

/// Runs a blocking harness operation (kill, restart) off the runtime's threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("harness thread")
}

/// Held by the tests that stream millions of records (chaos.rs, chaos_cluster.rs) for their whole
/// run: the proxy scenario keeps every one of its 1-3 million records in its ledger and reads
/// them all back, and chaos_cluster.rs bounds this process's resident memory, so under
/// `cargo test` (tests in parallel threads of one process) they must not overlap.
pub async fn heavy() -> tokio::sync::MutexGuard<'static, ()> {
    static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    HEAVY.lock().await
}

/// A `tracing` writer into a shared buffer, for tests that read the client's log (give the
/// subscriber `move || buf.clone()`).
#[derive(Clone, Default)]
pub struct LogBuf(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    /// Everything logged so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    /// Everything logged so far, a `String` a line.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }
}

//! The Docker backend: one `apache/kafka` container through testcontainers-rs (feature `docker`).
//!
//! The container's client port is mapped to the same, freely chosen, host port, so the advertised
//! listener `127.0.0.1:<port>` is right inside and outside the container.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Why a Docker engine is usable, or `None`: `DOCKER_HOST` (`unix://` socket answering `GET /_ping`,
/// or `tcp://` address accepting connections), else `/var/run/docker.sock` answering `GET /_ping`.
pub(crate) fn docker_engine() -> Option<String> {
    if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        let reachable = if let Some(path) = host.strip_prefix("unix://") {
            ping_unix(path)
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            addr.to_socket_addrs().is_ok_and(|mut a| {
                a.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
            })
        } else {
            // Another scheme (ssh://, npipe://): let testcontainers try it.
            true
        };
        return reachable.then(|| format!("DOCKER_HOST={host}"));
    }
    let sock = "/var/run/docker.sock";
    ping_unix(sock).then(|| format!("{sock} answers"))
}

/// Whether the Docker API on this Unix socket answers `GET /_ping` with 200.
fn ping_unix(path: &str) -> bool {
    let ping = || -> std::io::Result<bool> {
        let mut s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.set_write_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf)?;
        let head = buf.get(..n).unwrap_or_default();
        Ok(head.starts_with(b"HTTP/1.") && head.windows(5).any(|w| w == b" 200 "))
    };
    ping().unwrap_or(false)
}

#[cfg(feature = "docker")]
pub(crate) use engine::DockerKafka;

#[cfg(feature = "docker")]
mod engine {
    use std::io::Write as _;
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::time::Duration;

    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::SyncRunner;
    use testcontainers::{Container, GenericImage, ImageExt};

    use crate::config::free_ports;
    use crate::ids::random_cluster_id;
    use crate::version::KafkaVersion;
    use crate::HarnessError;

    /// Removes the container with the docker CLI when the owning process dies (EOF on stdin), because
    /// a `static` shared container is never dropped. A line on stdin disarms it.
    const WATCHDOG_SCRIPT: &str = r#"trap '' INT HUP
if read -r _; then exit 0; fi
docker rm -f "$1" >/dev/null 2>&1
exit 0
"#;

    /// A single-node Kafka in a container.
    pub(crate) struct DockerKafka {
        container: Container<GenericImage>,
        port: u16,
        watchdog: Option<(Child, ChildStdin)>,
    }

    impl std::fmt::Debug for DockerKafka {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("DockerKafka")
                .field("container", &self.container.id())
                .field("port", &self.port)
                .finish()
        }
    }

    impl DockerKafka {
        pub(crate) fn start() -> Result<DockerKafka, HarnessError> {
            let port = free_ports(1)?
                .first()
                .copied()
                .ok_or_else(|| HarnessError::Docker("no free port".into()))?;
            let version = KafkaVersion::current()?;
            let mut env = vec![
                ("CLUSTER_ID", random_cluster_id()),
                ("KAFKA_NODE_ID", "1".into()),
                ("KAFKA_PROCESS_ROLES", "broker,controller".into()),
                (
                    "KAFKA_LISTENERS",
                    format!("PLAINTEXT://:{port},CONTROLLER://:9093"),
                ),
                (
                    "KAFKA_ADVERTISED_LISTENERS",
                    format!("PLAINTEXT://127.0.0.1:{port}"),
                ),
                ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER".into()),
                (
                    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT".into(),
                ),
                ("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093".into()),
                ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1".into()),
                ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1".into()),
                ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1".into()),
                ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0".into()),
                ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true".into()),
                ("KAFKA_NUM_PARTITIONS", "1".into()),
                ("KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m".into()),
            ];
            // The image writes every KAFKA_* variable into server.properties: only keys this
            // version defines (as `config::render_server_properties`).
            if version.has_share_coordinator() {
                env.push((
                    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
                    "1".into(),
                ));
                env.push(("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1".into()));
            }
            // The image tags are the release versions (`apache/kafka:3.9.1`).
            let mut request = GenericImage::new("apache/kafka", version.as_str())
                .with_exposed_port(port.tcp())
                .with_wait_for(WaitFor::message_on_stdout("Kafka Server started"))
                .with_mapped_port(port, port.tcp())
                .with_startup_timeout(Duration::from_secs(180));
            for (k, v) in env {
                request = request.with_env_var(k, v);
            }
            let container = request
                .start()
                .map_err(|e| HarnessError::Docker(format!("starting apache/kafka: {e}")))?;
            let watchdog = spawn_watchdog(container.id()).ok();
            Ok(DockerKafka {
                container,
                port,
                watchdog,
            })
        }

        pub(crate) fn address(&self) -> String {
            format!("127.0.0.1:{}", self.port)
        }

        pub(crate) fn is_running(&self) -> bool {
            self.container.is_running().unwrap_or(false)
        }

        /// Stops the container; `grace` 0 = SIGKILL.
        pub(crate) fn stop(&self, grace: i32) -> Result<(), HarnessError> {
            self.container
                .stop_with_timeout(Some(grace))
                .map_err(|e| HarnessError::Docker(format!("stopping the container: {e}")))
        }

        /// Starts the stopped container again (same port mapping and data).
        pub(crate) fn restart(&self) -> Result<(), HarnessError> {
            if self.is_running() {
                self.stop(0)?;
            }
            self.container
                .start()
                .map_err(|e| HarnessError::Docker(format!("starting the container: {e}")))
        }
    }

    impl Drop for DockerKafka {
        fn drop(&mut self) {
            // The container itself is removed by testcontainers' Drop.
            if let Some((mut child, mut stdin)) = self.watchdog.take() {
                let _ = stdin.write_all(b"disarm\n");
                drop(stdin);
                let _ = child.wait();
            }
        }
    }

    fn spawn_watchdog(id: &str) -> std::io::Result<(Child, ChildStdin)> {
        use std::os::unix::process::CommandExt as _;
        let mut child = Command::new("sh")
            .args(["-c", WATCHDOG_SCRIPT, "ferrokafka-docker-watchdog", id])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        match child.stdin.take() {
            Some(s) => Ok((child, s)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::io::Error::other("no stdin pipe"))
            }
        }
    }
}

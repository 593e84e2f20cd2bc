//! A single-node KRaft broker with TLS and SASL listeners, users and ACLs, for the security tests.
//!
//! Listeners (all on 127.0.0.1, ports chosen at start):
//!
//! | listener | protocol | notes |
//! |---|---|---|
//! | `PLAINTEXT` | PLAINTEXT | inter-broker; principal `ANONYMOUS` is a super user (harness tools use it) |
//! | `SASL_PLAINTEXT` | SASL_PLAINTEXT | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER |
//! | `SASL_SSL` | SASL_SSL | the same mechanisms over TLS |
//! | `SSL` | SSL | a client certificate is required (mTLS); its CN is the principal |
//! | `REAUTH` | SASL_SSL | `connections.max.reauth.ms` = [`SecureOptions::reauth_ms`] (KIP-368) |
//! | `SSL_EXPIRED` | SSL | no client certificate asked; the broker's certificate was valid only during 2020 |
//!
//! A CA and the broker's certificate (SAN: IP 127.0.0.1 and DNS `kafka.test`, *not*
//! `localhost`, so connecting by `localhost` is a host-name mismatch) are generated at start with
//! `rcgen`, as is a second CA the broker does not use (for the untrusted-CA test), a client
//! certificate per user for the SSL listener (its key also as an encrypted PKCS#8 copy, password
//! [`CLIENT_KEY_PASSWORD`], for `ssl.key.password`), and for `SSL_EXPIRED` a certificate from
//! the same CA with the same names that was valid only during 2020 (Kafka loads a keystore
//! without checking its dates; the client must refuse it). Nothing is committed.
//!
//! Users: `admin` (super user), `alice` (All on topics and groups whose names start with
//! `alice`), `bob` (no ACL). Passwords are `<user>-secret`; SCRAM credentials for both hashes are
//! created at format time (`kafka-storage format --add-scram`), PLAIN users live in the JAAS
//! config, OAUTHBEARER uses Kafka's unsecured validator (the token's `sub` is the principal).
//!
//! Under `FERROKAFKA_KAFKA_BACKEND=mock` (or without Java) the same listeners, users and
//! certificates are served by in-process mock clusters instead, one per listener (`secure/mock.rs`):
//! no ACLs; docs/testing.md lists the tests that need the JVM.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::config::free_ports;
use crate::ids::{random_cluster_id, random_u64};
use crate::process::{Cleanup, NodeProcess};
use crate::resolve::{tail_lines, JvmRuntime};
use crate::version::Tool;
use crate::HarnessError;

mod mock;

/// The users every secure broker has.
pub const USERS: [&str; 3] = ["admin", "alice", "bob"];

/// The password of the encrypted copies of the client keys
/// ([`SecureKafka::client_encrypted_keystore_path`]).
pub const CLIENT_KEY_PASSWORD: &str = "client-key-secret";

/// The password of `user` (`<user>-secret`).
pub fn password(user: &str) -> String {
    format!("{user}-secret")
}

/// A listener of the secure broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// PLAINTEXT (inter-broker; ANONYMOUS is a super user).
    Plaintext,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
    /// TLS with a required client certificate.
    Ssl,
    /// SASL over TLS with a short `connections.max.reauth.ms`.
    Reauth,
    /// TLS (no client certificate asked) with an expired broker certificate.
    SslExpired,
}

impl Listener {
    fn name(self) -> &'static str {
        match self {
            Listener::Plaintext => "PLAINTEXT",
            Listener::SaslPlaintext => "SASL_PLAINTEXT",
            Listener::SaslSsl => "SASL_SSL",
            Listener::Ssl => "SSL",
            Listener::Reauth => "REAUTH",
            Listener::SslExpired => "SSL_EXPIRED",
        }
    }
    /// The client's `security.protocol` for this listener.
    pub fn security_protocol(self) -> &'static str {
        match self {
            Listener::Plaintext => "PLAINTEXT",
            Listener::SaslPlaintext => "SASL_PLAINTEXT",
            Listener::SaslSsl | Listener::Reauth => "SASL_SSL",
            Listener::Ssl | Listener::SslExpired => "SSL",
        }
    }
    pub(crate) const ALL: [Listener; 6] = [
        Listener::Plaintext,
        Listener::SaslPlaintext,
        Listener::SaslSsl,
        Listener::Ssl,
        Listener::Reauth,
        Listener::SslExpired,
    ];
}

/// Options of [`SecureKafka::start`].
#[derive(Debug, Clone)]
pub struct SecureOptions {
    /// `connections.max.reauth.ms` of the `REAUTH` listener (default 10 s).
    pub reauth_ms: u64,
}

impl Default for SecureOptions {
    fn default() -> Self {
        SecureOptions { reauth_ms: 10_000 }
    }
}

/// A running secure broker (owned: killed and its directory removed on Drop; a watchdog kills the
/// JVM if this process dies).
#[derive(Debug)]
pub struct SecureKafka {
    dir: PathBuf,
    ports: Vec<(Listener, u16)>,
    process: Option<NodeProcess>,
    /// Owned: watchdog, and Drop kills the JVM and removes `dir`. Detached
    /// (`kafka-test-cluster start --security sasl_ssl`): nothing happens on Drop.
    owned: bool,
    /// The mock backend: one in-process cluster per listener (empty for the JVM broker).
    mocks: Vec<ferrokafka_mock::MockClusterThread>,
}

/// The state file of a detached secure broker, inside its directory.
const STATE_FILE: &str = "secure.state";

fn pem_err(e: rcgen::Error) -> HarnessError {
    HarnessError::Io(format!("generating test certificates: {e}"))
}

fn write(path: &Path, content: &str) -> Result<(), HarnessError> {
    fs::write(path, content).map_err(|e| HarnessError::io(path.display(), e))
}

fn ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>), HarnessError> {
    let key = KeyPair::generate().map_err(pem_err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pem_err)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).map_err(pem_err)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// A certificate signed by `issuer` and its key.
struct Leaf {
    key: KeyPair,
    /// The certificate PEM followed by the CA's.
    chain: String,
}

impl Leaf {
    /// `key PEM + certificate PEM + CA PEM`, the PEM keystore Kafka and the client read.
    fn keystore(&self) -> String {
        format!("{}{}", self.key.serialize_pem(), self.chain)
    }

    /// The same with the key as an `ENCRYPTED PRIVATE KEY` (PBES2: PBKDF2-HMAC-SHA256 and
    /// AES-256-CBC, what `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes).
    fn encrypted_keystore(&self, password: &str) -> Result<String, HarnessError> {
        use pkcs8::der::Decode;
        let bad = |e: String| HarnessError::Io(format!("encrypting a test key: {e}"));
        let der = self.key.serialize_der();
        let info = pkcs8::PrivateKeyInfo::from_der(&der).map_err(|e| bad(e.to_string()))?;
        // Test fixtures only: a fresh salt and IV per key keeps them realistic, but they need
        // no cryptographic randomness.
        let salt = random_u64().to_be_bytes();
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&random_u64().to_be_bytes());
        iv[8..].copy_from_slice(&random_u64().to_be_bytes());
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &salt, &iv)
            .map_err(|e| bad(e.to_string()))?;
        let doc = info
            .encrypt_with_params(params, password)
            .map_err(|e| bad(e.to_string()))?;
        let pem = doc
            .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
            .map_err(|e| bad(e.to_string()))?;
        Ok(format!("{}{}", pem.as_str(), self.chain))
    }
}

/// A certificate for `cn` with `sans` signed by `issuer`; `validity` (not before, not after, as
/// year, month, day) overrides rcgen's default dates (1975 to 4096).
fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    ca_pem: &str,
    cn: &str,
    sans: &[SanType],
    validity: Option<[(i32, u8, u8); 2]>,
) -> Result<Leaf, HarnessError> {
    let key = KeyPair::generate().map_err(pem_err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pem_err)?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans.to_vec();
    if let Some([(y0, m0, d0), (y1, m1, d1)]) = validity {
        params.not_before = rcgen::date_time_ymd(y0, m0, d0);
        params.not_after = rcgen::date_time_ymd(y1, m1, d1);
    }
    let cert = params.signed_by(&key, issuer).map_err(pem_err)?;
    Ok(Leaf {
        key,
        chain: format!("{}{ca_pem}", cert.pem()),
    })
}

impl SecureKafka {
    /// Generates the certificates, formats storage with the SCRAM users, starts the broker, waits
    /// until it is ready and creates alice's ACLs.
    pub fn start(opts: SecureOptions) -> Result<SecureKafka, HarnessError> {
        let dir = std::env::temp_dir().join(format!(
            "ferrokafka-secure-{}-{:08x}",
            std::process::id(),
            random_u64() as u32
        ));
        if mock::chosen() {
            return Self::start_mock(dir, &opts);
        }
        Self::start_in(dir, opts, true)
    }

    /// Starts a detached broker in `dir` (wiped first) that outlives this process, and writes
    /// `dir/secure.state`; stop it with [`SecureKafka::load`] + [`SecureKafka::stop`].
    pub fn start_detached(dir: &Path, opts: SecureOptions) -> Result<SecureKafka, HarnessError> {
        let _ = fs::remove_dir_all(dir);
        let k = Self::start_in(dir.to_path_buf(), opts, false)?;
        let mut state = format!("pid={}\n", k.process.as_ref().map_or(0, NodeProcess::pid));
        for (l, p) in &k.ports {
            state.push_str(&format!("{}={p}\n", l.name()));
        }
        write(&dir.join(STATE_FILE), &state)?;
        Ok(k)
    }

    /// Re-attaches to a detached broker from `dir/secure.state`.
    pub fn load(dir: &Path) -> Result<SecureKafka, HarnessError> {
        let path = dir.join(STATE_FILE);
        let text = fs::read_to_string(&path).map_err(|e| {
            HarnessError::State(format!(
                "no secure cluster state at {} ({e}); `kafka-test-cluster start --security sasl_ssl` first",
                path.display()
            ))
        })?;
        let mut pid = None;
        let mut ports = Vec::new();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let bad = || HarnessError::State(format!("bad line {line:?} in {}", path.display()));
            if k == "pid" {
                pid = Some(v.parse::<u32>().map_err(|_| bad())?);
            } else if let Some(l) = Listener::ALL.iter().find(|l| l.name() == k) {
                ports.push((*l, v.parse::<u16>().map_err(|_| bad())?));
            }
        }
        Ok(SecureKafka {
            dir: dir.to_path_buf(),
            ports,
            process: pid.map(NodeProcess::adopt),
            owned: false,
            mocks: Vec::new(),
        })
    }

    /// Whether the broker JVM runs (the mock backend: always).
    pub fn is_running(&mut self) -> bool {
        !self.mocks.is_empty() || self.process.as_mut().is_some_and(NodeProcess::is_running)
    }

    /// Stops the broker (SIGTERM, SIGKILL after 30 s) and removes its directory.
    pub fn stop(&mut self) -> Result<(), HarnessError> {
        if let Some(p) = self.process.as_mut() {
            p.signal_term()?;
            p.finish_stop(Duration::from_secs(30))?;
        }
        fs::remove_dir_all(&self.dir).map_err(|e| HarnessError::io(self.dir.display(), e))
    }

    /// Writes `user`'s Java properties file for the SASL_SSL listener with `mechanism` into the
    /// broker's directory and returns its path.
    pub fn write_client_config(
        &self,
        user: &str,
        mechanism: &str,
    ) -> Result<PathBuf, HarnessError> {
        let path = self.dir.join(format!(
            "client-{user}-{}.properties",
            mechanism.to_ascii_lowercase()
        ));
        let mut text = String::new();
        for (k, v) in self.client_properties(Listener::SaslSsl, user, mechanism) {
            // Java properties: `\` escapes; the values here (paths, JAAS) have none on Unix.
            text.push_str(&format!("{k}={v}\n"));
        }
        write(&path, &text)?;
        Ok(path)
    }

    fn start_in(
        dir: PathBuf,
        opts: SecureOptions,
        owned: bool,
    ) -> Result<SecureKafka, HarnessError> {
        let runtime = JvmRuntime::locate()?;
        fs::create_dir_all(&dir).map_err(|e| HarnessError::io(dir.display(), e))?;
        let mut k = SecureKafka {
            dir,
            ports: Vec::new(),
            process: None,
            owned,
            mocks: Vec::new(),
        };
        k.generate_certificates()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match k.try_start(&runtime, &opts) {
                Ok(()) => break,
                Err(e) => {
                    if let Some(p) = k.process.as_mut() {
                        let _ = p.kill();
                    }
                    k.process = None;
                    let clash = matches!(&e, HarnessError::Startup { log_tail, .. }
                        if log_tail.contains("Address already in use"));
                    if !clash || attempt >= 3 {
                        return Err(e);
                    }
                }
            }
        }
        k.create_acls(&runtime)?;
        Ok(k)
    }

    fn generate_certificates(&self) -> Result<(), HarnessError> {
        let (ca_pem, issuer) = ca("ferrokafka test CA")?;
        write(&self.ca_path(), &ca_pem)?;
        let (other_pem, _) = ca("ferrokafka untrusted CA")?;
        write(&self.untrusted_ca_path(), &other_pem)?;
        let broker_sans = [
            SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
            SanType::DnsName("kafka.test".try_into().map_err(pem_err)?),
        ];
        let broker = leaf(&issuer, &ca_pem, "kafka.test", &broker_sans, None)?;
        write(&self.dir.join("broker.pem"), &broker.keystore())?;
        // Trusted CA, right names, only the dates are wrong: the one reason to refuse it.
        let expired = leaf(
            &issuer,
            &ca_pem,
            "kafka.test",
            &broker_sans,
            Some([(2020, 1, 1), (2021, 1, 1)]),
        )?;
        write(&self.dir.join("broker-expired.pem"), &expired.keystore())?;
        for user in USERS {
            let client = leaf(&issuer, &ca_pem, user, &[], None)?;
            write(&self.client_keystore_path(user), &client.keystore())?;
            write(
                &self.client_encrypted_keystore_path(user),
                &client.encrypted_keystore(CLIENT_KEY_PASSWORD)?,
            )?;
        }
        Ok(())
    }

    /// The PEM file of the CA that signed the broker's certificate.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The PEM file of a CA that signed nothing the broker uses.
    pub fn untrusted_ca_path(&self) -> PathBuf {
        self.dir.join("untrusted-ca.pem")
    }

    /// A PEM file with `user`'s private key and certificate chain (CN = `user`), for the SSL
    /// listener (`ssl.keystore.location`).
    pub fn client_keystore_path(&self, user: &str) -> PathBuf {
        self.dir.join(format!("client-{user}.pem"))
    }

    /// The same as [`SecureKafka::client_keystore_path`] with the key encrypted (PKCS#8 PBES2,
    /// PBKDF2-HMAC-SHA256 + AES-256-CBC) under [`CLIENT_KEY_PASSWORD`] (`ssl.key.password`).
    pub fn client_encrypted_keystore_path(&self, user: &str) -> PathBuf {
        self.dir.join(format!("client-{user}-encrypted.pem"))
    }

    /// The broker's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The port of `listener`.
    pub fn port(&self, listener: Listener) -> u16 {
        self.ports
            .iter()
            .find(|(l, _)| *l == listener)
            .map_or(0, |(_, p)| *p)
    }

    /// `127.0.0.1:<port>` of `listener`.
    pub fn bootstrap(&self, listener: Listener) -> String {
        format!("127.0.0.1:{}", self.port(listener))
    }

    /// Java client properties for `user` on `listener` with `mechanism` (ignored for the SSL
    /// and PLAINTEXT listeners): `bootstrap.servers`, `security.protocol`, the PEM truststore,
    /// `sasl.mechanism` and `sasl.jaas.config` (or the client keystore for SSL).
    pub fn client_properties(
        &self,
        listener: Listener,
        user: &str,
        mechanism: &str,
    ) -> Vec<(String, String)> {
        let mut p = vec![
            ("bootstrap.servers".to_string(), self.bootstrap(listener)),
            (
                "security.protocol".to_string(),
                listener.security_protocol().to_string(),
            ),
        ];
        if matches!(
            listener,
            Listener::SaslSsl | Listener::Ssl | Listener::Reauth | Listener::SslExpired
        ) {
            p.push(("ssl.truststore.type".into(), "PEM".into()));
            p.push((
                "ssl.truststore.location".into(),
                self.ca_path().display().to_string(),
            ));
        }
        if listener == Listener::Ssl {
            p.push(("ssl.keystore.type".into(), "PEM".into()));
            p.push((
                "ssl.keystore.location".into(),
                self.client_keystore_path(user).display().to_string(),
            ));
        }
        if matches!(
            listener,
            Listener::SaslPlaintext | Listener::SaslSsl | Listener::Reauth
        ) {
            p.push(("sasl.mechanism".into(), mechanism.to_string()));
            p.push(("sasl.jaas.config".into(), jaas(user, mechanism)));
        }
        p
    }

    fn try_start(
        &mut self,
        runtime: &JvmRuntime,
        opts: &SecureOptions,
    ) -> Result<(), HarnessError> {
        let ports = free_ports(Listener::ALL.len() + 1)?;
        self.ports = Listener::ALL.iter().copied().zip(ports.clone()).collect();
        let controller = ports.last().copied().unwrap_or(0);
        let props = self.server_properties(runtime, controller, opts);
        let props_path = self.dir.join("server.properties");
        write(&props_path, &props)?;
        let data = self.dir.join("data");
        let _ = fs::remove_dir_all(&data);
        self.format(runtime, &props_path)?;
        let log = self.log_path();
        let _ = fs::remove_file(&log);
        let cleanup = self.owned.then(|| Cleanup {
            node_dir: self.dir.clone(),
            cluster_dir: self.dir.clone(),
        });
        self.process = Some(NodeProcess::spawn(
            runtime,
            &props_path,
            &self.dir,
            &log,
            cleanup.as_ref(),
        )?);
        self.wait_ready()
    }

    fn server_properties(
        &self,
        runtime: &JvmRuntime,
        controller: u16,
        opts: &SecureOptions,
    ) -> String {
        let listeners: Vec<String> = self
            .ports
            .iter()
            .map(|(l, p)| format!("{}://127.0.0.1:{p}", l.name()))
            .collect();
        let protocol_map: Vec<String> = Listener::ALL
            .iter()
            .map(|l| format!("{}:{}", l.name(), l.security_protocol()))
            .collect();
        let mut p = String::new();
        let mut line = |k: &str, v: &str| {
            p.push_str(k);
            p.push('=');
            p.push_str(v);
            p.push('\n');
        };
        line("process.roles", "broker,controller");
        line("node.id", "1");
        line(
            "controller.quorum.bootstrap.servers",
            &format!("127.0.0.1:{controller}"),
        );
        line(
            "listeners",
            &format!(
                "{},CONTROLLER://127.0.0.1:{controller}",
                listeners.join(",")
            ),
        );
        line("advertised.listeners", &listeners.join(","));
        line(
            "listener.security.protocol.map",
            &format!("CONTROLLER:PLAINTEXT,{}", protocol_map.join(",")),
        );
        line("inter.broker.listener.name", "PLAINTEXT");
        line("controller.listener.names", "CONTROLLER");
        line("log.dirs", &self.dir.join("data").display().to_string());
        if runtime.version.has_share_coordinator() {
            line("share.coordinator.state.topic.replication.factor", "1");
            line("share.coordinator.state.topic.min.isr", "1");
        }
        for (k, v) in [
            ("num.partitions", "1"),
            ("default.replication.factor", "1"),
            ("min.insync.replicas", "1"),
            ("offsets.topic.replication.factor", "1"),
            ("transaction.state.log.replication.factor", "1"),
            ("transaction.state.log.min.isr", "1"),
            ("auto.create.topics.enable", "true"),
            ("group.initial.rebalance.delay.ms", "0"),
            ("num.network.threads", "2"),
            ("num.io.threads", "4"),
            ("num.recovery.threads.per.data.dir", "1"),
            ("log.cleaner.dedupe.buffer.size", "33554432"),
            (
                "sasl.enabled.mechanisms",
                "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
            ),
            (
                "authorizer.class.name",
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            ),
            ("super.users", "User:admin;User:ANONYMOUS"),
            ("ssl.keystore.type", "PEM"),
            ("ssl.truststore.type", "PEM"),
            ("listener.name.ssl.ssl.client.auth", "required"),
            (
                "ssl.principal.mapping.rules",
                "RULE:^CN=([a-zA-Z0-9._-]+)$/$1/,DEFAULT",
            ),
            // Answer a failed authentication quickly (default 100 ms) so the tests time it.
            ("connection.failed.authentication.delay.ms", "100"),
        ] {
            line(k, v);
        }
        line(
            "ssl.keystore.location",
            &self.dir.join("broker.pem").display().to_string(),
        );
        line(
            "ssl.truststore.location",
            &self.ca_path().display().to_string(),
        );
        let plain_users: String = USERS
            .iter()
            .map(|u| format!(" user_{u}=\"{}\"", password(u)))
            .collect();
        for l in [Listener::SaslPlaintext, Listener::SaslSsl, Listener::Reauth] {
            let n = l.name().to_ascii_lowercase();
            line(
                &format!("listener.name.{n}.plain.sasl.jaas.config"),
                &format!(
                    "org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};"
                ),
            );
            for m in ["scram-sha-256", "scram-sha-512"] {
                line(
                    &format!("listener.name.{n}.{m}.sasl.jaas.config"),
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                );
            }
            line(
                &format!("listener.name.{n}.oauthbearer.sasl.jaas.config"),
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"admin\";",
            );
            line(
                &format!("listener.name.{n}.oauthbearer.sasl.server.callback.handler.class"),
                "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler",
            );
        }
        // Per-listener override (Kafka's `listener.name.<name>.` prefix): only SSL_EXPIRED
        // presents the expired certificate.
        line(
            "listener.name.ssl_expired.ssl.keystore.location",
            &self.dir.join("broker-expired.pem").display().to_string(),
        );
        line(
            "listener.name.reauth.connections.max.reauth.ms",
            &opts.reauth_ms.to_string(),
        );
        p
    }

    fn format(&self, runtime: &JvmRuntime, props: &Path) -> Result<(), HarnessError> {
        let mut cmd = Command::new(&runtime.java);
        cmd.arg("-Xmx256m")
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                runtime.tools_log4j().display()
            ))
            .arg("-cp")
            .arg(runtime.classpath())
            .args(["kafka.tools.StorageTool", "format", "--standalone", "-t"])
            .arg(random_cluster_id())
            .arg("-c")
            .arg(props);
        for user in USERS {
            for m in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                cmd.arg("--add-scram")
                    .arg(format!("{m}=[name={user},password={}]", password(user)));
            }
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| HarnessError::io("starting kafka.tools.StorageTool", e))?;
        if !out.status.success() {
            return Err(HarnessError::Startup {
                node: 1,
                message: format!("StorageTool format failed ({})", out.status),
                log_tail: tail_lines(
                    &format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                    50,
                ),
            });
        }
        Ok(())
    }

    fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let log = self.log_path();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port(Listener::Plaintext)));
        let timeout = Duration::from_secs(
            std::env::var("FERROKAFKA_KAFKA_START_TIMEOUT")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(120),
        );
        let deadline = Instant::now() + timeout;
        let startup_error = |message: String| HarnessError::Startup {
            node: 1,
            message,
            log_tail: tail_lines(&fs::read_to_string(&log).unwrap_or_default(), 50),
        };
        let Some(process) = self.process.as_mut() else {
            return Err(startup_error("the broker was not started".into()));
        };
        loop {
            if !process.is_running() {
                return Err(startup_error(format!(
                    "JVM exited ({}); log {}",
                    process.exit_status().unwrap_or_default(),
                    log.display()
                )));
            }
            let logged = fs::read_to_string(&log).is_ok_and(|s| s.contains("Kafka Server started"));
            if logged && TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(startup_error(format!("not ready after {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// alice: All on topics and groups prefixed `alice` (through the PLAINTEXT listener, whose
    /// ANONYMOUS principal is a super user).
    fn create_acls(&self, runtime: &JvmRuntime) -> Result<(), HarnessError> {
        let out = runtime
            .kafka_tool(Tool::Acl)?
            .args(["--bootstrap-server", &self.bootstrap(Listener::Plaintext)])
            .args([
                "--add",
                "--allow-principal",
                "User:alice",
                "--operation",
                "All",
                "--resource-pattern-type",
                "prefixed",
                "--topic",
                "alice",
                "--group",
                "alice",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| HarnessError::io("starting AclCommand", e))?;
        if !out.status.success() {
            return Err(HarnessError::Tool(format!(
                "AclCommand --add failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }
}

/// `sasl.jaas.config` for `user` with `mechanism`.
pub fn jaas(user: &str, mechanism: &str) -> String {
    match mechanism {
        "PLAIN" => format!(
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{user}\" password=\"{}\";",
            password(user)
        ),
        "OAUTHBEARER" => format!(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"{user}\";"
        ),
        _ => format!(
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{}\";",
            password(user)
        ),
    }
}

impl Drop for SecureKafka {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Some(p) = self.process.as_mut() {
            let _ = p.kill();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

static SHARED: std::sync::OnceLock<Result<SecureKafka, HarnessError>> = std::sync::OnceLock::new();

impl SecureKafka {
    /// The secure broker shared by every security test of this process (default options),
    /// started on first use; the watchdog kills it when the process exits.
    pub fn shared() -> Result<&'static SecureKafka, HarnessError> {
        SHARED
            .get_or_init(|| SecureKafka::start(SecureOptions::default()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

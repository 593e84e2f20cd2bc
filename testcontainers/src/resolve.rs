//! Finding Java and the Kafka jars: resolves them once from Maven Central into a cache directory
//! shared by all processes (with a lock file so parallel test processes don't resolve twice).

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::config::{SERVER_LOG4J2, TOOLS_LOG4J2};
use crate::process::pid_alive;
use crate::version::{KafkaVersion, Tool, KAFKA_VERSION};
use crate::HarnessError;

/// The pom that resolves the broker's runtime classpath (packaging `pom`, nothing compiled). Its
/// `kafka.version` property is [`KAFKA_VERSION`]; [`pom_for`] writes the selected version there.
const POM: &str = include_str!("../kafka/pom.xml");

/// A lock older than this is considered abandoned even if its pid looks alive (pid reuse).
const STALE_LOCK: Duration = Duration::from_secs(15 * 60);

/// What is needed to run broker JVMs: the `java` binary and a resolved classpath.
#[derive(Debug, Clone)]
pub struct JvmRuntime {
    /// The `java` executable (`$JAVA_HOME/bin/java` or `java` on `PATH`).
    pub java: PathBuf,
    /// The cache directory (`$FERROKAFKA_KAFKA_CACHE` or `~/.cache/ferrokafka/kafka-<version>`).
    pub cache_dir: PathBuf,
    /// The Kafka version of the jars (`FERROKAFKA_KAFKA_VERSION`, default [`KAFKA_VERSION`]).
    pub version: KafkaVersion,
}

impl JvmRuntime {
    /// Finds Java and makes sure the jars are resolved (running Maven at most once per cache dir).
    pub fn locate() -> Result<JvmRuntime, HarnessError> {
        Self::locate_version(KafkaVersion::current()?)
    }

    /// [`JvmRuntime::locate`] for a given Kafka version rather than `FERROKAFKA_KAFKA_VERSION`'s.
    pub fn locate_version(version: KafkaVersion) -> Result<JvmRuntime, HarnessError> {
        let java = find_java()?;
        let cache_dir = cache_dir(&version)?;
        ensure_resolved(&cache_dir, ".complete", &version, run_maven)?;
        write_if_changed(&cache_dir.join("log4j2-server.properties"), SERVER_LOG4J2)?;
        write_if_changed(&cache_dir.join("log4j2-tools.properties"), TOOLS_LOG4J2)?;
        Ok(JvmRuntime {
            java,
            cache_dir,
            version,
        })
    }

    /// The `-cp` argument: every jar of the cache's `libs` directory.
    pub fn classpath(&self) -> String {
        format!("{}/*", self.cache_dir.join("libs").display())
    }

    /// A `java` command for a Kafka command-line tool, e.g. `org.apache.kafka.tools.TopicCommand`
    /// or `org.apache.kafka.tools.ProducerPerformance`: small heap, warnings only, the broker jars
    /// plus `kafka-tools` (resolved on first use into `<cache>/tools`). Add the tool's arguments.
    pub fn tool(&self, main_class: &str) -> Result<Command, HarnessError> {
        ensure_resolved(
            &self.cache_dir,
            ".tools-complete",
            &self.version,
            run_maven_tools,
        )?;
        let mut cmd = Command::new(&self.java);
        cmd.arg("-Xmx512m")
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.tools_log4j().display()
            ))
            .arg("-cp")
            .arg(format!(
                "{}:{}/*",
                self.classpath(),
                self.cache_dir.join("tools").display()
            ))
            .arg(main_class);
        Ok(cmd)
    }

    /// [`JvmRuntime::tool`] for one of the tools whose main class moved between versions
    /// ([`KafkaVersion::tool_class`]).
    pub fn kafka_tool(&self, tool: Tool) -> Result<Command, HarnessError> {
        self.tool(self.version.tool_class(tool))
    }

    pub(crate) fn server_log4j(&self) -> PathBuf {
        self.cache_dir.join("log4j2-server.properties")
    }

    pub(crate) fn tools_log4j(&self) -> PathBuf {
        self.cache_dir.join("log4j2-tools.properties")
    }
}

/// `$JAVA_HOME/bin/java` if it exists, else `java` from `PATH`; checked by running `java -version`.
pub(crate) fn find_java() -> Result<PathBuf, HarnessError> {
    let java = std::env::var_os("JAVA_HOME")
        .map(|h| Path::new(&h).join("bin").join("java"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("java"));
    let ok = Command::new(&java)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok(java)
    } else {
        Err(HarnessError::NoBackend(format!(
            "`{}` does not run: install Java 17+ (or set JAVA_HOME), or set KAFKA_BOOTSTRAP_SERVERS, \
             or run a Docker engine",
            java.display()
        )))
    }
}

/// The cache directory for `version`: one per version, so switching versions never re-resolves.
pub(crate) fn cache_dir(version: &KafkaVersion) -> Result<PathBuf, HarnessError> {
    if let Some(dir) = std::env::var_os("FERROKAFKA_KAFKA_CACHE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            Some(h) => PathBuf::from(h).join(".cache"),
            None => std::env::temp_dir(),
        },
    };
    Ok(base.join("ferrokafka").join(format!("kafka-{version}")))
}

/// The pom with `version` as its `kafka.version` property. Written into the cache rather than
/// passed as `-Dkafka.version`, so the pom in the cache says what was resolved and its hash (the
/// completion marker) differs per version: a `FERROKAFKA_KAFKA_CACHE` shared by two versions
/// resolves again when the version changes instead of running the other version's jars.
pub(crate) fn pom_for(version: &KafkaVersion) -> String {
    POM.replace(
        &format!("<kafka.version>{KAFKA_VERSION}</kafka.version>"),
        &format!("<kafka.version>{version}</kafka.version>"),
    )
}

/// The content of a completion marker: the version and a hash of the pom written for it, so
/// editing the pom (another dependency) or selecting another version makes the cache resolve again.
fn marker_content(version: &KafkaVersion) -> String {
    // FNV-1a 64: stable across Rust versions, unlike `DefaultHasher`.
    let hash = pom_for(version)
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("{version} {hash:016x}")
}

fn is_complete(marker: &Path, version: &KafkaVersion) -> bool {
    fs::read_to_string(marker).is_ok_and(|c| c.trim() == marker_content(version))
}

/// Runs `resolve(cache)` unless `<cache>/<marker_name>` says it already ran for this pom. Only one
/// process resolves: it holds `<cache>/.lock` (created with `create_new`, containing its pid); the
/// others wait for the marker. A lock whose pid is dead, or that is older than 15 minutes, is removed.
fn ensure_resolved(
    cache: &Path,
    marker_name: &str,
    version: &KafkaVersion,
    resolve: fn(&Path, &KafkaVersion) -> Result<(), HarnessError>,
) -> Result<(), HarnessError> {
    let marker = cache.join(marker_name);
    if is_complete(&marker, version) {
        return Ok(());
    }
    fs::create_dir_all(cache).map_err(|e| HarnessError::io(cache.display(), e))?;
    let lock = cache.join(".lock");
    let deadline = Instant::now() + Duration::from_secs(20 * 60);
    loop {
        if is_complete(&marker, version) {
            return Ok(());
        }
        match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                drop(f);
                let result = if is_complete(&marker, version) {
                    Ok(())
                } else {
                    resolve(cache, version).and_then(|()| {
                        fs::write(&marker, marker_content(version))
                            .map_err(|e| HarnessError::io(marker.display(), e))
                    })
                };
                let _ = fs::remove_file(&lock);
                return result;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if lock_is_stale(&lock) {
                    let _ = fs::remove_file(&lock);
                    continue;
                }
            }
            Err(e) => return Err(HarnessError::io(format!("creating {}", lock.display()), e)),
        }
        if Instant::now() > deadline {
            return Err(HarnessError::Resolve(format!(
                "timed out waiting for another process to resolve the jars (lock {})",
                lock.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn lock_is_stale(lock: &Path) -> bool {
    let old = fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_LOCK);
    if old {
        return true;
    }
    match fs::read_to_string(lock) {
        Ok(s) => match s.trim().parse::<u32>() {
            Ok(pid) => !pid_alive(pid),
            // The owner created the file but has not written its pid yet: give it time.
            Err(_) => false,
        },
        // Vanished between create_new and now: not stale, just retry.
        Err(_) => false,
    }
}

/// The broker's runtime classpath into `<cache>/libs`. Resolves into a fresh directory and swaps it
/// in, so jars of an older pom don't linger and JVMs running from the old directory keep their open
/// jars (the lock only serialises resolvers, not brokers using the cache).
fn run_maven(cache: &Path, version: &KafkaVersion) -> Result<(), HarnessError> {
    let libs = cache.join("libs");
    let fresh = cache.join(format!("libs.new.{}", std::process::id()));
    let _ = fs::remove_dir_all(&fresh);
    maven(
        cache,
        version,
        &[
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            &format!("-DoutputDirectory={}", fresh.display()),
        ],
    )?;
    let kafka_jar = fresh.join(format!("kafka_2.13-{version}.jar"));
    if !kafka_jar.is_file() {
        return Err(HarnessError::Resolve(format!(
            "Maven succeeded but {} is missing",
            kafka_jar.display()
        )));
    }
    let old = cache.join(format!("libs.old.{}", std::process::id()));
    if libs.exists() {
        fs::rename(&libs, &old).map_err(|e| HarnessError::io(libs.display(), e))?;
    }
    fs::rename(&fresh, &libs).map_err(|e| HarnessError::io(libs.display(), e))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// The `kafka-tools` jar alone into `<cache>/tools`: its other dependencies the tools we use need are
/// already in `libs`; its Connect/Jetty dependencies are left out of the broker's classpath.
fn run_maven_tools(cache: &Path, version: &KafkaVersion) -> Result<(), HarnessError> {
    let tools = cache.join("tools");
    maven(
        cache,
        version,
        &[
            "dependency:copy",
            &format!("-Dartifact=org.apache.kafka:kafka-tools:{version}"),
            &format!("-DoutputDirectory={}", tools.display()),
        ],
    )
}

/// `mvn -B -q -f <cache>/pom.xml <args>`, the pom naming `version`.
fn maven(cache: &Path, version: &KafkaVersion, args: &[&str]) -> Result<(), HarnessError> {
    let pom = cache.join("pom.xml");
    write_if_changed(&pom, &pom_for(version))?;
    let mvn = std::env::var_os("MAVEN").unwrap_or_else(|| "mvn".into());
    let output = Command::new(&mvn)
        .args(["-B", "-q", "-f"])
        .arg(&pom)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            HarnessError::NoBackend(format!(
                "the Kafka jars are not in {} and Maven (`{}`) cannot run ({e}): install Maven, \
                 or set KAFKA_BOOTSTRAP_SERVERS, or run a Docker engine",
                cache.display(),
                mvn.to_string_lossy()
            ))
        })?;
    if !output.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        return Err(HarnessError::Resolve(format!(
            "`mvn {}` for Kafka {version} failed ({}); is Maven Central reachable, and is \
             {version} a released Kafka version?\n{}",
            args.first().copied().unwrap_or_default(),
            output.status,
            tail_lines(&text, 50)
        )));
    }
    Ok(())
}

/// Writes `content` to `path` unless it already holds exactly that. Writes a temp file and renames
/// it, so a concurrent reader never sees a half-written file.
pub(crate) fn write_if_changed(path: &Path, content: &str) -> Result<(), HarnessError> {
    if fs::read_to_string(path).is_ok_and(|c| c == content) {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    fs::write(&tmp, content).map_err(|e| HarnessError::io(tmp.display(), e))?;
    fs::rename(&tmp, path).map_err(|e| HarnessError::io(path.display(), e))
}

/// The last `n` lines of `text`.
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
        assert_eq!(tail_lines("", 5), "");
    }

    #[test]
    fn stale_lock_detection() {
        let dir = std::env::temp_dir().join(format!("ferrokafka-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let lock = dir.join(".lock");
        // A pid that surely exited: a reaped child of ours.
        let mut dead = Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        fs::write(&lock, format!("{dead_pid}\n")).unwrap();
        assert!(lock_is_stale(&lock));
        fs::write(&lock, format!("{}\n", std::process::id())).unwrap();
        assert!(!lock_is_stale(&lock));
        // Being written right now: not stale yet.
        fs::write(&lock, "").unwrap();
        assert!(!lock_is_stale(&lock));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn marker_names_version_and_pom() {
        let default = KafkaVersion::parse(KAFKA_VERSION).unwrap();
        let m = marker_content(&default);
        assert!(m.starts_with(&format!("{KAFKA_VERSION} ")), "{m}");
        assert_eq!(m.len(), KAFKA_VERSION.len() + 17);
        assert_eq!(m, marker_content(&default));
        let other = KafkaVersion::parse("3.9.1").unwrap();
        let hash = |m: &str| m.split(' ').nth(1).unwrap_or_default().to_string();
        assert_ne!(hash(&marker_content(&other)), hash(&m));
    }

    #[test]
    fn pom_is_embedded_and_names_the_selected_version() {
        assert!(POM.contains("<artifactId>kafka_2.13</artifactId>"));
        // `pom_for` replaces this exact element: the pom's default must stay KAFKA_VERSION.
        assert!(POM.contains(&format!("<kafka.version>{KAFKA_VERSION}</kafka.version>")));
        let pom = pom_for(&KafkaVersion::parse("3.9.1").unwrap());
        assert!(pom.contains("<kafka.version>3.9.1</kafka.version>"));
        assert!(!pom.contains(&format!("<kafka.version>{KAFKA_VERSION}<")));
    }

    #[test]
    fn cache_dir_is_per_version() {
        if std::env::var_os("FERROKAFKA_KAFKA_CACHE").is_some() {
            return; // an explicit cache dir is used as is, whatever the version
        }
        let v = KafkaVersion::parse("3.9.1").unwrap();
        assert!(cache_dir(&v).unwrap().ends_with("ferrokafka/kafka-3.9.1"));
    }
}

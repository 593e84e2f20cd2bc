//! Broker JVM processes: spawning (with or without a watchdog), signals, liveness.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::resolve::JvmRuntime;
use crate::HarnessError;

/// JVM flags of `bin/kafka-run-class.sh` (KAFKA_JVM_PERFORMANCE_OPTS).
const JVM_PERFORMANCE_OPTS: &[&str] = &[
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
];

/// Default heap per broker (kafka-server-start.sh uses 1 GiB; several nodes share a small box).
const DEFAULT_HEAP_OPTS: &str = "-Xms256m -Xmx512m";

/// The watchdog: reads its stdin, a pipe whose write end only the owning process holds. A line means
/// "disarm" (the owner stops the JVM itself). EOF means the owner is gone, however it died (exit,
/// panic, SIGKILL, Ctrl-C): kill the JVM, wait for it, then delete its node directory and the (then
/// empty) cluster directory. `$1` = JVM pid, `$2` = node dir, `$3` = cluster dir.
const WATCHDOG_SCRIPT: &str = r#"trap '' INT HUP
if read -r _; then exit 0; fi
kill -9 "$1" 2>/dev/null
i=0
while kill -0 "$1" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -n "$2" ] && rm -rf "$2"
[ -n "$3" ] && rmdir "$3" 2>/dev/null
exit 0
"#;

/// Whether a process with this pid exists and is not a zombie.
pub(crate) fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    if Path::new("/proc/self/stat").exists() {
        return match fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state is the first field after the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        };
    }
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `pid` is alive and (where `/proc` tells) a Kafka broker JVM, so a reused pid from a stale
/// state file is never signalled.
pub(crate) fn pid_is_kafka(pid: u32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => cmdline.split(|&b| b == 0).any(|arg| arg == b"kafka.Kafka"),
        Err(_) => true,
    }
}

/// Sends `signal` (e.g. "TERM") with the `kill` command: std has no signal API besides SIGKILL.
pub(crate) fn send_signal(pid: u32, signal: &str) -> Result<(), HarnessError> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| HarnessError::io("running `kill`", e))?;
    if status.success() || !pid_alive(pid) {
        Ok(())
    } else {
        Err(HarnessError::Io(format!(
            "kill -{signal} {pid} failed ({status})"
        )))
    }
}

/// What the watchdog removes after killing the JVM.
#[derive(Debug, Clone)]
pub(crate) struct Cleanup {
    pub node_dir: PathBuf,
    pub cluster_dir: PathBuf,
}

/// One running (or exited) broker JVM.
#[derive(Debug)]
pub(crate) struct NodeProcess {
    pid: u32,
    /// `None` when adopted from a state file written by another process.
    child: Option<Child>,
    /// The watchdog and the write end of its stdin pipe; `None` for detached JVMs.
    watchdog: Option<(Child, ChildStdin)>,
}

impl NodeProcess {
    /// Starts `kafka.Kafka <props>` with stdout and stderr appended to `log`. With `cleanup`, a
    /// watchdog kills the JVM when this process dies; without, the JVM is detached and outlives us.
    pub(crate) fn spawn(
        runtime: &JvmRuntime,
        props: &Path,
        node_dir: &Path,
        log: &Path,
        cleanup: Option<&Cleanup>,
    ) -> Result<NodeProcess, HarnessError> {
        let out = open_log(log)?;
        let err = out
            .try_clone()
            .map_err(|e| HarnessError::io(log.display(), e))?;
        let heap = std::env::var("KAFKA_HEAP_OPTS").unwrap_or_else(|_| DEFAULT_HEAP_OPTS.into());
        let mut cmd = Command::new(&runtime.java);
        cmd.args(heap.split_whitespace())
            .args(JVM_PERFORMANCE_OPTS)
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                runtime.server_log4j().display()
            ))
            .arg(format!("-Dkafka.logs.dir={}", node_dir.display()))
            .arg("-cp")
            .arg(runtime.classpath())
            .arg("kafka.Kafka")
            .arg(props)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Own process group: a Ctrl-C in the terminal reaches the test process, not the broker
            // directly; the watchdog then kills it (or, detached, it keeps running as intended).
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            HarnessError::NoBackend(format!(
                "cannot start `{}`: {e}; is Java installed?",
                runtime.java.display()
            ))
        })?;
        let pid = child.id();
        let watchdog = match cleanup {
            None => None,
            Some(c) => match spawn_watchdog(pid, c) {
                Ok(w) => Some(w),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(e);
                }
            },
        };
        Ok(NodeProcess {
            pid,
            child: Some(child),
            watchdog,
        })
    }

    /// A JVM started by another process (known from a state file); it has no watchdog.
    pub(crate) fn adopt(pid: u32) -> NodeProcess {
        NodeProcess {
            pid,
            child: None,
            watchdog: None,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the JVM still runs (reaps it if it exited and is our child).
    pub(crate) fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => pid_is_kafka(self.pid),
        }
    }

    /// The exit status, if our child exited.
    pub(crate) fn exit_status(&mut self) -> Option<String> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
            .map(|s| s.to_string())
    }

    /// SIGKILL, then waits until the pid is gone (reaped if it is our child).
    pub(crate) fn kill(&mut self) -> Result<(), HarnessError> {
        match &mut self.child {
            Some(c) => {
                // An error means it already exited; `wait` reaps it either way.
                let _ = c.kill();
                c.wait()
                    .map_err(|e| HarnessError::io(format!("waiting for JVM {}", self.pid), e))?;
            }
            None => {
                if pid_is_kafka(self.pid) {
                    send_signal(self.pid, "KILL")?;
                }
                self.wait_gone(Duration::from_secs(10));
            }
        }
        self.disarm_watchdog();
        Ok(())
    }

    /// Sends SIGTERM (controlled shutdown) without waiting.
    pub(crate) fn signal_term(&mut self) -> Result<(), HarnessError> {
        if self.is_running() {
            send_signal(self.pid, "TERM")?;
        }
        Ok(())
    }

    /// Waits up to `timeout` for the JVM to exit; SIGKILLs it if it is still there.
    pub(crate) fn finish_stop(&mut self, timeout: Duration) -> Result<(), HarnessError> {
        if !self.wait_gone(timeout) {
            return self.kill();
        }
        self.disarm_watchdog();
        Ok(())
    }

    /// Polls until the JVM is gone; `true` if it went within `timeout`.
    fn wait_gone(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Tells the watchdog to exit without touching anything (the JVM was stopped deliberately).
    fn disarm_watchdog(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.write_all(b"disarm\n");
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn open_log(log: &Path) -> Result<File, HarnessError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| HarnessError::io(log.display(), e))
}

fn spawn_watchdog(pid: u32, cleanup: &Cleanup) -> Result<(Child, ChildStdin), HarnessError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("ferrokafka-watchdog")
        .arg(pid.to_string())
        .arg(&cleanup.node_dir)
        .arg(&cleanup.cluster_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| HarnessError::io("spawning the watchdog `sh`", e))?;
    match child.stdin.take() {
        Some(stdin) => Ok((child, stdin)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(HarnessError::Io("watchdog has no stdin pipe".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pid_is_alive_and_not_kafka() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_is_kafka(std::process::id()));
        assert!(!pid_alive(0));
    }

    #[test]
    fn watchdog_kills_on_eof_and_not_on_disarm() {
        let dir = std::env::temp_dir().join(format!("ferrokafka-wd-{}", std::process::id()));
        let node_dir = dir.join("node-1");
        fs::create_dir_all(&node_dir).unwrap();
        let cleanup = Cleanup {
            node_dir: node_dir.clone(),
            cluster_dir: dir.clone(),
        };

        // Disarmed: the process survives.
        let mut victim = Command::new("sleep").arg("30").spawn().unwrap();
        let (mut wd, mut stdin) = spawn_watchdog(victim.id(), &cleanup).unwrap();
        stdin.write_all(b"disarm\n").unwrap();
        drop(stdin);
        wd.wait().unwrap();
        assert!(matches!(victim.try_wait(), Ok(None)));
        assert!(node_dir.exists());

        // EOF: the process is killed and the directories removed.
        let (mut wd, stdin) = spawn_watchdog(victim.id(), &cleanup).unwrap();
        drop(stdin);
        let status = victim.wait().unwrap();
        assert!(!status.success());
        wd.wait().unwrap();
        assert!(!node_dir.exists());
        assert!(!dir.exists());
    }
}

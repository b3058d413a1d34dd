//! Real servers for integration tests: PostgreSQL, Redis, MariaDB, Prometheus and a
//! Kafka-compatible broker, each started from the machine's own binaries (Debian's
//! packages; `.ci/run` installs them) on a free port of 127.0.0.1, with its data in a
//! temporary folder, and stopped (folder removed) when its handle drops. No Docker.
//!
//! A test asks for a server with the server's `start` function, which returns
//! `Ok(None)` when the server's binary is not installed: the test prints that it is
//! skipped and returns. Under CI (`CI=true` in the environment) a missing binary is an
//! error instead, so CI can never pass by skipping:
//!
//! ```no_run
//! # fn start() -> Result<Option<()>, skywalking_testkit::servers::ServerError> { Ok(None) }
//! let Some(server) = start()? else { return Ok(()) }; // prints "skipped: ..."
//! # let _ = server;
//! # Ok::<(), skywalking_testkit::servers::ServerError>(())
//! ```

pub mod mariadb;
pub mod postgres;
pub mod prometheus;
pub mod redis;
pub mod tansu;

use std::ffi::OsStr;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a real server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The server's binary is not installed and the run is under CI (`CI=true`).
    #[error("{server} is not installed ({hint}); CI=true makes a missing server a failure")]
    MissingUnderCi {
        /// The server, e.g. `PostgreSQL`.
        server: &'static str,
        /// What to install, e.g. `apt-get install postgresql`.
        hint: &'static str,
    },
    /// A command run to set the server up failed.
    #[error("{command} failed: {detail}")]
    Setup {
        /// The command line.
        command: String,
        /// Its exit status and output.
        detail: String,
    },
    /// The server did not accept connections in time.
    #[error("{server} did not listen on {addr} within {timeout:?}; its log:\n{log}")]
    NotListening {
        /// The server.
        server: &'static str,
        /// Where it should have listened.
        addr: SocketAddr,
        /// How long it was given.
        timeout: Duration,
        /// The tail of its log.
        log: String,
    },
    /// An I/O error (spawning, the temporary folder).
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Whether this run is under CI (`CI` set to `true` or `1`), where a missing server is a
/// failure rather than a skip.
pub fn under_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// What a `start` function returns when `program` was not found: `Ok(None)` after
/// printing why the test is skipped, or, under CI, [`ServerError::MissingUnderCi`].
pub fn missing<T>(server: &'static str, hint: &'static str) -> Result<Option<T>, ServerError> {
    if under_ci() {
        return Err(ServerError::MissingUnderCi { server, hint });
    }
    eprintln!("skipped: {server} is not installed ({hint}); under CI=true this is a failure");
    Ok(None)
}

/// Finds `name` on `PATH` or in one of `extra_dirs` (glob-free paths, tried in order).
pub fn find_program(name: &str, extra_dirs: &[&Path]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().map(|d| d.to_path_buf()))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A free TCP port on 127.0.0.1 (bound, then released: good enough for a test server
/// started right after).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `addr` accepts a TCP connection, or `timeout` passes.
pub fn wait_for_listener(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// A fresh folder under the system's temporary folder, removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/sw-<label>-<pid>-<n>`.
    pub fn new(label: &str) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sw-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs a set-up command to completion, turning a failure into [`ServerError::Setup`]
/// with its output.
pub fn run(command: &mut Command) -> Result<(), ServerError> {
    let line = format!("{command:?}");
    let out = command.stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(ServerError::Setup {
        command: line,
        detail: format!(
            "{}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

/// Spawns a detached shell that, once this test process has exited, sends `signal`
/// (e.g. `TERM`, or `INT` for PostgreSQL's fast shutdown) to `server_pid`, then `KILL`
/// after a few seconds, and removes `dir`, but only if `dir` still exists (a handle that
/// was dropped normally removed it). A server kept in a `static` (one per test binary)
/// is never dropped; this stops it anyway, also when the test process was killed.
pub fn stop_after_exit(server_pid: u32, signal: &str, dir: &Path) {
    use std::os::unix::process::CommandExt;

    let script = r#"while kill -0 "$0" 2>/dev/null; do sleep 1; done
if [ -d "$3" ]; then kill -"$2" "$1" 2>/dev/null; sleep 5; kill -KILL "$1" 2>/dev/null; rm -rf "$3"; fi"#;
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(std::process::id().to_string())
        .arg(server_pid.to_string())
        .arg(signal)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // A process group of its own: a signal to the test's group (a runner stopping
        // it) does not stop the watchdog with it.
        .process_group(0)
        .spawn();
}

/// A running server process: killed (SIGTERM, then SIGKILL after a grace period) and
/// reaped when dropped. Its stdout and stderr go to `log` (a file in its folder).
#[derive(Debug)]
pub struct ServerProcess {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl ServerProcess {
    /// Spawns `program` with `args`, output appended to `log`.
    pub fn spawn<I, S>(
        name: &'static str,
        program: &Path,
        args: I,
        log: PathBuf,
    ) -> Result<Self, ServerError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(program);
        command.args(args);
        Self::spawn_command(name, command, log)
    }

    /// Spawns a prepared command (for a server run as another user, or with its own
    /// environment), output appended to `log`.
    pub fn spawn_command(
        name: &'static str,
        mut command: Command,
        log: PathBuf,
    ) -> Result<Self, ServerError> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()?;
        Ok(Self { name, child, log })
    }

    /// Waits until the server listens on `addr`; on timeout the error carries the tail
    /// of its log.
    pub fn wait_listening(
        &mut self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<(), ServerError> {
        if wait_for_listener(addr, timeout) {
            return Ok(());
        }
        Err(ServerError::NotListening {
            server: self.name,
            addr,
            timeout,
            log: self.log_tail(),
        })
    }

    /// The last 4 KiB of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4096);
        String::from_utf8_lossy(&text[start..]).into_owned()
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server now (as dropping does).
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_stopped_and_its_folder_removed_on_drop() {
        let dir = TempDir::new("harness").unwrap();
        let kept = dir.path().to_path_buf();
        let sleep = find_program("sleep", &[]).expect("coreutils sleep");
        let mut process =
            ServerProcess::spawn("sleep", &sleep, ["30"], dir.path().join("log")).unwrap();
        let pid = process.id();
        process.stop();
        assert!(
            matches!(process.child.try_wait(), Ok(Some(_))),
            "pid {pid} still runs"
        );
        drop(process);
        drop(dir);
        assert!(!kept.exists());
    }

    #[test]
    fn free_ports_are_bindable() {
        let port = free_port().unwrap();
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}

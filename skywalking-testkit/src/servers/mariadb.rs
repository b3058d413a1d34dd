//! A throwaway MariaDB server (the MySQL protocol): `mariadb-install-db` into a temporary
//! folder, `mariadbd` on a free port of 127.0.0.1 with grant tables off (any user, no
//! password), and one database, [`DATABASE`], created for the test.
//!
//! `mariadbd` runs as the current user; as root it needs `--user=root`, which it gets.
//! Installing the data folder takes a few seconds, so start one server per test binary.
//!
//! ```no_run
//! let Some(db) = skywalking_testkit::servers::mariadb::start()? else { return Ok(()) };
//! println!("{}", db.url()); // mysql://root@127.0.0.1:<port>/sw_test
//! # Ok::<(), skywalking_testkit::servers::ServerError>(())
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{ServerError, ServerProcess, TempDir, find_program, free_port, missing, run};

/// The database [`start`] creates.
pub const DATABASE: &str = "sw_test";

/// The user tests connect as (grant tables are off: no password is checked).
pub const USER: &str = "root";

const HINT: &str = "apt-get install mariadb-server";

/// A running MariaDB server, stopped and its folder removed on drop.
#[derive(Debug)]
pub struct MariaDb {
    // Declared first: dropped (the server stopped) before the folder is removed.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl MariaDb {
    /// The host to connect to: `127.0.0.1`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user to connect as ([`USER`], no password).
    pub fn user(&self) -> &str {
        USER
    }

    /// The database created for the test ([`DATABASE`]).
    pub fn database(&self) -> &str {
        DATABASE
    }

    /// A connection URL: `mysql://root@127.0.0.1:<port>/sw_test`.
    pub fn url(&self) -> String {
        format!(
            "mysql://{}@{}:{}/{}",
            self.user(),
            self.host(),
            self.port,
            self.database()
        )
    }

    /// The server's unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// The last 4 KiB of the server's log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}

/// Starts a server, or returns `Ok(None)` (the test is skipped) when MariaDB is not
/// installed and the run is not under CI.
///
/// A server kept in a `static` (one per test binary) is never dropped; a small watchdog
/// shell stops it and removes its folder once the test process has exited
/// ([`stop_after_exit`](super::stop_after_exit)).
pub fn start() -> Result<Option<MariaDb>, ServerError> {
    let sbin = [Path::new("/usr/sbin"), Path::new("/usr/bin")];
    let (Some(install), Some(server), Some(client)) = (
        find_program("mariadb-install-db", &sbin),
        find_program("mariadbd", &sbin),
        find_program("mariadb", &sbin).or_else(|| find_program("mysql", &sbin)),
    ) else {
        return missing("MariaDB", HINT);
    };
    let dir = TempDir::new("mariadb")?;
    let data = dir.path().join("data");
    run(Command::new(install)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args([
            "--user=root",
            "--skip-test-db",
            "--auth-root-authentication-method=normal",
        ])
        .current_dir(dir.path()))?;

    let port = free_port()?;
    let mut command = Command::new(server);
    command
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.path().join("sock").display()))
        .arg(format!("--pid-file={}", dir.path().join("pid").display()))
        .arg(format!("--port={port}"))
        .args([
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-grant-tables",
            "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=32M",
            "--max-connections=200",
        ])
        .current_dir(dir.path());
    let mut process = ServerProcess::spawn_command("MariaDB", command, dir.path().join("log"))?;
    super::stop_after_exit(process.id(), "TERM", dir.path());
    process.wait_listening(([127, 0, 0, 1], port).into(), Duration::from_secs(60))?;
    let db = MariaDb { process, port, dir };

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut create = Command::new(&client);
        create
            .args(["--no-defaults", "-h", "127.0.0.1", "-u", USER])
            .arg(format!("-P{port}"))
            .args(["-e", &format!("CREATE DATABASE IF NOT EXISTS {DATABASE}")]);
        match run(&mut create) {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(ServerError::Setup { command, detail }) => {
                return Err(ServerError::Setup {
                    command,
                    detail: format!("{detail}\nserver log:\n{}", db.log_tail()),
                });
            }
            Err(other) => return Err(other),
        }
    }
    Ok(Some(db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_starts_with_its_database_and_stops_on_drop() {
        let Some(db) = start().unwrap() else { return };
        let client = find_program("mariadb", &[Path::new("/usr/bin")]).unwrap();
        let out = Command::new(client)
            .args(["--no-defaults", "-h", db.host(), "-u", db.user()])
            .arg(format!("-P{}", db.port()))
            .args(["-D", db.database(), "-N", "-e", "select database()"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            DATABASE,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = db.dir.path().to_path_buf();
        let addr = ([127, 0, 0, 1], db.port()).into();
        drop(db);
        assert!(!dir.exists());
        assert!(!super::super::wait_for_listener(
            addr,
            Duration::from_millis(300)
        ));
    }
}

//! A throwaway Redis server: `redis-server` on a free port of 127.0.0.1, with nothing
//! saved (`--save ''`, `--appendonly no`) and its working folder a temporary one,
//! stopped (the folder removed) when the handle drops.
//!
//! ```no_run
//! let Some(redis) = skywalking_testkit::servers::redis::start()? else { return Ok(()) };
//! println!("{}", redis.url()); // redis://127.0.0.1:<port>/
//! # Ok::<(), skywalking_testkit::servers::ServerError>(())
//! ```

use std::path::Path;
use std::time::Duration;

use super::{ServerError, ServerProcess, TempDir, find_program, free_port, missing};

const HINT: &str = "apt-get install redis-server";

/// A running Redis server, stopped and its folder removed on drop.
#[derive(Debug)]
pub struct Redis {
    // Declared first: dropped (the server stopped) before the folder is removed.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl Redis {
    /// The host to connect to: `127.0.0.1`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, the address an exit span names as its peer.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host(), self.port)
    }

    /// A connection URL: `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://{}:{}/", self.host(), self.port)
    }

    /// The server's working folder (its log is `log` there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last 4 KiB of the server's log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// Stops the server now (connections to it then fail; its port is refused).
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// Starts a server, or returns `Ok(None)` (the test is skipped) when `redis-server` is
/// not installed and the run is not under CI.
///
/// A server kept in a `static` (one per test binary) is never dropped; a small watchdog
/// shell stops it and removes its folder once the test process has exited
/// ([`stop_after_exit`](super::stop_after_exit)).
pub fn start() -> Result<Option<Redis>, ServerError> {
    let Some(program) = find_program("redis-server", &[]) else {
        return missing("Redis", HINT);
    };
    let dir = TempDir::new("redis")?;
    let port = free_port()?;
    let args: Vec<std::ffi::OsString> = vec![
        "--port".into(),
        port.to_string().into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "no".into(),
        "--daemonize".into(),
        "no".into(),
        "--dir".into(),
        dir.path().into(),
    ];
    let mut process = ServerProcess::spawn("Redis", &program, args, dir.path().join("log"))?;
    super::stop_after_exit(process.id(), "TERM", dir.path());
    process.wait_listening(([127, 0, 0, 1], port).into(), Duration::from_secs(20))?;
    Ok(Some(Redis { process, port, dir }))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    #[test]
    fn a_server_answers_and_stops_on_drop() {
        let Some(redis) = start().unwrap() else {
            return;
        };
        let mut stream = TcpStream::connect((redis.host(), redis.port())).unwrap();
        stream.write_all(b"PING\r\n").unwrap();
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+PONG\r\n", "{}", redis.log_tail());
        assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
        let dir = redis.dir.path().to_path_buf();
        let addr = ([127, 0, 0, 1], redis.port()).into();
        drop(redis);
        assert!(!dir.exists());
        assert!(!super::super::wait_for_listener(
            addr,
            Duration::from_millis(300)
        ));
    }
}

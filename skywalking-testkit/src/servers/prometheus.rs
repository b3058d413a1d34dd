//! A throwaway Prometheus server (Debian's `prometheus`) that scrapes the test's own
//! targets every second, and `promtool check metrics` for an exposition.
//!
//! [`start`] writes a config with one job, `test`, scraping `http://<target>/metrics` of
//! each target every second (1 s evaluation interval too), and runs
//! `prometheus --config.file=<tmp>/prometheus.yml --storage.tsdb.path=<tmp>/data
//! --web.listen-address=127.0.0.1:<free port>`; the folder is removed when the handle
//! drops. [`Prometheus::query`] asks its HTTP API (`/api/v1/query`) for an instant
//! vector, and [`Prometheus::wait_for`] polls a query until a condition holds, since a
//! new value shows up only after the next scrape.
//!
//! ```no_run
//! use std::time::Duration;
//! use skywalking_testkit::servers::prometheus;
//!
//! let target: std::net::SocketAddr = "127.0.0.1:9464".parse().unwrap();
//! let Some(server) = prometheus::start(&[target])? else { return Ok(()) };
//! let up = server.wait_for("up", Duration::from_secs(20), |v| v.iter().any(|s| s.value == 1.0))?;
//! println!("{} at {}", up[0].labels["instance"], server.url());
//! # Ok::<(), skywalking_testkit::servers::ServerError>(())
//! ```

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{ServerError, ServerProcess, TempDir, find_program, free_port, missing};

const SERVER: &str = "Prometheus";
const HINT: &str = "apt-get install prometheus";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running Prometheus server, stopped and its folder removed on drop.
#[derive(Debug)]
pub struct Prometheus {
    // Declared first: dropped (the server stopped) before the folder is removed.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

/// One element of an instant vector: the series' labels (`__name__` included) and its
/// value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The labels, by name.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

impl Prometheus {
    /// The address of its web UI and HTTP API.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The folder holding its config and data.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The last 4 KiB of the server's log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// Runs an instant query (`GET /api/v1/query?query=...`) and returns its vector; an
    /// error for a failed request, a query Prometheus rejects, or a result that is not a
    /// vector.
    pub fn query(&self, promql: &str) -> Result<Vec<Sample>, ServerError> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = http_get(self.addr(), &path, None)?;
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| query_error(promql, format!("HTTP {status}, not JSON ({e}): {body}")))?;
        if json["status"] != "success" {
            return Err(query_error(promql, format!("HTTP {status}: {body}")));
        }
        if json["data"]["resultType"] != "vector" {
            return Err(query_error(promql, format!("not a vector: {body}")));
        }
        let empty = Vec::new();
        let result = json["data"]["result"].as_array().unwrap_or(&empty);
        result
            .iter()
            .map(|item| {
                let labels = item["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let value = item["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .ok_or_else(|| query_error(promql, format!("no value in {item}")))?;
                Ok(Sample { labels, value })
            })
            .collect()
    }

    /// Polls `promql` every 200 ms until `done` accepts its vector, and returns that
    /// vector; on timeout, an error with the last vector and the server's log.
    pub fn wait_for(
        &self,
        promql: &str,
        timeout: Duration,
        done: impl Fn(&[Sample]) -> bool,
    ) -> Result<Vec<Sample>, ServerError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.query(promql);
            if let Ok(samples) = &last
                && done(samples)
            {
                return last;
            }
            if Instant::now() >= deadline {
                return Err(query_error(
                    promql,
                    format!(
                        "no satisfying answer within {timeout:?}; last: {last:?}; log:\n{}",
                        self.log_tail()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Starts a server scraping `http://<target>/metrics` of each target every second, or
/// returns `Ok(None)` (the test is skipped) when `prometheus` is not installed and the
/// run is not under CI.
pub fn start(targets: &[SocketAddr]) -> Result<Option<Prometheus>, ServerError> {
    let Some(program) = find_program("prometheus", &[]) else {
        return missing(SERVER, HINT);
    };
    let dir = TempDir::new("prometheus")?;
    let port = free_port()?;
    let list = targets
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: test\n    metrics_path: /metrics\n    static_configs:\n      \
         - targets: [{list}]\n"
    );
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(&config_file, config)?;
    let args: Vec<std::ffi::OsString> = vec![
        format!("--config.file={}", config_file.display()).into(),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()).into(),
        format!("--web.listen-address=127.0.0.1:{port}").into(),
        "--log.level=warn".into(),
    ];
    let mut process = ServerProcess::spawn(SERVER, &program, args, dir.path().join("log"))?;
    super::stop_after_exit(process.id(), "TERM", dir.path());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    process.wait_listening(addr, READY_TIMEOUT)?;
    // Listening comes before the TSDB is open: wait until /-/ready answers 200.
    let deadline = Instant::now() + READY_TIMEOUT;
    while !matches!(http_get(addr, "/-/ready", None), Ok((200, _))) {
        if Instant::now() >= deadline {
            return Err(ServerError::NotListening {
                server: SERVER,
                addr,
                timeout: READY_TIMEOUT,
                log: process.log_tail(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Some(Prometheus { process, port, dir }))
}

/// Runs `promtool check metrics` on an exposition in the Prometheus text format: `Ok(Some(output))`
/// when it passes (the output is usually empty), an error with promtool's complaints
/// when it does not, `Ok(None)` when promtool is not installed and the run is not under
/// CI.
pub fn check_metrics(exposition: &str) -> Result<Option<String>, ServerError> {
    let Some(program) = find_program("promtool", &[]) else {
        return missing("promtool", HINT);
    };
    let mut child = Command::new(&program)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(exposition.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(Some(output))
    } else {
        Err(ServerError::Setup {
            command: "promtool check metrics".to_owned(),
            detail: format!("{}\n{output}", out.status),
        })
    }
}

/// A blocking `GET` over HTTP/1.0 (so the answer is neither chunked nor kept alive):
/// the status and the body. `accept`: the `Accept` header to send, if any.
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> Result<(u16, String), ServerError> {
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
        ServerError::Io(io::Error::other(format!(
            "no HTTP head from {addr}: {text}"
        )))
    })?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| ServerError::Io(io::Error::other(format!("bad status line: {head}"))))?;
    Ok((status, body.to_owned()))
}

fn query_error(promql: &str, detail: String) -> ServerError {
    ServerError::Io(io::Error::other(format!("query {promql:?}: {detail}")))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("a_total{k=\"v w\"}"),
            "a_total%7Bk%3D%22v%20w%22%7D"
        );
    }

    /// A target answering every request with the same exposition, on its own thread.
    fn static_target(body: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = write!(
                    stream,
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        addr
    }

    #[test]
    fn a_server_scrapes_its_targets_and_answers_queries() {
        const BODY: &str = "# HELP demo_total A demo.\n# TYPE demo_total counter\ndemo_total 7\n";
        let target = static_target(BODY);
        let Some(server) = start(&[target]).unwrap() else {
            return;
        };
        let samples = server
            .wait_for("demo_total", Duration::from_secs(20), |v| !v.is_empty())
            .unwrap();
        assert_eq!(samples[0].value, 7.0);
        assert_eq!(samples[0].labels["instance"], target.to_string());
        assert_eq!(samples[0].labels["job"], "test");
        assert!(
            server.query("demo_total{").is_err(),
            "a bad query is an error"
        );
        let dir = server.dir().to_path_buf();
        drop(server);
        assert!(!dir.exists());
    }

    #[test]
    fn promtool_accepts_good_and_rejects_bad_expositions() {
        const GOOD: &str = "# HELP demo_total A demo.\n# TYPE demo_total counter\ndemo_total 7\n";
        if check_metrics(GOOD).unwrap().is_none() {
            return;
        }
        let bad = "# HELP demo A demo.\n# TYPE demo counter\ndemo 7\n";
        assert!(
            check_metrics(bad).is_err(),
            "a counter without _total is linted"
        );
    }
}

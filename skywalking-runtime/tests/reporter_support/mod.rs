//! Helpers for the reporter and lifecycle tests: a collector runtime, segments on
//! demand, child processes for configurations read from the environment, certificates.

#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use skywalking_runtime::Span;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(15);

/// A multi-threaded runtime for the mock collector, independent of the agent.
pub fn collector_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A loopback address nothing listens on (bound and released).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// Makes one finished segment: a root span named `name` with `children` children.
/// Returns how long opening and closing the spans took on this thread.
pub fn segment(name: &'static str, children: usize) -> Duration {
    let start = Instant::now();
    {
        let _root = Span::local(name);
        for _ in 0..children {
            let _child = Span::local("child");
        }
    }
    start.elapsed()
}

/// The value of env var `SW_TEST_CHILD_ROLE` in a child started by [`run_child`].
pub fn child_role() -> Option<String> {
    std::env::var("SW_TEST_CHILD_ROLE").ok()
}

/// Runs test `test` of this test binary in a child process with `role` and `env` set,
/// and returns its output. Nothing of the parent's `SW_*` environment leaks in.
pub fn run_child(test: &str, role: &str, env: &[(&str, String)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary");
    let mut command = Command::new(exe);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("SW_TEST_CHILD_ROLE", role);
    for (key, _) in std::env::vars() {
        if key.starts_with("SW_AGENT") || key == "SW_LOG_LEVEL" {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("the child runs");
    assert!(
        output.status.success(),
        "child {role} failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The lines of `output`'s stderr that contain `needle`.
pub fn stderr_lines(output: &Output, needle: &str) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// A line `key=value` printed by a child on stdout.
pub fn child_value(output: &Output, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    // The harness's `test name ... ` may share the line with the first value.
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find_map(|word| word.strip_prefix(&prefix).map(str::to_owned))
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sw-{name}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("writable");
    path
}

/// Resident memory of this process, in bytes (Linux).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

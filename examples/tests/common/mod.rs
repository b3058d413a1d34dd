//! Runs an example binary against its embedded collector.

use std::process::Command;

/// Runs the example at `path` (a `CARGO_BIN_EXE_*`) with no backend (nor database)
/// configured, so it starts its embedded collector; asserts it succeeded and returns its stdout.
pub(crate) fn run_example(path: &str) -> String {
    let output = Command::new(path)
        .env_remove("SW_AGENT_COLLECTOR_BACKEND_SERVICES")
        // The demo's backend then uses its embedded SQLite database.
        .env_remove("DATABASE_URL")
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{path} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

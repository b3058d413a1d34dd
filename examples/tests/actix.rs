//! The actix-web example runs: two requests, two traces, each an entry span named by the
//! resource pattern with the handler's traced function under it.

use std::process::Command;

#[test]
fn each_request_is_a_trace_named_by_its_resource_pattern() {
    let output = Command::new(env!("CARGO_BIN_EXE_actix"))
        .env_remove("SW_AGENT_COLLECTOR_BACKEND_SERVICES")
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "example failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("GET /users/7 -> user 7"), "{stdout}");
    assert_eq!(stdout.matches("\ntrace ").count(), 2, "{stdout}");
    assert_eq!(
        stdout
            .matches("[actix-example] Entry GET /users/{id}")
            .count(),
        2,
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("  [actix-example] Local actix::load_user")
            .count(),
        2,
        "{stdout}"
    );
}

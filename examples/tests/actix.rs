//! The actix-web example runs: two requests, two traces, each an entry span named by the
//! resource pattern with the handler's traced function under it.

mod common;

#[test]
fn each_request_is_a_trace_named_by_its_resource_pattern() {
    let stdout = common::run_example(env!("CARGO_BIN_EXE_actix"));
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

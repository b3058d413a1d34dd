//! The hyper example runs: each call is one trace in which the server's entry span sits
//! under the client's exit span.

mod common;

#[test]
fn client_and_server_spans_link_into_one_trace_per_call() {
    let stdout = common::run_example(env!("CARGO_BIN_EXE_hyper"));
    assert!(stdout.contains("GET /a -> hello from /a"), "{stdout}");
    assert_eq!(stdout.matches("\ntrace ").count(), 2, "{stdout}");
    assert_eq!(
        stdout.matches("\n[hyper-example] Local fetch (").count(),
        2,
        "{stdout}"
    );
    for path in ["/a", "/b"] {
        assert!(
            stdout.contains(&format!("  [hyper-example] Exit GET {path} -> 127.0.0.1:")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("    [hyper-example] Entry GET {path} (")),
            "{stdout}"
        );
    }
    assert_eq!(
        stdout
            .matches("      [hyper-example] Local hyper::greeting (")
            .count(),
        2,
        "{stdout}"
    );
}

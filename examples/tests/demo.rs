//! The demo (the README's main job) runs end to end: three services in three processes
//! report to the embedded collector, and each request's trace spans all three.

mod common;

#[test]
fn every_request_is_one_trace_across_three_services() {
    let stdout = common::run_example(env!("CARGO_BIN_EXE_demo"));

    let summaries: Vec<&str> = stdout.lines().filter(|l| l.starts_with("trace ")).collect();
    assert_eq!(summaries.len(), 3, "one trace per request:\n{stdout}");
    for line in &summaries {
        assert!(
            line.contains(": 3 segments across 3 services (backend, frontend, payments)"),
            "{line}"
        );
    }
    // The trees link the services: frontend calls backend calls payments.
    assert!(
        stdout.contains("[frontend] Entry GET /checkout/{order_id}"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[backend] Entry POST /orders/{order_id}/pay"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[payments] Entry /demo.payments.Payments/Charge"),
        "{stdout}"
    );
    // The declined order is an error all the way down to the card network.
    assert!(
        stdout.contains("GET /checkout/1003 -> 402 Payment Required"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[payments] Local demo::payments::authorize (")
            && stdout.contains("[error]")
    );
}

//! The demo with `SW_AGENT_PROTOCOL=kafka`: its three services report through a real
//! broker (tansu, from the testkit's servers), and the demo reads each trace back from
//! the topics, whole.

use std::process::Command;

use skywalking_testkit::servers::tansu;

#[test]
fn the_demo_reports_through_kafka_and_reads_its_traces_back() {
    let Some(broker) = tansu::start().expect("tansu starts") else {
        return;
    };
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .env_remove("SW_AGENT_COLLECTOR_BACKEND_SERVICES")
        .env("SW_AGENT_PROTOCOL", "kafka")
        .env("SW_KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap())
        .env("SW_KAFKA_NAMESPACE", "demo")
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the demo failed:\n{stdout}\n{}\n--- tansu\n{}",
        String::from_utf8_lossy(&output.stderr),
        broker.log_tail()
    );
    assert!(
        stdout.contains("topics demo-skywalking-segments, demo-skywalking-managements"),
        "{stdout}"
    );
    assert!(stdout.contains("Read back from Kafka:"), "{stdout}");
    let summaries: Vec<&str> = stdout.lines().filter(|l| l.starts_with("trace ")).collect();
    assert_eq!(summaries.len(), 3, "one trace per request:\n{stdout}");
    for line in &summaries {
        assert!(
            line.contains(": 3 segments across 3 services (backend, frontend, payments)"),
            "{line}"
        );
    }
    assert!(
        stdout.contains("[payments] Entry /demo.payments.Payments/Charge"),
        "{stdout}"
    );
}

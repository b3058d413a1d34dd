//! The log-correlation example runs end to end: log lines carry the trace ids, and the
//! embedded collector receives each trace with its logs, pointing at their spans.

mod common;

#[test]
fn log_lines_and_reported_logs_point_at_their_traces() {
    let stdout = common::run_example(env!("CARGO_BIN_EXE_log_correlation"));

    // Printed lines: ids inside traces, N/A outside.
    assert!(stdout.contains("[tid=N/A sid=N/A spid=N/A]  INFO log_correlation: starting"));
    let traced = stdout
        .lines()
        .filter(|l| l.contains("[tid=") && !l.contains("tid=N/A"))
        .count();
    assert!(traced >= 9, "{stdout}");

    // Three traces, each with its `tracing` child spans and its logs.
    assert_eq!(stdout.matches("\ntrace ").count(), 3, "{stdout}");
    assert_eq!(
        stdout
            .matches("  [log-correlation] Local check_stock")
            .count(),
        3
    );
    assert!(
        stdout.contains("WARN in span #1 check_stock: not enough stock"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ERROR in span #2 charge: card declined for order 1003"),
        "{stdout}"
    );
    assert!(stdout.contains("logs outside any trace:\n     INFO starting: no trace yet"));
}

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
    // The backend records each paid order in its embedded SQLite database: a database
    // exit span of the backend's entry span (not for the declined order).
    let recorded = stdout
        .lines()
        .filter(|l| l.contains("[backend] Exit SQLite/sqlx/execute -> :memory: ("))
        .count();
    assert_eq!(recorded, 2, "one database span per paid order:\n{stdout}");
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

/// With `DATABASE_URL` naming a PostgreSQL database (a throwaway server of the testkit's
/// harness; skipped when PostgreSQL is not installed, a failure under `CI=true`), the
/// backend records the paid orders there: the database spans name the server, and the
/// rows are in its table.
#[test]
fn with_database_url_the_backend_records_orders_in_postgres() {
    let Some(pg) = skywalking_testkit::servers::postgres::start().expect("PostgreSQL starts")
    else {
        return;
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_demo"))
        .env_remove("SW_AGENT_COLLECTOR_BACKEND_SERVICES")
        .env("DATABASE_URL", pg.url())
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let span = format!(
        "[backend] Exit PostgreSQL/sqlx/execute -> 127.0.0.1:{} (",
        pg.port()
    );
    let recorded = stdout.lines().filter(|l| l.contains(&span)).count();
    assert_eq!(recorded, 2, "one database span per paid order:\n{stdout}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let rows: i64 = runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&pg.url()).await.expect("connects");
        sqlx::query_scalar("SELECT count(*) FROM demo_orders")
            .fetch_one(&pool)
            .await
            .expect("the table")
    });
    assert_eq!(rows, 2, "the paid orders, not the declined one");
}

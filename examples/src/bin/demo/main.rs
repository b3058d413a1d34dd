//! The distributed-trace demo: three instrumented services, each in its own process,
//! report to a SkyWalking collector, and the trace of each request prints as a tree.
//!
//! ```text
//! client ──HTTP──► frontend (axum) ──HTTP/reqwest──► backend (axum) ──gRPC/tonic──► payments
//!                                                        └──sqlx──► SQLite (in memory)
//! ```
//!
//! The backend records each paid order in an embedded SQLite database, or in PostgreSQL
//! when `DATABASE_URL` names one (`postgres://user@host:5432/db`).
//!
//! With no `SW_AGENT_COLLECTOR_BACKEND_SERVICES` set, the demo starts the testkit's mock
//! OAP in-process and prints what it received. With it set, the services report to that
//! OAP instead, and the demo prints the trace ids to look up in the SkyWalking UI.
//!
//! With `SW_AGENT_PROTOCOL=kafka` and `SW_KAFKA_BOOTSTRAP_SERVERS=host:9092` the services
//! report through Kafka (the topics OAP's kafka-fetcher reads), and the demo reads the
//! traces back from the broker and prints them the same way.
//!
//! Run: `cargo run -p skywalking-examples --bin demo`. The same binary is each service:
//! `demo payments`, `demo backend <payments addr>`, `demo frontend <backend addr>`.

mod backend;
mod frontend;
mod orchestrator;
mod orders;
mod payments;
mod service;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("demo: cannot start a tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.first().map(String::as_str) {
        None => runtime.block_on(orchestrator::run()),
        Some("payments") => runtime.block_on(payments::run()),
        Some("backend") => match args.get(1) {
            Some(payments) => runtime.block_on(backend::run(payments.clone())),
            None => Err("usage: demo backend <payments addr>".into()),
        },
        Some("frontend") => match args.get(1) {
            Some(backend) => runtime.block_on(frontend::run(backend.clone())),
            None => Err("usage: demo frontend <backend addr>".into()),
        },
        Some(other) => Err(format!(
            "unknown role {other:?}: run `demo` with no argument (or `demo payments|backend|frontend`)"
        )
        .into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo: {error}");
            ExitCode::FAILURE
        }
    }
}

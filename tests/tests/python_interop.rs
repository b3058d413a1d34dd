//! Interop with the official SkyWalking Python agent (PyPI `apache-skywalking`): one
//! trace across both languages, linked in both directions.
//!
//! ```text
//! test --GET /front--> py-front --GET /mid (urllib)--> rust-mid --GET /back (reqwest)--> py-back
//!                      (Python agent)                  (this agent, in-process)          (Python agent)
//! ```
//!
//! The Python services are `tests/python-interop/service.py` (stdlib `http.server` and
//! `urllib.request`, both instrumented automatically by the agent), run as child
//! processes from the venv that `tests/python-interop/setup.sh` creates. All three
//! report to one [`MockCollector`] over gRPC.
//!
//! Runs only when `SW_PYTHON_INTEROP_VENV` names that venv (`.ci/run` sets it);
//! otherwise it says why it is skipped and passes, except under CI (`CI` set), where it
//! fails. `python_interop_unsampled.rs` and `python_interop_sw8.rs` run with the same
//! venv (each test file is its own process: one agent each).

#[path = "python_interop/support.rs"]
mod support;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use skywalking_proto::v3::SpanType;
use skywalking_runtime as sw;
use skywalking_runtime::integrations::axum::ServerLayer;
use skywalking_testkit::MockCollector;
use support::{PyService, REPORT, assert_linked, get_ok, only_span, segment_of, trace_ids};

const PY_FRONT: &str = "py-front";
const RUST_MID: &str = "rust-mid";
const PY_BACK: &str = "py-back";

#[derive(Clone)]
struct Mid {
    client: reqwest::Client,
    back: String,
}

/// rust-mid's `GET /mid`: answers `rust-mid <trace id>` and then py-back's answer.
async fn mid(State(mid): State<Mid>) -> (StatusCode, String) {
    support::answer_through(RUST_MID, &mid.client, &mid.back).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_through_python_rust_python() {
    let Some(venv) = support::venv("python_interop") else {
        return;
    };

    let collector = MockCollector::start().await.expect("collector starts");
    let collector_addr = collector.addr().to_string();
    let _agent = sw::Agent::builder()
        .config(sw::Config::default())
        .service(RUST_MID)
        .instance(format!("{RUST_MID}-1"))
        .backend(collector_addr.clone())
        .start()
        .expect("agent starts");

    // rust-mid's port first, so py-front can be told where to call.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind rust-mid");
    let mid_addr = listener.local_addr().expect("rust-mid address");
    let (py_back, py_front) = tokio::join!(
        PyService::spawn(&venv, PY_BACK, &collector_addr, None, &[]),
        PyService::spawn(
            &venv,
            PY_FRONT,
            &collector_addr,
            Some(format!("http://{mid_addr}/mid")),
            &[],
        ),
    );
    let app = Router::new()
        .route("/mid", get(mid))
        .layer(ServerLayer::new())
        .with_state(Mid {
            client: reqwest::Client::new(),
            back: py_back.url("/back"),
        });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // A plain request (no sw8): py-front starts the trace.
    let body = get_ok(&py_front.url("/front")).await;

    // Each service says which trace it recorded the request in: all the same one.
    let ids = trace_ids(&body, &[PY_FRONT, RUST_MID, PY_BACK]);
    let trace_id = ids[0].to_owned();
    assert!(!trace_id.is_empty(), "body:\n{body}");
    for (service, id) in [PY_FRONT, RUST_MID, PY_BACK].iter().zip(&ids) {
        assert_eq!(
            *id, trace_id,
            "{service} recorded another trace; body:\n{body}"
        );
    }

    let segments = collector
        .wait_for_trace(&trace_id, 3, REPORT)
        .await
        .unwrap_or_else(|e| panic!("{e}; all segments received: {:#?}", collector.segments()));
    eprintln!("{}", collector.trace_tree(&trace_id));
    assert_eq!(segments.len(), 3, "{segments:#?}");

    let front = segment_of(&segments, PY_FRONT);
    let middle = segment_of(&segments, RUST_MID);
    let back = segment_of(&segments, PY_BACK);
    for segment in [front, middle, back] {
        assert_eq!(segment.trace_id, trace_id);
        assert_eq!(segment.service_instance, format!("{}-1", segment.service));
    }

    // Python -> Rust. The Python agent writes its exit span's name (the URL path) into
    // sw8's parent-endpoint field, where the spec asks for the first entry span's name.
    let front_entry = only_span(front, SpanType::Entry);
    assert_eq!(front_entry.operation_name, "/front");
    assert!(front_entry.refs.is_empty(), "py-front starts the trace");
    let front_exit = only_span(front, SpanType::Exit);
    assert_eq!(front_exit.operation_name, "/mid");
    assert_eq!(front_exit.peer, mid_addr.to_string());
    let middle_entry = only_span(middle, SpanType::Entry);
    assert_eq!(middle_entry.operation_name, "GET /mid");
    assert_linked(
        &trace_id,
        front,
        front_exit,
        &front_exit.operation_name,
        middle_entry,
    );

    // Rust -> Python. This agent writes its first entry span's name, as the spec says.
    let middle_exit = only_span(middle, SpanType::Exit);
    assert_eq!(middle_exit.operation_name, "GET /back");
    assert_eq!(middle_exit.peer, format!("127.0.0.1:{}", py_back.port));
    let back_entry = only_span(back, SpanType::Entry);
    assert_eq!(back_entry.operation_name, "/back");
    assert_linked(
        &trace_id,
        middle,
        middle_exit,
        &middle_entry.operation_name,
        back_entry,
    );

    server.abort();
}

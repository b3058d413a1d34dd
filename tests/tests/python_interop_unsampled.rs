//! Interop with the official SkyWalking Python agent when the Rust service in the middle
//! records nothing: the trace must not break downstream (PROTOCOL.md 10.1).
//!
//! ```text
//! test --GET--> py-front --GET (urllib)--> rust-mid --GET /back (reqwest)--> py-back
//!               (Python agent)             (this agent, in-process:          (Python agent)
//!                                           SW_AGENT_SAMPLE=0 and
//!                                           SW_AGENT_TRACE_IGNORE_PATH=/ignored)
//! ```
//!
//! An `sw8` that names a segment nobody reports gives the callee's segment a ref to a
//! missing parent. A Rust context that records nothing therefore sends no `sw8`, as the
//! Java agent's `IgnoredTracerContext`, and py-back must start a trace of its own. Each
//! request below covers one way the middle ends up recording nothing, with real
//! callers:
//!
//! 1. **Unsampled** (sample rate 0, no usable `sw8`): `GET py-front /quiet`. py-front
//!    ignores `/quiet` (its `SW_AGENT_TRACE_IGNORE_PATH`), so it records nothing and its
//!    urllib call carries the Python agent's "suppressed" header (`sw8: 1-------`, every
//!    field empty), which Rust rejects as invalid. rust-mid starts a new trace, which
//!    the sampler drops. A valid `sw8` would force sampling (PROTOCOL.md 10.1), so the
//!    sampler leaves rust-mid unsampled only when its caller sends none that is valid:
//!    here, a real Python caller that itself records nothing.
//! 2. **Ignored route** (`GET py-front /front?to=/ignored`): py-front records and sends
//!    a valid `sw8`, but rust-mid's ignore rules match `/ignored`, and the request runs
//!    in an unsampled context anyway.
//! 3. **Control** (`GET py-front /front`, to `/mid`): the same agent at sample rate 0
//!    continues and records a valid incoming `sw8`, so the three segments link up. This
//!    shows that nothing reaching py-back in 1 and 2 comes from rust-mid recording
//!    nothing, not from a setup that records nothing at all.
//!
//! Finally, after rust-mid's agent has flushed, no segment the collector received may
//! refer to a parent segment (or span) it never received, and rust-mid must have
//! reported only the control's segment.
//!
//! This file is a test process of its own because its agent's sampling differs from
//! `python_interop.rs` (one agent per process). It uses the same venv and the same
//! `service.py`, and skips or fails the same way when `SW_PYTHON_INTEROP_VENV` is unset.

#[path = "python_interop/support.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use skywalking_proto::v3::{SegmentObject, SpanType};
use skywalking_runtime as sw;
use skywalking_runtime::integrations::axum::ServerLayer;
use skywalking_runtime::propagation::Sw8;
use skywalking_testkit::MockCollector;
use support::{
    PyService, REPORT, assert_linked, dangling_refs, get_ok, only_span, segment_of, trace_ids,
};

const PY_FRONT: &str = "py-front";
const RUST_MID: &str = "rust-mid";
const PY_BACK: &str = "py-back";
/// The path py-front's Python agent ignores.
const PY_QUIET: &str = "/quiet";
/// The path rust-mid's agent ignores.
const RUST_IGNORED: &str = "/ignored";

/// What rust-mid saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    /// The incoming `sw8` header, if any.
    sw8: Option<String>,
    /// Whether the handler ran inside a span that records.
    recording: bool,
}

#[derive(Clone)]
struct Mid {
    client: reqwest::Client,
    back: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Mid {
    /// What rust-mid saw since the last call.
    fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// rust-mid's handler (on `/mid` and `/ignored`): answers `rust-mid <trace id>` and then
/// py-back's answer.
async fn mid(State(mid): State<Mid>, uri: Uri, headers: HeaderMap) -> (StatusCode, String) {
    mid.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        sw8: headers
            .get("sw8")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        recording: sw::current_span().is_recording(),
    });
    support::answer_through(RUST_MID, &mid.client, &mid.back).await
}

/// The one request rust-mid saw since the last call.
fn only_seen(mid: &Mid, path: &str) -> Seen {
    let seen = mid.take_seen();
    assert_eq!(seen.len(), 1, "rust-mid saw one request: {seen:#?}");
    assert_eq!(seen[0].path, path, "{seen:#?}");
    seen[0].clone()
}

/// Asserts that py-back recorded trace `trace_id` as a trace of its own: one segment,
/// whose entry span `/back` has no ref (nothing upstream named a parent).
async fn assert_back_starts_its_own_trace(collector: &MockCollector, trace_id: &str, what: &str) {
    let segments = collector
        .wait_for_trace(trace_id, 1, REPORT)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}; all segments: {:#?}", collector.segments()));
    eprintln!("{what}:\n{}", collector.trace_tree(trace_id));
    let back = segment_of(&segments, PY_BACK);
    assert_eq!(segments.len(), 1, "{what}: {segments:#?}");
    let entry = only_span(back, SpanType::Entry);
    assert_eq!(entry.operation_name, "/back", "{what}");
    assert_eq!(entry.parent_span_id, -1, "{what}");
    for span in &back.spans {
        assert!(
            span.refs.is_empty(),
            "{what}: py-back starts a trace of its own, yet span {:?} has refs {:#?}",
            span.operation_name,
            span.refs
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_rust_service_in_the_middle_breaks_no_trace() {
    let Some(venv) = support::venv("python_interop_unsampled") else {
        return;
    };

    let collector = MockCollector::start().await.expect("collector starts");
    let collector_addr = collector.addr().to_string();
    let agent = sw::Agent::builder()
        .config(sw::Config::default())
        .service(RUST_MID)
        .instance(format!("{RUST_MID}-1"))
        .backend(collector_addr.clone())
        .sample_rate(0.0)
        .trace_ignore_paths([RUST_IGNORED])
        .start()
        .expect("agent starts");

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
            &[("SW_AGENT_TRACE_IGNORE_PATH", PY_QUIET)],
        ),
    );
    let state = Mid {
        client: reqwest::Client::new(),
        back: py_back.url("/back"),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/mid", get(mid))
        .route(RUST_IGNORED, get(mid))
        .layer(ServerLayer::new())
        .with_state(state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // 1. Unsampled: py-front records nothing and sends no usable sw8; rust-mid, at
    //    sample rate 0, records nothing either.
    let what = "unsampled (py-front ignores /quiet, rust-mid samples 0)";
    let body = get_ok(&py_front.url(PY_QUIET)).await;
    let ids = trace_ids(&body, &[PY_FRONT, RUST_MID, PY_BACK]);
    assert_eq!(
        ids[0], "",
        "{what}: py-front records nothing; body:\n{body}"
    );
    let seen = only_seen(&state, "/mid");
    assert!(
        seen.sw8.as_deref().is_none_or(|v| Sw8::decode(v).is_err()),
        "{what}: py-front sent no usable sw8: {seen:?}"
    );
    assert!(
        !seen.recording,
        "{what}: rust-mid records nothing: {seen:?}"
    );
    let (mid_trace, back_trace) = (ids[1], ids[2]);
    assert!(!back_trace.is_empty(), "{what}: body:\n{body}");
    assert_ne!(
        back_trace, mid_trace,
        "{what}: py-back continued rust-mid's unrecorded trace; body:\n{body}"
    );
    assert_back_starts_its_own_trace(&collector, back_trace, what).await;

    // 2. Ignored route: a valid sw8 arrives, the ignore rules win.
    let what = "ignored route (py-front -> rust-mid /ignored)";
    let body = get_ok(&py_front.url(&format!("/front?to={RUST_IGNORED}"))).await;
    let ids = trace_ids(&body, &[PY_FRONT, RUST_MID, PY_BACK]);
    let (front_trace, back_trace) = (ids[0], ids[2]);
    assert!(!front_trace.is_empty(), "{what}: body:\n{body}");
    assert!(!back_trace.is_empty(), "{what}: body:\n{body}");
    assert_ne!(
        back_trace, front_trace,
        "{what}: py-back continued py-front's trace through an ignored request; body:\n{body}"
    );
    let seen = only_seen(&state, RUST_IGNORED);
    let incoming = seen
        .sw8
        .as_deref()
        .map(Sw8::decode)
        .unwrap_or_else(|| panic!("{what}: py-front sent sw8: {seen:?}"))
        .unwrap_or_else(|e| panic!("{what}: py-front's sw8 decodes: {e}; {seen:?}"));
    assert_eq!(incoming.trace_id, front_trace, "{what}");
    assert_eq!(incoming.parent_service, PY_FRONT, "{what}");
    assert!(
        !seen.recording,
        "{what}: rust-mid records nothing: {seen:?}"
    );
    let segments = collector
        .wait_for_trace(front_trace, 1, REPORT)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}; all segments: {:#?}", collector.segments()));
    eprintln!("{what}:\n{}", collector.trace_tree(front_trace));
    let front = segment_of(&segments, PY_FRONT);
    let front_entry = only_span(front, SpanType::Entry);
    assert_eq!(front_entry.operation_name, "/front", "{what}");
    assert!(
        front_entry.refs.is_empty(),
        "{what}: py-front starts a trace"
    );
    let front_exit = only_span(front, SpanType::Exit);
    assert_eq!(front_exit.operation_name, RUST_IGNORED, "{what}");
    assert_eq!(front_exit.peer, mid_addr.to_string(), "{what}");
    assert_eq!(incoming.parent_segment_id, front.trace_segment_id, "{what}");
    assert_back_starts_its_own_trace(&collector, back_trace, what).await;

    // 3. Control: the same agent records a request that brings a valid sw8.
    let what = "control (py-front -> rust-mid /mid, recorded despite sample rate 0)";
    let body = get_ok(&py_front.url("/front")).await;
    let ids = trace_ids(&body, &[PY_FRONT, RUST_MID, PY_BACK]);
    let trace_id = ids[0];
    assert!(!trace_id.is_empty(), "{what}: body:\n{body}");
    assert!(
        ids.iter().all(|id| *id == trace_id),
        "{what}: one trace; body:\n{body}"
    );
    let seen = only_seen(&state, "/mid");
    assert!(seen.recording, "{what}: rust-mid records: {seen:?}");
    let segments = collector
        .wait_for_trace(trace_id, 3, REPORT)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}; all segments: {:#?}", collector.segments()));
    eprintln!("{what}:\n{}", collector.trace_tree(trace_id));
    assert_eq!(segments.len(), 3, "{what}: {segments:#?}");
    let front = segment_of(&segments, PY_FRONT);
    let middle = segment_of(&segments, RUST_MID);
    let back = segment_of(&segments, PY_BACK);
    let front_exit = only_span(front, SpanType::Exit);
    let middle_entry = only_span(middle, SpanType::Entry);
    assert_eq!(middle_entry.operation_name, "GET /mid", "{what}");
    assert_linked(
        trace_id,
        front,
        front_exit,
        &front_exit.operation_name,
        middle_entry,
    );
    let middle_exit = only_span(middle, SpanType::Exit);
    assert_linked(
        trace_id,
        middle,
        middle_exit,
        &middle_entry.operation_name,
        only_span(back, SpanType::Entry),
    );
    let control_segment = middle.trace_segment_id.clone();

    // Everything rust-mid queued has been sent: only the control's segment.
    assert!(
        agent.flush(Duration::from_secs(10)),
        "rust-mid's agent flushes"
    );
    let from_mid: Vec<String> = collector
        .segments()
        .into_iter()
        .filter(|s| s.service == RUST_MID)
        .map(|s| s.trace_segment_id)
        .collect();
    assert_eq!(
        from_mid,
        [control_segment],
        "rust-mid reports only the control's segment"
    );

    // No segment refers to a parent that was never reported. The Python agents report
    // on their own schedule, so give a late parent a moment before failing.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (segments, dangling) = loop {
        let segments: Vec<SegmentObject> = collector.segments();
        let dangling = dangling_refs(&segments);
        if dangling.is_empty() || Instant::now() >= deadline {
            break (segments, dangling);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        dangling.is_empty(),
        "refs to parents never reported:\n{}\nall segments: {segments:#?}",
        dangling.join("\n")
    );
    // 1 (py-back) + 2 (py-front, py-back) + 3 (all three).
    assert_eq!(segments.len(), 6, "{segments:#?}");

    server.abort();
    drop(agent);
}

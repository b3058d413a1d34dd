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
//! otherwise it says why it is skipped and passes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use skywalking_proto::v3::{RefType, SegmentObject, SegmentReference, SpanObject, SpanType};
use skywalking_runtime as sw;
use skywalking_runtime::integrations::axum::SkyWalkingLayer;
use skywalking_runtime::integrations::reqwest::RequestBuilderExt;
use skywalking_testkit::MockCollector;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

const VENV_VAR: &str = "SW_PYTHON_INTEROP_VENV";
/// How long a Python service may take to start (interpreter, grpcio, the agent).
const STARTUP: Duration = Duration::from_secs(60);
/// How long the request through the three services may take.
const REQUEST: Duration = Duration::from_secs(60);
/// How long the collector may wait for the three segments (the Python agent reports
/// within about a second of a segment finishing).
const REPORT: Duration = Duration::from_secs(30);

const PY_FRONT: &str = "py-front";
const RUST_MID: &str = "rust-mid";
const PY_BACK: &str = "py-back";

/// A Python service, killed when dropped. Its stderr (the agent's log) is kept and
/// printed on drop, so a failing test shows it.
struct PyService {
    name: &'static str,
    port: u16,
    child: Child,
    _stdin: ChildStdin,
    stderr: Arc<Mutex<String>>,
}

impl PyService {
    async fn spawn(
        venv: &Path,
        name: &'static str,
        collector: &str,
        downstream: Option<String>,
    ) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python-interop/service.py");
        let mut command = Command::new(venv.join("bin/python"));
        command.arg("-u").arg(&script).args(downstream);
        // Only this test's agent settings, whatever the environment holds.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SW_") {
                command.env_remove(key);
            }
        }
        command
            .env("SW_AGENT_COLLECTOR_BACKEND_SERVICES", collector)
            .env("SW_AGENT_PROTOCOL", "grpc")
            .env("SW_AGENT_NAME", name)
            .env("SW_AGENT_INSTANCE_NAME", format!("{name}-1"))
            // Traces only: no meters, profiler or log reporting.
            .env("SW_AGENT_METER_REPORTER_ACTIVE", "false")
            .env("SW_AGENT_PROFILE_ACTIVE", "false")
            .env("SW_AGENT_LOG_REPORTER_ACTIVE", "false")
            // Only the two stdlib plugins the service uses (a regex per disabled plugin).
            .env(
                "SW_AGENT_DISABLE_PLUGINS",
                "^(?!sw_http_server$|sw_urllib_request$)",
            )
            .env("SW_AGENT_LOGGING_LEVEL", "WARNING")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "{name}: cannot run {}: {e}",
                venv.join("bin/python").display()
            )
        });
        let stdin = child.stdin.take().expect("piped stdin");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut service = PyService {
            name,
            port: 0,
            child,
            _stdin: stdin,
            stderr,
        };
        let stdout = service.child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(STARTUP, async {
            while let Some(line) = lines.next_line().await.ok().flatten() {
                if let Some(port) = line.strip_prefix("READY ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await;
        match ready {
            Ok(Some(port)) => service.port = port,
            Ok(None) => {
                // Let the stderr reader catch the last words before they are printed.
                let _ = tokio::time::timeout(Duration::from_secs(2), service.child.wait()).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!("{name} exited before it was ready (its stderr is printed below)");
            }
            Err(_) => panic!("{name} not ready within {STARTUP:?} (its stderr is printed below)"),
        }
        service
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PyService {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        eprintln!("----- {} stderr -----\n{stderr}", self.name);
    }
}

#[derive(Clone)]
struct Mid {
    client: reqwest::Client,
    back: String,
}

/// rust-mid's `GET /mid`: answers `rust-mid <trace id>` and then py-back's answer.
async fn mid(State(mid): State<Mid>) -> (StatusCode, String) {
    let trace_id = sw::trace_id().map(|id| id.to_string()).unwrap_or_default();
    let mut body = format!("{RUST_MID} {trace_id}\n");
    match mid.client.get(&mid.back).send_traced().await {
        Ok(response) => {
            let status = response.status();
            body += &response.text().await.unwrap_or_default();
            if !status.is_success() {
                return (StatusCode::BAD_GATEWAY, body);
            }
            (StatusCode::OK, body)
        }
        Err(error) => (
            StatusCode::BAD_GATEWAY,
            body + &format!("{RUST_MID}: GET {} failed: {error}\n", mid.back),
        ),
    }
}

fn segment_of<'a>(segments: &'a [SegmentObject], service: &str) -> &'a SegmentObject {
    let mut of_service = segments.iter().filter(|s| s.service == service);
    let segment = of_service
        .next()
        .unwrap_or_else(|| panic!("no segment of {service}"));
    assert!(of_service.next().is_none(), "one segment of {service}");
    segment
}

fn only_span(segment: &SegmentObject, kind: SpanType) -> &SpanObject {
    let mut spans = segment
        .spans
        .iter()
        .filter(|span| span.span_type == kind as i32);
    let span = spans
        .next()
        .unwrap_or_else(|| panic!("no {kind:?} span in {}", segment.service));
    assert!(
        spans.next().is_none(),
        "one {kind:?} span in {}",
        segment.service
    );
    span
}

fn only_ref(span: &SpanObject) -> &SegmentReference {
    assert_eq!(span.refs.len(), 1, "one ref on {}", span.operation_name);
    &span.refs[0]
}

/// Asserts that `child_entry`'s ref points at `exit` (a span of `parent`): the link OAP
/// follows from the callee's segment to the caller's.
fn assert_linked(
    trace_id: &str,
    parent: &SegmentObject,
    exit: &SpanObject,
    parent_endpoint: &str,
    child_entry: &SpanObject,
) {
    let r = only_ref(child_entry);
    let what = format!(
        "ref of {} (entry {:?}) -> {}",
        parent.service, child_entry.operation_name, exit.operation_name
    );
    assert_eq!(r.ref_type, RefType::CrossProcess as i32, "{what}: refType");
    assert_eq!(r.trace_id, trace_id, "{what}: traceId");
    assert_eq!(
        r.parent_trace_segment_id, parent.trace_segment_id,
        "{what}: parentTraceSegmentId"
    );
    assert_eq!(r.parent_span_id, exit.span_id, "{what}: parentSpanId");
    assert_eq!(r.parent_service, parent.service, "{what}: parentService");
    assert_eq!(
        r.parent_service_instance, parent.service_instance,
        "{what}: parentServiceInstance"
    );
    assert_eq!(r.parent_endpoint, parent_endpoint, "{what}: parentEndpoint");
    assert!(!exit.peer.is_empty(), "{what}: the exit span has a peer");
    assert_eq!(
        r.network_address_used_at_peer, exit.peer,
        "{what}: networkAddressUsedAtPeer is the exit span's peer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_through_python_rust_python() {
    let Some(venv) = std::env::var_os(VENV_VAR).map(PathBuf::from) else {
        eprintln!(
            "python_interop skipped: {VENV_VAR} is not set \
             (run tests/python-interop/setup.sh and point {VENV_VAR} at the venv it prints; \
             .ci/run does)"
        );
        return;
    };
    assert!(
        venv.join("bin/python").exists(),
        "{VENV_VAR}={} holds no bin/python: run tests/python-interop/setup.sh",
        venv.display()
    );

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
        PyService::spawn(&venv, PY_BACK, &collector_addr, None),
        PyService::spawn(
            &venv,
            PY_FRONT,
            &collector_addr,
            Some(format!("http://{mid_addr}/mid")),
        ),
    );
    let app = Router::new()
        .route("/mid", get(mid))
        .layer(SkyWalkingLayer::new())
        .with_state(Mid {
            client: reqwest::Client::new(),
            back: py_back.url("/back"),
        });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // A plain request (no sw8): py-front starts the trace.
    let response = tokio::time::timeout(
        REQUEST,
        reqwest::Client::new().get(py_front.url("/front")).send(),
    )
    .await
    .expect("py-front answers in time")
    .expect("GET py-front /front");
    let status = response.status();
    let body = response.text().await.expect("py-front body");
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "py-front answered:\n{body}"
    );

    // Each service says which trace it recorded the request in: all the same one.
    let ids: Vec<(&str, &str)> = body
        .lines()
        .filter_map(|line| line.split_once(' '))
        .collect();
    let services: Vec<&str> = ids.iter().map(|(service, _)| *service).collect();
    assert_eq!(services, [PY_FRONT, RUST_MID, PY_BACK], "body:\n{body}");
    let trace_id = ids[0].1.to_owned();
    assert!(!trace_id.is_empty(), "body:\n{body}");
    for (service, id) in &ids {
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

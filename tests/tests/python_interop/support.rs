//! What the Python interop tests share: finding the venv of the official Python agent
//! (made by `tests/python-interop/setup.sh`), running `tests/python-interop/service.py`
//! under it, and checking the segments a `MockCollector` received.
//!
//! Included by `python_interop.rs` (as its module `support`) and by the other
//! `python_interop_*.rs` files (with `#[path]`); each uses a part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skywalking_proto::v3::{RefType, SegmentObject, SegmentReference, SpanObject, SpanType};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

pub(crate) const VENV_VAR: &str = "SW_PYTHON_INTEROP_VENV";
/// How long a Python service may take to start (interpreter, grpcio, the agent).
pub(crate) const STARTUP: Duration = Duration::from_secs(60);
/// How long a request through the services may take.
pub(crate) const REQUEST: Duration = Duration::from_secs(60);
/// How long the collector may wait for segments (the Python agent reports within about
/// a second of a segment finishing).
pub(crate) const REPORT: Duration = Duration::from_secs(30);

/// The venv named by `SW_PYTHON_INTEROP_VENV`, or `None` (the caller returns: the test
/// is skipped) when the variable is unset outside CI. Under CI (`CI` set, as CI systems
/// do, and not `false` or `0`) an unset variable fails the test: `.ci/run` always sets
/// it, so a skip there would hide a broken setup.
pub(crate) fn venv(test: &str) -> Option<PathBuf> {
    let Some(venv) = std::env::var_os(VENV_VAR).filter(|v| !v.is_empty()) else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !ci,
            "{test}: {VENV_VAR} is not set under CI: run tests/python-interop/setup.sh and \
             export {VENV_VAR} as the path it prints (.ci/run does)"
        );
        eprintln!(
            "{test} skipped: {VENV_VAR} is not set \
             (run tests/python-interop/setup.sh and point {VENV_VAR} at the venv it prints; \
             .ci/run does)"
        );
        return None;
    };
    let venv = PathBuf::from(venv);
    assert!(
        venv.join("bin/python").exists(),
        "{VENV_VAR}={} holds no bin/python: run tests/python-interop/setup.sh",
        venv.display()
    );
    Some(venv)
}

/// A file of `tests/python-interop/`.
pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python-interop")
        .join(name)
}

/// The `SW_*` variables of this process's environment, for a child to drop: a Python
/// process gets only the agent settings its test gives it.
pub(crate) fn sw_variables() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(key, _)| key)
        .filter(|key| key.to_string_lossy().starts_with("SW_"))
        .collect()
}

/// A Python service, killed when dropped. Its stderr (the agent's log) is kept and
/// printed on drop, so a failing test shows it.
pub(crate) struct PyService {
    pub(crate) name: &'static str,
    pub(crate) port: u16,
    child: Child,
    _stdin: ChildStdin,
    stderr: Arc<Mutex<String>>,
}

impl PyService {
    /// Starts `service.py` as service `name`, reporting to `collector`, calling
    /// `downstream` (if any) on each request, with `env` added to the agent's settings.
    pub(crate) async fn spawn(
        venv: &Path,
        name: &'static str,
        collector: &str,
        downstream: Option<String>,
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(venv.join("bin/python"));
        command.arg("-u").arg(script("service.py")).args(downstream);
        for key in sw_variables() {
            command.env_remove(key);
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
            .envs(env.iter().copied())
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

    pub(crate) fn url(&self, path: &str) -> String {
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

/// GETs `url` (a plain request, no `sw8`) and returns the body, which must come with
/// a 200.
pub(crate) async fn get_ok(url: &str) -> String {
    let response = tokio::time::timeout(REQUEST, reqwest::Client::new().get(url).send())
        .await
        .unwrap_or_else(|_| panic!("GET {url}: no answer within {REQUEST:?}"))
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "GET {url} answered:\n{body}"
    );
    body
}

/// The `<service> <trace id>` lines of a body (the trace id empty where the service
/// recorded nothing), checking they name `services` in that order.
pub(crate) fn trace_ids<'a>(body: &'a str, services: &[&str]) -> Vec<&'a str> {
    let lines: Vec<(&str, &str)> = body
        .lines()
        .filter_map(|line| line.split_once(' '))
        .collect();
    let named: Vec<&str> = lines.iter().map(|(service, _)| *service).collect();
    assert_eq!(named, services, "body:\n{body}");
    lines.into_iter().map(|(_, id)| id).collect()
}

pub(crate) fn segment_of<'a>(segments: &'a [SegmentObject], service: &str) -> &'a SegmentObject {
    let mut of_service = segments.iter().filter(|s| s.service == service);
    let segment = of_service
        .next()
        .unwrap_or_else(|| panic!("no segment of {service} in {segments:#?}"));
    assert!(
        of_service.next().is_none(),
        "one segment of {service}: {segments:#?}"
    );
    segment
}

pub(crate) fn only_span(segment: &SegmentObject, kind: SpanType) -> &SpanObject {
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

pub(crate) fn only_ref(span: &SpanObject) -> &SegmentReference {
    assert_eq!(span.refs.len(), 1, "one ref on {}", span.operation_name);
    &span.refs[0]
}

/// Asserts that `child_entry`'s ref points at `exit` (a span of `parent`): the link OAP
/// follows from the callee's segment to the caller's.
pub(crate) fn assert_linked(
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

/// The refs among `segments` whose parent segment (or the parent span in it) is not
/// among `segments`: each as `<segment> of <service>: <what is missing>`.
pub(crate) fn dangling_refs(segments: &[SegmentObject]) -> Vec<String> {
    let mut dangling = Vec::new();
    for segment in segments {
        let refs = segment
            .spans
            .iter()
            .flat_map(|span| span.refs.iter().map(move |r| (span, r)));
        for (span, r) in refs {
            let parent = segments
                .iter()
                .find(|s| s.trace_segment_id == r.parent_trace_segment_id);
            let problem = match parent {
                None => format!(
                    "its parent segment {} ({} of {}) was never reported",
                    r.parent_trace_segment_id, r.parent_endpoint, r.parent_service
                ),
                Some(p) if p.trace_id != r.trace_id => format!(
                    "its parent segment {} is in trace {}, the ref says {}",
                    p.trace_segment_id, p.trace_id, r.trace_id
                ),
                Some(p) if !p.spans.iter().any(|s| s.span_id == r.parent_span_id) => format!(
                    "its parent segment {} has no span {}",
                    p.trace_segment_id, r.parent_span_id
                ),
                Some(_) => continue,
            };
            dangling.push(format!(
                "segment {} of {} (span {:?}): {problem}",
                segment.trace_segment_id, segment.service, span.operation_name
            ));
        }
    }
    dangling
}

/// What the Rust service in the middle answers: `<service> <trace id>`, then the answer
/// of `back`, called with a traced reqwest request (a 502 when that call fails).
pub(crate) async fn answer_through(
    service: &str,
    client: &reqwest::Client,
    back: &str,
) -> (axum::http::StatusCode, String) {
    use skywalking_runtime::integrations::reqwest::RequestBuilderExt;
    let trace_id = skywalking_runtime::trace_id()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let mut body = format!("{service} {trace_id}\n");
    match client.get(back).send_traced().await {
        Ok(response) => {
            let status = response.status();
            body += &response.text().await.unwrap_or_default();
            if !status.is_success() {
                return (axum::http::StatusCode::BAD_GATEWAY, body);
            }
            (axum::http::StatusCode::OK, body)
        }
        Err(error) => (
            axum::http::StatusCode::BAD_GATEWAY,
            body + &format!("{service}: GET {back} failed: {error}\n"),
        ),
    }
}

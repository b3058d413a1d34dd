//! The Prometheus metrics end to end: an axum service with the agent's layer handles
//! requests, some failing with 500; a real Prometheus (Debian's `prometheus`, from the
//! testkit's `servers` harness) scrapes both the agent's own listener
//! (`SW_AGENT_PROMETHEUS_LISTEN`) and the `/metrics` route the service mounts with
//! `prometheus::handler`; the test asks Prometheus's HTTP API for the request, error and
//! histogram counts, runs the README's three queries, and has `promtool check metrics`
//! lint the exposition. Without `prometheus` installed the test is skipped, except under
//! `CI=true`, where it fails.

mod common;
mod integration_support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use integration_support::{client, get as get_req, send_traced, serve};
use skywalking_runtime::integrations::axum::ServerLayer;
use skywalking_runtime::prometheus;
use skywalking_testkit::servers::prometheus::{self as server, Prometheus, Sample, http_get};

/// Requests answered 200, then 500.
const OK: usize = 14;
const FAILED: usize = 6;
/// Requests answered 200 in the second round.
const MORE: usize = 5;
const WAIT: Duration = Duration::from_secs(30);

fn app() -> Router {
    Router::new()
        .route(
            "/work/{id}",
            get(|Path(id): Path<u64>| async move { format!("done {id}") }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .layer(ServerLayer::new())
        // Mounted after the layer: scrapes make no spans.
        .route("/metrics", get(prometheus::handler))
}

/// Sends `n` requests to `path` (`{i}` replaced by the request's number), each from an
/// exit span whose peer is the service's address.
async fn send(addr: SocketAddr, path: &str, n: usize) {
    let client = client();
    for i in 0..n {
        let path = path.replace("{i}", &i.to_string());
        let (status, _) = send_traced(&client, addr.to_string(), get_req(addr, &path)).await;
        let expected = if path == "/fail" { 500 } else { 200 };
        assert_eq!(status, expected, "{path}");
    }
}

/// The single value of `promql`, once it equals `expected`.
fn wait_value(prom: &Prometheus, promql: &str, expected: f64) -> Vec<Sample> {
    prom.wait_for(promql, WAIT, |v| v.len() == 1 && v[0].value == expected)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_reads_request_error_and_latency_metrics() {
    let _memory = common::start_with(|b| {
        b.service("metrics-svc")
            .prometheus_listen("127.0.0.1:0")
            .prometheus_buckets(vec![0.005, 0.05, 0.5, 5.0])
    });
    let listener = prometheus::local_addr().expect("the agent listens");
    let service = serve(app()).await;

    send(service, "/work/{i}", OK).await;
    send(service, "/fail", FAILED).await;
    assert!(common::flush(Duration::from_secs(5)));

    // The exposition: Prometheus text by default, OpenMetrics when asked; promtool lints
    // the text (and fails the test under CI when it is missing).
    let (status, text) = http_get(listener, "/metrics", Some("text/plain")).unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("# TYPE skywalking_calls_total counter"),
        "{text}"
    );
    if let Some(output) = server::check_metrics(&text).unwrap() {
        assert!(output.trim().is_empty(), "promtool: {output}");
    }
    let (_, openmetrics) = http_get(
        listener,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0"),
    )
    .unwrap();
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    assert!(openmetrics.contains("# UNIT skywalking_call_duration_seconds seconds"));
    let (status, _) = http_get(listener, "/other", None).unwrap();
    assert_eq!(status, 404);

    let Some(prom) = server::start(&[listener, service]).unwrap() else {
        return;
    };
    for target in [listener, service] {
        let at = format!("instance=\"{target}\"");
        wait_value(&prom, &format!("up{{{at}}}"), 1.0);
        let entry = |endpoint: &str| format!("{at},kind=\"entry\",endpoint=\"{endpoint}\"");
        let work = entry("GET /work/{id}");
        let fail = entry("GET /fail");
        let calls = wait_value(
            &prom,
            &format!("skywalking_calls_total{{{work}}}"),
            OK as f64,
        );
        let labels = &calls[0].labels;
        assert_eq!(labels["service"], "metrics-svc");
        assert_eq!(labels["layer"], "http");
        assert_eq!(labels["component"], "http");
        // An empty label is no label to Prometheus.
        assert!(
            !labels.contains_key("peer"),
            "entry spans have no peer: {labels:?}"
        );
        wait_value(
            &prom,
            &format!("skywalking_calls_total{{{fail}}}"),
            FAILED as f64,
        );
        wait_value(
            &prom,
            &format!("skywalking_call_errors_total{{{fail}}}"),
            FAILED as f64,
        );
        wait_value(
            &prom,
            &format!("skywalking_call_errors_total{{{work}}}"),
            0.0,
        );
        wait_value(
            &prom,
            &format!("skywalking_call_duration_seconds_count{{{work}}}"),
            OK as f64,
        );
        wait_value(
            &prom,
            &format!("skywalking_call_duration_seconds_bucket{{{work},le=\"+Inf\"}}"),
            OK as f64,
        );
        // The client's exit spans: one series per peer and operation.
        let exits = wait_value(
            &prom,
            &format!(
                "sum by (peer, endpoint) (skywalking_calls_total{{{at},kind=\"exit\",peer=\"{service}\"}})"
            ),
            (OK + FAILED) as f64,
        );
        assert_eq!(exits[0].labels["endpoint"], "client GET");
        wait_value(
            &prom,
            &format!("skywalking_metrics_overflow_total{{{at},kind=\"entry\"}}"),
            0.0,
        );
    }

    // The README's queries, on the agent's own listener.
    let at = format!("instance=\"{listener}\"");
    let ratio = prom
        .wait_for(
            &format!(
                "sum by (endpoint) (skywalking_call_errors_total{{{at},kind=\"entry\"}}) \
                 / sum by (endpoint) (skywalking_calls_total{{{at},kind=\"entry\"}})"
            ),
            WAIT,
            |v| v.len() == 2,
        )
        .unwrap();
    for sample in &ratio {
        let expected = if sample.labels["endpoint"] == "GET /fail" {
            1.0
        } else {
            0.0
        };
        assert_eq!(sample.value, expected, "{ratio:?}");
    }
    let p99 = prom
        .wait_for(
            &format!(
                "histogram_quantile(0.99, sum by (endpoint, le) \
                 (skywalking_call_duration_seconds_bucket{{{at},kind=\"entry\"}}))"
            ),
            WAIT,
            |v| v.len() == 2,
        )
        .unwrap();
    for sample in &p99 {
        assert!(
            sample.value > 0.0 && sample.value <= 5.0,
            "loopback requests take less than the last bucket: {p99:?}"
        );
    }

    // More requests: the counters grow and the rate query sees them.
    send(service, "/work/{i}", MORE).await;
    assert!(common::flush(Duration::from_secs(5)));
    let work = format!("{at},kind=\"entry\",endpoint=\"GET /work/{{id}}\"");
    wait_value(
        &prom,
        &format!("skywalking_calls_total{{{work}}}"),
        (OK + MORE) as f64,
    );
    prom.wait_for(
        &format!("sum by (endpoint) (rate(skywalking_calls_total{{{work}}}[1m]))"),
        WAIT,
        |v| v.len() == 1 && v[0].value > 0.0,
    )
    .unwrap();
}

//! The axum layer's own service reports exactly what the generic tower layer did when
//! the axum layer was built on it (kept as `ServerLayer::__tower_reference` for the
//! `axum_layer` bench): the same requests through both give the same segments, field
//! for field, once the ids and times that differ between any two requests are cleared.

#![cfg(feature = "axum")]

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use http::Request;
use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::Span;
use skywalking_runtime::integrations::axum::ServerLayer;
use tower::ServiceExt;

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

async fn user(Path(id): Path<u64>) -> String {
    let _query = Span::local("db.query");
    format!("user {id}")
}

async fn fail() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
}

/// The test app, its routes and a nested router all under `layer`.
fn app<L>(layer: L) -> Router
where
    L: tower_layer::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    L::Service: tower_service::Service<Request<Body>, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower_service::Service<Request<Body>>>::Response:
        axum::response::IntoResponse + 'static,
    <L::Service as tower_service::Service<Request<Body>>>::Future: Send + 'static,
{
    let api = Router::new()
        .route(
            "/orders/{id}",
            get(|Path(id): Path<u64>| async move { format!("order {id}") }),
        )
        .layer(layer.clone());
    Router::new()
        .route("/users/{id}", get(user).post(user))
        .route("/fail", get(fail))
        .route("/health", get(|| async { "ok" }))
        .route("/form", post(|| async { "posted" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        )
        .layer(layer)
        .nest("/api", api)
}

/// A segment with what differs between any two requests cleared: ids and times.
fn comparable(mut segment: SegmentObject) -> SegmentObject {
    segment.trace_segment_id.clear();
    if !segment.spans.iter().any(|span| !span.refs.is_empty()) {
        // A new trace: a new id. A continued one keeps the caller's, compared.
        segment.trace_id.clear();
    }
    for span in &mut segment.spans {
        span.start_time = 0;
        span.end_time = 0;
        for log in &mut span.logs {
            log.time = 0;
        }
    }
    segment
}

/// A header a request carries: name and value.
type Header = Option<(&'static str, &'static str)>;

/// The segments one request through `router` reports.
async fn serve(
    memory: &common::Memory,
    router: &Router,
    method: &str,
    uri: &str,
    header: Header,
) -> (Option<StatusCode>, Vec<SegmentObject>) {
    let before = memory.all().len();
    let mut request = Request::builder().method(method).uri(uri);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let request = request.body(Body::empty()).expect("a request");
    // A request that takes too long is dropped (the client went away): its span ends
    // as cancelled.
    let status = tokio::time::timeout(Duration::from_millis(20), router.clone().oneshot(request))
        .await
        .map(|response| response.expect("infallible").status())
        .ok();
    let reported = memory.all().into_iter().skip(before).map(comparable);
    (status, reported.collect())
}

#[tokio::test]
async fn the_axum_service_reports_what_the_tower_layer_reported() {
    let memory = common::start_with(|b| b.trace_ignore_paths(["/health"]));
    let requests: &[(&str, &str, Header)] = &[
        ("GET", "/users/7?token=secret", None),
        ("POST", "/users/7", None),
        ("GET", "/users/7", Some(("sw8", common::JAVA_SW8))),
        ("GET", "/users/7", Some(("traceparent", TRACEPARENT))),
        ("GET", "/users/7", Some(("sw8", "1-not-a-header"))),
        ("GET", "/fail", None),
        ("GET", "/no/such/7", None),
        ("DELETE", "/no/such/7", None),
        ("PROPFIND", "/users/7", None),
        ("PROPFIND", "/no/such/7", None),
        ("PUT", "/form", None),
        ("GET", "/api/orders/3", None),
        ("GET", "/slow", None),
        ("GET", "/health", None),
        ("GET", "/app.css", None),
        ("GET", "http://example.com:8080/users/8?x=1", None),
    ];
    for component in [None, Some(5)] {
        let (new, old) = match component {
            None => (
                app(ServerLayer::new()),
                app(ServerLayer::new().__tower_reference()),
            ),
            Some(id) => (
                app(ServerLayer::new().with_component(id)),
                app(ServerLayer::new().with_component(id).__tower_reference()),
            ),
        };
        for (method, uri, header) in requests {
            let now = serve(&memory, &new, method, uri, *header).await;
            let before = serve(&memory, &old, method, uri, *header).await;
            assert_eq!(
                now, before,
                "{method} {uri} {header:?}, component {component:?}"
            );
        }
    }
    // What the requests above reported at all, so that the comparison compared spans.
    let reported = memory.all();
    assert!(
        reported
            .iter()
            .any(|s| s.spans[0].operation_name == "PROPFIND /users/{id}"),
        "{reported:?}"
    );
    assert!(
        reported.iter().any(|s| s.spans[0].component_id == 5),
        "{reported:?}"
    );
    assert!(
        reported
            .iter()
            .any(|s| s.spans[0].operation_name == "GET /slow" && !s.spans[0].logs.is_empty()),
        "a cancelled request's span, with its log: {reported:?}"
    );
}

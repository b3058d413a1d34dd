//! The axum layer on a real loopback server: one trace across the client's and the
//! server's segments, spans named by route, tags, errors, ignore rules, and handler spans
//! as children of the entry span.

mod common;
mod integration_support;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use integration_support::{
    FRONT, any_span_named, assert_child, assert_linked, client, find, get as get_req, in_front,
    send_plain, send_traced, serve, tags,
};
use skywalking_proto::v3::SpanLayer;
use skywalking_runtime::integrations::axum::{ServerLayer, UNMATCHED};
use skywalking_runtime::{Span, trace};

#[trace(name = "load_user")]
async fn load_user(id: u64) -> String {
    tokio::task::yield_now().await;
    format!("user {id}")
}

async fn user(Path(id): Path<u64>) -> String {
    let name = load_user(id).await;
    {
        let _query = Span::local("db.query");
    }
    name
}

async fn fail() -> (StatusCode, &'static str) {
    let _work = Span::local("failing.work");
    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
}

async fn health() -> &'static str {
    let _work = Span::local("health.work");
    "ok"
}

async fn asset(Path(file): Path<String>) -> String {
    let _work = Span::local("asset.work");
    file
}

fn app() -> Router {
    let api = Router::new()
        .route(
            "/orders/{id}",
            get(|Path(id): Path<u64>| async move { format!("order {id}") }),
        )
        .layer(ServerLayer::new());
    Router::new()
        .route("/users/{id}", get(user))
        .route("/fail", get(fail))
        .route("/health", get(health))
        .route("/static/{*file}", get(asset))
        .route("/app.css", get(|| async { "body {}" }))
        .layer(ServerLayer::new())
        .nest("/api", api)
}

async fn start() -> (common::Memory, SocketAddr) {
    let memory = common::start_with(|b| b.trace_ignore_paths(["/health", "/static/**"]));
    let addr = serve(app()).await;
    (memory, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_client_and_server() {
    let (memory, addr) = start().await;
    let client = client();
    let (trace, (status, body)) = in_front(send_traced(
        &client,
        addr.to_string(),
        get_req(addr, "/users/7?token=secret"),
    ))
    .await;
    assert_eq!((status, body.as_str()), (200, "user 7"));

    let segments = memory.trace(&trace);
    let (_, exit, server, entry) = assert_linked(&segments, "client GET", "GET /users/{id}");
    assert_eq!(exit.peer, addr.to_string());
    assert_eq!(entry.component_id, 49);
    assert_eq!(entry.span_layer, SpanLayer::Http as i32);
    assert!(!entry.is_error);
    let tags = tags(entry);
    assert_eq!(tags["http.method"], "GET");
    assert_eq!(tags["url"], "/users/7", "the path, never the query");
    assert_eq!(tags["http.status_code"], "200");
    assert_child(server, entry, "load_user");
    assert_child(server, entry, "db.query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_unmatched_routes() {
    let (memory, addr) = start().await;
    let client = client();

    let (trace, (status, _)) = in_front(send_traced(
        &client,
        addr.to_string(),
        get_req(addr, "/fail"),
    ))
    .await;
    assert_eq!(status, 500);
    let segments = memory.trace(&trace);
    let (_, _, server, entry) = assert_linked(&segments, "client GET", "GET /fail");
    assert!(entry.is_error, "a 5xx marks the entry span as an error");
    assert_eq!(tags(entry)["http.status_code"], "500");
    assert_child(server, entry, "failing.work");

    let (trace, (status, _)) = in_front(send_traced(
        &client,
        addr.to_string(),
        get_req(addr, "/no/such/7"),
    ))
    .await;
    assert_eq!(status, 404);
    let segments = memory.trace(&trace);
    let unmatched = format!("GET {UNMATCHED}");
    let (_, _, _, entry) = assert_linked(&segments, "client GET", &unmatched);
    assert!(entry.is_error, "a 4xx marks the entry span as an error");
    assert_eq!(tags(entry)["http.status_code"], "404");
    assert_eq!(tags(entry)["url"], "/no/such/7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_routers_name_the_full_route() {
    let (memory, addr) = start().await;
    let (trace, (status, _)) = in_front(send_traced(
        &client(),
        addr.to_string(),
        get_req(addr, "/api/orders/3"),
    ))
    .await;
    assert_eq!(status, 200);
    let segments = memory.trace(&trace);
    let (_, _, _, entry) = assert_linked(&segments, "client GET", "GET /api/orders/{id}");
    assert_eq!(
        tags(entry)["url"],
        "/api/orders/3",
        "the URI before nesting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_sw8_starts_a_trace() {
    let (memory, addr) = start().await;
    let (status, _) = send_plain(&client(), get_req(addr, "/users/42")).await;
    assert_eq!(status, 200);
    let all = memory.all();
    let segment = all
        .iter()
        .find(|s| {
            s.spans
                .iter()
                .any(|span| tags(span).get("url") == Some(&"/users/42"))
        })
        .expect("the server's segment");
    let (_, entry) = find(std::slice::from_ref(segment), "GET /users/{id}");
    assert!(entry.refs.is_empty(), "no caller: no reference");
    assert_eq!(entry.span_id, 0);
    assert_child(segment, entry, "load_user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_paths_and_suffixes_record_nothing() {
    let (memory, addr) = start().await;
    let client = client();
    for path in ["/health", "/static/js/app.js", "/static/logo", "/app.css"] {
        let (trace, (status, _)) =
            in_front(send_traced(&client, addr.to_string(), get_req(addr, path))).await;
        assert_eq!(status, 200, "{path}");
        let segments = memory.trace(&trace);
        assert_eq!(segments.len(), 1, "{path}: only the client's segment");
        find(&segments, FRONT);
    }
    let all = memory.all();
    for name in ["health.work", "asset.work", "GET /health", "GET /app.css"] {
        assert!(!any_span_named(&all, name), "{name} is not recorded");
    }
}

//! The tower server layer, served by hyper on loopback and driven in-process: linked
//! segments, naming, tags, errors, cancellation, ignore rules, handler spans as children.

mod common;
mod integration_support;

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use integration_support::{
    FRONT, any_span_named, assert_child, assert_linked, client, find, get, in_front, send_traced,
    serve, tags,
};
use skywalking_proto::v3::SpanLayer;
use skywalking_runtime::integrations::tower::{ServerLayer, ServerService};
use skywalking_runtime::{Span, trace};
use tower::{Layer, ServiceExt, service_fn};

#[trace(name = "load_item")]
async fn load_item(id: &str) -> String {
    tokio::task::yield_now().await;
    format!("item {id}")
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    {
        let _local = Span::local("handler.work");
    }
    let (status, body) = match path.as_str() {
        "/fail" => (StatusCode::SERVICE_UNAVAILABLE, "down".to_owned()),
        p => (
            StatusCode::OK,
            load_item(p.trim_start_matches("/items/")).await,
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

/// Names `/items/<id>` requests by their route.
fn route(parts: &http::request::Parts) -> Cow<'static, str> {
    if parts.uri.path().starts_with("/items/") {
        Cow::Borrowed("GET /items/{id}")
    } else {
        Cow::Owned(format!("{} {}", parts.method, parts.uri.path()))
    }
}

fn start() -> common::Memory {
    common::start_with(|b| b.trace_ignore_paths(["/health"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_server_continues_the_callers_trace() {
    let memory = start();
    let service = ServerLayer::new()
        .with_operation_name(route)
        .layer(service_fn(handle));
    let addr = serve(service).await;

    let (trace, (status, body)) = in_front(send_traced(
        &client(),
        addr.to_string(),
        get(addr, "/items/9?x=1"),
    ))
    .await;
    assert_eq!((status, body.as_str()), (200, "item 9"));

    let segments = memory.trace(&trace);
    let (_, _, server, entry) = assert_linked(&segments, "client GET", "GET /items/{id}");
    assert_eq!(entry.component_id, 49);
    assert_eq!(entry.span_layer, SpanLayer::Http as i32);
    let tags = tags(entry);
    assert_eq!(tags["http.method"], "GET");
    assert_eq!(tags["url"], "/items/9");
    assert_eq!(tags["http.status_code"], "200");
    assert!(!entry.is_error);
    assert_child(server, entry, "handler.work");
    assert_child(server, entry, "load_item");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_naming_component_and_5xx() {
    let memory = start();
    let service = ServerLayer::new()
        .with_component(11000)
        .layer(service_fn(handle));
    let addr = serve(service).await;

    let (trace, (status, _)) =
        in_front(send_traced(&client(), addr.to_string(), get(addr, "/fail"))).await;
    assert_eq!(status, 503);
    let segments = memory.trace(&trace);
    let (_, _, _, entry) = assert_linked(&segments, "client GET", "GET /fail");
    assert_eq!(entry.component_id, 11000);
    assert!(entry.is_error);
    assert_eq!(tags(entry)["http.status_code"], "503");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_path() {
    let memory = start();
    let addr = serve(ServerService::new(service_fn(handle))).await;
    let (trace, (status, _)) = in_front(send_traced(
        &client(),
        addr.to_string(),
        get(addr, "/health"),
    ))
    .await;
    assert_eq!(status, 200);
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1, "only the client's segment");
    find(&segments, FRONT);
    assert!(!any_span_named(&memory.all(), "GET /health"));
}

#[tokio::test]
async fn an_inner_service_error_marks_the_span() {
    let memory = start();
    let service = ServerLayer::new().layer(service_fn(|_: Request<()>| async {
        let _local = Span::local("before.failure");
        Err::<Response<()>, _>(std::io::Error::other("db down"))
    }));
    let error = service
        .oneshot(Request::get("/broken").body(()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "db down");

    let all = memory.all();
    let (segment, entry) = find(&all, "GET /broken");
    assert!(entry.is_error);
    assert!(!tags(entry).contains_key("http.status_code"));
    let fields: Vec<(&str, &str)> = entry.logs[0]
        .data
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect();
    assert!(fields.contains(&("event", "error")), "{fields:?}");
    assert!(fields.contains(&("message", "db down")), "{fields:?}");
    assert_child(segment, entry, "before.failure");
}

#[tokio::test]
async fn a_dropped_request_ends_its_span_as_cancelled() {
    let memory = start();
    let service = ServerLayer::new().layer(service_fn(|_: Request<()>| async {
        std::future::pending::<()>().await;
        Ok::<_, Infallible>(Response::new(()))
    }));
    {
        let mut future = pin!(service.oneshot(Request::get("/hangs").body(()).unwrap()));
        poll_fn(|cx| {
            assert!(future.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        // Dropped here, never completed.
    }

    let all = memory.all();
    let (_, entry) = find(&all, "GET /hangs");
    let cancelled = entry
        .logs
        .iter()
        .flat_map(|log| &log.data)
        .any(|kv| kv.key == "event" && kv.value == "cancelled");
    assert!(cancelled, "{:?}", entry.logs);
}

#[tokio::test]
async fn a_w3c_traceparent_keeps_the_callers_trace_id() {
    let memory = start();
    let service = ServerLayer::new().layer(service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(()))
    }));
    let request = Request::get("/w3c")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(())
        .unwrap();
    service.oneshot(request).await.unwrap();

    let segments = memory.trace("4bf92f3577b34da6a3ce929d0e0e4736");
    let (_, entry) = find(&segments, "GET /w3c");
    assert!(entry.refs.is_empty(), "no SkyWalking segment to refer to");
}

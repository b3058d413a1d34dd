//! hyper 1.x on both sides: hyper-util's legacy client through `ClientLayer` (exit spans,
//! `sw8` injection) and a hyper server through the tower layer and
//! `TowerToHyperService`.

mod common;
mod integration_support;

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use integration_support::{
    FRONT, assert_child, assert_linked, client, find, find_kind, get, in_front, read, serve, tags,
};
use skywalking_proto::v3::{SpanLayer, SpanType};
use skywalking_runtime::integrations::hyper::{ClientLayer, ClientService};
use skywalking_runtime::integrations::tower::ServerLayer;
use skywalking_runtime::{Span, trace};
use tower::{Layer, ServiceExt, service_fn};

#[trace(name = "render")]
async fn render(path: String) -> String {
    tokio::task::yield_now().await;
    path
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let status = match path.as_str() {
        "/fail" => StatusCode::BAD_GATEWAY,
        "/missing" => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    };
    {
        let _local = Span::local("handler.work");
    }
    let body = render(path).await;
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_layer_and_server_layer_link_up() {
    let memory = common::start();
    let addr = serve(ServerLayer::new().layer(service_fn(handle))).await;
    let client = ClientLayer::new().layer(client());

    let (trace, (status, body)) = in_front(async {
        let response = client
            .clone()
            .oneshot(get(addr, "/users/7?token=secret"))
            .await
            .unwrap();
        read(response).await
    })
    .await;
    assert_eq!((status, body.as_str()), (200, "/users/7"));

    let segments = memory.trace(&trace);
    let (_, exit, server, entry) = assert_linked(&segments, "GET /users/7", "GET /users/7");
    assert_eq!(exit.peer, addr.to_string());
    assert_eq!(exit.component_id, 2, "HttpClient");
    assert_eq!(exit.span_layer, SpanLayer::Http as i32);
    assert!(!exit.is_error);
    let exit_tags = tags(exit);
    assert_eq!(exit_tags["http.method"], "GET");
    assert_eq!(exit_tags["url"], format!("http://{addr}/users/7"));
    assert_eq!(exit_tags["http.status_code"], "200");
    assert_eq!(entry.component_id, 49);
    assert_eq!(entry.span_layer, SpanLayer::Http as i32);
    assert_eq!(tags(entry)["http.status_code"], "200");
    assert_child(server, entry, "handler.work");
    assert_child(server, entry, "render");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_marks_both_sides() {
    let memory = common::start();
    let addr = serve(ServerLayer::new().layer(service_fn(handle))).await;
    let client = ClientService::new(client());
    let (trace, (status, _)) =
        in_front(async { read(client.oneshot(get(addr, "/fail")).await.unwrap()).await }).await;
    assert_eq!(status, 502);
    let segments = memory.trace(&trace);
    let (_, exit, _, entry) = assert_linked(&segments, "GET /fail", "GET /fail");
    assert!(exit.is_error);
    assert!(entry.is_error);
    assert_eq!(tags(exit)["http.status_code"], "502");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_marks_both_sides() {
    let memory = common::start();
    let addr = serve(ServerLayer::new().layer(service_fn(handle))).await;
    let client = ClientLayer::new().layer(client());
    let (trace, (status, _)) =
        in_front(async { read(client.oneshot(get(addr, "/missing")).await.unwrap()).await }).await;
    assert_eq!(status, 404);
    let segments = memory.trace(&trace);
    let (_, exit, _, entry) = assert_linked(&segments, "GET /missing", "GET /missing");
    for span in [exit, entry] {
        assert!(span.is_error, "a 404 marks {:?}", span.span_type);
        assert_eq!(tags(span)["http.status_code"], "404");
        assert!(span.logs.is_empty(), "a status is not an error log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_is_not_an_error() {
    let memory = common::start();
    let addr = serve(ServerLayer::new().layer(service_fn(handle))).await;
    let client = ClientLayer::new().layer(client());
    let (trace, (status, _)) =
        in_front(async { read(client.oneshot(get(addr, "/fine")).await.unwrap()).await }).await;
    assert_eq!(status, 200);
    let segments = memory.trace(&trace);
    let (_, exit, _, entry) = assert_linked(&segments, "GET /fine", "GET /fine");
    assert!(!exit.is_error && !entry.is_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_failure_is_an_error_on_the_exit_span() {
    let memory = common::start();
    // A port nothing listens on any more.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = ClientLayer::new().layer(client());
    let (trace, result) = in_front(client.oneshot(get(addr, "/gone"))).await;
    assert!(result.is_err());
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    let (_, exit) = find(&segments, "GET /gone");
    assert_eq!(exit.span_type, SpanType::Exit as i32);
    assert!(exit.is_error);
    assert!(!tags(exit).contains_key("http.status_code"));
    assert!(
        exit.logs
            .iter()
            .flat_map(|l| &l.data)
            .any(|kv| kv.key == "event" && kv.value == "error"),
        "{:?}",
        exit.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_call_with_no_trace_starts_one() {
    let memory = common::start();
    let addr = serve(ServerLayer::new().layer(service_fn(handle))).await;
    let response = ClientService::new(client())
        .oneshot(get(addr, "/solo"))
        .await
        .unwrap();
    let (status, _) = read(response).await;
    assert_eq!(status, 200);

    let all = memory.all();
    let (client_segment, exit) = find_kind(&all, "GET /solo", SpanType::Exit);
    assert_eq!(exit.span_id, 0, "the exit span is its trace's first span");
    let (server, entry) = find_kind(&all, "GET /solo", SpanType::Entry);
    assert_eq!(server.trace_id, client_segment.trace_id);
    let reference = &entry.refs[0];
    assert_eq!(
        reference.parent_trace_segment_id,
        client_segment.trace_segment_id
    );
    assert_eq!(reference.parent_span_id, 0);
    assert_eq!(
        reference.parent_endpoint, "GET /solo",
        "the caller's first span names it"
    );
    assert_eq!(reference.network_address_used_at_peer, addr.to_string());
    assert!(!any_front(&all, &client_segment.trace_id));
}

/// Whether the trace has a `FRONT` span (it must not: no caller span was open).
fn any_front(all: &[skywalking_proto::v3::SegmentObject], trace: &str) -> bool {
    all.iter()
        .filter(|s| s.trace_id == trace)
        .any(|s| s.spans.iter().any(|span| span.operation_name == FRONT))
}

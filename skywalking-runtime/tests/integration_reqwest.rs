//! reqwest's `send_traced` and `execute` against a loopback hyper server whose handler
//! is an `#[trace(entry, headers = ..)]` function: linked segments, peer, tags, errors.

mod common;
mod integration_support;

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use integration_support::{
    FRONT, assert_child, assert_linked, find, find_kind, in_front, serve, tags,
};
use skywalking_proto::v3::{SpanLayer, SpanType};
use skywalking_runtime::integrations::reqwest::{RequestBuilderExt, execute};
use skywalking_runtime::{Span, trace};
use tower::service_fn;

#[trace(entry, name = "GET /prices/{sku}", headers = request.headers())]
async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    {
        let _local = Span::local("price.lookup");
    }
    let path = request.uri().path().to_owned();
    let status = if path.ends_with("/broken") {
        StatusCode::SERVICE_UNAVAILABLE
    } else if path.ends_with("/missing") {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let mut response = Response::new(Full::new(Bytes::from(path)));
    *response.status_mut() = status;
    Ok(response)
}

async fn start() -> (common::Memory, SocketAddr) {
    let memory = common::start();
    let addr = serve(service_fn(handle)).await;
    (memory, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_traced_links_client_and_server() {
    let (memory, addr) = start().await;
    let client = reqwest::Client::new();
    let (trace, body) = in_front(async {
        let response = client
            .get(format!("http://{addr}/prices/7?currency=eur"))
            .send_traced()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    })
    .await;
    assert_eq!(body, "/prices/7");

    let segments = memory.trace(&trace);
    let (_, exit, server, entry) = assert_linked(&segments, "GET /prices/7", "GET /prices/{sku}");
    assert_eq!(exit.peer, addr.to_string());
    assert_eq!(exit.component_id, 2);
    assert_eq!(exit.span_layer, SpanLayer::Http as i32);
    assert!(!exit.is_error);
    let exit_tags = tags(exit);
    assert_eq!(exit_tags["http.method"], "GET");
    assert_eq!(exit_tags["url"], format!("http://{addr}/prices/7"));
    assert_eq!(exit_tags["http.status_code"], "200");
    assert_child(server, entry, "price.lookup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_and_a_5xx() {
    let (memory, addr) = start().await;
    let client = reqwest::Client::new();
    let (trace, status) = in_front(async {
        let request = client
            .post(format!("http://{addr}/prices/broken"))
            .build()
            .unwrap();
        execute(&client, request).await.unwrap().status()
    })
    .await;
    assert_eq!(status, 503);
    let segments = memory.trace(&trace);
    let (_, exit, _, _) = assert_linked(&segments, "POST /prices/broken", "GET /prices/{sku}");
    assert!(exit.is_error);
    assert_eq!(tags(exit)["http.method"], "POST");
    assert_eq!(tags(exit)["http.status_code"], "503");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_an_error() {
    let (memory, addr) = start().await;
    let client = reqwest::Client::new();
    let (trace, status) = in_front(async {
        let response = client
            .get(format!("http://{addr}/prices/missing"))
            .send_traced()
            .await
            .unwrap();
        response.status()
    })
    .await;
    assert_eq!(status, 404);
    let segments = memory.trace(&trace);
    let (_, exit, _, _) = assert_linked(&segments, "GET /prices/missing", "GET /prices/{sku}");
    assert!(exit.is_error);
    assert_eq!(tags(exit)["http.status_code"], "404");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_request_is_an_error_and_a_bad_url_has_no_span() {
    let memory = common::start();
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = reqwest::Client::new();
    let (trace, (refused, bad_url)) = in_front(async {
        let refused = client
            .get(format!("http://{addr}/prices/1"))
            .send_traced()
            .await;
        let bad_url = client.get("not a url").send_traced().await;
        (refused, bad_url)
    })
    .await;
    assert!(refused.is_err());
    assert!(bad_url.unwrap_err().is_builder());

    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    let (segment, exit) = find_kind(&segments, "GET /prices/1", SpanType::Exit);
    assert!(exit.is_error);
    assert_eq!(exit.peer, addr.to_string());
    assert!(
        exit.logs
            .iter()
            .flat_map(|l| &l.data)
            .any(|kv| kv.key == "event" && kv.value == "error")
    );
    let (_, front) = find(&segments, FRONT);
    assert_eq!(
        segment.spans.len(),
        2,
        "the front and one exit span: {:?}",
        segment.spans
    );
    assert_eq!(exit.parent_span_id, front.span_id);
}

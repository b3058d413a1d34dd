//! Shared by the HTTP integration tests: a loopback hyper server for any tower service,
//! a hyper client whose calls are exit spans, a root entry span for the client side, and
//! assertions on how the client's and the server's segments link up.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;

use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use skywalking_proto::v3::{RefType, SegmentObject, SpanObject, SpanType};
use skywalking_runtime::trace;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The name of the client side's first (entry) span: what the server's reference names
/// as its parent endpoint.
pub const FRONT: &str = "GET /front";

/// Serves `service` over HTTP/1.1 on `127.0.0.1:<ephemeral>`, one task per connection.
pub async fn serve<S, B>(service: S) -> SocketAddr
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A GET request to `path` on `addr`, with an empty body.
pub fn get(addr: SocketAddr, path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("http://{addr}{path}"))
        .body(Full::default())
        .unwrap()
}

/// Sends `request` as is and reads the response.
pub async fn send_plain(client: &HttpClient, request: Request<Full<Bytes>>) -> (u16, String) {
    let response = client.request(request).await.unwrap();
    read(response).await
}

pub async fn read<B>(response: Response<B>) -> (u16, String)
where
    B: Body,
    B::Error: std::fmt::Debug,
{
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Sends `request` from an exit span (`peer`, named `client GET`) that injects `sw8`.
#[trace(exit, name = "client GET", peer = peer.clone(), headers = request.headers_mut())]
pub async fn send_traced(
    client: &HttpClient,
    peer: String,
    mut request: Request<Full<Bytes>>,
) -> (u16, String) {
    send_plain(client, request).await
}

/// Runs `work` inside the client's entry span [`FRONT`] (a new trace); returns the trace
/// id and what `work` returned.
#[trace(entry, name = "GET /front", headers = &headers)]
pub async fn front<F: Future>(headers: HeaderMap, work: F) -> (String, F::Output) {
    let trace = skywalking_runtime::trace_id()
        .expect("the front span is recording")
        .to_string();
    (trace, work.await)
}

/// `front` with no incoming headers.
pub async fn in_front<F: Future>(work: F) -> (String, F::Output) {
    front(HeaderMap::new(), work).await
}

pub fn tags(span: &SpanObject) -> HashMap<&str, &str> {
    span.tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect()
}

/// The `message` of the span's `event=error` log.
pub fn error_message(span: &SpanObject) -> String {
    span.logs
        .iter()
        .find(|log| {
            log.data
                .iter()
                .any(|kv| kv.key == "event" && kv.value == "error")
        })
        .and_then(|log| log.data.iter().find(|kv| kv.key == "message"))
        .map(|kv| kv.value.clone())
        .unwrap_or_else(|| panic!("no error log on {span:?}"))
}

pub fn find<'a>(segments: &'a [SegmentObject], name: &str) -> (&'a SegmentObject, &'a SpanObject) {
    find_where(segments, name, |_| true)
}

/// The span named `name` of `kind`, and its segment.
pub fn find_kind<'a>(
    segments: &'a [SegmentObject],
    name: &str,
    kind: SpanType,
) -> (&'a SegmentObject, &'a SpanObject) {
    find_where(segments, name, |s| s.span_type == kind as i32)
}

fn find_where<'a>(
    segments: &'a [SegmentObject],
    name: &str,
    filter: impl Fn(&SpanObject) -> bool,
) -> (&'a SegmentObject, &'a SpanObject) {
    segments
        .iter()
        .find_map(|seg| {
            seg.spans
                .iter()
                .find(|s| s.operation_name == name && filter(s))
                .map(|s| (seg, s))
        })
        .unwrap_or_else(|| {
            let names: Vec<_> = segments
                .iter()
                .flat_map(|s| s.spans.iter().map(|s| s.operation_name.clone()))
                .collect();
            panic!("no span {name:?} in {names:?}")
        })
}

/// Whether any reported span is named `name`.
pub fn any_span_named(segments: &[SegmentObject], name: &str) -> bool {
    segments
        .iter()
        .any(|seg| seg.spans.iter().any(|s| s.operation_name == name))
}

/// The trace has exactly two segments: the client's (its `FRONT` entry span, then the
/// exit span `exit_name`) and the server's, whose entry span `entry_name` refers back
/// to that exit span. Returns `(client segment, exit span, server segment, entry span)`.
pub fn assert_linked<'a>(
    segments: &'a [SegmentObject],
    exit_name: &str,
    entry_name: &str,
) -> (
    &'a SegmentObject,
    &'a SpanObject,
    &'a SegmentObject,
    &'a SpanObject,
) {
    assert_eq!(
        segments.len(),
        2,
        "one client and one server segment: {segments:#?}"
    );
    let (client, exit) = find_kind(segments, exit_name, SpanType::Exit);
    let (_, front) = find(segments, FRONT);
    let (server, entry) = find_kind(segments, entry_name, SpanType::Entry);
    assert_ne!(client.trace_segment_id, server.trace_segment_id);
    assert_eq!(client.trace_id, server.trace_id, "one trace");

    assert_eq!(front.span_type, SpanType::Entry as i32);
    assert_eq!(exit.span_type, SpanType::Exit as i32);
    assert_eq!(
        exit.parent_span_id, front.span_id,
        "the exit span is the front's child"
    );
    assert!(!exit.peer.is_empty(), "an exit span has a peer");

    assert_eq!(entry.span_type, SpanType::Entry as i32);
    assert_eq!(
        entry.span_id, 0,
        "the entry span is the server segment's first span"
    );
    assert_eq!(entry.parent_span_id, -1);
    assert_eq!(entry.refs.len(), 1, "one reference: {:?}", entry.refs);
    let reference = &entry.refs[0];
    assert_eq!(reference.ref_type, RefType::CrossProcess as i32);
    assert_eq!(reference.trace_id, client.trace_id);
    assert_eq!(reference.parent_trace_segment_id, client.trace_segment_id);
    assert_eq!(reference.parent_span_id, exit.span_id);
    assert_eq!(reference.network_address_used_at_peer, exit.peer);
    assert_eq!(reference.parent_endpoint, FRONT);
    assert_eq!(reference.parent_service, "test-svc");
    assert_eq!(reference.parent_service_instance, "test-1");
    (client, exit, server, entry)
}

/// `child` is a direct child of `parent` in the same segment.
pub fn assert_child(segment: &SegmentObject, parent: &SpanObject, child_name: &str) {
    let child = segment
        .spans
        .iter()
        .find(|s| s.operation_name == child_name)
        .unwrap_or_else(|| {
            panic!(
                "no {child_name:?} in the segment of {:?}",
                parent.operation_name
            )
        });
    assert_eq!(
        child.parent_span_id, parent.span_id,
        "{child_name} is a child of {}",
        parent.operation_name
    );
}

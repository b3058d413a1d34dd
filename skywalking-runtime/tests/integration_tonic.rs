//! The tonic integration on 127.0.0.1: a client and a server give one trace whose
//! server segment refers to the client's exit span; the status is read from the headers
//! (trailers-only responses) or the trailers (every other response, unary or
//! streaming); ignored methods record nothing; the client span opens on the first poll.

mod common;
#[path = "integration_support/grpc.rs"]
mod grpc;

use std::collections::HashMap;

use grpc::{Watch, serve, span_named, spans_of_kind, status_tag, wait_for};
use skywalking_proto::v3::configuration_discovery_service_client::ConfigurationDiscoveryServiceClient;
use skywalking_proto::v3::{ConfigurationSyncRequest, RefType, SpanLayer, SpanType};
use skywalking_runtime::integrations::tonic::{ClientLayer, ClientService};
use skywalking_runtime::{FutureExt, Span};
use tonic::transport::Channel;
use tower::{Service, ServiceExt};
use tower_layer::Layer;

const FETCH: &str = "/skywalking.v3.ConfigurationDiscoveryService/fetchConfigurations";

fn start() -> common::Memory {
    common::start_with(|b| b.trace_ignore_paths([grpc::IGNORED]))
}

async fn channel(addr: std::net::SocketAddr) -> ClientService<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ClientLayer::new(addr.to_string()).layer(channel)
}

fn fetch(service: &str) -> ConfigurationSyncRequest {
    ConfigurationSyncRequest {
        service: service.into(),
        uuid: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_links_client_and_server_segments() {
    let memory = start();
    let addr = serve().await;
    let peer = addr.to_string();
    let mut client = ConfigurationDiscoveryServiceClient::new(channel(addr).await);

    let trace = async {
        let _front = Span::entry("GET /front", &HashMap::<String, String>::new());
        client.fetch_configurations(fetch("ok")).await.unwrap();
        common::current_trace()
    }
    .in_span("caller")
    .await;

    let segments = wait_for(&memory, &trace, 2).await;
    let client_segment = segments
        .iter()
        .find(|s| !spans_of_kind(s, SpanType::Exit).is_empty())
        .expect("client segment");
    let exit = spans_of_kind(client_segment, SpanType::Exit)[0];
    assert_eq!(exit.operation_name, FETCH);
    assert_eq!(exit.peer, peer);
    assert_eq!(exit.span_layer, SpanLayer::RpcFramework as i32);
    assert_eq!(exit.component_id, 23);
    assert_eq!(
        status_tag(exit),
        Some("OK"),
        "unary: the status is in the trailers"
    );
    assert!(!exit.is_error);

    let server_segment = segments
        .iter()
        .find(|s| {
            s.spans
                .iter()
                .any(|sp| sp.span_type == SpanType::Entry as i32 && !sp.refs.is_empty())
        })
        .expect("server segment");
    let entry = server_segment
        .spans
        .iter()
        .find(|sp| sp.span_id == 0)
        .unwrap();
    assert_eq!(entry.span_type, SpanType::Entry as i32);
    assert_eq!(entry.operation_name, exit.operation_name);
    assert_eq!(entry.component_id, 23);
    assert_eq!(status_tag(entry), Some("OK"));
    assert!(!entry.is_error);
    let r = &entry.refs[0];
    assert_eq!(r.ref_type, RefType::CrossProcess as i32);
    assert_eq!(r.parent_trace_segment_id, client_segment.trace_segment_id);
    assert_eq!(r.parent_span_id, exit.span_id);
    assert_eq!(r.network_address_used_at_peer, exit.peer);
    assert_eq!(
        r.parent_endpoint, "GET /front",
        "the caller segment's first entry span"
    );
    let lookup = span_named(server_segment, "lookup");
    assert_eq!(lookup.parent_span_id, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_status_in_the_headers_marks_both_sides() {
    let memory = start();
    let addr = serve().await;
    let mut client = ConfigurationDiscoveryServiceClient::new(channel(addr).await);
    let trace = async {
        // The handler returns `Err(Status::not_found(..))`: a trailers-only response.
        let status = client
            .fetch_configurations(fetch("fail"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::NotFound);
        common::current_trace()
    }
    .in_span("caller")
    .await;
    let segments = wait_for(&memory, &trace, 2).await;
    for kind in [SpanType::Exit, SpanType::Entry] {
        let spans: Vec<_> = segments
            .iter()
            .flat_map(|s| spans_of_kind(s, kind))
            .collect();
        assert_eq!(spans.len(), 1, "{kind:?}");
        assert!(spans[0].is_error, "{kind:?}");
        assert_eq!(status_tag(spans[0]), Some("NOT_FOUND"), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_error_in_the_trailers_marks_both_sides_and_spans_end_with_the_body() {
    let memory = start();
    let addr = serve().await;
    let mut client = tonic::client::Grpc::new(channel(addr).await);
    let trace = async {
        let (items, status) = grpc::watch(&mut client, Watch::Failing).await;
        assert_eq!(items, grpc::ITEMS, "the messages before the error arrive");
        assert_eq!(status.map(|s| s.code()), Some(tonic::Code::Unavailable));
        common::current_trace()
    }
    .in_span("caller")
    .await;

    let segments = wait_for(&memory, &trace, 2).await;
    let exit = segments
        .iter()
        .flat_map(|s| spans_of_kind(s, SpanType::Exit))
        .next()
        .expect("the exit span");
    let (server, entry) = segments
        .iter()
        .find_map(|s| spans_of_kind(s, SpanType::Entry).first().map(|e| (s, *e)))
        .expect("the entry span");
    for span in [exit, entry] {
        assert_eq!(span.operation_name, Watch::Failing.path());
        assert!(span.is_error, "{:?}", span.span_type);
        assert_eq!(
            status_tag(span),
            Some("UNAVAILABLE"),
            "{:?}",
            span.span_type
        );
        // The messages are spaced by `grpc::GAP`: a span ended with the response head
        // would be shorter.
        let lasted = span.end_time - span.start_time;
        assert!(
            lasted >= grpc::min_stream_ms(),
            "{:?} lasted {lasted} ms",
            span.span_type
        );
    }
    // The response stream runs inside the entry span.
    let produced: Vec<_> = server
        .spans
        .iter()
        .filter(|s| s.operation_name == "produce")
        .collect();
    assert_eq!(produced.len(), grpc::ITEMS);
    for span in produced {
        assert_eq!(span.parent_span_id, entry.span_id);
        assert!(span.end_time <= entry.end_time);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ending_well_is_ok() {
    let memory = start();
    let addr = serve().await;
    let mut client = tonic::client::Grpc::new(channel(addr).await);
    let trace = async {
        let (items, status) = grpc::watch(&mut client, Watch::Fine).await;
        assert_eq!((items, status.map(|s| s.code())), (grpc::ITEMS, None));
        common::current_trace()
    }
    .in_span("caller")
    .await;
    let segments = wait_for(&memory, &trace, 2).await;
    let spans: Vec<_> = segments.iter().flat_map(|s| &s.spans).collect();
    for kind in [SpanType::Exit, SpanType::Entry] {
        let span = spans.iter().find(|s| s.span_type == kind as i32).unwrap();
        assert!(!span.is_error, "{kind:?}");
        assert_eq!(status_tag(span), Some("OK"), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_method_records_nothing_on_the_server() {
    let memory = start();
    let addr = serve().await;
    let mut client = tonic::client::Grpc::new(channel(addr).await);
    let trace = async {
        let (items, status) = grpc::watch(&mut client, Watch::Ignored).await;
        assert_eq!((items, status.map(|s| s.code())), (grpc::ITEMS, None));
        common::current_trace()
    }
    .in_span("caller")
    .await;
    let segments = wait_for(&memory, &trace, 1).await;
    assert_eq!(
        segments.len(),
        1,
        "only the client's segment: {segments:#?}"
    );
    let exit = spans_of_kind(&segments[0], SpanType::Exit)[0];
    assert_eq!(exit.operation_name, grpc::IGNORED);
    assert_eq!(status_tag(exit), Some("OK"));
    let all = memory.all();
    let server_spans = all
        .iter()
        .flat_map(|s| &s.spans)
        .filter(|s| {
            (s.operation_name == grpc::IGNORED && s.span_type == SpanType::Entry as i32)
                || s.operation_name == "produce.ignored"
        })
        .count();
    assert_eq!(server_spans, 0, "neither the entry span nor the handler's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_span_opens_on_the_first_poll() {
    let memory = start();
    let addr = serve().await;
    let mut service = channel(addr).await;
    let trace = async {
        let request = || {
            http::Request::post(FETCH)
                .header("content-type", "application/grpc")
                .body(tonic::body::Body::empty())
                .unwrap()
        };
        // Made, never polled: no span, nothing sent.
        let future = service.ready().await.unwrap().call(request());
        drop(future);
        // Made, then polled later: the span opens then.
        let future = service.ready().await.unwrap().call(request());
        async {}.in_span("between").await;
        let response = future.await.unwrap();
        assert_eq!(response.status(), 200);
        common::current_trace()
    }
    .in_span("caller")
    .await;
    let segments = wait_for(&memory, &trace, 2).await;
    let exits: Vec<_> = segments
        .iter()
        .flat_map(|s| spans_of_kind(s, SpanType::Exit))
        .collect();
    assert_eq!(exits.len(), 1, "one exit span: the polled call's");
    let client = segments
        .iter()
        .find(|s| !spans_of_kind(s, SpanType::Exit).is_empty())
        .unwrap();
    let between = span_named(client, "between");
    assert!(
        exits[0].span_id > between.span_id,
        "the exit span opened after `between`, when its future was first polled"
    );
    let entries = segments
        .iter()
        .flat_map(|s| spans_of_kind(s, SpanType::Entry))
        .count();
    assert_eq!(entries, 1, "the server saw one call");
}

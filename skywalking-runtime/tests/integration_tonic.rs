//! The tonic integration: a client and a server on 127.0.0.1 give one trace whose
//! server segment refers to the client's exit span.

#![cfg(feature = "tonic")]

mod common;

use std::collections::HashMap;

use skywalking_proto::v3::configuration_discovery_service_client::ConfigurationDiscoveryServiceClient;
use skywalking_proto::v3::configuration_discovery_service_server::{
    ConfigurationDiscoveryService, ConfigurationDiscoveryServiceServer,
};
use skywalking_proto::v3::{Commands, ConfigurationSyncRequest, RefType, SpanLayer, SpanType};
use skywalking_runtime::integrations::tonic::{GrpcClientLayer, GrpcServerLayer};
use skywalking_runtime::{FutureExt, Span};
use tower_layer::Layer;

struct Discovery;

#[tonic::async_trait]
impl ConfigurationDiscoveryService for Discovery {
    async fn fetch_configurations(
        &self,
        request: tonic::Request<ConfigurationSyncRequest>,
    ) -> Result<tonic::Response<Commands>, tonic::Status> {
        // A span inside the handler is a child of the entry span.
        async {}.in_span("lookup").await;
        if request.get_ref().service == "fail" {
            return Err(tonic::Status::not_found("no such service"));
        }
        Ok(tonic::Response::new(Commands::default()))
    }
}

async fn serve() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GrpcServerLayer::new())
            .add_service(ConfigurationDiscoveryServiceServer::new(Discovery))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_links_client_and_server_segments() {
    let memory = common::start();
    let addr = serve().await;
    let peer = addr.to_string();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        ConfigurationDiscoveryServiceClient::new(GrpcClientLayer::new(peer.clone()).layer(channel));

    let trace = async {
        let _front = Span::entry("GET /front", &HashMap::<String, String>::new());
        client
            .fetch_configurations(ConfigurationSyncRequest {
                service: "ok".into(),
                uuid: String::new(),
            })
            .await
            .unwrap();
        common::current_trace()
    }
    .in_span("caller")
    .await;

    let segments = wait_for(&memory, &trace, 2).await;
    let client_segment = segments
        .iter()
        .find(|s| {
            s.spans
                .iter()
                .any(|sp| sp.span_type == SpanType::Exit as i32)
        })
        .expect("client segment");
    let exit = client_segment
        .spans
        .iter()
        .find(|sp| sp.span_type == SpanType::Exit as i32)
        .unwrap();
    assert_eq!(
        exit.operation_name,
        "/skywalking.v3.ConfigurationDiscoveryService/fetchConfigurations"
    );
    assert_eq!(exit.peer, peer);
    assert_eq!(exit.span_layer, SpanLayer::RpcFramework as i32);
    assert_eq!(exit.component_id, 23);
    assert!(
        exit.tags
            .iter()
            .any(|t| t.key == "rpc.status_code" && t.value == "0")
    );

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
    assert!(
        entry
            .tags
            .iter()
            .any(|t| t.key == "rpc.status_code" && t.value == "0")
    );
    let r = &entry.refs[0];
    assert_eq!(r.ref_type, RefType::CrossProcess as i32);
    assert_eq!(r.parent_trace_segment_id, client_segment.trace_segment_id);
    assert_eq!(r.parent_span_id, exit.span_id);
    assert_eq!(r.network_address_used_at_peer, exit.peer);
    assert_eq!(
        r.parent_endpoint, "GET /front",
        "the caller segment's first entry span"
    );
    let lookup = server_segment
        .spans
        .iter()
        .find(|sp| sp.operation_name == "lookup")
        .unwrap();
    assert_eq!(lookup.parent_span_id, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_status_is_tagged_and_marks_both_sides() {
    let memory = common::start();
    let addr = serve().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ConfigurationDiscoveryServiceClient::new(
        GrpcClientLayer::new(addr.to_string()).layer(channel),
    );
    let trace = async {
        let status = client
            .fetch_configurations(ConfigurationSyncRequest {
                service: "fail".into(),
                uuid: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::NotFound);
        common::current_trace()
    }
    .in_span("caller")
    .await;
    let segments = wait_for(&memory, &trace, 2).await;
    let spans: Vec<_> = segments.iter().flat_map(|s| &s.spans).collect();
    for kind in [SpanType::Exit, SpanType::Entry] {
        let span = spans.iter().find(|s| s.span_type == kind as i32).unwrap();
        assert!(span.is_error, "{kind:?}");
        assert!(
            span.tags
                .iter()
                .any(|t| t.key == "rpc.status_code" && t.value == "5")
        );
    }
}

async fn wait_for(
    memory: &common::Memory,
    trace: &str,
    n: usize,
) -> Vec<skywalking_proto::v3::SegmentObject> {
    for _ in 0..100 {
        let segments = memory.trace(trace);
        if segments.len() >= n {
            return segments;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!(
        "trace {trace} never had {n} segments: {:?}",
        memory.trace(trace)
    );
}

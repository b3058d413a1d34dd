//! With no agent running, the integrations only forward calls: a tonic client and server
//! on loopback work (unary, streaming, errors) with no trace anywhere, the layers
//! allocate nothing and write no header, and response bodies pass through.
//!
//! This binary never starts an agent.

mod common;
// The counting allocator is the one place tests need `unsafe`.
#[allow(unsafe_code)]
mod counting_alloc;
#[path = "integration_support/grpc.rs"]
mod grpc;

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use grpc::Watch;
use http_body_util::Empty;
use hyper::body::{Body, Bytes};
use skywalking_proto::v3::ConfigurationSyncRequest;
use skywalking_proto::v3::configuration_discovery_service_client::ConfigurationDiscoveryServiceClient;
use skywalking_runtime::integrations::{hyper as sw_hyper, tonic as sw_tonic, tower as sw_tower};
use tower::{Layer, Service, service_fn};

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// The allocations `f` makes on this thread.
fn allocations_of<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = counting_alloc::allocations();
    let result = f();
    (counting_alloc::allocations() - before, result)
}

/// Polls `future` once: the services below answer without waiting.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    pin!(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// An inner service that answers at once, and records the headers it was given.
fn inner() -> impl Service<
    http::Request<()>,
    Response = http::Response<Empty<Bytes>>,
    Error = Infallible,
    Future: Send,
> + Clone {
    service_fn(|request: http::Request<()>| async move {
        assert!(
            request.headers().is_empty(),
            "no header is written: {:?}",
            request.headers()
        );
        Ok::<_, Infallible>(http::Response::new(Empty::<Bytes>::new()))
    })
}

fn request() -> http::Request<()> {
    http::Request::get("http://127.0.0.1:1/pkg.Service/Method")
        .body(())
        .unwrap()
}

/// Calls `service` once and polls its future to the response, then the body to its
/// end; returns the allocations that took, which the caller compares with the bare
/// service's.
fn call_and_read<S, B>(mut service: S) -> u64
where
    S: Service<http::Request<()>, Response = http::Response<B>, Error = Infallible>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    let request = request();
    let (allocations, ()) = allocations_of(move || {
        let response = match poll_once(service.call(request)) {
            Poll::Ready(Ok(response)) => response,
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => panic!("the inner service answers at once"),
        };
        let mut body = response.into_body();
        let frame = poll_once(std::future::poll_fn(|cx| {
            std::pin::Pin::new(&mut body).poll_frame(cx)
        }));
        assert!(matches!(frame, Poll::Ready(None)), "an empty body");
    });
    allocations
}

#[test]
fn the_layers_allocate_nothing() {
    assert!(skywalking_runtime::trace_id().is_none());
    let bare = call_and_read(inner());
    let cases = [
        (
            "tower server",
            call_and_read(sw_tower::ServerLayer::new().layer(inner())),
        ),
        (
            "hyper client",
            call_and_read(sw_hyper::ClientLayer::new().layer(inner())),
        ),
        (
            "tonic server",
            call_and_read(sw_tonic::ServerLayer::new().layer(inner())),
        ),
        (
            "tonic client",
            call_and_read(sw_tonic::ClientLayer::new("127.0.0.1:1").layer(inner())),
        ),
    ];
    for (name, allocations) in cases {
        assert_eq!(
            allocations, bare,
            "{name}: as many allocations as the bare service"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tonic_calls_work_and_make_no_span() {
    let addr = grpc::serve().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let service = sw_tonic::ClientLayer::new(addr.to_string()).layer(channel);

    let mut client = ConfigurationDiscoveryServiceClient::new(service.clone());
    let ok = client
        .fetch_configurations(ConfigurationSyncRequest {
            service: "ok".into(),
            uuid: String::new(),
        })
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let failed = client
        .fetch_configurations(ConfigurationSyncRequest {
            service: "fail".into(),
            uuid: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(failed.code(), tonic::Code::NotFound);

    let mut streams = tonic::client::Grpc::new(service);
    let (items, status) = grpc::watch(&mut streams, Watch::Failing).await;
    assert_eq!(items, grpc::ITEMS);
    assert_eq!(status.map(|s| s.code()), Some(tonic::Code::Unavailable));
    let (items, status) = grpc::watch(&mut streams, Watch::Fine).await;
    assert_eq!((items, status.map(|s| s.code())), (grpc::ITEMS, None));

    assert!(skywalking_runtime::trace_id().is_none(), "no trace here");
    assert!(
        !common::flush(std::time::Duration::from_millis(10)),
        "no agent"
    );
}

//! gRPC with [tonic]: a server layer (entry spans) and a client layer (exit spans).
//!
//! # Server
//!
//! [`GrpcServerLayer`] wraps the whole tonic server. For each call it
//!
//! 1. reads `sw8` (or `traceparent`) from the request metadata, continuing the caller's
//!    trace with a `CrossProcess` reference;
//! 2. opens an **entry** span named by the gRPC method path (`/package.Service/Method`),
//!    layer RPCFramework, component 23 (`GRPC`), when the handler's future is first
//!    polled; the span is current during every poll, so `#[sw::trace]` functions in the
//!    handler become its children;
//! 3. closes it when the response head is ready, tagging `rpc.status_code`.
//!
//! tonic sends a handler's `Err(Status)` as a *trailers-only* response, with `grpc-status`
//! in the response headers: that code is tagged and a non-OK code marks the span as an
//! error. A response with a body carries its status in trailers, after the span has
//! closed; it is tagged `0` (OK). Errors a streaming handler reports mid-stream are not
//! seen.
//!
//! ```no_run
//! # use skywalking_runtime::integrations::tonic::GrpcServerLayer;
//! # async fn serve(svc: impl Clone) {
//! // tonic::transport::Server::builder()
//! //     .layer(GrpcServerLayer::new())
//! //     .add_service(GreeterServer::new(MyGreeter))
//! //     .serve(addr)
//! # }
//! ```
//!
//! # Client
//!
//! [`GrpcClientLayer`] wraps a `tonic::transport::Channel`. Each call opens an **exit**
//! span (named by the method path, peer = the endpoint's `host:port`), writes `sw8` into
//! the request metadata, and closes the span when the response head arrives, tagging
//! `rpc.status_code` the same way.
//!
//! ```no_run
//! use skywalking_runtime::integrations::tonic::GrpcClientLayer;
//! use tower::ServiceBuilder;
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051")
//!     .connect()
//!     .await?;
//! let channel = ServiceBuilder::new()
//!     .layer(GrpcClientLayer::new("127.0.0.1:50051"))
//!     .service(channel);
//! // let client = GreeterClient::new(channel);
//! # Ok(()) }
//! ```
//!
//! [tonic]: https://docs.rs/tonic

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::record::{SpanKind, SpanLayer, component};
use crate::trace::context::SpanInit;
use crate::trace::future::Instrumented;
use crate::trace::span::{Span, SpanRef, current_span};

/// The tag OAP reads a gRPC status from.
const RPC_STATUS_CODE: &str = "rpc.status_code";

fn method_name(path: &str) -> Cow<'static, str> {
    Cow::Owned(path.to_owned())
}

/// Tags `rpc.status_code` from a response head, marking non-OK codes as errors.
fn tag_status(span: SpanRef, headers: &HeaderMap) {
    if !span.is_recording() {
        return;
    }
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u16>().ok())
        .unwrap_or(0);
    span.add_tag(RPC_STATUS_CODE, code.to_string());
    if code != 0 {
        span.set_error(true);
    }
}

/// A [`Layer`] that gives every call to a tonic server an entry span.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcServerLayer {
    _private: (),
}

impl GrpcServerLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService { inner }
    }
}

/// The service [`GrpcServerLayer`] makes.
#[derive(Clone, Debug)]
pub struct GrpcServerService<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for GrpcServerService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Instrumented<TagResponse<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let incoming = crate::trace::remote::incoming_context(request.headers());
        let init = SpanInit {
            kind: SpanKind::Entry,
            name: method_name(request.uri().path()),
            peer: Cow::Borrowed(""),
            layer: SpanLayer::RpcFramework,
            component: component::GRPC,
        };
        let future = TagResponse {
            inner: self.inner.call(request),
            span: None,
        };
        Instrumented::with_span(future, init, incoming)
    }
}

pin_project! {
    /// Tags the response status on the current span (or on `span`, for the client).
    #[derive(Debug)]
    pub struct TagResponse<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
    }
}

impl<F, RB, E> Future for TagResponse<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let span = match this.span {
            Some(span) => span.as_ref(),
            None => current_span(),
        };
        match &result {
            Ok(response) => tag_status(span, response.headers()),
            Err(_) => span.set_error(true),
        }
        // The client's exit span closes here, in the context that opened it.
        drop(this.span.take());
        Poll::Ready(result)
    }
}

/// A [`Layer`] that gives every call made through a tonic channel an exit span and
/// passes the trace on in the request metadata.
#[derive(Clone, Debug)]
pub struct GrpcClientLayer {
    peer: Cow<'static, str>,
}

impl GrpcClientLayer {
    /// The layer, for a channel to `peer` (`host:port`: the address the callee is
    /// reached at, which OAP uses to link this call to the callee's service).
    pub fn new(peer: impl Into<Cow<'static, str>>) -> Self {
        GrpcClientLayer { peer: peer.into() }
    }
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcClientService {
            inner,
            peer: self.peer.clone(),
        }
    }
}

/// The service [`GrpcClientLayer`] makes.
#[derive(Clone, Debug)]
pub struct GrpcClientService<S> {
    inner: S,
    peer: Cow<'static, str>,
}

impl<S, B, RB> Service<Request<B>> for GrpcClientService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = TagResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let span = Span::exit(method_name(request.uri().path()), self.peer.clone())
            .with_layer(SpanLayer::RpcFramework)
            .with_component(component::GRPC);
        span.inject(request.headers_mut());
        TagResponse {
            inner: self.inner.call(request),
            span: Some(span),
        }
    }
}

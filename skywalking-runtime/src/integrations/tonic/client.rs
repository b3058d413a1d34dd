//! The client side: [`ClientLayer`], [`ClientService`], [`ClientResponseFuture`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::body::GrpcStatus;
use super::body::ResponseBody;
use crate::integrations::support::{self, CallSpan, Outbound, Traced};
use crate::record::{SpanKind, component};

/// A [`Layer`] that gives every call made through a tonic channel an exit span and
/// passes the trace on in the request metadata (see the [module docs](super)).
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientLayer {
    peer: Cow<'static, str>,
    component: i32,
}

impl ClientLayer {
    /// The layer, for a channel to `peer` (`host:port`: the address the callee is
    /// reached at, which OAP uses to link this call to the callee's service), with
    /// component 23 (`GRPC`).
    pub fn new(peer: impl Into<Cow<'static, str>>) -> Self {
        ClientLayer {
            peer: peer.into(),
            component: component::GRPC,
        }
    }

    /// Sets the component id of the exit spans (see [`component`](crate::component)).
    pub fn with_component(mut self, component: i32) -> Self {
        self.component = component;
        self
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientService {
            inner,
            peer: self.peer.clone(),
            component: self.component,
        }
    }
}

/// The service [`ClientLayer`] makes: an exit span around each call sent through
/// `inner` (a `tonic::transport::Channel`, or any `Clone` gRPC service).
#[derive(Clone, Debug)]
pub struct ClientService<S> {
    inner: S,
    peer: Cow<'static, str>,
    component: i32,
}

impl<S> ClientService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, RB> Service<Request<B>> for ClientService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone,
    S::Error: fmt::Display,
    RB: Body,
{
    type Response = Response<ResponseBody<RB>>;
    type Error = S::Error;
    type Future = ClientResponseFuture<S, B>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Prepares the exit span; the span opens, the metadata is written and `inner` is
    /// called when the returned future is first polled.
    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !support::is_enabled() {
            return ClientResponseFuture {
                inner: Traced::running(self.inner.call(request), CallSpan::off()),
            };
        }
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        let init = super::span_init(
            SpanKind::Exit,
            request.uri().path(),
            self.peer.clone(),
            self.component,
        );
        ClientResponseFuture {
            inner: Traced::new(Outbound::new(ready, request, ()), CallSpan::new(init, None)),
        }
    }
}

pin_project! {
    /// The response future of [`ClientService`]: opens the exit span, writes `sw8` into
    /// the request metadata and sends the request on its first poll. The span ends with
    /// the response head when the status is in its headers, else with the
    /// [`ResponseBody`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ClientResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        inner: Traced<Outbound<S, Request<B>, ()>, S::Future, GrpcStatus>,
    }
}

impl<S, B> fmt::Debug for ClientResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResponseFuture")
            .finish_non_exhaustive()
    }
}

impl<S, B, RB> Future for ClientResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: fmt::Display,
    RB: Body,
{
    type Output = Result<Response<ResponseBody<RB>>, S::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

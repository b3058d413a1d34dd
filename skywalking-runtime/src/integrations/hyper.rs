//! [hyper] 1.x: exit spans for outgoing requests, and the server side through the
//! [`tower`](super::tower) layer (feature `hyper`).
//!
//! # Client
//!
//! [`ClientLayer`] wraps any cloneable `tower::Service<http::Request<B>>` that returns
//! an `http::Response`: hyper-util's legacy `Client`, a `tower::service_fn` around an
//! HTTP/2 `hyper::client::conn::http2::SendRequest` (which is `Clone`), or a stack
//! built with `tower::ServiceBuilder`.
//!
//! ```
//! use http_body_util::Empty;
//! use hyper::body::Bytes;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use skywalking_runtime::integrations::hyper::ClientLayer;
//! use tower::{Layer, ServiceExt};
//!
//! async fn fetch() -> Result<http::StatusCode, Box<dyn std::error::Error + Send + Sync>> {
//!     let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
//!     let client = ClientLayer::new().layer(client);
//!     let request = http::Request::get("http://127.0.0.1:8080/users/7").body(Empty::new())?;
//!     let response = client.oneshot(request).await?;
//!     Ok(response.status())
//! }
//! ```
//!
//! ## When spans are created, entered and ended
//!
//! [`ClientService::call`] names the span (`METHOD /path`) and computes its peer from the
//! request URI (`host:port`, the port defaulting from the scheme; the `Host` header for a
//! URI without authority). The inner service is called from the returned
//! [`ResponseFuture`]: on its **first poll** the exit span opens as a child of the
//! span current then (or as the first span of a new trace), is tagged `http.method` and
//! `url` (without the query), `sw8` is **written into the request headers**, and only
//! then is the request handed to the inner service. The span is current while the
//! inner future is polled and **ends when the response head arrives**, tagged
//! `http.status_code`; a status of 400 or more or an error from the inner service marks
//! it as an error. Exit spans are layer `Http`, component 2 (`HttpClient`). With no
//! agent running, `call` only calls the inner service.
//!
//! Calling the inner service on the first poll rather than in `call` is what lets the
//! span open in the context of the task that awaits the response; it is why the inner
//! service must be `Clone` (the one made ready by `poll_ready` goes into the future, a
//! clone stays behind, the usual tower pattern).
//!
//! # Server
//!
//! Serve a [`ServerLayer`](super::tower::ServerLayer)-wrapped service through
//! `hyper_util::service::TowerToHyperService`; the [`tower`](super::tower) module shows
//! it with `hyper::server::conn::http1`.
//!
//! [hyper]: https://docs.rs/hyper

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::http::{self as sw_http, HttpStatus, RequestTags};
use super::support::{self, CallSpan, Outbound, Traced};

/// A [`Layer`] that gives every request sent through the wrapped client an exit span
/// and passes the trace on in its headers (see the [module docs](self)).
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientLayer {
    component: i32,
}

impl Default for ClientLayer {
    fn default() -> Self {
        ClientLayer::new()
    }
}

impl ClientLayer {
    /// The layer, with component 2 (`HttpClient`).
    pub fn new() -> Self {
        ClientLayer {
            component: sw_http::HTTP_CLIENT,
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
            component: self.component,
        }
    }
}

/// The service [`ClientLayer`] makes: an exit span around each request sent through
/// `inner`.
#[derive(Clone, Debug)]
pub struct ClientService<S> {
    inner: S,
    component: i32,
}

impl<S> ClientService<S> {
    /// `inner` with the default [`ClientLayer`].
    pub fn new(inner: S) -> Self {
        ClientLayer::new().layer(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, R> Service<Request<B>> for ClientService<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone,
    S::Error: fmt::Display,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Prepares the exit span; the span opens, the headers are written and `inner` is
    /// called when the returned future is first polled.
    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !support::is_enabled() {
            return ResponseFuture {
                inner: Traced::running(self.inner.call(request), CallSpan::off()),
            };
        }
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        let uri = request.uri();
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok());
        let peer = sw_http::peer_of_uri(uri, host);
        let tags = RequestTags {
            method: sw_http::method_tag(request.method().as_str()),
            url: client_url(uri, host),
        };
        let name = sw_http::operation_name(request.method().as_str(), uri.path());
        let init = sw_http::exit_init(name, peer, self.component);
        ResponseFuture {
            inner: Traced::new(
                Outbound::new(ready, request, tags),
                CallSpan::new(init, None),
            ),
        }
    }
}

/// The `url` tag of an outgoing request: the full URL without the query.
fn client_url(uri: &http::Uri, host: Option<&str>) -> Cow<'static, str> {
    let authority = uri.authority().map(|a| a.as_str()).or(host);
    let scheme = uri.scheme_str().or(authority.map(|_| "http"));
    sw_http::url_tag(scheme, authority, uri.path())
}

pin_project! {
    /// The response future of [`ClientService`]: opens the exit span, injects `sw8`
    /// and calls the inner service on its first poll; ends the span with the response.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        inner: Traced<Outbound<S, Request<B>, RequestTags>, S::Future, HttpStatus>,
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, R> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: fmt::Display,
{
    type Output = Result<Response<R>, S::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

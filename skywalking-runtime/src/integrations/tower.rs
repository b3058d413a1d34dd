//! A [tower] layer that gives every HTTP request a server an entry span (feature
//! `tower`).
//!
//! [`ServerLayer`] wraps any `Service<http::Request<B>, Response = http::Response<R>>`:
//! a hyper 1.x server (through `hyper_util::service::TowerToHyperService`), an axum
//! router, a `tower::ServiceBuilder` stack. For axum, use `integrations::axum` (feature
//! `axum`), which names spans by the matched route; for a tonic server,
//! `integrations::tonic` (feature `tonic`), which reads the gRPC status.
//!
//! # When spans are created, entered and ended
//!
//! With no agent running, [`ServerService::call`] only calls the inner service: no
//! header is read, nothing is allocated. Otherwise, for each request, it
//!
//! 1. checks the ignore rules (`SW_AGENT_TRACE_IGNORE_PATH`, `SW_AGENT_IGNORE_SUFFIX`)
//!    against the request path: an ignored request runs with no span, in an unsampled
//!    context, so nothing its handler does is recorded;
//! 2. names the span (see [naming](#naming)) and reads `sw8` (or, failing that,
//!    `traceparent`) from the request headers;
//! 3. calls the inner service and wraps its future in a [`ResponseFuture`].
//!
//! The **entry span opens when the response future is first polled**: it continues the
//! caller's trace (a `CrossProcess` reference to the caller's exit span) or starts a
//! new one, and is tagged `http.method` and `url`. The span is **current during every
//! poll** of the inner future, so the spans the handler opens (`#[sw::trace]`
//! functions, [`Span::local`](crate::Span::local), outgoing calls) are its children,
//! whichever worker thread runs the poll. It **ends when the inner future completes**,
//! tagged `http.status_code`; a status of 400 or more, or an inner service error (its
//! text logged on the span), marks it as an error. A future dropped before it
//! completes (the client went away) ends the span then, with an `event=cancelled` log.
//!
//! The span covers the handler up to the response head; a streaming response body is
//! sent after the span has ended. Spans are layer `Http`, component 49 (`http`) unless
//! [`ServerLayer::with_component`] says otherwise; the shared HTTP conventions
//! (tags, `url` without the query string, error rules) are in
//! [`integrations`](super#http-conventions).
//!
//! # Naming
//!
//! The default name is `METHOD /path` (`GET /users/7`), as the Java and Go agents name
//! HTTP entry spans. OAP turns entry span names into *endpoints*, so paths with ids in
//! them make one endpoint per id unless OAP's endpoint grouping rules fold them: name
//! by route with [`ServerLayer::with_operation_name`] wherever the router knows it.
//!
//! ```
//! use std::borrow::Cow;
//! use std::convert::Infallible;
//!
//! use http::{Request, Response};
//! use skywalking_runtime::integrations::tower::ServerLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! async fn handle(_request: Request<String>) -> Result<Response<String>, Infallible> {
//!     Ok(Response::new("hello".to_owned()))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let service = ServiceBuilder::new()
//!     .layer(ServerLayer::new().with_operation_name(|parts| {
//!         // A route template instead of the raw path.
//!         match parts.uri.path() {
//!             p if p.starts_with("/users/") => Cow::Borrowed("GET /users/{id}"),
//!             _ => Cow::Borrowed("GET /"),
//!         }
//!     }))
//!     .service(service_fn(handle));
//!
//! let response = service.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(response.into_body(), "hello");
//! # }
//! ```
//!
//! With hyper 1.x, serve the layered service through hyper-util:
//!
//! ```
//! # use std::convert::Infallible;
//! # use http::{Request, Response};
//! # use hyper::body::Incoming;
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//! use skywalking_runtime::integrations::tower::ServerLayer;
//! use tower::{Layer, service_fn};
//!
//! # async fn handle(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
//! #     Ok(Response::new(String::new()))
//! # }
//! async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
//!     let service = ServerLayer::new().layer(service_fn(handle));
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         let service = TowerToHyperService::new(service.clone());
//!         tokio::spawn(async move {
//!             let _ = hyper::server::conn::http1::Builder::new()
//!                 .serve_connection(TokioIo::new(stream), service)
//!                 .await;
//!         });
//!     }
//! }
//! ```
//!
//! [tower]: https://docs.rs/tower

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::request::Parts;
use http::{Request, Response, Uri};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::http::{self as sw_http, HttpStatus, RequestTags};
use super::ignore;
use super::support::{self, CallSpan, Inbound, Traced};

/// A naming closure, shared by every clone of the service.
type SharedName = Arc<dyn Fn(&Parts) -> Cow<'static, str> + Send + Sync>;

/// Names the entry span of a request from its head: a plain function (the built-in
/// namings; copying it costs nothing) or a closure shared by every clone of the service.
#[derive(Clone)]
enum OperationName {
    Fn(fn(&Parts) -> Cow<'static, str>),
    Shared(SharedName),
}

impl OperationName {
    #[inline]
    fn of(&self, parts: &Parts) -> Cow<'static, str> {
        match self {
            OperationName::Fn(name) => name(parts),
            OperationName::Shared(name) => name(parts),
        }
    }
}

/// The URI the ignore rules and the `url` tag read (axum: the one before nesting).
pub(crate) type UriOf = fn(&Parts) -> &Uri;

/// The default span name: `METHOD /path`.
fn method_and_path(parts: &Parts) -> Cow<'static, str> {
    sw_http::operation_name(parts.method.as_str(), parts.uri.path())
}

fn request_uri(parts: &Parts) -> &Uri {
    &parts.uri
}

/// A [`Layer`] that gives every request an entry span (see the [module docs](self)).
///
/// Cheap to clone: a naming closure is shared, a plain function copied.
#[derive(Clone)]
#[must_use]
pub struct ServerLayer {
    name: OperationName,
    uri: UriOf,
    component: i32,
}

impl fmt::Debug for ServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLayer")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl Default for ServerLayer {
    fn default() -> Self {
        ServerLayer::new()
    }
}

impl ServerLayer {
    /// The layer, naming spans `METHOD /path`, component 49 (`http`).
    pub fn new() -> Self {
        ServerLayer {
            name: OperationName::Fn(method_and_path),
            uri: request_uri,
            component: sw_http::HTTP_SERVER,
        }
    }

    /// Names each request's entry span with `name`, called with the request head when
    /// the request arrives. Return a route template (`GET /users/{id}`), not a path with
    /// ids in it: the name becomes an OAP endpoint.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use skywalking_runtime::integrations::tower::ServerLayer;
    ///
    /// let layer = ServerLayer::new()
    ///     .with_operation_name(|parts| Cow::Owned(format!("{} /api", parts.method)));
    /// ```
    pub fn with_operation_name<N>(mut self, name: N) -> Self
    where
        N: Fn(&Parts) -> Cow<'static, str> + Send + Sync + 'static,
    {
        self.name = OperationName::Shared(Arc::new(name));
        self
    }

    /// [`with_operation_name`](Self::with_operation_name) for a plain function, which
    /// the service's clones (one per request in axum) copy rather than share.
    #[cfg(feature = "axum")]
    pub(crate) fn with_operation_fn(mut self, name: fn(&Parts) -> Cow<'static, str>) -> Self {
        self.name = OperationName::Fn(name);
        self
    }

    /// Sets the component id of the entry spans (see [`component`](crate::component));
    /// the default is 49, `http`.
    pub fn with_component(mut self, component: i32) -> Self {
        self.component = component;
        self
    }

    /// Reads the path for the ignore rules and the `url` tag with `uri`.
    #[cfg(feature = "axum")]
    pub(crate) fn with_uri_of(mut self, uri: UriOf) -> Self {
        self.uri = uri;
        self
    }
}

impl<S> Layer<S> for ServerLayer {
    type Service = ServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`ServerLayer`] makes: the entry span of each request, around `inner`.
#[derive(Clone, Debug)]
pub struct ServerService<S> {
    inner: S,
    layer: ServerLayer,
}

impl<S> ServerService<S> {
    /// `inner` with the default [`ServerLayer`].
    pub fn new(inner: S) -> Self {
        ServerLayer::new().layer(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, R> Service<Request<B>> for ServerService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: fmt::Display,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Names the span and reads the caller's context now; the span opens when the
    /// returned future is first polled (see the [module docs](self)).
    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !support::is_enabled() {
            return ResponseFuture::direct(self.inner.call(request));
        }
        let (parts, body) = request.into_parts();
        let uri = (self.layer.uri)(&parts);
        if ignore::is_ignored(uri.path()) {
            let request = Request::from_parts(parts, body);
            return ResponseFuture::running(self.inner.call(request), support::ignored());
        }
        let tags = RequestTags {
            method: sw_http::method_tag(parts.method.as_str()),
            url: sw_http::url_tag(
                uri.scheme_str(),
                uri.authority().map(|a| a.as_str()),
                uri.path(),
            ),
        };
        let init = sw_http::entry_init(self.layer.name.of(&parts), self.layer.component);
        let span = CallSpan::new(init, support::incoming(&parts.headers));
        let inner = self.inner.call(Request::from_parts(parts, body));
        ResponseFuture {
            inner: Inner::Traced {
                future: Traced::new(Inbound::new(inner, tags), span),
            },
        }
    }
}

pin_project! {
    /// The response future of [`ServerService`]: the inner future, run inside the
    /// request's entry span (opened on the first poll, current during each poll, ended
    /// with the response); with no agent recording, the inner future as is.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Inner<F>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F> {
        // No agent recording: nothing to do but poll.
        Direct { #[pin] future: F },
        Traced { #[pin] future: Traced<Inbound<F, RequestTags>, F, HttpStatus> },
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F: Future> ResponseFuture<F> {
    fn running(inner: F, span: CallSpan) -> Self {
        ResponseFuture {
            inner: Inner::Traced {
                future: Traced::running(inner, span),
            },
        }
    }

    /// The inner future alone: the agent is off.
    #[inline]
    fn direct(future: F) -> Self {
        ResponseFuture {
            inner: Inner::Direct { future },
        }
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    E: fmt::Display,
{
    type Output = Result<Response<R>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Direct { future } => future.poll(cx),
            InnerProj::Traced { future } => future.poll(cx),
        }
    }
}

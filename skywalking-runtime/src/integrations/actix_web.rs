//! [actix-web] middleware: an entry span for every request, named by the matched
//! resource pattern (feature `actix-web`).
//!
//! ```
//! use actix_web::{App, web};
//! use skywalking_runtime::integrations::actix_web::ServerLayer;
//!
//! async fn user(id: web::Path<u64>) -> String {
//!     format!("user {id}")
//! }
//!
//! let app = App::new()
//!     .wrap(ServerLayer::new())
//!     .route("/users/{id}", web::get().to(user));
//! # let _ = app;
//! ```
//!
//! # When spans are created, entered and ended
//!
//! For each request, the middleware's `call`:
//!
//! 1. checks the ignore rules (`SW_AGENT_TRACE_IGNORE_PATH`, `SW_AGENT_IGNORE_SUFFIX`)
//!    against the request path: an ignored request runs with no span, in an unsampled
//!    context;
//! 2. names the span `METHOD pattern` from
//!    [`ServiceRequest::match_pattern`](::actix_web::dev::ServiceRequest::match_pattern)
//!    (`GET /users/{id}`), or `METHOD (unmatched)` ([`UNMATCHED`]) when no resource
//!    matched (the default service, a 404): never the raw path, so unknown paths cannot
//!    each become an endpoint in OAP;
//! 3. reads `sw8` (or `traceparent`) from the request headers and calls the inner
//!    service, wrapping its future in a [`ResponseFuture`].
//!
//! The **entry span opens when that future is first polled** (continuing the caller's
//! trace with a `CrossProcess` reference, or starting one), tagged `http.method` and
//! `url` (the path, without the query). It is **current during every poll**, so
//! `#[sw::trace]` functions in handlers are its children, and **ends when the response
//! is ready**, tagged `http.status_code`. A status of 400 or more, or an error from the
//! inner service, marks it as an error; an error a handler returned (which actix turns
//! into a response) is logged on the span. The response body is streamed afterwards,
//! outside the span. Spans are layer `Http`, component 49 (`http`) unless
//! [`ServerLayer::with_component`] says otherwise. With no agent running, the
//! middleware only calls the inner service.
//!
//! `match_pattern` resolves the pattern from the application's resource map, so the
//! name is right wherever the middleware is registered (`App::wrap`, `Scope::wrap`,
//! `Resource::wrap`); with `App::wrap`, 404s get spans too.
//!
//! [actix-web]: https://docs.rs/actix-web

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use ::actix_web::Error;
use ::actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use ::actix_web::http::header::HeaderMap;
use pin_project_lite::pin_project;

use super::http::{self as sw_http, RequestTags};
use super::ignore;
use super::support::{self, CallSpan, Inbound, Outcome, Traced};
use crate::propagation::Extractor;
use crate::trace::span::SpanRef;

/// What a span is named after its method when no resource matched: `GET (unmatched)`.
pub const UNMATCHED: &str = sw_http::UNMATCHED_ROUTE;

/// The middleware factory: `App::new().wrap(ServerLayer::new())` (see the
/// [module docs](self)). It is actix-web's [`Transform`], which plays the part of a
/// tower layer.
#[derive(Clone, Debug)]
#[must_use]
pub struct ServerLayer {
    component: i32,
}

impl Default for ServerLayer {
    fn default() -> Self {
        ServerLayer::new()
    }
}

impl ServerLayer {
    /// The middleware, with component 49 (`http`).
    pub fn new() -> Self {
        ServerLayer {
            component: sw_http::HTTP_SERVER,
        }
    }

    /// Sets the component id of the entry spans (see [`component`](crate::component)).
    pub fn with_component(mut self, component: i32) -> Self {
        self.component = component;
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for ServerLayer
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = ServerService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ServerService {
            service,
            component: self.component,
        }))
    }
}

/// The middleware [`ServerLayer`] makes: the entry span of each request, around
/// `service`.
#[derive(Debug)]
pub struct ServerService<S> {
    service: S,
    component: i32,
}

/// actix-web's header map (on `http` 0.2) as a carrier.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }
}

impl<S, B> Service<ServiceRequest> for ServerService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        if !support::is_enabled() {
            return ResponseFuture::running(self.service.call(request), CallSpan::off());
        }
        if ignore::is_ignored(request.path()) {
            return ResponseFuture::running(self.service.call(request), support::ignored());
        }
        let method = request.method().as_str();
        let name = match request.match_pattern() {
            Some(pattern) => sw_http::operation_name(method, &pattern),
            None => sw_http::operation_name(method, UNMATCHED),
        };
        let tags = RequestTags {
            method: sw_http::method_tag(method),
            url: sw_http::url_tag(None, None, request.path()),
        };
        let init = sw_http::entry_init(name, self.component);
        let span = CallSpan::new(init, support::incoming(&Headers(request.headers())));
        let inner = Inbound::new(self.service.call(request), tags);
        ResponseFuture {
            inner: Traced::new(inner, span),
        }
    }
}

/// What an actix-web response tells the entry span: the status (an error from 400 up),
/// and the error a handler returned, logged.
#[derive(Debug)]
enum ActixStatus {}

impl<B> Outcome<Result<ServiceResponse<B>, Error>> for ActixStatus {
    type Output = Result<ServiceResponse<B>, Error>;

    fn record(output: &Result<ServiceResponse<B>, Error>, span: SpanRef) -> bool {
        if !span.is_recording() {
            return true;
        }
        match output {
            Ok(response) => {
                sw_http::record_status(span, response.status().as_u16());
                if let Some(error) = response.response().error() {
                    sw_http::log_error(span, error);
                }
            }
            Err(error) => {
                let status = error.as_response_error().status_code().as_u16();
                span.add_tag(sw_http::TAG_STATUS, sw_http::status_tag(status));
                span.record_error(error);
            }
        }
        true
    }

    fn finish(
        output: Result<ServiceResponse<B>, Error>,
        _: Option<CallSpan>,
    ) -> Result<ServiceResponse<B>, Error> {
        output
    }
}

pin_project! {
    /// The response future of [`ServerService`]: the inner future, run inside the
    /// request's entry span (opened on the first poll, current during each poll, ended
    /// with the response).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Traced<Inbound<F, RequestTags>, F, ActixStatus>,
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
            inner: Traced::running(inner, span),
        }
    }
}

impl<F, B> Future for ResponseFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<B>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

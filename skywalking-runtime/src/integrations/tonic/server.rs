//! The server side: [`ServerLayer`], [`ServerService`], [`ServerResponseFuture`].

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
use crate::integrations::ignore;
use crate::integrations::support::{self, CallSpan, Inbound, Traced};
use crate::record::{SpanKind, component};

/// A [`Layer`] that gives every call to a tonic server an entry span (see the
/// [module docs](super)): `Server::builder().layer(ServerLayer::new())`.
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
    /// The layer, with component 23 (`GRPC`).
    pub fn new() -> Self {
        ServerLayer {
            component: component::GRPC,
        }
    }

    /// Sets the component id of the entry spans (see [`component`](crate::component)).
    pub fn with_component(mut self, component: i32) -> Self {
        self.component = component;
        self
    }
}

impl<S> Layer<S> for ServerLayer {
    type Service = ServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerService {
            inner,
            component: self.component,
        }
    }
}

/// The service [`ServerLayer`] makes: the entry span of each call, around `inner`.
#[derive(Clone, Debug)]
pub struct ServerService<S> {
    inner: S,
    component: i32,
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

impl<S, B, RB> Service<Request<B>> for ServerService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: fmt::Display,
    RB: Body,
{
    type Response = Response<ResponseBody<RB>>;
    type Error = S::Error;
    type Future = ServerResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Checks the ignore rules, names the span and reads the caller's context now; the
    /// span opens when the returned future is first polled.
    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !support::is_enabled() {
            return ServerResponseFuture::running(self.inner.call(request), CallSpan::off());
        }
        let path = request.uri().path();
        if ignore::is_ignored(path) {
            return ServerResponseFuture::running(self.inner.call(request), support::ignored());
        }
        let name = if is_method_path(path) {
            path
        } else {
            UNMATCHED
        };
        let init = super::span_init(SpanKind::Entry, name, Cow::Borrowed(""), self.component);
        let span = CallSpan::new(init, support::incoming(request.headers()));
        let inner = Inbound::new(self.inner.call(request), ());
        ServerResponseFuture {
            inner: Traced::new(inner, span),
        }
    }
}

/// The name of a call's span when its path cannot name a gRPC method.
const UNMATCHED: &str = "(unmatched)";

/// Whether `path` can name a gRPC method: `/service/Method`, the service letters, digits,
/// `_` and `.` (its package), the method letters, digits and `_` (protobuf identifiers).
fn is_method_path(path: &str) -> bool {
    let Some((service, method)) = path.strip_prefix('/').and_then(|rest| rest.split_once('/'))
    else {
        return false;
    };
    let identifier = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !service.is_empty()
        && !method.is_empty()
        && service.bytes().all(|c| identifier(c) || c == b'.')
        && method.bytes().all(identifier)
}

pin_project! {
    /// The response future of [`ServerService`]: the handler's future, run inside the
    /// call's entry span (opened on the first poll, current during each poll). The span
    /// ends with the response head when the status is in its headers, else with the
    /// [`ResponseBody`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ServerResponseFuture<F> {
        #[pin]
        inner: Traced<Inbound<F, ()>, F, GrpcStatus>,
    }
}

impl<F> fmt::Debug for ServerResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerResponseFuture")
            .finish_non_exhaustive()
    }
}

impl<F: Future> ServerResponseFuture<F> {
    fn running(inner: F, span: CallSpan) -> Self {
        ServerResponseFuture {
            inner: Traced::running(inner, span),
        }
    }
}

impl<F, RB, E> Future for ServerResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    RB: Body,
    E: fmt::Display,
{
    type Output = Result<Response<ResponseBody<RB>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_that_can_name_a_grpc_method_names_a_span() {
        for path in [
            "/helloworld.Greeter/SayHello",
            "/grpc.health.v1.Health/Check",
            "/Greeter/say_hello_2",
        ] {
            assert!(is_method_path(path), "{path}");
        }
        for path in [
            "/",
            "",
            "/wp-login.php",
            "/.env",
            "/admin/config.php",
            "/a/b/c",
            "//Method",
            "/pkg.Service/",
            "/pkg Service/Call",
        ] {
            assert!(!is_method_path(path), "{path}");
        }
    }
}

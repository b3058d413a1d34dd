//! Fault injection in front of the services: call counting, fail-first-N,
//! token authentication and response delay, as one tower [`Service`] wrapper.
//!
//! Order per call: count it; if it is among the first N calls, answer `UNAVAILABLE`
//! (the collector "is not up yet"); else if a token is configured and the
//! `authentication` metadata does not match, answer `PERMISSION_DENIED` (as OAP's
//! `AuthenticationInterceptor` does); else pass it on. Either way the answer is held
//! back by the configured delay. Rejected calls never reach the services, so they
//! record nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::HeaderValue;
use http::{Request, Response};
use tonic::body::Body;
use tonic::{Code, Status};
use tower_service::Service;

use crate::router::RouteFuture;
use crate::store::Store;

/// The gRPC metadata key OAP reads the token from (gRPC lower-cases header names).
pub(crate) const AUTHENTICATION: &str = "authentication";

/// The configured faults. Shared by every server generation of one collector, so the
/// fail-first count survives [`restart`](crate::MockCollector::restart).
#[derive(Debug)]
pub(crate) struct Faults {
    token: Option<String>,
    fail_first: u64,
    delay: Option<Duration>,
    /// Calls seen so far, for fail-first.
    seen: AtomicU64,
}

impl Faults {
    pub(crate) fn new(token: Option<String>, fail_first: u64, delay: Option<Duration>) -> Self {
        Self {
            token,
            fail_first,
            delay,
            seen: AtomicU64::new(0),
        }
    }

    /// Decides whether a call goes through; `Some(status)` rejects it.
    fn verdict<B>(&self, request: &Request<B>) -> Option<Status> {
        let nth = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if nth <= self.fail_first {
            return Some(Status::unavailable(format!(
                "mock collector: failing call {nth} of the first {}",
                self.fail_first
            )));
        }
        let expected = self.token.as_deref()?;
        let given = request.headers().get(AUTHENTICATION);
        match given {
            Some(value) if value.as_bytes() == expected.as_bytes() => None,
            Some(_) => Some(Status::permission_denied("mock collector: wrong token")),
            None => Some(Status::permission_denied(
                "mock collector: missing `authentication` metadata",
            )),
        }
    }
}

/// Wraps the service router with [`Faults`] and the call counters of the [`Store`].
#[derive(Debug, Clone)]
pub(crate) struct FaultService<S> {
    inner: S,
    faults: Arc<Faults>,
    store: Arc<Store>,
}

impl<S> FaultService<S> {
    pub(crate) fn new(inner: S, faults: Arc<Faults>, store: Arc<Store>) -> Self {
        Self {
            inner,
            faults,
            store,
        }
    }
}

impl<S> Service<Request<Body>> for FaultService<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future = RouteFuture>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = RouteFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        self.store.count_call(request.uri().path());
        let call = match self.faults.verdict(&request) {
            None => Ok(self.inner.call(request)),
            Some(status) => {
                self.store.count_rejected();
                Err(status)
            }
        };
        let delay = self.faults.delay;
        Box::pin(async move {
            let response = match call {
                Ok(call) => call.await?,
                Err(status) => status.into_http(),
            };
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            Ok(like_oap(response))
        })
    }
}

/// tonic answers an oversized message with `OUT_OF_RANGE`; gRPC-Java (so OAP) with
/// `RESOURCE_EXHAUSTED`. The services never produce `OUT_OF_RANGE` themselves, so a
/// status-in-headers answer carrying it is rewritten to what OAP would say.
fn like_oap(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    let out_of_range = (Code::OutOfRange as i32).to_string();
    if headers
        .get(Status::GRPC_STATUS)
        .is_some_and(|code| code.as_bytes() == out_of_range.as_bytes())
    {
        let exhausted = (Code::ResourceExhausted as i32).to_string();
        if let Ok(value) = HeaderValue::from_str(&exhausted) {
            headers.insert(Status::GRPC_STATUS, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(token) = token {
            request
                .headers_mut()
                .insert(AUTHENTICATION, HeaderValue::from_str(token).unwrap());
        }
        request
    }

    #[test]
    fn fail_first_then_authenticate() {
        let faults = Faults::new(Some("s3cret".into()), 2, None);
        let code = |r: &Request<()>| faults.verdict(r).map(|s| s.code());
        assert_eq!(code(&request(Some("s3cret"))), Some(Code::Unavailable));
        assert_eq!(code(&request(None)), Some(Code::Unavailable));
        assert_eq!(code(&request(None)), Some(Code::PermissionDenied));
        assert_eq!(code(&request(Some("nope"))), Some(Code::PermissionDenied));
        assert_eq!(code(&request(Some("s3cret"))), None);
    }

    #[test]
    fn no_token_configured_lets_everything_through() {
        let faults = Faults::new(None, 0, None);
        assert!(faults.verdict(&request(None)).is_none());
        assert!(faults.verdict(&request(Some("anything"))).is_none());
    }

    #[test]
    fn out_of_range_becomes_resource_exhausted() {
        let response = like_oap(Status::out_of_range("too large").into_http());
        let status = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "too large");

        let response = like_oap(Status::internal("bad").into_http());
        let status = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), Code::Internal);
    }
}

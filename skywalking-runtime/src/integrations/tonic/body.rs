//! [`ResponseBody`]: a gRPC response body that ends the call's span with it.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::status;
use crate::integrations::support::{CallSpan, Outcome};
use crate::trace::span::SpanRef;

pin_project! {
    /// The body of a response that went through the [`ServerLayer`](super::ServerLayer)
    /// or the [`ClientLayer`](super::ClientLayer): the inner body's frames, unchanged.
    ///
    /// When the call's status was not in the response headers, the call's span is still
    /// open and lives here: it is current while a frame is polled (so spans opened by a
    /// server's response stream are children of the entry span), it is tagged with the
    /// status when the trailers frame arrives (`rpc.status_code`; any code but `OK`
    /// marks it as an error), and it ends there, or when the body ends without trailers
    /// (the status then read from the HTTP status, a 200 meaning `UNKNOWN`), or fails
    /// (the error logged on the span). A body dropped before its end ends the span as
    /// cancelled.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        // The span, while the call is not over, and the response's HTTP status.
        call: Option<CallSpan>,
        http_status: u16,
    }
}

impl<B> ResponseBody<B> {
    pub(super) fn new(inner: B, call: Option<CallSpan>, http_status: u16) -> Self {
        ResponseBody {
            inner,
            call,
            http_status,
        }
    }

    /// The inner body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B: fmt::Debug> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("traced", &self.call.is_some())
            .finish()
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(call) = this.call.as_mut() else {
            return this.inner.poll_frame(cx);
        };
        let http_status = *this.http_status;
        let mut inner = this.inner;
        let (polled, over) = call.scope(|span| {
            let polled = inner.as_mut().poll_frame(cx);
            let code = match &polled {
                Poll::Pending => return (polled, false),
                Poll::Ready(Some(Ok(frame))) => match frame.trailers_ref() {
                    Some(trailers) => status::code_in(trailers),
                    None if inner.is_end_stream() => None,
                    None => return (polled, false),
                },
                Poll::Ready(Some(Err(error))) => {
                    if let Some(span) = span {
                        span.record_error(error);
                    }
                    return (polled, true);
                }
                Poll::Ready(None) => None,
            };
            if let Some(span) = span {
                let code = code.unwrap_or_else(|| status::code_of_http(http_status));
                status::record(span, code);
            }
            (polled, true)
        });
        if over && let Some(call) = this.call.take() {
            call.end();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The [`Outcome`] of a gRPC response head. The call is over when the head says how it
/// ended: an error from the inner service, a status in the headers (a *trailers-only*
/// response, which is how tonic sends a handler's `Err(Status)`), or a body that is
/// already at its end. Otherwise the status comes in the body's trailers: the span goes
/// on in the [`ResponseBody`], which records it and ends the span with the body.
#[derive(Debug)]
pub(super) enum GrpcStatus {}

impl<B, E> Outcome<Result<Response<B>, E>> for GrpcStatus
where
    B: Body,
    E: fmt::Display,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn record(output: &Result<Response<B>, E>, span: SpanRef) -> bool {
        match output {
            Ok(response) => {
                if let Some(code) = status::code_in(response.headers()) {
                    status::record(span, code);
                } else if response.body().is_end_stream() {
                    status::record(span, status::code_of_http(response.status().as_u16()));
                } else {
                    return false;
                }
            }
            Err(error) => span.record_error(error),
        }
        true
    }

    fn finish(output: Result<Response<B>, E>, span: Option<CallSpan>) -> Self::Output {
        output.map(|response| {
            let status = response.status().as_u16();
            response.map(|body| ResponseBody::new(body, span, status))
        })
    }
}

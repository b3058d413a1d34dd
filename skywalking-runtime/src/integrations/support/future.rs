//! [`Traced`]: a call inside its [`CallSpan`], and the pieces it is made of: what starts
//! the call on the first poll ([`Call`]: [`Inbound`](inbound::Inbound) for servers,
//! [`Outbound`] for clients) and what its output tells the span ([`Outcome`]).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::trace::call::{CallSpan, noop};
use crate::trace::span::SpanRef;

/// What a traced call does on its first poll, inside its span just opened.
pub(crate) trait Call {
    /// The call's future.
    type Future: Future;

    /// Tags `span` with what the request tells and starts the call.
    fn start(self, span: SpanRef) -> Self::Future;
}

/// What the output of a call tells its span, and what the traced future returns.
pub(crate) trait Outcome<T> {
    /// What the traced future returns.
    type Output;

    /// Tags `span` (current) with what `output` tells: `true` when the call is over,
    /// `false` when it goes on in the output (a streaming response body), which then
    /// carries the span.
    fn record(output: &T, span: SpanRef) -> bool;

    /// The output, carrying `span` when [`record`](Outcome::record) said the call goes
    /// on.
    fn finish(output: T, span: Option<CallSpan>) -> Self::Output;
}

/// Tags a span gets when it opens.
pub(crate) trait Tags {
    /// Adds the tags to `span`.
    fn apply(self, span: SpanRef);
}

/// No tags.
impl Tags for () {
    fn apply(self, _: SpanRef) {}
}

/// The server side of a call (see [`Inbound`](inbound::Inbound)), for the integrations
/// that have one.
#[cfg(any(
    feature = "tower",
    feature = "actix-web",
    feature = "tonic",
    feature = "redis",
    feature = "tokio-postgres",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
pub(crate) mod inbound {
    use super::{Call, SpanRef, Tags};

    /// A server call: the inner service's future, made when the request arrived, and the
    /// tags its entry span gets on the first poll. Also a client call whose future is made
    /// before its span opens and needs no headers (a database or cache command).
    #[derive(Debug)]
    pub(crate) struct Inbound<F, T> {
        future: F,
        tags: T,
    }

    impl<F, T> Inbound<F, T> {
        pub(crate) fn new(future: F, tags: T) -> Self {
            Inbound { future, tags }
        }
    }

    impl<F: Future, T: Tags> Call for Inbound<F, T> {
        type Future = F;

        fn start(self, span: SpanRef) -> F {
            self.tags.apply(span);
            self.future
        }
    }
}

#[cfg(any(feature = "hyper", feature = "reqwest", feature = "tonic"))]
/// An outgoing request whose headers the exit span's context is written into.
pub(crate) trait Carrier {
    /// The request's headers.
    fn headers_mut(&mut self) -> &mut http::HeaderMap;
}

#[cfg(any(feature = "hyper", feature = "tonic"))]
impl<B> Carrier for http::Request<B> {
    fn headers_mut(&mut self) -> &mut http::HeaderMap {
        http::Request::headers_mut(self)
    }
}

#[cfg(any(feature = "hyper", feature = "reqwest", feature = "tonic"))]
/// A client call, made on the first poll: the exit span gets the request's tags, its
/// context is written into the request headers (`sw8`, ...), and only then is the
/// request handed to `service` (one made ready by `poll_ready`, as tower requires).
#[derive(Debug)]
pub(crate) struct Outbound<S, R, T> {
    service: S,
    request: R,
    tags: T,
}

#[cfg(any(feature = "hyper", feature = "reqwest", feature = "tonic"))]
impl<S, R, T> Outbound<S, R, T> {
    pub(crate) fn new(service: S, request: R, tags: T) -> Self {
        Outbound {
            service,
            request,
            tags,
        }
    }
}

#[cfg(any(feature = "hyper", feature = "reqwest", feature = "tonic"))]
impl<S, R, T> Call for Outbound<S, R, T>
where
    S: tower_service::Service<R>,
    R: Carrier,
    T: Tags,
{
    type Future = S::Future;

    fn start(mut self, span: SpanRef) -> S::Future {
        self.tags.apply(span);
        span.inject(self.request.headers_mut());
        self.service.call(self.request)
    }
}

pin_project! {
    /// A call inside its span: the span opens on the first poll (then the call starts,
    /// see [`Call`]) and is current during every poll; when the call's future completes
    /// the [`Outcome`] records what it returned, and the span ends, or goes on with the
    /// output when the outcome says the call is not over (a gRPC response whose status
    /// comes with the body's trailers). Dropped before that, the span ends as cancelled.
    ///
    /// `F` is the call's future (`C::Future`), named apart so that the type needs no
    /// bounds.
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct Traced<C, F, O> {
        #[pin]
        stage: Stage<C, F>,
        span: Option<CallSpan>,
        outcome: PhantomData<fn() -> O>,
    }
}

pin_project! {
    #[project = StageProj]
    enum Stage<C, F> {
        Waiting { call: Option<C> },
        Running { #[pin] future: F },
    }
}

impl<C, F, O> Traced<C, F, O>
where
    C: Call<Future = F>,
{
    /// `call`, started on the first poll inside `span`.
    pub(crate) fn new(call: C, span: CallSpan) -> Self {
        Traced {
            stage: Stage::Waiting { call: Some(call) },
            span: Some(span),
            outcome: PhantomData,
        }
    }

    /// A call already started (no request tags to add).
    #[cfg_attr(
        not(any(
            feature = "tower",
            feature = "actix-web",
            feature = "reqwest",
            feature = "tonic",
            feature = "tokio-postgres"
        )),
        allow(dead_code)
    )]
    pub(crate) fn running(future: F, span: CallSpan) -> Self {
        Traced {
            stage: Stage::Running { future },
            span: Some(span),
            outcome: PhantomData,
        }
    }
}

impl<C, F, O> Future for Traced<C, F, O>
where
    C: Call<Future = F>,
    F: Future,
    O: Outcome<F::Output>,
{
    type Output = O::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O::Output> {
        let this = self.project();
        let mut stage = this.stage;
        let polled = match this.span.as_mut() {
            Some(span) => span.scope(|span| {
                poll_stage(stage.as_mut(), cx, span).map(|output| {
                    let over = span.is_none_or(|span| O::record(&output, span));
                    (output, over)
                })
            }),
            // Polled again after it completed: nothing to record.
            None => poll_stage(stage, cx, None).map(|output| (output, true)),
        };
        let (output, over) = ready!(polled);
        Poll::Ready(O::finish(output, carry_or_end(this.span.take(), over)))
    }
}

#[cfg(feature = "axum")]
pin_project! {
    /// A server call inside its entry span: [`Traced`] for a call whose future was made
    /// when the request arrived (an [`Inbound`](inbound::Inbound) call). The future
    /// stays where it is from the start (`Traced` moves it out of the call on the first
    /// poll), and the request's tags wait beside it for the span to open. The span
    /// opens on the first poll, is current during every poll and ends with the output,
    /// or goes on with it (see [`Outcome`]); dropped before that, it ends as
    /// cancelled. With no span ([`direct`](Served::direct)), the future is polled as is.
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct Served<F, T, O> {
        #[pin]
        future: F,
        // Added when the span opens.
        tags: Option<T>,
        // `None`: no agent, or the call is over.
        span: Option<CallSpan>,
        outcome: PhantomData<fn() -> O>,
    }
}

#[cfg(feature = "axum")]
impl<F, T, O> Served<F, T, O> {
    /// `future`, run inside `span`, which gets `tags` when it opens (`None`: no tags).
    #[inline]
    pub(crate) fn new(future: F, tags: Option<T>, span: CallSpan) -> Self {
        Served {
            future,
            tags,
            span: Some(span),
            outcome: PhantomData,
        }
    }

    /// `future` alone: no agent runs.
    #[inline]
    pub(crate) fn direct(future: F) -> Self {
        Served {
            future,
            tags: None,
            span: None,
            outcome: PhantomData,
        }
    }
}

#[cfg(feature = "axum")]
impl<F, T, O> Future for Served<F, T, O>
where
    F: Future,
    T: Tags,
    O: Outcome<F::Output>,
{
    type Output = O::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O::Output> {
        let this = self.project();
        let (future, tags) = (this.future, this.tags);
        let Some(span) = this.span.as_mut() else {
            // No agent, or polled again after the call was over: nothing to record.
            return future.poll(cx).map(|output| O::finish(output, None));
        };
        let (output, over) = ready!(span.scope(|span| {
            // Only on the first poll: the span has just opened.
            if let Some(tags) = tags.take() {
                tags.apply(span.unwrap_or_else(noop));
            }
            let output = ready!(future.poll(cx));
            let over = span.is_none_or(|span| O::record(&output, span));
            Poll::Ready((output, over))
        }));
        Poll::Ready(O::finish(output, carry_or_end(this.span.take(), over)))
    }
}

/// The span a call's output carries on (see [`Outcome`]): kept while the call is not
/// over, else ended here.
#[inline]
fn carry_or_end(span: Option<CallSpan>, over: bool) -> Option<CallSpan> {
    match span {
        Some(span) if !over => Some(span),
        Some(span) => {
            span.end();
            None
        }
        None => None,
    }
}

/// Starts the call if it is waiting, then polls it.
fn poll_stage<C: Call<Future = F>, F: Future>(
    mut stage: Pin<&mut Stage<C, F>>,
    cx: &mut Context<'_>,
    span: Option<SpanRef>,
) -> Poll<F::Output> {
    if let StageProj::Waiting { call } = stage.as_mut().project()
        && let Some(call) = call.take()
    {
        let future = call.start(span.unwrap_or_else(noop));
        stage.set(Stage::Running { future });
    }
    match stage.project() {
        StageProj::Running { future } => future.poll(cx),
        StageProj::Waiting { .. } => unreachable!("the call starts on the first poll"),
    }
}

//! The runtime hooks the integrations build on, from the crate's own items: futures that
//! open an entry or exit span on their first poll, the pass-through and ignored cases,
//! and finding the span such a future opened.

use std::future::Future;

#[cfg(any(feature = "tower", feature = "actix-web"))]
use crate::id::Id;
use crate::propagation::Extractor;
use crate::record::SpanKind;
use crate::record::TraceId;
use crate::trace::context::Context;
use crate::trace::context::{self, SpanInit};
use crate::trace::future::Instrumented;
use crate::trace::span::{Span, SpanRef, current_span};

/// Whether an agent runs and records: when not, integrations skip all their work.
#[inline]
pub(crate) fn is_enabled() -> bool {
    crate::settings::is_enabled()
}

#[cfg(any(feature = "tower", feature = "actix-web"))]
/// The trace a request continues, read from its `headers` (`sw8`, else
/// `traceparent`): read it before the request moves into the inner service.
pub(crate) fn incoming<C: Extractor + ?Sized>(headers: &C) -> Option<Box<Context>> {
    crate::trace::remote::incoming_context(headers)
}

#[cfg(any(feature = "tower", feature = "actix-web"))]
/// `future` with an entry span opened on its first poll and current during every poll.
/// The trace continues `incoming` (from [`incoming`]) unless a trace is already active
/// where the future is first polled, which the span then joins.
pub(crate) fn entry<F: Future>(
    future: F,
    init: SpanInit,
    incoming: Option<Box<Context>>,
) -> Instrumented<F> {
    debug_assert_eq!(init.kind, SpanKind::Entry);
    Instrumented::with_span(future, init, incoming)
}

#[cfg(any(feature = "hyper", feature = "reqwest"))]
/// `future` with an exit span opened on its first poll (a child of the span current
/// then, or the first span of a new trace) and current during every poll.
pub(crate) fn exit<F: Future>(future: F, init: SpanInit) -> Instrumented<F> {
    debug_assert_eq!(init.kind, SpanKind::Exit);
    Instrumented::with_span(future, init, None)
}

/// `future` as it is: no span, no context of its own.
pub(crate) fn passthrough<F: Future>(future: F) -> Instrumented<F> {
    Instrumented::with_context(future, None)
}

#[cfg(any(feature = "tower", feature = "actix-web"))]
/// `future` in an unsampled context: a request the ignore rules drop. The spans opened
/// while it runs record nothing, and outgoing calls pass on the sample flag `0`.
/// Inside an active trace (the request is not a trace's first span) it runs as is.
pub(crate) fn ignored<F: Future>(future: F) -> Instrumented<F> {
    if context::has_current() {
        return passthrough(future);
    }
    let ctx: Box<Context> = Context::boxed(TraceId::Local(Id::generate()), false);
    Instrumented::with_context(future, Some(ctx))
}

/// The innermost open span if it is of `kind`, else a no-op handle. Called from inside
/// a future made by [`entry`] or [`exit`], this is the span that future opened; the
/// check keeps a span that could not open (the segment's span limit) from tagging its
/// parent instead.
pub(crate) fn current_span_of_kind(kind: SpanKind) -> SpanRef {
    let current = context::with_current(|ctx| {
        let id = usize::try_from(ctx.current).ok()?;
        ctx.segment.as_ref()?.spans.get(id).map(|span| span.kind)
    })
    .flatten();
    if current == Some(kind) {
        current_span()
    } else {
        Span::noop().as_ref()
    }
}

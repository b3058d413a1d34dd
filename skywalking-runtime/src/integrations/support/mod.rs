//! What every integration shares: the off switch, the trace an incoming request
//! continues, and the future a call runs in ([`Traced`]), which opens the call's span
//! ([`CallSpan`]) on its first poll, keeps it current during every poll and records the
//! outcome.
//!
//! A server's `call` builds `Traced::new(Inbound::new(inner.call(request), tags),
//! CallSpan::new(entry, support::incoming(headers)))`; a client's builds
//! `Traced::new(Outbound::new(ready_service, request, tags), CallSpan::new(exit, None))`,
//! so the request is sent on the first poll, inside the exit span, with its headers
//! written. With the agent off they build `Traced::running(inner.call(request),
//! CallSpan::off())`: no span, no allocation, no header read.

mod future;

pub(crate) use crate::trace::call::CallSpan;
#[cfg(feature = "reqwest")]
pub(crate) use future::Carrier;
#[cfg(any(feature = "tower", feature = "actix-web", feature = "tonic"))]
pub(crate) use future::Inbound;
#[cfg(any(feature = "hyper", feature = "reqwest", feature = "tonic"))]
pub(crate) use future::Outbound;
#[cfg(any(feature = "tower", feature = "reqwest", feature = "actix-web"))]
pub(crate) use future::Tags;
pub(crate) use future::{Outcome, Traced};

#[cfg(any(feature = "tower", feature = "actix-web", feature = "tonic"))]
use crate::propagation::Extractor;
#[cfg(any(feature = "tower", feature = "actix-web", feature = "tonic"))]
use crate::trace::context::Context;

/// Whether an agent runs and records: when not, integrations skip all their work.
#[inline]
pub(crate) fn is_enabled() -> bool {
    crate::settings::is_enabled()
}

#[cfg(any(feature = "tower", feature = "actix-web", feature = "tonic"))]
/// The trace a request continues, read from its `headers` (`sw8`, else
/// `traceparent`): read it before the request moves into the inner service.
pub(crate) fn incoming<C: Extractor + ?Sized>(headers: &C) -> Option<Box<Context>> {
    crate::trace::remote::incoming_context(headers)
}

#[cfg(any(feature = "tower", feature = "actix-web", feature = "tonic"))]
/// No span, in an unsampled context: a request the ignore rules drop. The spans opened
/// while it runs, and the calls it makes, record nothing. Inside an active trace (the
/// request is not a trace's first span) the call runs as is.
pub(crate) fn ignored() -> CallSpan {
    if crate::trace::context::has_current() {
        return CallSpan::off();
    }
    CallSpan::carrying(Some(Context::boxed(
        crate::record::TraceId::Local(crate::id::Id::generate()),
        false,
    )))
}

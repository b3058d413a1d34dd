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
//!
//! [`Served`] is `Traced` for a server whose future is made when the request arrives
//! (the axum layer): `Served::new(inner.call(request), Some(tags), span)` keeps the
//! future where it is rather than moving it out of an `Inbound` on the first poll, and
//! `Served::direct(inner.call(request))` is the agent off.

mod future;

pub(crate) use crate::trace::call::CallSpan;
#[cfg(feature = "reqwest")]
pub(crate) use future::Carrier;
#[cfg(any(feature = "hyper", feature = "reqwest", feature = "tonic"))]
pub(crate) use future::Outbound;
#[cfg(feature = "axum")]
pub(crate) use future::Served;
#[cfg(any(
    feature = "tower",
    feature = "reqwest",
    feature = "actix-web",
    feature = "redis",
    feature = "tokio-postgres",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
pub(crate) use future::Tags;
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
pub(crate) use future::inbound::Inbound;
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

#[cfg(any(feature = "redis", feature = "tokio-postgres"))]
/// Distinct values [`intern`] keeps for the life of the process.
const MAX_INTERNED: usize = 256;

#[cfg(any(feature = "redis", feature = "tokio-postgres"))]
/// `value` as a `'static` string, leaked once and shared, while fewer than
/// [`MAX_INTERNED`] distinct values were interned (beyond, `value` itself): the peers
/// and database names of a process's clients, which are few, then cost no allocation
/// per span. Called when a client is wrapped, never per call.
pub(crate) fn intern(value: String) -> crate::record::Str {
    use std::borrow::Cow;
    use std::sync::Mutex;

    static INTERNED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let Ok(mut interned) = INTERNED.lock() else {
        return Cow::Owned(value);
    };
    if let Some(found) = interned.iter().find(|s| **s == value) {
        return Cow::Borrowed(found);
    }
    if interned.len() >= MAX_INTERNED {
        return Cow::Owned(value);
    }
    let leaked: &'static str = Box::leak(value.into_boxed_str());
    interned.push(leaked);
    Cow::Borrowed(leaked)
}

#[cfg(all(test, any(feature = "redis", feature = "tokio-postgres")))]
mod tests {
    use std::borrow::Cow;

    use super::intern;

    #[test]
    fn interned_values_are_shared() {
        let (a, b) = (intern("db:5432".into()), intern("db:5432".into()));
        match (&a, &b) {
            (Cow::Borrowed(x), Cow::Borrowed(y)) => assert!(std::ptr::eq(*x, *y)),
            _ => panic!("not interned: {a:?} {b:?}"),
        }
        assert_eq!(intern("other:1".into()), "other:1");
    }
}

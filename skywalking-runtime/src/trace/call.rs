//! HOT PATH. [`CallSpan`]: the span of one call or future, opened on its first poll and
//! ended when it is over. [`Instrumented`](crate::Instrumented) holds one for the future
//! it wraps; an integration's call holds one that may outlive the future that opened it
//! (a gRPC call's span ends with the response body).

use std::fmt;
use std::mem::{self, ManuallyDrop};

use crate::clock;
use crate::record::{LogRecord, Str};
use crate::trace::context::{self, Context, Handle, Opened, SpanInit};
use crate::trace::span::{Span, SpanRef};

/// Where the span of a call is.
#[derive(Debug)]
enum State {
    /// Not opened yet: the span to open, and the trace to continue if none is active.
    Pending(SpanInit, Option<Box<Context>>),
    /// The span lives in a context an enclosing owner installs (the caller's trace).
    Child(Handle),
    /// This holds the context: the span is its trace's first here. `None` context while
    /// it is installed for a scope; `None` handle: a context without a span (an ignored
    /// request, run unsampled).
    Owner(Option<Box<Context>>, Option<Handle>),
    /// No span and no context: the agent is off, the call runs as is, or it is over.
    Off,
}

/// The span of one call made through an integration.
///
/// It opens on the first [`scope`](CallSpan::scope) (the first poll of the call's
/// future), in the context installed then (as a child of the current span), or, with
/// none, in the trace continued from the request's headers or a new one, whose context
/// it then holds and installs for each scope, so it follows the task from thread to
/// thread. It ends with [`end`](CallSpan::end); dropped before that, it ends with an
/// `event=cancelled` log (`event=error`, `error.kind=panic` while panicking), as
/// [`Instrumented`](crate::Instrumented) does for a dropped future.
///
/// It can be moved between scopes: a gRPC call's span goes from the response future to
/// the response body, and ends with the body.
#[must_use = "a call span ends as cancelled when dropped"]
pub(crate) struct CallSpan {
    state: State,
}

impl fmt::Debug for CallSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Pending(..) => "pending",
            State::Child(..) => "child",
            State::Owner(..) => "owner",
            State::Off => "off",
        };
        f.debug_struct("CallSpan").field("state", &state).finish()
    }
}

impl CallSpan {
    /// The span `init`, continuing `incoming` (from the request's headers) if no trace
    /// is active where it opens.
    pub(crate) fn new(init: SpanInit, incoming: Option<Box<Context>>) -> Self {
        CallSpan {
            state: State::Pending(init, incoming),
        }
    }

    /// No span: the call runs as is.
    #[cfg_attr(
        not(any(
            feature = "tower",
            feature = "actix-web",
            feature = "hyper",
            feature = "reqwest",
            feature = "tonic"
        )),
        allow(dead_code)
    )]
    pub(crate) const fn off() -> Self {
        CallSpan { state: State::Off }
    }

    /// No span of its own, but `ctx` installed for every scope (a carried context, or
    /// an unsampled one for a request the ignore rules drop); no context: [`off`].
    ///
    /// [`off`]: CallSpan::off
    pub(crate) fn carrying(ctx: Option<Box<Context>>) -> Self {
        CallSpan {
            state: match ctx {
                Some(ctx) => State::Owner(Some(ctx), None),
                None => State::Off,
            },
        }
    }

    /// Runs `f` with the span current (opening it first if it is not open yet), passing
    /// it the span: `None` when there is neither span nor context (see
    /// [`off`](CallSpan::off)), a no-op span for an unsampled call.
    #[inline]
    pub(crate) fn scope<R>(&mut self, f: impl FnOnce(Option<SpanRef>) -> R) -> R {
        if matches!(self.state, State::Pending(..)) {
            self.open();
        }
        match &mut self.state {
            State::Child(handle) => {
                let handle = *handle;
                let _entered = Entered {
                    handle,
                    previous: context::enter(handle),
                };
                f(Some(span_ref(handle)))
            }
            State::Owner(slot, handle) => {
                let handle = *handle;
                let Some(mut ctx) = slot.take() else {
                    // Lost while the thread's slot was being torn down.
                    return f(None);
                };
                if let Some(handle) = handle
                    && ctx.owns(handle)
                {
                    ctx.current = handle.id;
                }
                let _installed = Installed {
                    previous: Some(context::install(Some(ctx))),
                    slot,
                    handle,
                };
                f(Some(handle.map_or_else(noop, span_ref)))
            }
            State::Pending(..) | State::Off => f(None),
        }
    }

    /// Ends the span now (and hands a segment it owns to the reporter).
    #[cfg_attr(
        not(any(
            feature = "tower",
            feature = "actix-web",
            feature = "hyper",
            feature = "reqwest",
            feature = "tonic"
        )),
        allow(dead_code)
    )]
    pub(crate) fn end(mut self) {
        self.finish();
    }

    /// [`end`](CallSpan::end) in place: the span ends now, and this is [`off`] after
    /// (for an owner that cannot give it up, such as a future's).
    ///
    /// [`off`]: CallSpan::off
    #[inline]
    pub(crate) fn finish(&mut self) {
        match mem::replace(&mut self.state, State::Off) {
            State::Child(handle) => context::close(handle),
            State::Owner(Some(mut ctx), handle) => {
                let end = clock::now_raw();
                if let Some(handle) = handle {
                    ctx.close(handle, end);
                }
                ctx.finish_segment(end);
                context::retire(ctx);
            }
            State::Owner(None, _) | State::Pending(..) | State::Off => {}
        }
    }

    #[inline]
    fn open(&mut self) {
        if let State::Pending(init, incoming) = mem::replace(&mut self.state, State::Off) {
            self.state = match context::open_or_own(init, incoming) {
                Opened::Child(handle) => State::Child(handle),
                Opened::Owner(ctx, handle) => State::Owner(Some(ctx), Some(handle)),
                Opened::Noop => State::Off,
            };
        }
    }
}

impl Drop for CallSpan {
    #[inline]
    fn drop(&mut self) {
        // Ended, never opened, or off: nothing to close (the common case, kept inline).
        if matches!(self.state, State::Off | State::Pending(..)) {
            return;
        }
        self.cancel();
    }
}

impl CallSpan {
    /// Ends a span dropped before its call was over: `event=cancelled`, or
    /// `event=error`, `error.kind=panic` while panicking.
    #[cold]
    fn cancel(&mut self) {
        let panicking = std::thread::panicking();
        let reason = || -> Vec<(Str, Str)> {
            if panicking {
                vec![
                    ("event".into(), "error".into()),
                    ("error.kind".into(), "panic".into()),
                ]
            } else {
                vec![("event".into(), "cancelled".into())]
            }
        };
        match mem::replace(&mut self.state, State::Off) {
            State::Child(handle) => {
                if handle.is_recording() {
                    context::add_log(handle, reason(), panicking);
                }
                context::close(handle);
            }
            State::Owner(Some(mut ctx), handle) => {
                let end = clock::now_raw();
                if let Some(handle) = handle {
                    if let Some(segment) = ctx.segment_of(handle) {
                        let log = LogRecord {
                            time: end,
                            fields: reason(),
                        };
                        segment.logs.push((handle.id, log));
                    }
                    if let Some(span) = ctx.span_mut(handle) {
                        span.is_error |= panicking;
                    }
                    ctx.close(handle, end);
                }
                ctx.finish_segment(end);
                context::retire(ctx);
            }
            State::Owner(None, _) | State::Pending(..) | State::Off => {}
        }
    }
}

/// A handle to the span behind `handle` that does not close it.
fn span_ref(handle: Handle) -> SpanRef {
    // `Span` closes its span on drop, and holds nothing else: not dropping it leaks
    // nothing.
    ManuallyDrop::new(Span::from_handle(handle)).as_ref()
}

pub(crate) fn noop() -> SpanRef {
    span_ref(Handle::NOOP)
}

/// A child span made current for one scope. Restores the previous current span
/// afterwards, and marks the span failed if the scope panicked.
struct Entered {
    handle: Handle,
    previous: Option<i32>,
}

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        if std::thread::panicking() {
            context::with_span(self.handle, |s| s.is_error = true);
        }
        context::exit(self.handle, self.previous);
    }
}

/// An owned context installed for one scope. Takes it back afterwards, even when the
/// scope panics (the thread must not keep it), and then marks the span failed.
struct Installed<'a> {
    previous: Option<Option<Box<Context>>>,
    slot: &'a mut Option<Box<Context>>,
    handle: Option<Handle>,
}

impl Drop for Installed<'_> {
    #[inline]
    fn drop(&mut self) {
        let mut ctx = context::install(self.previous.take().flatten());
        if std::thread::panicking()
            && let (Some(ctx), Some(handle)) = (ctx.as_mut(), self.handle)
            && let Some(span) = ctx.span_mut(handle)
        {
            span.is_error = true;
        }
        *self.slot = ctx;
    }
}

//! HOT PATH. Carrying the trace context across `.await` and into spawned tasks.
//!
//! [`Instrumented`] wraps a future with a span. On its first poll the span opens in the
//! context installed at that moment (the caller's, since an `async fn` is polled where it
//! is awaited); with no context it starts a trace and the future *owns* that context,
//! installing it into the thread-local slot for each poll, so it follows the task from
//! worker thread to worker thread. The span closes when the future completes, or, if the
//! future is dropped first, is closed then with an `event=cancelled` log.
//!
//! [`ContextSnapshot`] / [`spawn`] / [`FutureExt::in_current_context`] carry the context
//! into another task: the task's spans form a new segment whose first span holds a
//! `CrossThread` reference to the span that spawned it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::clock;
use crate::record::{
    RefKind, RefRecord, SegmentId, SegmentIdDisplay, SpanKind, SpanLayer, component,
};
use crate::trace::call::CallSpan;
use crate::trace::context::{self, Context, SpanInit};

pin_project! {
    /// A future with a span (or a carried context). Made by [`FutureExt`], [`spawn`] and
    /// `#[trace]` on an `async fn`.
    ///
    /// Its [`CallSpan`] opens on the first poll, is current (or its context installed)
    /// during every poll, ends when the future completes, and, if the future is dropped
    /// first, ends then as cancelled. The span is declared before the inner future, so
    /// it is dropped (and closed) first, as the enclosing span of the inner one.
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        span: CallSpan,
        #[pin]
        inner: F,
    }
}

impl<F: std::fmt::Debug> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<F> Instrumented<F> {
    pub(crate) fn with_span(inner: F, init: SpanInit, incoming: Option<Box<Context>>) -> Self {
        Instrumented {
            span: CallSpan::new(init, incoming),
            inner,
        }
    }

    pub(crate) fn with_context(inner: F, ctx: Option<Box<Context>>) -> Self {
        Instrumented {
            span: CallSpan::carrying(ctx),
            inner,
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        let result = this.span.scope(|_| inner.poll(cx));
        if result.is_ready() {
            this.span.finish();
        }
        result
    }
}

/// The trace context of a moment, to continue in another task or thread. The spans made
/// under it form a new segment whose first span refers back (`CrossThread`) to the span
/// that was current when the snapshot was taken.
#[derive(Debug, Clone)]
pub struct ContextSnapshot {
    trace_id: crate::record::TraceId,
    sampled: bool,
    undecided: bool,
    skip_analysis: bool,
    parent: Option<RefRecord>,
    correlation: crate::propagation::Correlation,
}

impl ContextSnapshot {
    /// The context active on this thread or task, if any.
    pub fn current() -> Option<ContextSnapshot> {
        context::with_current(|ctx| {
            let parent = match &ctx.segment {
                Some(segment) if ctx.current >= 0 => Some(RefRecord {
                    kind: RefKind::CrossThread,
                    trace_id: ctx.trace_id.clone(),
                    parent_segment_id: SegmentIdDisplay(SegmentId::Local(segment.segment_id)),
                    parent_span_id: ctx.current,
                    parent_service: Cow::Borrowed(""),
                    parent_service_instance: Cow::Borrowed(""),
                    parent_endpoint: segment.endpoint().cloned().unwrap_or_default(),
                    network_address_used_at_peer: Cow::Borrowed(""),
                }),
                // No span of this context is open: there is no span of ours to refer
                // to, and the caller's reference belongs to the segment that continued
                // it, not to a CrossThread one. The snapshot keeps the trace only.
                _ => None,
            };
            let undecided = ctx.undecided;
            if parent.is_some() {
                // The spawned segment will refer to this one: it must be reported.
                ctx.keep_referenced();
            }
            ContextSnapshot {
                trace_id: ctx.trace_id.clone(),
                sampled: ctx.sampled,
                undecided,
                skip_analysis: ctx.skip_analysis,
                parent,
                correlation: ctx.correlation.clone(),
            }
        })
    }

    fn into_context(self) -> Box<Context> {
        let mut ctx = Context::boxed(self.trace_id, self.sampled);
        ctx.undecided = self.undecided;
        ctx.skip_analysis = self.skip_analysis;
        ctx.first_ref = self.parent.map(|mut r| {
            r.kind = RefKind::CrossThread;
            r
        });
        ctx.correlation = self.correlation;
        ctx
    }

    /// Runs `f` with this context active (for a thread or a blocking section). Spans
    /// opened inside form a new segment referring back to the snapshot.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Option<Box<Context>>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                if let Some(previous) = self.0.take()
                    && let Some(mut ctx) = context::install(previous)
                {
                    ctx.finish_segment(clock::now_raw());
                }
            }
        }
        let _restore = Restore(Some(context::install(Some(self.into_context()))));
        f()
    }

    /// Wraps `future` so that it runs in this context.
    pub fn attach<F: Future>(self, future: F) -> Instrumented<F> {
        Instrumented::with_context(future, Some(self.into_context()))
    }
}

/// Extension methods for futures.
pub trait FutureExt: Future + Sized {
    /// Runs the future inside a local span named `name`.
    ///
    /// ```
    /// use skywalking_runtime::FutureExt;
    ///
    /// # async fn f() {
    /// let value = async { 1 + 1 }.in_span("add").await;
    /// # assert_eq!(value, 2);
    /// # }
    /// ```
    fn in_span(self, name: impl Into<Cow<'static, str>>) -> Instrumented<Self> {
        Instrumented::with_span(
            self,
            SpanInit {
                kind: SpanKind::Local,
                name: name.into(),
                peer: Cow::Borrowed(""),
                layer: SpanLayer::Unknown,
                component: component::RUST,
            },
            None,
        )
    }

    /// Carries the current trace context into this future, for when it runs in another
    /// task. Spans inside form a new segment with a `CrossThread` reference to the current
    /// span. Without a current context, the future runs as is.
    fn in_current_context(self) -> Instrumented<Self> {
        Instrumented::with_context(
            self,
            ContextSnapshot::current().map(ContextSnapshot::into_context),
        )
    }
}

impl<F: Future> FutureExt for F {}

/// `tokio::spawn` that carries the current trace context into the new task.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = skywalking_runtime::spawn(async { 21 * 2 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # }
/// ```
#[cfg(feature = "tokio")]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_context())
}

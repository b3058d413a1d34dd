//! HOT PATH. The active trace context of a thread or task, and the span open/close
//! operations on it.
//!
//! A [`Context`] holds the trace id, the sampling decision, the segment being recorded and
//! the innermost open span. Exactly one owner holds each context:
//!
//! - **sync code**: the thread-local slot. A span opened with no context creates one there
//!   (an *ephemeral* context) and the context is removed when its last span closes;
//! - **async code**: the instrumented future that created it ([`crate::trace::future`]). It
//!   installs the context into the thread-local slot for the duration of each `poll` and
//!   takes it back afterwards, so the context follows the task across threads.
//!
//! Spans are pushed into the segment's span buffer; a span's id is its index. A span
//! handle is `(segment key, span id)`: closing a span whose segment is not the installed
//! one (a guard moved elsewhere) is ignored, never a panic. A segment is finished when its
//! last open span closes (spans may close in any order), and then handed to the reporter
//! queue; the next span of the same context starts a new segment. A thread's own
//! (ephemeral) context also ends when its first span closes, closing what is still open
//! then: a span guard moved to another thread must not keep the thread's context alive.

use std::cell::Cell;

use super::keep::{self, Verdict};
use super::pool;
use crate::clock;
use crate::id::Id;
use crate::record::{
    LogRecord, RefKind, RefRecord, SegmentRecord, SpanKind, SpanLayer, SpanRecord, Str, TraceId,
};
use crate::settings;

/// What a span is opened with.
#[derive(Debug, Clone)]
pub(crate) struct SpanInit {
    pub(crate) kind: SpanKind,
    pub(crate) name: Str,
    pub(crate) peer: Str,
    pub(crate) layer: SpanLayer,
    pub(crate) component: i32,
}

/// Identifies one open span: the key of its segment and its id in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handle {
    pub(crate) key: u64,
    pub(crate) id: i32,
}

/// A span id that marks a span of an unsampled context: nothing is recorded, but the
/// context lives until the span closes.
const UNSAMPLED: i32 = -2;
/// A span id that marks a span the segment's span limit kept out: nothing is recorded,
/// but a header injected for it still names the (size-limited) segment.
pub(crate) const LIMITED: i32 = -3;

impl Handle {
    /// A span that records nothing.
    pub(crate) const NOOP: Handle = Handle { key: 0, id: -1 };

    #[inline]
    pub(crate) fn is_noop(self) -> bool {
        self.key == 0
    }

    /// Whether this handle records a span (as opposed to a no-op or unsampled one).
    #[inline]
    pub(crate) fn is_recording(self) -> bool {
        self.key != 0 && self.id >= 0
    }
}

/// The state of one trace in one thread or task.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) trace_id: TraceId,
    pub(crate) sampled: bool,
    /// Recording a trace the sampler dropped: each segment is judged when it finishes
    /// (see [`keep`]); cleared once the trace propagates.
    pub(crate) undecided: bool,
    /// Mark every span `skipAnalysis` (sw8-x tracing mode 1).
    pub(crate) skip_analysis: bool,
    /// Removed from the thread-local slot when its last span closes.
    pub(crate) ephemeral: bool,
    /// The innermost open span of `segment`, the parent of the next one; -1 for none.
    pub(crate) current: i32,
    /// Key for unsampled spans, which have no segment (0 in a sampled context).
    key: u64,
    unsampled_open: u32,
    pub(crate) segment: Option<Box<SegmentRecord>>,
    /// The reference the first span of each new segment carries.
    pub(crate) first_ref: Option<RefRecord>,
    pub(crate) correlation: crate::propagation::Correlation,
    /// When the caller sent the request (`sw8-x`, epoch ms): the next entry span gets a
    /// `transmission.latency` tag.
    pub(crate) sent_at_ms: Option<i64>,
    /// The peer of the last exit span the span limit kept out, for its header.
    limited_peer: Str,
}

/// The key of an unsampled context's spans (a sampled context's spans use their
/// segment's key, so none is made for it).
#[inline]
fn unsampled_key(sampled: bool) -> u64 {
    if sampled {
        0
    } else {
        Id::generate().as_u128() as u64 | 1 << 63
    }
}

#[inline]
fn segment_key(segment: &SegmentRecord) -> u64 {
    // Low 64 bits of the id: the per-thread slot and sequence, unique in this process
    // and never 0 after the first id of slot 0.
    (segment.segment_id.as_u128() as u64) | 1 << 63
}

/// The local span a spawned segment starts with when its first span is an exit:
/// `Thread/<the parent's endpoint>`, a name as stable as the parent's.
#[cold]
fn thread_span(parent: &RefRecord, skip_analysis: bool) -> SpanRecord {
    let endpoint: &str = if parent.parent_endpoint.is_empty() {
        "async"
    } else {
        &parent.parent_endpoint
    };
    let name = Str::Owned(format!("Thread/{endpoint}"));
    SpanRecord {
        parent_id: -1,
        start: clock::now_raw(),
        end: 0,
        kind: SpanKind::Local,
        layer: SpanLayer::Unknown,
        component: crate::record::component::RUST,
        is_error: false,
        skip_analysis,
        name,
        peer: Str::Borrowed(""),
    }
}

/// Reports a finished segment of a trace the sampler dropped if it is worth keeping
/// (see [`keep`]); otherwise discards it (with the `prometheus` feature, it still goes to
/// the reporter, flagged not to be sent, so that metrics count it).
#[cold]
fn finish_undecided(mut segment: Box<SegmentRecord>) {
    match keep::judge(&segment) {
        Verdict::Error => {
            crate::stats::segment_kept_error();
            pool::submit(segment);
        }
        Verdict::Slow => {
            crate::stats::segment_kept_slow();
            pool::submit(segment);
        }
        Verdict::Discard => {
            crate::stats::segment_discarded_unsampled();
            if cfg!(feature = "prometheus") {
                segment.report = false;
                pool::submit(segment);
            } else {
                pool::recycle_segment(segment);
            }
        }
    }
}

/// The reference the first span of a new segment carries. A context continued from
/// a header (a `CrossProcess` reference) records one segment: the entry span that
/// continued it, and what runs under it, whoever owns the context (a thread's own
/// context ends with its first span, a future's with its span). The reference then
/// moves into that segment, costing no copy of its strings. A snapshot's context
/// (`CrossThread`) may record several segments, one per run; each gets a copy.
#[inline]
fn first_ref_for_segment(first_ref: &mut Option<RefRecord>, ephemeral: bool) -> Option<RefRecord> {
    match first_ref {
        Some(r) if r.kind == RefKind::CrossProcess || ephemeral => first_ref.take(),
        Some(r) => Some(r.clone()),
        None => None,
    }
}

/// `transmission.latency`: milliseconds from the caller's send time to now, as the Java
/// agent tags it (negative when the two clocks disagree by more than the latency).
#[cold]
fn latency_since(sent_at_ms: i64) -> Str {
    let latency = clock::now_epoch_ms().saturating_sub(sent_at_ms);
    Str::Owned(latency.to_string())
}

impl Context {
    /// A context for a new trace, or `None` when the agent is off.
    pub(crate) fn new_trace() -> Option<Box<Context>> {
        if !settings::is_enabled() {
            return None;
        }
        let sampled = crate::trace::sampling::sample_new_trace();
        Some(Context::maybe_undecided(
            TraceId::Local(Id::generate()),
            sampled,
        ))
    }

    /// A context for `trace_id`: sampled, or (not sampled) recording and undecided when
    /// the keep options are on, or unsampled.
    pub(crate) fn maybe_undecided(trace_id: TraceId, sampled: bool) -> Box<Context> {
        if !sampled && keep::records_unsampled() {
            let mut ctx = Context::boxed(trace_id, true);
            ctx.undecided = true;
            return ctx;
        }
        Context::boxed(trace_id, sampled)
    }

    /// Decides an undecided trace for keeps: something will refer to its segment.
    #[inline]
    pub(crate) fn keep_referenced(&mut self) {
        if self.undecided {
            self.undecided = false;
            crate::stats::trace_kept_propagated();
        }
    }

    /// A context continuing `trace_id` (from a header or a snapshot).
    ///
    /// This thread's spare context is reset in place when there is one: its fields are
    /// assigned one by one, and what it owns (correlation data, a reference, a peer) is
    /// dropped only when it holds something, so starting a trace copies no whole
    /// `Context` and frees nothing in the common case.
    #[inline]
    pub(crate) fn boxed(trace_id: TraceId, sampled: bool) -> Box<Context> {
        let limits = settings::correlation_limits();
        match spare_context() {
            Some(mut ctx) => {
                ctx.trace_id = trace_id;
                ctx.sampled = sampled;
                ctx.undecided = false;
                ctx.skip_analysis = false;
                ctx.ephemeral = false;
                ctx.current = -1;
                ctx.key = unsampled_key(sampled);
                ctx.unsampled_open = 0;
                if ctx.segment.is_some() {
                    ctx.segment = None;
                }
                if ctx.first_ref.is_some() {
                    ctx.first_ref = None;
                }
                if !ctx.correlation.is_empty() || ctx.correlation.limits() != limits {
                    ctx.correlation = crate::propagation::Correlation::with_limits(limits);
                }
                ctx.sent_at_ms = None;
                if !ctx.limited_peer.is_empty() {
                    ctx.limited_peer = Str::Borrowed("");
                }
                ctx
            }
            None => Box::new(Context {
                trace_id,
                sampled,
                undecided: false,
                skip_analysis: false,
                ephemeral: false,
                current: -1,
                key: unsampled_key(sampled),
                unsampled_open: 0,
                segment: None,
                first_ref: None,
                correlation: crate::propagation::Correlation::with_limits(limits),
                sent_at_ms: None,
                limited_peer: Str::Borrowed(""),
            }),
        }
    }

    /// Opens a span as a child of the current one.
    #[inline(always)]
    pub(crate) fn open(&mut self, init: SpanInit) -> Handle {
        // The common case, kept small enough to inline: a span of a sampled trace whose
        // segment has started, under the span limit. The push below is written out again
        // at the end of `open_other` on purpose: one shared helper measured +1% callgrind
        // instructions per child span and +5% per one-span trace (`benchmarks/examples/
        // {hot,one_span}.rs`), whether inlined always or left to the compiler.
        if self.sampled
            && let Some(segment) = self.segment.as_deref_mut()
        {
            let id = segment.spans.len();
            if id != 0 && id < settings::span_limit() {
                let id = id as i32;
                // An exit span has no children in SkyWalking's model, so it never
                // becomes the parent of later spans: sibling calls made concurrently
                // (`join!`) stay siblings.
                let becomes_current = init.kind != SpanKind::Exit;
                segment.spans.push(SpanRecord {
                    parent_id: self.current,
                    start: clock::now_raw(),
                    end: 0,
                    kind: init.kind,
                    layer: init.layer,
                    component: init.component,
                    is_error: false,
                    skip_analysis: self.skip_analysis,
                    name: init.name,
                    peer: init.peer,
                });
                segment.open += 1;
                if becomes_current {
                    self.current = id;
                }
                return Handle {
                    key: segment_key(segment),
                    id,
                };
            }
        }
        self.open_other(init)
    }

    /// [`open`](Self::open) for every other case: an unsampled trace, the first span of
    /// a segment (which may carry a reference), a span past the limit.
    #[inline(never)]
    fn open_other(&mut self, init: SpanInit) -> Handle {
        if !self.sampled {
            // Only the span that made an ephemeral context keeps it alive; every other
            // span of an unsampled trace is a no-op.
            if self.ephemeral && self.unsampled_open == 0 {
                self.unsampled_open = 1;
                pool::give_text(init.name);
                return Handle {
                    key: self.key,
                    id: UNSAMPLED,
                };
            }
            pool::give_text(init.name);
            return Handle::NOOP;
        }
        let segment = match &mut self.segment {
            Some(segment) => segment,
            None => {
                let segment = pool::take_segment(self.trace_id.clone());
                self.current = -1;
                self.segment.insert(segment)
            }
        };
        let mut id = segment.spans.len();
        if id >= settings::span_limit() {
            segment.is_size_limited = true;
            if init.kind == SpanKind::Exit {
                self.limited_peer = init.peer;
            }
            return Handle {
                key: segment_key(segment),
                id: LIMITED,
            };
        }
        if id == 0
            && let Some(first_ref) = first_ref_for_segment(&mut self.first_ref, self.ephemeral)
        {
            if first_ref.kind == RefKind::CrossThread && init.kind == SpanKind::Exit {
                // OAP makes the first span of a segment with a CrossThread reference an
                // endpoint of this service: a raw URL path there would make one endpoint
                // per path. Start the segment with a local span of a stable name.
                segment
                    .spans
                    .push(thread_span(&first_ref, self.skip_analysis));
                self.current = 0;
                id = 1;
            }
            segment.refs.push((0, first_ref));
            // Only a context continued from a header has a send time, and its first
            // span is the entry span that continued it.
            if let Some(sent_at) = self.sent_at_ms.take()
                && init.kind == SpanKind::Entry
            {
                segment.tags.push((
                    id as i32,
                    Str::Borrowed("transmission.latency"),
                    latency_since(sent_at),
                ));
            }
        }
        let id = id as i32;
        // An exit span has no children in SkyWalking's model, so it never becomes the
        // parent of later spans: sibling calls made concurrently (`join!`) stay siblings.
        let becomes_current = init.kind != SpanKind::Exit;
        segment.spans.push(SpanRecord {
            parent_id: self.current,
            start: clock::now_raw(),
            end: 0,
            kind: init.kind,
            layer: init.layer,
            component: init.component,
            is_error: false,
            skip_analysis: self.skip_analysis,
            name: init.name,
            peer: init.peer,
        });
        segment.open += 1;
        if becomes_current {
            self.current = id;
        }
        Handle {
            key: segment_key(segment),
            id,
        }
    }

    /// Closes a span at `end`. Returns true when the context has no open span left (its
    /// segment, if any, has been handed to the reporter).
    #[inline(always)]
    pub(crate) fn close(&mut self, handle: Handle, end: u64) -> bool {
        if handle.id == UNSAMPLED {
            if handle.key == self.key && self.unsampled_open > 0 {
                self.unsampled_open -= 1;
                return self.unsampled_open == 0;
            }
            return false;
        }
        let Some(segment) = self.segment.as_mut() else {
            return false;
        };
        if segment_key(segment) != handle.key {
            return false;
        }
        let Some(span) = usize::try_from(handle.id)
            .ok()
            .and_then(|i| segment.spans.get_mut(i))
        else {
            return false;
        };
        if span.end != 0 {
            return false;
        }
        span.end = end.max(span.start).max(1);
        if self.current == handle.id {
            self.current = span.parent_id;
        }
        segment.open = segment.open.saturating_sub(1);
        // The first span of a thread's own context ends it, even if a span it opened was
        // moved away and never closes here.
        if segment.open == 0 || (self.ephemeral && handle.id == 0) {
            self.finish_segment(end);
            return true;
        }
        false
    }

    /// Hands the segment being recorded, if any, to the reporter, closing what is still
    /// open at `end`.
    #[inline(never)]
    pub(crate) fn finish_segment(&mut self, end: u64) {
        if let Some(mut segment) = self.segment.take() {
            segment.close_all(end);
            if self.undecided {
                finish_undecided(segment);
            } else {
                pool::submit(segment);
            }
        }
        self.current = -1;
    }

    /// The span record behind `handle`, if it is in this context's current segment.
    #[inline]
    pub(crate) fn span_mut(&mut self, handle: Handle) -> Option<&mut SpanRecord> {
        let segment = self.segment.as_mut()?;
        if segment_key(segment) != handle.key {
            return None;
        }
        segment.spans.get_mut(usize::try_from(handle.id).ok()?)
    }

    /// The segment holding `handle`'s span, if it is this context's current one.
    #[inline]
    pub(crate) fn segment_of(&mut self, handle: Handle) -> Option<&mut SegmentRecord> {
        let segment = self.segment.as_mut()?;
        let in_range = usize::try_from(handle.id).is_ok_and(|i| i < segment.spans.len());
        (segment_key(segment) == handle.key && in_range).then_some(&mut **segment)
    }

    /// Whether `handle` belongs to this context's current segment.
    #[inline]
    pub(crate) fn owns(&self, handle: Handle) -> bool {
        match &self.segment {
            Some(segment) => segment_key(segment) == handle.key,
            None => false,
        }
    }

    /// The span a header injected for `handle` names as its parent, with the peer the
    /// call goes to: the span itself when it records, the nearest recorded span when
    /// the segment's span limit kept it out, `None` when nothing of this context is
    /// reported (an unsampled trace, or a span of another context).
    pub(crate) fn parent_for_header(&self, handle: Handle) -> Option<(&SegmentRecord, i32, &Str)> {
        let segment = self.segment.as_deref()?;
        if segment_key(segment) != handle.key {
            return None;
        }
        if handle.id == LIMITED {
            return Some((segment, self.current.max(0), &self.limited_peer));
        }
        let span = segment.spans.get(usize::try_from(handle.id).ok()?)?;
        Some((segment, handle.id, &span.peer))
    }

    /// Continues, on the span behind `handle` of this (already active) trace, the
    /// request `incoming` carried: its CrossProcess reference goes on that span, as the
    /// Java agent does, and its send time becomes the span's `transmission.latency`.
    fn join_incoming(&mut self, handle: Handle, mut incoming: Box<Context>) {
        if handle.is_recording()
            && let Some(segment) = self.segment_of(handle)
        {
            if let Some(reference) = incoming.first_ref.take() {
                segment.refs.push((handle.id, reference));
            }
            if let Some(sent_at) = incoming.sent_at_ms {
                segment.tags.push((
                    handle.id,
                    Str::Borrowed("transmission.latency"),
                    latency_since(sent_at),
                ));
            }
        }
        recycle_context(incoming);
    }
}

thread_local! {
    static CURRENT: Cell<Option<Box<Context>>> = const { Cell::new(None) };
    /// This thread's last finished context, reused by the next trace it starts.
    static SPARE_CONTEXT: Cell<Option<Box<Context>>> = const { Cell::new(None) };
    /// Whether the installed context is unsampled: a flag without a destructor, so the
    /// unsampled path returns without touching `CURRENT`. Kept in step with every change
    /// of the installed context (a context's sampling decision never changes).
    static IN_UNSAMPLED: Cell<bool> = const { Cell::new(false) };
}

/// Keeps one finished context per thread for reuse.
fn recycle_context(ctx: Box<Context>) {
    let _ = SPARE_CONTEXT.try_with(|spare| spare.set(Some(ctx)));
}

/// Gives back a context its owner is done with (its segment finished), for the next
/// trace this thread starts: a request's context then costs no allocation.
#[inline]
pub(crate) fn retire(ctx: Box<Context>) {
    recycle_context(ctx);
}

/// A context from this thread's spare, if there is one.
fn spare_context() -> Option<Box<Context>> {
    SPARE_CONTEXT.try_with(Cell::take).ok().flatten()
}

#[inline]
fn set_unsampled(ctx: Option<&Context>) {
    IN_UNSAMPLED.set(ctx.is_some_and(|ctx| !ctx.sampled));
}

/// Runs `f` on the installed context, if any. `f` must not re-enter this module.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&mut Context) -> R) -> Option<R> {
    CURRENT
        .try_with(|slot| {
            let mut ctx = slot.take()?;
            let result = f(&mut ctx);
            slot.set(Some(ctx));
            Some(result)
        })
        .ok()
        .flatten()
}

/// Installs `ctx` as the current context, returning what was installed before.
#[inline]
pub(crate) fn install(ctx: Option<Box<Context>>) -> Option<Box<Context>> {
    set_unsampled(ctx.as_deref());
    CURRENT.try_with(|slot| slot.replace(ctx)).ok().flatten()
}

/// Whether a context is installed on this thread.
pub(crate) fn has_current() -> bool {
    CURRENT
        .try_with(|slot| {
            let ctx = slot.take();
            let present = ctx.is_some();
            slot.set(ctx);
            present
        })
        .unwrap_or(false)
}

/// Opens a span in the installed context, or in a new ephemeral context for a new trace.
#[inline]
pub(crate) fn open(init: SpanInit) -> Handle {
    if !settings::is_enabled() || IN_UNSAMPLED.get() {
        return Handle::NOOP;
    }
    CURRENT
        .try_with(|slot| match slot.take() {
            Some(mut ctx) => {
                let handle = ctx.open(init);
                slot.set(Some(ctx));
                handle
            }
            None => match Context::new_trace() {
                Some(mut ctx) => {
                    ctx.ephemeral = true;
                    let handle = ctx.open(init);
                    set_unsampled(Some(&ctx));
                    slot.set(Some(ctx));
                    handle
                }
                None => Handle::NOOP,
            },
        })
        .unwrap_or(Handle::NOOP)
}

/// Opens a span in `ctx`, installed as a new ephemeral context (an entry span continuing
/// a remote trace). If a context is already installed, the span joins it instead.
pub(crate) fn open_with(mut ctx: Box<Context>, init: SpanInit) -> Handle {
    CURRENT
        .try_with(|slot| match slot.take() {
            Some(mut current) => {
                let handle = current.open(init);
                current.join_incoming(handle, ctx);
                slot.set(Some(current));
                handle
            }
            None => {
                ctx.ephemeral = true;
                let handle = ctx.open(init);
                set_unsampled(Some(&ctx));
                slot.set(Some(ctx));
                handle
            }
        })
        .unwrap_or(Handle::NOOP)
}

/// Closes a span of the installed context. A span whose context is not installed here is
/// left alone (its owner closes it when it finishes).
#[inline]
pub(crate) fn close(handle: Handle) {
    if handle.is_noop() {
        return;
    }
    let panicking = std::thread::panicking();
    let end = clock::now_raw();
    let _ = CURRENT.try_with(|slot| {
        let Some(mut ctx) = slot.take() else {
            return;
        };
        if panicking && let Some(span) = ctx.span_mut(handle) {
            span.is_error = true;
        }
        let idle = ctx.close(handle, end);
        if idle && ctx.ephemeral {
            set_unsampled(None);
            recycle_context(ctx);
        } else {
            slot.set(Some(ctx));
        }
    });
}

/// Runs `f` on the span behind `handle`, if it is in the installed context.
#[inline]
pub(crate) fn with_span<R>(handle: Handle, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
    if !handle.is_recording() {
        return None;
    }
    with_current(|ctx| ctx.span_mut(handle).map(f)).flatten()
}

/// Adds a tag to the span behind `handle`, if it is in the installed context.
#[inline]
pub(crate) fn add_tag(handle: Handle, key: Str, value: Str) {
    if !handle.is_recording() {
        return;
    }
    with_current(|ctx| {
        if let Some(segment) = ctx.segment_of(handle) {
            segment.tags.push((handle.id, key, value));
        }
    });
}

/// Adds a log to the span behind `handle` (marking it failed if `error`), if it is in the
/// installed context.
pub(crate) fn add_log(handle: Handle, fields: Vec<(Str, Str)>, error: bool) {
    if !handle.is_recording() {
        return;
    }
    let time = clock::now_raw();
    with_current(|ctx| {
        if let Some(segment) = ctx.segment_of(handle) {
            segment.logs.push((handle.id, LogRecord { time, fields }));
            if error {
                segment.spans[handle.id as usize].is_error = true;
            }
        }
    });
}

/// Adds a log to the innermost open span of the installed context (used by the panic
/// hook).
pub(crate) fn log_on_current(fields: Vec<(Str, Str)>, error: bool) {
    add_log(current_handle(), fields, error);
}

/// The handle of the innermost open span of the installed context.
pub(crate) fn current_handle() -> Handle {
    with_current(|ctx| {
        let current = ctx.current;
        match &ctx.segment {
            Some(segment) if current >= 0 => Handle {
                key: segment_key(segment),
                id: current,
            },
            _ => Handle::NOOP,
        }
    })
    .unwrap_or(Handle::NOOP)
}

/// The outcome of opening a span for a future on its first poll.
#[derive(Debug)]
pub(crate) enum Opened {
    /// The span joined the installed context.
    Child(Handle),
    /// There was no context: the future owns this new one.
    Owner(Box<Context>, Handle),
    /// The agent is off.
    Noop,
}

/// Opens a span in the installed context, or in `incoming` (a continued trace) or a new
/// trace when there is none; in the latter cases the caller owns the context.
pub(crate) fn open_or_own(init: SpanInit, incoming: Option<Box<Context>>) -> Opened {
    CURRENT
        .try_with(|slot| match slot.take() {
            Some(mut ctx) => {
                // A future's span is current only while it is polled (see `enter`).
                let parent = ctx.current;
                let handle = ctx.open(init);
                ctx.current = parent;
                if let Some(incoming) = incoming {
                    ctx.join_incoming(handle, incoming);
                }
                slot.set(Some(ctx));
                Opened::Child(handle)
            }
            None => match incoming.or_else(Context::new_trace) {
                Some(mut ctx) => {
                    let handle = ctx.open(init);
                    Opened::Owner(ctx, handle)
                }
                None => Opened::Noop,
            },
        })
        .unwrap_or(Opened::Noop)
}

/// Makes `handle` the current span while a child future polls; returns what to restore.
#[inline]
pub(crate) fn enter(handle: Handle) -> Option<i32> {
    if !handle.is_recording() {
        return None;
    }
    with_current(|ctx| {
        if ctx.owns(handle) {
            Some(std::mem::replace(&mut ctx.current, handle.id))
        } else {
            None
        }
    })
    .flatten()
}

/// Undoes [`enter`].
#[inline]
pub(crate) fn exit(handle: Handle, previous: Option<i32>) {
    if let Some(previous) = previous {
        with_current(|ctx| {
            if ctx.owns(handle) {
                ctx.current = previous;
            }
        });
    }
}

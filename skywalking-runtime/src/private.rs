//! What `#[trace]` expansions call. Not a public API: hidden, and free to change with the
//! macro crate, which is pinned to this crate's exact version.
//!
//! The expansion keeps to a few calls so that most of the logic lives here, compiled
//! once, rather than in every annotated function.

use std::borrow::Cow;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

pub use crate::record::{SpanKind, SpanLayer, component};
pub use crate::trace::span::{Span, SpanRef};
pub use ::core;

use crate::propagation::{Extractor, Injector};
use crate::trace::context::{Context, SpanInit};
use crate::trace::future::Instrumented;

/// The static part of an annotated function's span.
#[derive(Debug)]
pub struct Meta {
    /// Operation name.
    pub name: &'static str,
    /// Entry, exit or local.
    pub kind: SpanKind,
    /// Layer.
    pub layer: SpanLayer,
    /// Component id.
    pub component: i32,
}

impl Meta {
    /// The metadata of a local span with the default layer and component (the common
    /// case, kept short in expansions).
    pub const fn local(name: &'static str) -> Meta {
        Meta {
            name,
            kind: SpanKind::Local,
            layer: SpanLayer::Unknown,
            component: component::RUST,
        }
    }

    #[inline]
    fn init(&'static self, peer: Cow<'static, str>) -> SpanInit {
        SpanInit {
            kind: self.kind,
            name: Cow::Borrowed(self.name),
            peer,
            layer: self.layer,
            component: self.component,
        }
    }
}

/// Opens the span of a sync function (local or exit).
#[inline]
pub fn enter(meta: &'static Meta) -> Span {
    Span::open(meta.init(Cow::Borrowed("")))
}

/// Opens the exit span of a sync function.
#[inline]
pub fn enter_exit(meta: &'static Meta, peer: impl Into<Cow<'static, str>>) -> Span {
    Span::open(meta.init(peer.into()))
}

/// Opens the entry span of a sync function, continuing the trace in `carrier`.
#[inline]
pub fn enter_entry<C: Extractor + ?Sized>(meta: &'static Meta, carrier: &C) -> Span {
    Span::from_handle(crate::trace::remote::open_entry(
        meta.init(Cow::Borrowed("")),
        carrier,
    ))
}

/// Wraps the body of an async function (local or exit).
#[inline]
pub fn instrument<F: Future>(meta: &'static Meta, future: F) -> Instrumented<F> {
    Instrumented::with_span(future, meta.init(Cow::Borrowed("")), None)
}

/// Wraps the body of an async exit function.
#[inline]
pub fn instrument_exit<F: Future>(
    meta: &'static Meta,
    peer: impl Into<Cow<'static, str>>,
    future: F,
) -> Instrumented<F> {
    Instrumented::with_span(future, meta.init(peer.into()), None)
}

/// Wraps the body of an async entry function; the headers are read now, before the
/// future runs.
#[inline]
pub fn instrument_entry<C: Extractor + ?Sized, F: Future>(
    meta: &'static Meta,
    carrier: &C,
    future: F,
) -> Instrumented<F> {
    let incoming = crate::trace::remote::incoming_context(carrier);
    Instrumented::with_span(future, meta.init(Cow::Borrowed("")), incoming)
}

/// The span the annotated function is running in (for its tags, inside an async body).
#[inline]
pub fn current() -> SpanRef {
    crate::trace::span::current_span()
}

/// Writes the trace context of `span` into `carrier` (exit spans with `headers = ..`).
#[inline]
pub fn inject<C: Injector + ?Sized>(span: SpanRef, carrier: &mut C) {
    span.inject(carrier);
}

/// Marks the span as failed when `result` is an `Err`, logging the error's `Display`.
#[inline]
pub fn record_result<T, E: Display>(span: SpanRef, result: &Result<T, E>) {
    if let Err(error) = result {
        span.record_error(error);
    }
}

/// Converts a tag value, evaluated only when the span records.
#[inline]
pub fn tag_value<V: Display>(value: V) -> Cow<'static, str> {
    Cow::Owned(value.to_string())
}

/// The trace an entry function continues, read from its headers before its body runs
/// (the body may move the request the headers borrow from).
#[derive(Debug)]
pub struct Incoming(Option<Box<Context>>);

/// Reads the incoming trace context of an async entry function.
#[inline]
pub fn extract<C: Extractor + ?Sized>(carrier: &C) -> Incoming {
    Incoming(crate::trace::remote::incoming_context(carrier))
}

/// Wraps the body of an async entry function whose headers were read by [`extract`].
#[inline]
pub fn instrument_incoming<F: Future>(
    meta: &'static Meta,
    incoming: Incoming,
    future: F,
) -> Instrumented<F> {
    Instrumented::with_span(future, meta.init(Cow::Borrowed("")), incoming.0)
}

/// The body of an async function whose `skip_if` held: no span, no context of its own.
#[inline]
pub fn passthrough<F: Future>(future: F) -> Instrumented<F> {
    Instrumented::with_context(future, None)
}

/// Runs the body of a sync function with `err` (as a closure, so that `?` and `return`
/// come back here). Taking `FnOnce` makes the closure own its captures, so references
/// derived from `&mut` arguments may still be returned.
#[inline]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

pin_project! {
    /// The body of an async function with `err`: on an `Err` output, marks the span the
    /// body runs in (the current one, inside [`Instrumented`]) as failed.
    #[must_use = "futures do nothing unless polled"]
    pub struct RecordErr<F: Future> {
        #[pin]
        inner: F,
        record: Option<fn(&F::Output)>,
    }
}

impl<F: Future> std::fmt::Debug for RecordErr<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordErr").finish_non_exhaustive()
    }
}

/// Wraps an async body for `err`; `active` is false when `skip_if` held. (The `Display`
/// bound is checked here, where the macro points errors at `err`.)
#[inline]
pub fn record_err<F, T, E>(active: bool, future: F) -> RecordErr<F>
where
    F: Future<Output = Result<T, E>>,
    E: Display,
{
    RecordErr {
        inner: future,
        record: active.then_some(|result: &Result<T, E>| record_result(current(), result)),
    }
}

impl<F: Future> Future for RecordErr<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = this.inner.poll(cx);
        if let (Some(record), Poll::Ready(result)) = (this.record, &output) {
            record(result);
        }
        output
    }
}

/// The metadata of a function with a default name: `meta`, named on the function's first
/// call and kept in `cell`; later calls cost one atomic load. `type_name` is that of a fn
/// item declared in the function's body: the function's path, with the `impl`'s type in
/// it (`app::billing::Cart::total::__sw_here` names the span `app::billing::Cart::total`).
/// Not generic, and `meta` is a value rather than a closure, so that a thousand annotated
/// functions compile no code of their own for it.
#[inline]
pub fn lazy_meta(
    cell: &'static std::sync::OnceLock<Meta>,
    type_name: &'static str,
    meta: Meta,
) -> &'static Meta {
    match cell.get() {
        Some(meta) => meta,
        None => init_meta(cell, type_name, meta),
    }
}

#[cold]
#[inline(never)]
fn init_meta(
    cell: &'static std::sync::OnceLock<Meta>,
    type_name: &'static str,
    meta: Meta,
) -> &'static Meta {
    cell.get_or_init(|| Meta {
        name: fn_path(type_name),
        ..meta
    })
}

/// The function's path in the `type_name` of an item declared in its body: without the
/// item's segment and the `{{closure}}` segments of an `async fn`, a `<Type as Trait>::f`
/// as `Type::f`, and no generic arguments (`app::Wrapper<_>::f` as `app::Wrapper::f`).
/// A slice of `type_name` when only segments are cut; otherwise (a trait or generic
/// impl, a function inside a closure) a string leaked once per function.
fn fn_path(type_name: &'static str) -> &'static str {
    let mut path = type_name
        .rsplit_once("::")
        .map_or(type_name, |(function, _)| function);
    while let Some(parent) = path.strip_suffix("::{{closure}}") {
        path = parent;
    }
    if !path.contains(['<', '{']) {
        return path;
    }
    let (mut depth, mut in_self, mut in_trait) = (0_usize, path.starts_with('<'), false);
    let mut kept = String::with_capacity(path.len());
    for (i, c) in path.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if !path[..i].ends_with('-') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    (in_self, in_trait) = (false, false);
                }
            }
            ' ' if in_self && depth == 1 && path[i..].starts_with(" as ") => in_trait = true,
            _ if !in_trait && depth == usize::from(in_self) => kept.push(c),
            _ => {}
        }
    }
    let segments: Vec<&str> = kept
        .split("::")
        .filter(|segment| !segment.starts_with("{{"))
        .collect();
    Box::leak(segments.join("::").into_boxed_str())
}

//! HOT PATH. [`Span`]: a span that is open until it is dropped.

use std::borrow::Cow;
use std::fmt;

use crate::propagation::{Extractor, Injector};
use crate::record::{SpanKind, SpanLayer, Str, component};
use crate::trace::context::{self, Handle, SpanInit};

/// An open span of the current trace; dropping it closes the span.
///
/// Opening a span with no trace active on this thread or task starts a new trace
/// (subject to sampling). With no agent running, or for an unsampled trace, a `Span` is a
/// no-op that costs a few nanoseconds.
///
/// ```
/// use skywalking_runtime::Span;
///
/// fn load(id: u64) {
///     let mut span = Span::local("load");
///     if span.is_recording() {
///         span.add_tag("user.id", id.to_string());
///     }
///     // ... the span closes here
/// }
/// # load(7);
/// ```
#[must_use = "a span closes when it is dropped"]
pub struct Span {
    /// The span this guard closes; `Deref` lends it out.
    span: SpanRef,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("recording", &self.span.handle.is_recording())
            .finish()
    }
}

impl Span {
    /// Opens a local span: work inside this process.
    #[inline]
    pub fn local(name: impl Into<Cow<'static, str>>) -> Span {
        Span::open(SpanInit {
            kind: SpanKind::Local,
            name: name.into(),
            peer: Cow::Borrowed(""),
            layer: SpanLayer::Unknown,
            component: component::RUST,
        })
    }

    /// Opens an exit span: a call to `peer` (`host:port` or another name the callee is
    /// known by). Call [`SpanRef::inject`] to pass the trace on in the request's headers.
    #[inline]
    pub fn exit(name: impl Into<Cow<'static, str>>, peer: impl Into<Cow<'static, str>>) -> Span {
        Span::open(SpanInit {
            kind: SpanKind::Exit,
            name: name.into(),
            peer: peer.into(),
            layer: SpanLayer::Unknown,
            component: component::RUST,
        })
    }

    /// Opens an entry span: the server side of a call. When no trace is active here and
    /// `carrier` holds a valid `sw8` (or, failing that, `traceparent`) header, the span
    /// continues the caller's trace; a malformed header starts a new trace.
    pub fn entry<C: Extractor + ?Sized>(name: impl Into<Cow<'static, str>>, carrier: &C) -> Span {
        let init = SpanInit {
            kind: SpanKind::Entry,
            name: name.into(),
            peer: Cow::Borrowed(""),
            layer: SpanLayer::Unknown,
            component: component::RUST,
        };
        Span::from_handle(crate::trace::remote::open_entry(init, carrier))
    }

    /// A span that records nothing.
    pub const fn noop() -> Span {
        Span::from_handle(Handle::NOOP)
    }

    #[inline]
    pub(crate) fn open(init: SpanInit) -> Span {
        Span::from_handle(context::open(init))
    }

    #[inline]
    pub(crate) const fn from_handle(handle: Handle) -> Span {
        Span {
            span: SpanRef { handle },
        }
    }

    /// A handle to this span that does not close it.
    #[inline]
    pub fn as_ref(&self) -> SpanRef {
        self.span
    }

    /// Sets the layer (HTTP, database, ...) and returns the span.
    #[inline]
    pub fn with_layer(self, layer: SpanLayer) -> Self {
        self.set_layer(layer);
        self
    }

    /// Sets the component id (see [`component`](crate::component)) and returns the span.
    #[inline]
    pub fn with_component(self, component: i32) -> Self {
        self.set_component(component);
        self
    }

    /// Adds a tag and returns the span.
    #[inline]
    pub fn with_tag(
        self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.add_tag(key, value);
        self
    }
}

impl std::ops::Deref for Span {
    type Target = SpanRef;

    #[inline]
    fn deref(&self) -> &SpanRef {
        &self.span
    }
}

/// A handle to an open span that does not close it: the span a [`Span`] guard holds
/// (through `Deref`), or the innermost span of the current trace ([`current_span`]).
/// Every method is a no-op once the span has closed or when it records nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SpanRef {
    handle: Handle,
}

impl fmt::Debug for SpanRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanRef")
            .field("recording", &self.is_recording())
            .finish()
    }
}

/// The innermost open span of the trace active on this thread or task.
///
/// ```
/// #[skywalking_runtime::trace]
/// fn charge(amount: u64) {
///     skywalking_runtime::current_span().add_tag("amount", amount.to_string());
/// }
/// # charge(3);
/// ```
pub fn current_span() -> SpanRef {
    SpanRef {
        handle: context::current_handle(),
    }
}

impl SpanRef {
    /// Whether this span records anything. Check it before computing costly tag values.
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.handle.is_recording()
    }

    /// Sets the layer (HTTP, database, ...).
    #[inline]
    pub fn set_layer(&self, layer: SpanLayer) {
        context::with_span(self.handle, |s| s.layer = layer);
    }

    /// Sets the component id (see [`component`](crate::component)).
    #[inline]
    pub fn set_component(&self, component: i32) {
        context::with_span(self.handle, |s| s.component = component);
    }

    /// Adds a tag. OAP indexes some keys (`http.method`, `http.status_code`,
    /// `db.statement`, ...).
    #[inline]
    pub fn add_tag(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Cow<'static, str>>) {
        if self.is_recording() {
            context::add_tag(self.handle, key.into(), value.into());
        }
    }

    /// Adds a log: timestamped key/value pairs.
    pub fn add_log<K, V>(&self, fields: impl IntoIterator<Item = (K, V)>)
    where
        K: Into<Cow<'static, str>>,
        V: Into<Cow<'static, str>>,
    {
        if self.is_recording() {
            let fields: Vec<(Str, Str)> = fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect();
            context::add_log(self.handle, fields, false);
        }
    }

    /// Marks the span as failed (or not).
    #[inline]
    pub fn set_error(&self, error: bool) {
        context::with_span(self.handle, |s| s.is_error = error);
    }

    /// Marks the span as failed and logs `error`'s message, as the Java agent does
    /// (`event=error`, `error.kind`, `message`).
    pub fn record_error(&self, error: &dyn fmt::Display) {
        if self.is_recording() {
            let message = error.to_string();
            self.add_log([
                ("event", Cow::Borrowed("error")),
                ("error.kind", Cow::Borrowed("error")),
                ("message", Cow::Owned(message)),
            ]);
            self.set_error(true);
        }
    }

    /// Renames the span (for example, once a route is known). Like every name, it is
    /// cut to 150 characters when it leaves the process.
    pub fn set_operation_name(&self, name: impl Into<Cow<'static, str>>) {
        let name = name.into();
        context::with_span(self.handle, |s| s.name = name);
    }

    /// Sets the peer of an exit span (cut to 300 bytes when it leaves the process).
    pub fn set_peer(&self, peer: impl Into<Cow<'static, str>>) {
        let peer = peer.into();
        context::with_span(self.handle, |s| s.peer = peer);
    }

    /// Writes the trace context (`sw8`, plus `sw8-correlation` and `sw8-x` when they
    /// carry anything) into `carrier`, naming this span as the caller. Use it on an exit
    /// span, before sending the request. Does nothing when no trace is active.
    pub fn inject<C: Injector + ?Sized>(&self, carrier: &mut C) {
        crate::trace::remote::inject(self.handle, carrier, false);
    }

    /// Like [`SpanRef::inject`], and also writes a W3C `traceparent` header.
    pub fn inject_with_traceparent<C: Injector + ?Sized>(&self, carrier: &mut C) {
        crate::trace::remote::inject(self.handle, carrier, true);
    }

    /// Records on this span the caller named by `carrier`'s `sw8` header, as a
    /// `CrossProcess` reference. A span may carry several: a consumer that handles a
    /// batch of messages in one entry span adds one per message, so OAP links each
    /// producer to it. Returns whether a reference was added (false without a valid
    /// `sw8`, or when the span records nothing).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use skywalking_runtime::Span;
    ///
    /// # let batch: Vec<HashMap<String, String>> = Vec::new();
    /// let poll = Span::entry("Kafka/orders/Consumer/billing", &HashMap::<String, String>::new());
    /// for headers in &batch {
    ///     poll.continue_from(headers);
    /// }
    /// ```
    pub fn continue_from<C: Extractor + ?Sized>(&self, carrier: &C) -> bool {
        crate::trace::remote::add_reference(self.handle, carrier)
    }
}

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        context::close(self.span.handle);
    }
}

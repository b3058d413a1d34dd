//! The `tracing` bridge (feature `tracing`): `tracing` spans become SkyWalking local
//! spans, events become span logs and reported logs, and log lines can carry the trace
//! ids.
//!
//! ```
//! use skywalking_runtime::integrations::tracing::{TracingLayer, WithTraceIds};
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! tracing_subscriber::registry()
//!     .with(TracingLayer::new())
//!     .with(
//!         tracing_subscriber::fmt::layer()
//!             .event_format(WithTraceIds::new(tracing_subscriber::fmt::format())),
//!     )
//!     .init();
//!
//! #[tracing::instrument]
//! fn load_user(id: u64) {
//!     // Printed as "[tid=… sid=… spid=1] 2025-… INFO load_user{id=7}: …: loading".
//!     tracing::info!("loading");
//! }
//!
//! #[skywalking_runtime::trace]
//! fn handle() {
//!     load_user(7); // a local span "load_user", child of "…::handle"
//! }
//! # handle();
//! ```
//!
//! # Spans: [`TracingLayer`]
//!
//! A `tracing` span becomes a **local span of the SkyWalking segment active where it is
//! first entered**, named by the span's name (for `#[tracing::instrument]`, the function's
//! name), with component `Rust`:
//!
//! - **first enter**: the SkyWalking span opens as a child of the current SkyWalking span
//!   (a `#[sw::trace]` function, an entry span of a server integration, or an enclosing
//!   `tracing` span). Its start time is this first enter, not the span's creation. With
//!   no SkyWalking trace active there, the `tracing` span records nothing, then and on
//!   later enters: `tracing` spans join traces, they never start one (library spans, such
//!   as h2's or hyper's, would otherwise make a trace each);
//! - **every enter / exit**: while entered, the span is the current SkyWalking span (so
//!   spans opened inside are its children and [`LogContext`] names it); on exit the
//!   previous current span is restored. A `tracing` span entered on each poll of a future
//!   (`.instrument(span)`, `#[instrument] async fn`) is current exactly during its polls,
//!   the way `#[sw::trace]` futures are;
//! - **close** (the last handle to the span dropped): the SkyWalking span closes. If that
//!   happens where its segment is not installed (the span was moved to another task), the
//!   span stays open until its segment ends, which closes it.
//!
//! With tower-http's `TraceLayer` (or any middleware that makes a `tracing` span per
//! request), put SkyWalking's server layer *outside* it (on an axum `Router`, call its
//! `.layer` after `TraceLayer`'s: each `Router::layer` wraps what was added before), so
//! the entry span is open when the request's `tracing` span is first entered and that
//! span becomes its child.
//!
//! With no agent running, spans entered then are left alone (nothing is stored in
//! their extensions).
//!
//! The SkyWalking span lives in the `tracing` span's extensions. Span fields are not
//! recorded by default (`#[instrument]` records every argument, which leaks secrets and
//! costs; see [`TracingLayer::record_fields`]).
//!
//! # Events
//!
//! Inside a recorded SkyWalking span an event becomes a **span log** with the keys
//! `level`, `logger` (the target), `message` and the event's other fields. At or above
//! `SW_AGENT_LOG_REPORTER_LEVEL` (default `WARN`) it is also **reported** to OAP's
//! `LogReportService` with its trace context, the endpoint (the segment's entry span),
//! the tags `level`, `logger`, `file`, `line` and the event's other fields, the
//! `message` being the body. Events from the agent's own reporter thread are never
//! reported. Each of the two can be turned off ([`TracingLayer::span_logs`],
//! [`TracingLayer::report_logs`]); `tracing_subscriber`'s per-layer filters
//! (`.with_filter(..)`) decide which spans and events the layer sees at all.
//!
//! # Log lines: [`WithTraceIds`]
//!
//! Wraps any [`FormatEvent`] (such as `tracing_subscriber::fmt::format()`, its `.json()`
//! or `.compact()` forms, or your own) and writes `[tid=<trace> sid=<segment>
//! spid=<span>] ` before each line, `N/A` standing for a missing id (the format of
//! [`LogContext`]).
//!
//! [`LogContext`]: crate::LogContext

use std::borrow::Cow;
use std::fmt;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::logs::ids::LogContext;
use crate::logs::{self, LogLevel, Record as Captured};
use crate::record::{SpanKind, SpanLayer, Str, component};
use crate::trace::context::{self, Handle, Opened, SpanInit};

/// A [`Layer`] that turns `tracing` spans into SkyWalking local spans and events into
/// span logs and reported logs. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct TracingLayer {
    record_fields: bool,
    span_logs: bool,
    report_logs: bool,
}

impl Default for TracingLayer {
    fn default() -> Self {
        TracingLayer::new()
    }
}

impl TracingLayer {
    /// The layer: spans, span logs and log reporting on; span fields not recorded.
    pub fn new() -> Self {
        TracingLayer {
            record_fields: false,
            span_logs: true,
            report_logs: true,
        }
    }

    /// Records each span's fields (those given at creation and those recorded later) as
    /// tags of its SkyWalking span. Off by default: `#[instrument]` records every
    /// argument unless told otherwise.
    #[must_use]
    pub fn record_fields(mut self, on: bool) -> Self {
        self.record_fields = on;
        self
    }

    /// Whether events inside a recorded span become logs of that span (default on).
    #[must_use]
    pub fn span_logs(mut self, on: bool) -> Self {
        self.span_logs = on;
        self
    }

    /// Whether events at or above `SW_AGENT_LOG_REPORTER_LEVEL` are reported to OAP
    /// (default on).
    #[must_use]
    pub fn report_logs(mut self, on: bool) -> Self {
        self.report_logs = on;
        self
    }
}

/// What the layer keeps in a `tracing` span's extensions once it has been entered.
#[derive(Debug)]
struct Bridged {
    /// The SkyWalking span; a no-op one when no trace was active at the first enter.
    handle: Handle,
    /// For each enter not yet exited: what [`context::enter`] returned, to restore.
    entered: Vec<Option<i32>>,
}

/// Span fields waiting for the first enter (with `record_fields`).
#[derive(Debug, Default)]
struct PendingFields(Vec<(Str, Str)>);

/// Collects fields as strings, the `message` field apart.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    fields: Vec<(Str, Str)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.fields
                .push((Cow::Borrowed(field.name()), Cow::Owned(value.to_owned())));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.fields
                .push((Cow::Borrowed(field.name()), Cow::Owned(text)));
        }
    }
}

fn level_of(level: Level) -> LogLevel {
    match level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if !self.record_fields || !crate::settings::is_enabled() {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(message) = fields.message {
            fields
                .fields
                .push((Cow::Borrowed("message"), Cow::Owned(message)));
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(PendingFields(fields.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        if !self.record_fields || !crate::settings::is_enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut extensions = span.extensions_mut();
        if let Some(bridged) = extensions.get_mut::<Bridged>() {
            for (key, value) in fields.fields {
                context::add_tag(bridged.handle, key, value);
            }
        } else if let Some(pending) = extensions.get_mut::<PendingFields>() {
            pending.0.extend(fields.fields);
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<Bridged>().is_none() {
            if !crate::settings::is_enabled() {
                // Nothing to bridge, and nothing to keep: no allocation.
                return;
            }
            let handle = open(span.name());
            if let Some(PendingFields(fields)) = extensions.remove::<PendingFields>() {
                for (key, value) in fields {
                    context::add_tag(handle, key, value);
                }
            }
            extensions.insert(Bridged {
                handle,
                entered: Vec::new(),
            });
        }
        if let Some(bridged) = extensions.get_mut::<Bridged>() {
            let previous = context::enter(bridged.handle);
            bridged.entered.push(previous);
        }
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        if let Some(bridged) = span.extensions_mut().get_mut::<Bridged>() {
            let previous = bridged.entered.pop().flatten();
            context::exit(bridged.handle, previous);
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        if let Some(bridged) = span.extensions_mut().remove::<Bridged>() {
            context::close(bridged.handle);
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let metadata = event.metadata();
        let level = level_of(*metadata.level());
        let report = self.report_logs && logs::enabled(level);
        let handle = if self.span_logs {
            context::current_handle()
        } else {
            Handle::NOOP
        };
        if !report && !handle.is_recording() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.message.unwrap_or_default();
        if handle.is_recording() {
            let mut log: Vec<(Str, Str)> = Vec::with_capacity(3 + fields.fields.len());
            log.push((Cow::Borrowed("level"), Cow::Borrowed(level.as_str())));
            log.push((Cow::Borrowed("logger"), Cow::Borrowed(metadata.target())));
            log.push((Cow::Borrowed("message"), Cow::Owned(message.clone())));
            log.extend(fields.fields.iter().cloned());
            context::add_log(handle, log, false);
        }
        if report {
            logs::capture(level, || Captured {
                logger: Cow::Borrowed(metadata.target()),
                file: metadata.file().map(Cow::Borrowed),
                line: metadata.line(),
                body: message,
                tags: fields.fields,
            });
        }
    }
}

/// Opens a local span named `name` in the installed context; a no-op span when there is
/// none.
fn open(name: &'static str) -> Handle {
    if !context::has_current() {
        return Handle::NOOP;
    }
    let init = SpanInit {
        kind: SpanKind::Local,
        name: Cow::Borrowed(name),
        peer: Cow::Borrowed(""),
        layer: SpanLayer::Unknown,
        component: component::RUST,
    };
    match context::open_or_own(init, None) {
        Opened::Child(handle) => handle,
        // Unreachable (a context is installed), and a span that would own its context
        // has nowhere to live: record nothing.
        Opened::Owner(..) | Opened::Noop => Handle::NOOP,
    }
}

/// A [`FormatEvent`] that writes `[tid=<trace> sid=<segment> spid=<span>] ` and then the
/// line `inner` formats. See the [module docs](self).
///
/// ```
/// use skywalking_runtime::integrations::tracing::WithTraceIds;
///
/// let subscriber = tracing_subscriber::fmt()
///     .event_format(WithTraceIds::new(tracing_subscriber::fmt::format().compact()))
///     .finish();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!("no trace here: ids print as N/A");
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct WithTraceIds<F> {
    inner: F,
}

impl<F> WithTraceIds<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        WithTraceIds { inner }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "[{}] ", LogContext::current())?;
        self.inner.format_event(ctx, writer, event)
    }
}

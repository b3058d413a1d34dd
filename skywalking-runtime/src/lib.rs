//! The Apache SkyWalking agent for Rust.
//!
//! One attribute instruments a function; this crate carries the trace context, samples,
//! and reports what was recorded to a SkyWalking OAP.
//!
//! ```toml
//! [dependencies]
//! sw = { package = "skywalking-runtime", version = "0.1" }
//! ```
//!
//! ```
//! use skywalking_runtime as sw;
//!
//! #[sw::trace]
//! fn price(qty: u32) -> u32 {
//!     qty * 3
//! }
//! # assert_eq!(price(2), 6);
//! ```
//!
//! # The model
//!
//! SkyWalking groups spans into *segments*: the spans one trace recorded in one thread or
//! task. A segment's first span has id 0 and parent -1; a segment that continues work
//! started elsewhere carries a *reference* on its first span: `CrossProcess` for an
//! incoming request (from the `sw8` header), `CrossThread` for a spawned task.
//!
//! - [`Span`] opens a span that closes when dropped: [`Span::local`], [`Span::entry`]
//!   (continues the caller's trace from its headers), [`Span::exit`] (with
//!   [`SpanRef::inject`] to pass the trace on).
//! - In async code the context travels with the future: [`FutureExt::in_span`] and
//!   `#[trace]` on an `async fn` enter it on every poll, so it survives `.await` and
//!   thread migration. [`spawn`] and [`FutureExt::in_current_context`] carry it into
//!   another task.
//! - Finished segments go to a bounded queue (never blocking; drops are counted in
//!   [`stats()`]) that a reporter thread drains.
//!
//! # Logs and meters
//!
//! - [`trace_id()`], [`segment_id()`], [`span_id()`] and [`LogContext`] (which prints
//!   `tid=… sid=… spid=…`, `N/A` for a missing id) put the current ids in log lines.
//!   Feature `log`: `integrations::log::SkyWalkingLogger` wraps any `log::Log`; feature
//!   `tracing`: `integrations::tracing::SkyWalkingLayer` makes `tracing` spans local spans
//!   of the current segment, and `WithTraceIds` prints the ids on each line.
//! - Records of either at or above `SW_AGENT_LOG_REPORTER_LEVEL` (default `WARN`) go to
//!   OAP's `LogReportService` with their trace context, through the same reporter thread
//!   and connection as segments, from a bounded queue of their own.
//! - [`meter`]: counters, gauges and histograms with labels, plus process and tokio
//!   runtime meters, sent every `SW_AGENT_METER_COLLECT_INTERVAL` seconds (default 20).
//!
//! # Performance
//!
//! Opening and closing a span does no I/O, takes no lock and, in steady state, allocates
//! nothing: it pushes a record into the segment's reused buffer and reads a TSC-based
//! clock twice. Protocol encoding happens on the reporter thread. With no agent running,
//! or in an unsampled trace, a span costs a thread-local read. See `BENCHMARKS.md`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod agent;
mod clock;
mod config;
mod context;
mod diag;
mod error;
mod future;
mod id;
pub mod integrations;
mod log_context;
mod logging;
pub mod meter;
mod panic_hook;
mod propagate;
pub mod propagation;
mod record;
mod reporter;
mod sampling;
mod span;
mod stats;

pub use agent::{
    Agent, AgentBuilder, AgentGuard, DEFAULT_FLUSH_INTERVAL, DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_SPAN_LIMIT, flush, init, shutdown,
};
pub use config::{
    Config, DEFAULT_BACKEND, DEFAULT_CHECK_INTERVAL, DEFAULT_IGNORE_SUFFIX,
    DEFAULT_METER_COLLECT_INTERVAL, DEFAULT_SERVICE, Protocol,
};
pub use error::Error;
#[cfg(feature = "tokio")]
pub use future::spawn;
pub use future::{ContextSnapshot, FutureExt, Instrumented};
pub use id::Id;
pub use log_context::{LogContext, NOT_AVAILABLE, segment_id, span_id};
pub use logging::LogLevel;
pub use propagate::{correlation, set_correlation};
pub use record::{SpanKind, SpanLayer, TraceId, component};
pub use reporter::Reporter;
pub use skywalking_macros::trace;
pub use span::{Span, SpanRef, current_span};
pub use stats::{Stats, stats};

/// The id of the trace active on this thread or task, or `None`.
pub fn trace_id() -> Option<TraceId> {
    context::with_current(|ctx| ctx.trace_id.clone())
}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

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

// Layer 0: plain data and leaves.
mod clock;
mod diag;
mod error;
mod id;
pub mod meter;
pub mod propagation;
mod record;
mod settings;
mod stats;
// Layer 1: the bounded queues to the reporter.
mod queue;
// Layer 2: the trace core and the log capture.
mod logs;
mod trace;
// Layer 3: configuration and the reporter.
mod config;
mod reporter;
// Layer 4: the agent, which wires the others.
mod agent;

pub mod integrations;

pub use agent::{Agent, AgentBuilder, init};
pub use config::Config;
pub use error::Error;
pub use id::Id;
pub use logs::LogLevel;
pub use logs::ids::{LogContext, NOT_AVAILABLE, segment_id, span_id, trace_id};
pub use record::{SpanKind, SpanLayer, TraceId, component};
pub use reporter::Reporter;
pub use skywalking_macros::trace;
/// The SkyWalking v3 protocol messages, as [`Reporter`] receives them.
pub use skywalking_proto as proto;
pub use stats::{Stats, stats};
#[cfg(feature = "tokio")]
pub use trace::future::spawn;
pub use trace::future::{ContextSnapshot, FutureExt, Instrumented};
pub use trace::remote::{correlation, set_correlation};
pub use trace::span::{Span, SpanRef, current_span};

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

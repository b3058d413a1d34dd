#![doc = include_str!("../README.md")]
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
//!   `tracing`: `integrations::tracing::TracingLayer` makes `tracing` spans local spans
//!   of the current segment, and `WithTraceIds` prints the ids on each line.
//! - Records of either at or above `SW_AGENT_LOG_REPORTER_LEVEL` (default `WARN`) go to
//!   OAP's `LogReportService` with their trace context, through the same reporter thread
//!   and connection as segments, from a bounded queue of their own.
//! - [`meter`]: counters, gauges and histograms with labels, plus process and tokio
//!   runtime meters, sent every `SW_AGENT_METER_COLLECT_INTERVAL` seconds (default 20).
//!
//! # What OAP sees
//!
//! A mock collector accepts anything well-formed; OAP 10.2 analyses what it receives,
//! and the Java and Go agents downstream act on our headers. This agent follows them:
//!
//! | behaviour | follows |
//! |---|---|
//! | A trace that records nothing (unsampled, ignored path) sends **no `sw8`** downstream; `sw8-correlation` still travels | Java `IgnoredTracerContext`; Go never injects from a no-op span |
//! | With `SW_AGENT_KEEP_ERRORS` / `SW_AGENT_KEEP_SLOW_MS`, a trace the sampler drops is recorded and each segment judged at its end (reported if a span failed or it was slow); once such a trace sends `sw8` or is carried into another task it is kept whole: **a segment a header or a reference names is always reported** | a header must name a segment OAP receives (PROTOCOL.md 10.1); OAP's `slowTraceSegmentThreshold` only sees what agents send |
//! | Any valid incoming `sw8` is continued and recorded, whatever its sample flag | Java `ContextManager`, Go `plugins/core/tracing.go` ("always trace if the header exists") |
//! | Past the span limit, an injected header names the real (size-limited) segment and its nearest recorded span | a header must name a segment OAP receives |
//! | An entry span opened inside an active trace records the caller's `CrossProcess` reference; any span may carry several ([`SpanRef::continue_from`], for batch consumers) | Java `TracingContext.extract`; OAP `RPCAnalysisListener.parseEntry` treats an entry without a reference as called by `User` |
//! | `sw8` fields 6 (instance) and 8 (address) must not be empty when decoding | Java `ContextCarrier.isValid` |
//! | A `CrossThread` reference names this process's service and instance; a `CrossProcess` one, the caller's as its header named them | OAP `EndpointDepFromCrossThreadAnalysisListener` |
//! | A snapshot ([`ContextSnapshot`]) refers to the span of ours open when it was taken, or to nothing | a reference must name a segment of this trace that OAP receives |
//! | A spawned segment whose first span is an exit starts with a local span `Thread/<parent endpoint>` | OAP makes the first span of a segment with a `CrossThread` reference an endpoint: a raw URL there makes one endpoint per path |
//! | Operation names are cut to 150 characters and peers to 300 bytes wherever they leave the process (the wire and headers; the hot path stores them as given), service and instance names to what `sw8` may carry; every header written decodes | Java cuts names at 150 characters; OAP `NamingControl` |
//! | HTTP spans are errors from status 400; gRPC `rpc.status_code` is the code's name, read from the trailers when not in the headers | Java Tomcat/HttpClient, Go net/http; Java gRPC plugin |
//! | `sw8-x`'s send time becomes the entry span's `transmission.latency` tag | Java `ExtensionContext.handle` |
//! | The default instance name is `<32 hex>@<ipv4>` (at most 70 bytes; the host name, cut, where no IPv4 exists) | Java `ServiceInstanceGenerator`, Go `tracer.go`; OAP cuts instance names at 70 characters silently |
//! | The span clock is re-anchored to the wall clock every 10 s, off the hot path | Java and Go read the wall clock per span; OAP buckets metrics by span start minute |
//! | Reported logs carry a trace context only when a span of it records | OAP links a log to a trace it would never receive otherwise |
//! | Meters: see [`meter`] for the MAL rule file OAP needs to keep them | OAP `MeterProcessor` keeps only meters a rule names |
//!
//! # Running in production
//!
//! - **Backend check**: at start the agent checks each collector address on a thread of
//!   its own and logs one line per address, naming the variable to look at when OAP does
//!   not answer. `check_backend` (feature `grpc`) gives the same report to a program, and
//!   the `sw-check` binary (`cargo install skywalking-runtime`) to a shell.
//! - **Dynamic configuration**: the gRPC reporter polls OAP's
//!   `ConfigurationDiscoveryService` every
//!   `SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL` seconds (default 20) and
//!   applies, at runtime, the keys OAP serves for this service:
//!
//! | key | value | replaces |
//! |---|---|---|
//! | `agent.sample_rate` | a number from 0 to 1 (the Go agent's key) | `SW_AGENT_SAMPLE` |
//! | `agent.sample_n_per_3_secs` | traces per 3 s, 0 or less for no cap (the Java agent's key) | `SW_AGENT_SAMPLE_N_PER_3_SECS` |
//! | `agent.trace.ignore_path` | Ant-style paths, comma-separated (Java) | `SW_AGENT_TRACE_IGNORE_PATH` |
//! | `agent.ignore_suffix` | suffixes, comma-separated (Java) | `SW_AGENT_IGNORE_SUFFIX` |
//! | `agent.span_limit_per_segment` | a positive integer (Java) | `SW_AGENT_SPAN_LIMIT` |
//!
//!   A bad value is logged and the value in force kept; a key OAP no longer serves goes
//!   back to the local value; unknown keys are ignored. Nothing new is read on the hot
//!   path: the sampler's atomics and the ignore rules' slot are replaced whole.
//! - **Kubernetes**: `SW_AGENT_INSTANCE_PROPERTIES` (`key=value,...`, for the downward
//!   API's namespace, pod and node) adds instance properties; `shutdown_signal` (feature
//!   `signal`) resolves on SIGTERM or Ctrl-C, for a server's graceful shutdown, after
//!   which the dropped [`Agent`] sends what is still queued. See `examples/kubernetes`.
//! - **TLS** on with no CA path trusts the operating system's store (plus Mozilla's roots
//!   with the feature `tls-webpki-roots`).
//!
//! # Architecture
//!
//! The modules form layers; each imports only from the layers below it:
//!
//! ```text
//!  4  agent          the builder and the running Agent: wires everything below
//!  3  config/        every option, declared once (env names, parser, default, docs)
//!     reporter/      the reporter thread: drain, encode (wire.rs), gRPC, Kafka or a Reporter
//!  2  trace/         HOT: context (and its pools), span, future, remote (headers glue),
//!                    sampling, panic hook
//!     logs/          log capture and the ids for log lines
//!     integrations/  one module per framework, on trace/ and settings only
//!  1  queue          the bounded drop-and-count queue (segments, logs), reporter wake-up
//!  0  settings       the statics the hot path reads, and every default
//!     record, id, clock, stats, diag, error, propagation/ (header codecs), meter/,
//!     signal (shutdown_signal)
//! ```
//!
//! # Performance
//!
//! Opening and closing a span does no I/O, takes no lock and, in steady state, allocates
//! nothing: it pushes a record into the segment's reused buffer and reads a TSC-based
//! clock twice. Protocol encoding happens on the reporter thread. With no agent running,
//! or in an unsampled trace, a span costs a thread-local read. See `BENCHMARKS.md`.

#![cfg_attr(docsrs, feature(doc_cfg))]
// The agent must never panic the application: library code has no `unwrap` or `expect`
// (tests may).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

// Layer 0: plain data and leaves.
mod clock;
mod diag;
mod error;
mod id;
pub mod meter;
pub mod propagation;
mod record;
mod settings;
#[cfg(feature = "signal")]
mod signal;
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
pub use record::{RemoteId, SpanKind, SpanLayer, TraceId, component};
pub use reporter::Reporter;
#[cfg(feature = "grpc")]
pub use reporter::check::{BackendStatus, CheckPhase, Diagnosis, check_backend};
#[cfg(feature = "prometheus")]
pub use reporter::prometheus;
#[cfg(feature = "signal")]
pub use signal::shutdown_signal;
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

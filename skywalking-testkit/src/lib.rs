//! An in-process mock of the Apache SkyWalking OAP collector, for testing agents.
//!
//! [`MockCollector`] is a real gRPC server on a loopback port that speaks the v3
//! data-collect protocol and records everything it receives, so a test can run an
//! agent (or any gRPC client) against it and then assert on the segments, logs,
//! meters, instance properties and pings that arrived.
//!
//! # Getting started
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use skywalking_proto::v3::management_service_client::ManagementServiceClient;
//! use skywalking_proto::v3::InstancePingPkg;
//! use skywalking_testkit::MockCollector;
//!
//! // Binds 127.0.0.1 on an ephemeral port; serving starts in the background.
//! let collector = MockCollector::start().await?;
//!
//! // Point the code under test at `collector.endpoint()`. Here, a plain client:
//! let mut client = ManagementServiceClient::connect(collector.endpoint()).await?;
//! let ping = InstancePingPkg {
//!     service: "checkout".into(),
//!     service_instance: "checkout-1".into(),
//!     layer: "GENERAL".into(),
//! };
//! client.keep_alive(ping.clone()).await?;
//!
//! // Wait (without polling) until it arrived, then assert on it.
//! let pings = collector.wait_for_pings(1, Duration::from_secs(5)).await?;
//! assert_eq!(pings, vec![ping]);
//! # Ok(())
//! # }
//! ```
//!
//! # What it serves
//!
//! | service | RPCs | recorded in |
//! |---|---|---|
//! | `TraceSegmentReportService` | `collect`, `collectInSync` | [`segments`](MockCollector::segments) |
//! | `ManagementService` | `reportInstanceProperties`, `keepAlive` | [`properties`](MockCollector::properties), [`pings`](MockCollector::pings) |
//! | `LogReportService` | `collect` | [`logs`](MockCollector::logs) |
//! | `MeterReportService` | `collect`, `collectBatch` | [`meters`](MockCollector::meters) |
//! | `EventService` | `collect` | [`events`](MockCollector::events) |
//! | `ConfigurationDiscoveryService` | `fetchConfigurations` | [`configuration_requests`](MockCollector::configuration_requests) |
//!
//! Every RPC answers an empty `Commands`, as OAP does when it has nothing to say, except
//! `fetchConfigurations`, which answers with the agent configuration set for the
//! service (see below). Anything else gets `UNIMPLEMENTED`. Stream items are recorded
//! as they arrive.
//!
//! # Dynamic configuration
//!
//! [`MockCollector::set_agent_configurations`] (or
//! [`Builder::agent_configurations`]) sets what `fetchConfigurations` answers for a
//! service, as OAP's `configuration-discovery` module does: one
//! `ConfigurationDiscoveryCommand` with `SerialNumber`, `UUID` and the pairs, or an
//! empty `Commands` when the request carries the UUID of the current configuration. So
//! a test can change an agent's sampling or ignore rules while it runs:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), skywalking_testkit::Error> {
//! let collector = skywalking_testkit::MockCollector::start().await?;
//! collector.set_agent_configurations(
//!     "checkout",
//!     [("agent.sample_rate", "0.1"), ("agent.trace.ignore_path", "/health,/static/**")],
//! );
//! # Ok(())
//! # }
//! ```
//!
//! # Asserting on traces
//!
//! [`MockCollector::wait_for_segments`] and its siblings wait on a notification, not a
//! sleep loop. [`MockCollector::trace`] gives the segments of one trace, and
//! [`MockCollector::trace_tree`] renders them as an indented tree that follows the
//! segment references across services, which reads well in a failing assertion:
//!
//! ```text
//! [frontend] Entry GET /checkout (12 ms)
//!   [frontend] Exit POST /pay -> payment:8080 (9 ms)
//!     [payment] Entry POST /pay (7 ms) [error]
//! ```
//!
//! # Faults
//!
//! The [`Builder`] makes the collector misbehave in the ways a reporter must survive:
//! [`authentication`](Builder::authentication) (`PERMISSION_DENIED` without the right
//! token, as OAP), [`fail_first`](Builder::fail_first) (`UNAVAILABLE` for the first N
//! calls), [`delay`](Builder::delay) (slow answers) and
//! [`max_message_size`](Builder::max_message_size) (`RESOURCE_EXHAUSTED` beyond it).
//! [`MockCollector::stop`] and [`MockCollector::restart`] take it away and bring it
//! back on the same port. [`Builder::tls`] and [`Builder::client_ca`] serve TLS and
//! mutual TLS. Malformed input of any kind is answered with an error status; the
//! collector never panics on what a client sends.
//!
//! # The `sw-collector` binary
//!
//! `cargo run -p skywalking-testkit --bin sw-collector -- --listen 127.0.0.1:11800`
//! runs the same collector as a standalone process and prints each trace as a tree
//! once it has been quiet for a second, plus a line for every other message.

#![deny(unsafe_code)]
#![doc(test(no_crate_inject, attr(deny(warnings, rust_2018_idioms))))]

mod cds;
mod collector;
mod error;
mod faults;
#[cfg(feature = "kafka")]
pub mod kafka;
mod net;
mod router;
#[cfg(feature = "servers")]
pub mod servers;
mod services;
mod store;
mod tree;

pub use collector::{Builder, DEFAULT_MAX_MESSAGE_SIZE, MockCollector, STOP_GRACE};
pub use error::Error;
pub use store::Records;
pub use tree::{MAX_INDENT, render_trace_tree};

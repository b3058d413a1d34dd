//! Getting finished segments out of the process.
//!
//! Application threads push finished segments into a bounded queue (never
//! blocking, drops counted). One named thread, `skywalking-reporter`, drains it in
//! batches, encodes the segments to protocol messages and hands them to the gRPC client
//! (the default, feature `grpc`) or to a user's [`Reporter`]. Log records travel the same
//! way through a queue of their own, and the same thread collects
//! and sends the meters ([`crate::meter`]) on their own period.

#[cfg(any(feature = "grpc", feature = "kafka"))]
pub(crate) mod backoff;
#[cfg(feature = "grpc")]
pub(crate) mod cds;
#[cfg(feature = "grpc")]
pub(crate) mod check;
pub(crate) mod encode;
pub(crate) mod encode_logs;
#[cfg(feature = "grpc")]
pub(crate) mod grpc;
#[cfg(feature = "kafka")]
pub(crate) mod kafka;
#[cfg_attr(not(any(feature = "grpc", feature = "kafka")), allow(dead_code))]
pub(crate) mod management;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;
#[cfg(any(feature = "grpc", feature = "kafka"))]
pub(crate) mod runtime;
#[cfg(any(feature = "grpc", feature = "kafka"))]
pub(crate) mod wire;
pub(crate) mod worker;

use std::time::Instant;

use skywalking_proto::v3::{LogData, MeterDataCollection, SegmentObject};

/// Where encoded segments go, instead of the default gRPC reporter: set one with
/// [`AgentBuilder::reporter`](crate::AgentBuilder::reporter). Called on the reporter
/// thread only, never on a thread of the application and outside any async runtime, so
/// an implementation may block (briefly: while it blocks, segments wait in the bounded
/// queue and are dropped when it is full). A batch counts as sent once `report` returns.
/// A panic in any method is caught on the reporter thread: that batch is counted as
/// dropped (and in `send_errors`), the first panic is reported on stderr, and the next
/// batch is offered as usual.
///
/// ```
/// use skywalking_runtime::Reporter;
/// use skywalking_proto::v3::{LogData, MeterDataCollection, SegmentObject};
///
/// #[derive(Default)]
/// struct Count(usize);
///
/// impl Reporter for Count {
///     fn report(&mut self, segments: Vec<SegmentObject>) {
///         self.0 += segments.len();
///     }
/// }
/// ```
pub trait Reporter: Send + 'static {
    /// Takes a batch of finished segments.
    fn report(&mut self, segments: Vec<SegmentObject>);

    /// Takes a batch of log records (see `SW_AGENT_LOG_REPORTER_LEVEL` and the `log` and
    /// `tracing` integrations). They are dropped by default.
    fn report_logs(&mut self, logs: Vec<LogData>) {
        let _ = logs;
    }

    /// Takes one collection of meters (see [`meter`](crate::meter)), split into
    /// `MeterDataCollection`s as `collectBatch` would send them. They are dropped by
    /// default.
    fn report_meters(&mut self, meters: Vec<MeterDataCollection>) {
        let _ = meters;
    }

    /// Called on every turn of the reporter loop (at least once per flush interval), for
    /// periodic work such as heartbeats.
    fn tick(&mut self) {}

    /// Sends whatever the reporter still holds, giving up at `deadline`.
    fn flush(&mut self, deadline: Instant) {
        let _ = deadline;
    }
}

//! Getting finished segments out of the process.
//!
//! Application threads push finished segments into a bounded queue ([`queue`], never
//! blocking, drops counted). One named thread, `skywalking-reporter`, drains it in
//! batches, encodes the segments to protocol messages and hands them to a [`Reporter`].

pub(crate) mod encode;
pub(crate) mod queue;
pub(crate) mod worker;

use std::time::Instant;

use skywalking_proto::v3::SegmentObject;

/// Where encoded segments go. Called on the reporter thread only, never on a thread of
/// the application, so an implementation may block (briefly: while it blocks, segments
/// wait in the bounded queue and are dropped when it is full).
///
/// ```
/// use skywalking_runtime::Reporter;
/// use skywalking_proto::v3::SegmentObject;
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

    /// Called on every turn of the reporter loop (at least once per flush interval), for
    /// periodic work such as heartbeats.
    fn tick(&mut self) {}

    /// Sends whatever the reporter still holds, giving up at `deadline`.
    fn flush(&mut self, deadline: Instant) {
        let _ = deadline;
    }
}

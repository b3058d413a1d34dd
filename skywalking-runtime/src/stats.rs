//! The agent's own health counters, read with [`crate::stats()`].

use std::sync::atomic::{AtomicU64, Ordering};

static SPANS: AtomicU64 = AtomicU64::new(0);
static QUEUED: AtomicU64 = AtomicU64::new(0);
static SENT: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static SEND_ERRORS: AtomicU64 = AtomicU64::new(0);
static RECONNECTS: AtomicU64 = AtomicU64::new(0);
static UNSAMPLED: AtomicU64 = AtomicU64::new(0);

/// A snapshot of the agent's counters since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans recorded in finished segments.
    pub spans_started: u64,
    /// Segments put on the reporter queue.
    pub segments_queued: u64,
    /// Segments the collector accepted.
    pub segments_sent: u64,
    /// Segments dropped: queue full, collector unreachable or refusing them.
    pub segments_dropped: u64,
    /// Failed calls to the collector.
    pub send_errors: u64,
    /// Connections re-established after a failure.
    pub reconnects: u64,
    /// Traces not sampled.
    pub traces_unsampled: u64,
}

/// Reads the counters.
///
/// ```
/// let stats = skywalking_runtime::stats();
/// assert!(stats.segments_sent <= stats.segments_queued);
/// ```
pub fn stats() -> Stats {
    Stats {
        spans_started: SPANS.load(Ordering::Relaxed),
        segments_queued: QUEUED.load(Ordering::Relaxed),
        segments_sent: SENT.load(Ordering::Relaxed),
        segments_dropped: DROPPED.load(Ordering::Relaxed),
        send_errors: SEND_ERRORS.load(Ordering::Relaxed),
        reconnects: RECONNECTS.load(Ordering::Relaxed),
        traces_unsampled: UNSAMPLED.load(Ordering::Relaxed),
    }
}

pub(crate) fn add_spans(n: u64) {
    SPANS.fetch_add(n, Ordering::Relaxed);
}
pub(crate) fn segment_queued() {
    QUEUED.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn segment_dropped() {
    DROPPED.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn segments_sent(n: u64) {
    SENT.fetch_add(n, Ordering::Relaxed);
}
pub(crate) fn trace_unsampled() {
    UNSAMPLED.fetch_add(1, Ordering::Relaxed);
}

//! The agent's own health counters, read with [`crate::stats()`].
//!
//! Every finished segment ends up in exactly one bucket, so two identities hold once the
//! reporter is idle (after `Agent::flush` or `Agent::shutdown`):
//!
//! - finished segments = `segments_queued` + `segments_dropped_queue_full`;
//! - `segments_queued` = `segments_sent` + (`segments_dropped` −
//!   `segments_dropped_queue_full`) + what still waits in the queue.
//!
//! Log records (`logs_*`) follow the same identities with their own queue. Meter data
//! are not queued: each collection is sent or dropped whole (`meters_*`).

use std::sync::atomic::{AtomicU64, Ordering};

static SPANS: AtomicU64 = AtomicU64::new(0);
static QUEUED: AtomicU64 = AtomicU64::new(0);
static SENT: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static DROPPED_QUEUE_FULL: AtomicU64 = AtomicU64::new(0);
static SEND_ERRORS: AtomicU64 = AtomicU64::new(0);
static AUTH_ERRORS: AtomicU64 = AtomicU64::new(0);
static RECONNECTS: AtomicU64 = AtomicU64::new(0);
static UNSAMPLED: AtomicU64 = AtomicU64::new(0);
static KEPT_ERROR: AtomicU64 = AtomicU64::new(0);
static KEPT_SLOW: AtomicU64 = AtomicU64::new(0);
static KEPT_PROPAGATED: AtomicU64 = AtomicU64::new(0);
static DISCARDED_UNSAMPLED: AtomicU64 = AtomicU64::new(0);
static LOGS_QUEUED: AtomicU64 = AtomicU64::new(0);
static LOGS_SENT: AtomicU64 = AtomicU64::new(0);
static LOGS_DROPPED: AtomicU64 = AtomicU64::new(0);
static LOGS_DROPPED_QUEUE_FULL: AtomicU64 = AtomicU64::new(0);
static METERS_SENT: AtomicU64 = AtomicU64::new(0);
static METERS_DROPPED: AtomicU64 = AtomicU64::new(0);

/// A snapshot of the agent's counters since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans recorded in finished segments.
    pub spans_started: u64,
    /// Segments put on the reporter queue.
    pub segments_queued: u64,
    /// Segments the collector accepted (counted when its answer arrives).
    pub segments_sent: u64,
    /// Segments dropped for any reason: the queue was full, or the collector was
    /// unreachable, refused them or failed the call that carried them.
    pub segments_dropped: u64,
    /// The part of `segments_dropped` that never entered the queue because it was full
    /// (`SW_AGENT_REPORTER_MAX_SEND_QUEUE`).
    pub segments_dropped_queue_full: u64,
    /// Failed calls to the collector (connection attempts included), and panics of a
    /// custom [`Reporter`](crate::Reporter) (whose batch is then counted as dropped).
    pub send_errors: u64,
    /// The part of `send_errors` that the collector refused for a missing or wrong token
    /// (`PERMISSION_DENIED` / `UNAUTHENTICATED`).
    pub auth_errors: u64,
    /// Connections established after the first one (after a failure or to another
    /// address).
    pub reconnects: u64,
    /// Traces not sampled.
    pub traces_unsampled: u64,
    /// Segments of unsampled traces reported because a span failed
    /// (`SW_AGENT_KEEP_ERRORS`); they are then queued like any other segment.
    pub segments_kept_error: u64,
    /// Segments of unsampled traces reported because they took longer than
    /// `SW_AGENT_KEEP_SLOW_MS`.
    pub segments_kept_slow: u64,
    /// Unsampled, recording traces kept whole from the moment they propagated (sent
    /// `sw8` downstream or were carried into another task): a segment a header or a
    /// reference names is always reported.
    pub traces_kept_propagated: u64,
    /// Segments of unsampled traces recorded (for the keep options) and then discarded:
    /// no failed span, not slow, never propagated.
    pub segments_discarded_unsampled: u64,
    /// Log records put on the log queue (see `SW_AGENT_LOG_REPORTER_LEVEL`).
    pub logs_queued: u64,
    /// Log records the collector accepted.
    pub logs_sent: u64,
    /// Log records dropped for any reason (as for segments).
    pub logs_dropped: u64,
    /// The part of `logs_dropped` that never entered the queue because it was full.
    pub logs_dropped_queue_full: u64,
    /// Meter data (one per meter and label set per collection) the collector accepted.
    pub meters_sent: u64,
    /// Meter data dropped: the collector was unreachable or failed the call.
    pub meters_dropped: u64,
}

/// Reads the counters.
///
/// ```
/// let stats = skywalking_runtime::stats();
/// assert!(stats.segments_sent <= stats.segments_queued);
/// ```
pub fn stats() -> Stats {
    let (queued, spans) = per_thread::totals();
    Stats {
        spans_started: SPANS.load(Ordering::Relaxed) + spans,
        segments_queued: QUEUED.load(Ordering::Relaxed) + queued,
        segments_sent: SENT.load(Ordering::Relaxed),
        segments_dropped: DROPPED.load(Ordering::Relaxed),
        segments_dropped_queue_full: DROPPED_QUEUE_FULL.load(Ordering::Relaxed),
        send_errors: SEND_ERRORS.load(Ordering::Relaxed),
        auth_errors: AUTH_ERRORS.load(Ordering::Relaxed),
        reconnects: RECONNECTS.load(Ordering::Relaxed),
        traces_unsampled: UNSAMPLED.load(Ordering::Relaxed),
        segments_kept_error: KEPT_ERROR.load(Ordering::Relaxed),
        segments_kept_slow: KEPT_SLOW.load(Ordering::Relaxed),
        traces_kept_propagated: KEPT_PROPAGATED.load(Ordering::Relaxed),
        segments_discarded_unsampled: DISCARDED_UNSAMPLED.load(Ordering::Relaxed),
        logs_queued: LOGS_QUEUED.load(Ordering::Relaxed),
        logs_sent: LOGS_SENT.load(Ordering::Relaxed),
        logs_dropped: LOGS_DROPPED.load(Ordering::Relaxed),
        logs_dropped_queue_full: LOGS_DROPPED_QUEUE_FULL.load(Ordering::Relaxed),
        meters_sent: METERS_SENT.load(Ordering::Relaxed),
        meters_dropped: METERS_DROPPED.load(Ordering::Relaxed),
    }
}

/// A segment of `spans` spans put on the reporter queue. Counted in this thread's own
/// counters ([`per_thread`]): no shared cache line, no locked instruction.
#[inline]
pub(crate) fn segment_queued(spans: u64) {
    per_thread::add(1, spans);
}
/// A segment of `spans` spans the full queue turned away.
pub(crate) fn segment_dropped(spans: u64) {
    SPANS.fetch_add(spans, Ordering::Relaxed);
    DROPPED_QUEUE_FULL.fetch_add(1, Ordering::Relaxed);
    DROPPED.fetch_add(1, Ordering::Relaxed);
}
/// Queued segments the reporter could not deliver.
pub(crate) fn segments_undelivered(n: u64) {
    DROPPED.fetch_add(n, Ordering::Relaxed);
}
pub(crate) fn segments_sent(n: u64) {
    SENT.fetch_add(n, Ordering::Relaxed);
}
pub(crate) fn send_error() {
    SEND_ERRORS.fetch_add(1, Ordering::Relaxed);
}
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) fn auth_error() {
    AUTH_ERRORS.fetch_add(1, Ordering::Relaxed);
}
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) fn reconnect() {
    RECONNECTS.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn trace_unsampled() {
    UNSAMPLED.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn segment_kept_error() {
    KEPT_ERROR.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn segment_kept_slow() {
    KEPT_SLOW.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn trace_kept_propagated() {
    KEPT_PROPAGATED.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn segment_discarded_unsampled() {
    DISCARDED_UNSAMPLED.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn log_queued() {
    LOGS_QUEUED.fetch_add(1, Ordering::Relaxed);
}
/// A log record the full queue turned away.
pub(crate) fn log_dropped() {
    LOGS_DROPPED_QUEUE_FULL.fetch_add(1, Ordering::Relaxed);
    LOGS_DROPPED.fetch_add(1, Ordering::Relaxed);
}
/// Queued log records the reporter could not deliver.
pub(crate) fn logs_undelivered(n: u64) {
    LOGS_DROPPED.fetch_add(n, Ordering::Relaxed);
}
pub(crate) fn logs_sent(n: u64) {
    LOGS_SENT.fetch_add(n, Ordering::Relaxed);
}
pub(crate) fn meters_sent(n: u64) {
    METERS_SENT.fetch_add(n, Ordering::Relaxed);
}
pub(crate) fn meters_dropped(n: u64) {
    METERS_DROPPED.fetch_add(n, Ordering::Relaxed);
}

/// Counters that each application thread updates on its own: queuing a segment is on
/// the span hot path, and a shared atomic counter there costs a locked instruction and
/// a cache line bouncing between cores. Each thread registers its counters once; a
/// reading sums them (under the registry's lock), and a thread that exits folds its
/// counts into the shared totals.
mod per_thread {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    /// One thread's counts. Only the owner writes them (a load and a store, no
    /// read-modify-write); readers see them whole, as each is one atomic.
    #[derive(Default)]
    struct Counts {
        segments: AtomicU64,
        spans: AtomicU64,
    }

    /// Live threads' counts, and what exited threads counted.
    struct Registry {
        threads: Vec<Arc<Counts>>,
        exited: (u64, u64),
    }

    static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
        threads: Vec::new(),
        exited: (0, 0),
    });

    /// A thread's registration: unregistered (its counts folded in) when it exits.
    struct Local(Arc<Counts>);

    impl Local {
        fn register() -> Local {
            let counts = Arc::new(Counts::default());
            if let Ok(mut registry) = REGISTRY.lock() {
                registry.threads.push(Arc::clone(&counts));
            }
            Local(counts)
        }
    }

    impl Drop for Local {
        fn drop(&mut self) {
            if let Ok(mut registry) = REGISTRY.lock() {
                registry.exited.0 += self.0.segments.load(Ordering::Relaxed);
                registry.exited.1 += self.0.spans.load(Ordering::Relaxed);
                registry.threads.retain(|c| !Arc::ptr_eq(c, &self.0));
            }
        }
    }

    thread_local! {
        static LOCAL: Local = Local::register();
    }

    #[inline]
    fn bump(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// Adds to this thread's counts (to the shared totals once the thread is exiting).
    #[inline]
    pub(super) fn add(segments: u64, spans: u64) {
        if LOCAL
            .try_with(|local| {
                bump(&local.0.segments, segments);
                bump(&local.0.spans, spans);
            })
            .is_err()
            && let Ok(mut registry) = REGISTRY.lock()
        {
            registry.exited.0 += segments;
            registry.exited.1 += spans;
        }
    }

    /// (segments, spans) counted by every thread so far.
    pub(super) fn totals() -> (u64, u64) {
        let Ok(registry) = REGISTRY.lock() else {
            return (0, 0);
        };
        registry.threads.iter().fold(registry.exited, |(q, s), c| {
            (
                q + c.segments.load(Ordering::Relaxed),
                s + c.spans.load(Ordering::Relaxed),
            )
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn counts_survive_their_thread_and_are_summed_once() {
            let (q0, s0) = totals();
            std::thread::spawn(|| {
                add(1, 5);
                add(2, 7);
                let (q, s) = totals();
                assert!(q >= 3 && s >= 12);
            })
            .join()
            .expect("counting thread");
            // Other tests count too: at least what this thread added, folded in once.
            let (q1, s1) = totals();
            assert!(q1 - q0 >= 3 && s1 - s0 >= 12, "{q0} {q1} {s0} {s1}");
        }
    }
}

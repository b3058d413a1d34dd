//! Keeping the traces that matter when sampling dropped them.
//!
//! Sampling (`SW_AGENT_SAMPLE`, `SW_AGENT_SAMPLE_N_PER_3_SECS`) decides when a trace
//! starts, before anyone knows whether it will fail or crawl, so it drops error and slow
//! traces as readily as boring ones; OAP's own slow-trace option only sees what agents
//! sent. With `SW_AGENT_KEEP_ERRORS` or `SW_AGENT_KEEP_SLOW_MS` on, a trace the sampler
//! drops is still *recorded* (its spans cost what a sampled span costs), and each of its
//! segments is judged when it finishes: reported if one of its spans failed or it took
//! longer than the threshold, discarded otherwise (counted in [`crate::stats()`]).
//!
//! # What goes downstream
//!
//! A header must never name a segment OAP does not receive (PROTOCOL.md 10.1). A
//! recording-but-undecided trace therefore follows one rule: **a segment that propagates
//! is always reported**. Writing `sw8` for a downstream call, or taking a snapshot that a
//! spawned task's segment will refer to (`CrossThread`), decides the trace: it is kept
//! from then on, like a sampled one. A segment that references nothing outside itself and
//! is referenced by nothing can be discarded safely.
//!
//! With both options off (the default), an unsampled trace takes the old path: nothing is
//! recorded, no `sw8` is sent, a span costs a thread-local read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::clock;
use crate::record::SegmentRecord;

static KEEP_ERRORS: AtomicBool = AtomicBool::new(false);
/// Milliseconds; 0 is off.
static KEEP_SLOW_MS: AtomicU64 = AtomicU64::new(0);

/// Sets the two options (`slow_ms` 0: off).
pub(crate) fn configure(errors: bool, slow_ms: u64) {
    KEEP_ERRORS.store(errors, Ordering::Relaxed);
    KEEP_SLOW_MS.store(slow_ms, Ordering::Relaxed);
}

/// Whether traces the sampler drops are still recorded, to be judged segment by segment.
#[inline]
pub(crate) fn records_unsampled() -> bool {
    KEEP_ERRORS.load(Ordering::Relaxed) || KEEP_SLOW_MS.load(Ordering::Relaxed) != 0
}

/// What becomes of a finished segment of a trace the sampler dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A span failed: reported.
    Error,
    /// It took longer than `SW_AGENT_KEEP_SLOW_MS`: reported.
    Slow,
    /// Ordinary: discarded.
    Discard,
}

/// Judges a finished (all spans closed) segment of an undecided trace.
pub(crate) fn judge(segment: &SegmentRecord) -> Verdict {
    if KEEP_ERRORS.load(Ordering::Relaxed) && segment.spans.iter().any(|s| s.is_error) {
        return Verdict::Error;
    }
    let slow_ms = KEEP_SLOW_MS.load(Ordering::Relaxed);
    if slow_ms != 0
        && let Some(first) = segment.spans.first()
    {
        // Spans are pushed as they open: the first one started first.
        let end = segment
            .spans
            .iter()
            .map(|s| s.end)
            .max()
            .unwrap_or(first.end);
        let took = clock::to_epoch_ms(end).saturating_sub(clock::to_epoch_ms(first.start));
        if u64::try_from(took).is_ok_and(|took| took > slow_ms) {
            return Verdict::Slow;
        }
    }
    Verdict::Discard
}

//! The sampling decision, made once per new trace.
//!
//! Two knobs, both checked when a trace starts here, including a trace continued from a
//! W3C `traceparent` marked sampled (`-01`). A trace continued from `sw8` is always
//! recorded, whatever its flag, as the Java and Go agents do (the caller reported the
//! segment it names), and a `traceparent` marked not sampled (`-00`) is not recorded:
//!
//! - a rate in `0.0..=1.0` (`SW_AGENT_SAMPLE`, as in the Go agent; the Java agent's
//!   `sample_n_per_3_secs` is the cap below), drawn from a per-thread xorshift generator;
//! - a cap of `N` traces per 3-second window (`SW_AGENT_SAMPLE_N_PER_3_SECS`; 0 or less
//!   means no cap), counted with one atomic per sampled trace.
//!
//! An unsampled trace still gets a context (its id reaches log lines and
//! `sw8-correlation` still travels), but its spans record nothing, cost a few nanoseconds
//! and send no `sw8`. With `SW_AGENT_KEEP_ERRORS` or `SW_AGENT_KEEP_SLOW_MS`, it is
//! recorded instead and judged when each segment ends (see `trace/keep.rs`).

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use crate::clock;
use crate::stats;

/// `u64::MAX` samples everything.
static THRESHOLD: AtomicU64 = AtomicU64::new(u64::MAX);
static CAP: AtomicU32 = AtomicU32::new(0);
static WINDOW: AtomicI64 = AtomicI64::new(-1);
static IN_WINDOW: AtomicU32 = AtomicU32::new(0);

const WINDOW_MS: i64 = 3_000;

/// Sets the rate (clamped to `0.0..=1.0`) and the per-3-seconds cap (0 = none).
pub(crate) fn configure(rate: f64, cap_per_3s: u32) {
    let rate = if rate.is_nan() {
        1.0
    } else {
        rate.clamp(0.0, 1.0)
    };
    let threshold = if rate >= 1.0 {
        u64::MAX
    } else {
        (rate * u64::MAX as f64) as u64
    };
    THRESHOLD.store(threshold, Ordering::Relaxed);
    CAP.store(cap_per_3s, Ordering::Relaxed);
    WINDOW.store(-1, Ordering::Relaxed);
    IN_WINDOW.store(0, Ordering::Relaxed);
}

// Runtime changes, from OAP's dynamic configuration (`reporter/cds.rs`): the same atomics,
// so the per-trace decision reads exactly what it read before.

/// Changes the rate (clamped to `0.0..=1.0`), keeping the cap.
#[cfg(feature = "grpc")]
pub(crate) fn set_rate(rate: f64) {
    configure(rate, CAP.load(Ordering::Relaxed));
}

/// Changes the per-3-seconds cap (0 = none), keeping the rate and the current window.
#[cfg(feature = "grpc")]
pub(crate) fn set_cap(cap_per_3s: u32) {
    CAP.store(cap_per_3s, Ordering::Relaxed);
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

fn next_random() -> u64 {
    RNG.try_with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            x = crate::id::Id::generate().as_u128() as u64 | 1;
            x ^= (crate::id::Id::generate().as_u128() >> 64) as u64;
            x |= 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rng.set(x);
        x
    })
    .unwrap_or(0)
}

/// Decides whether a new trace is sampled.
#[inline]
pub(crate) fn sample_new_trace() -> bool {
    // Everything sampled (the default): two loads, no call.
    if THRESHOLD.load(Ordering::Relaxed) == u64::MAX && CAP.load(Ordering::Relaxed) == 0 {
        return true;
    }
    sample_limited()
}

/// [`sample_new_trace`] under a rate or a cap.
#[inline(never)]
fn sample_limited() -> bool {
    let sampled = decide();
    if !sampled {
        stats::trace_unsampled();
    }
    sampled
}

fn decide() -> bool {
    let threshold = THRESHOLD.load(Ordering::Relaxed);
    if threshold != u64::MAX && next_random() > threshold {
        return false;
    }
    let cap = CAP.load(Ordering::Relaxed);
    if cap == 0 {
        return true;
    }
    let window = clock::now_epoch_ms() / WINDOW_MS;
    let seen = WINDOW.load(Ordering::Relaxed);
    if seen != window
        && WINDOW
            .compare_exchange(seen, window, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        IN_WINDOW.store(0, Ordering::Relaxed);
    }
    IN_WINDOW
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < cap).then_some(n + 1)
        })
        .is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Tests that change the global sampler hold this lock.
    pub(crate) static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn rate_is_respected() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        configure(0.25, 0);
        let n = 40_000;
        let sampled = (0..n).filter(|_| decide()).count();
        let ratio = sampled as f64 / n as f64;
        assert!((0.22..0.28).contains(&ratio), "{ratio}");
        configure(0.0, 0);
        assert!((0..1000).all(|_| !decide()));
        configure(1.0, 0);
        assert!((0..1000).all(|_| decide()));
    }

    #[test]
    fn cap_limits_traces_per_window() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        configure(1.0, 5);
        // Stay inside one window: if it rolls over mid-test, retry once.
        for _ in 0..2 {
            let start = clock::now_epoch_ms() / WINDOW_MS;
            let sampled = (0..100).filter(|_| decide()).count();
            if clock::now_epoch_ms() / WINDOW_MS == start {
                assert_eq!(sampled, 5);
                configure(1.0, 0);
                return;
            }
        }
        configure(1.0, 0);
        panic!("window rolled over twice");
    }
}

//! The span clock: a cheap raw tick read on the hot path, turned into epoch milliseconds
//! off it.
//!
//! SkyWalking wants epoch milliseconds. `SystemTime::now()` costs 24–46 ns on the machines
//! we measured and `CLOCK_REALTIME_COARSE` has a 4 ms resolution, so the hot path reads the
//! CPU's time-stamp counter through [`quanta`] instead (a few ns; quanta falls back to the
//! monotonic clock where the TSC is not usable). One anchor pair (raw ticks, epoch
//! nanoseconds) taken at start-up maps ticks to wall time; the reporter thread does that
//! conversion when it encodes a segment.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct SpanClock {
    clock: quanta::Clock,
    anchor_raw: u64,
    anchor_epoch_ns: u64,
}

static CLOCK: OnceLock<SpanClock> = OnceLock::new();

fn clock() -> &'static SpanClock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let anchor_raw = clock.raw();
        let anchor_epoch_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        SpanClock {
            clock,
            anchor_raw,
            anchor_epoch_ns,
        }
    })
}

/// Calibrates the clock now rather than on the first span (calibration takes a few ms).
pub(crate) fn warm_up() {
    let _ = clock();
}

/// Raw ticks: monotonic, meaningful only through [`to_epoch_ms`].
#[inline]
pub(crate) fn now_raw() -> u64 {
    clock().clock.raw()
}

/// Converts raw ticks to epoch milliseconds.
pub(crate) fn to_epoch_ms(raw: u64) -> i64 {
    let c = clock();
    let epoch_ns = if raw >= c.anchor_raw {
        c.anchor_epoch_ns
            .saturating_add(c.clock.delta_as_nanos(c.anchor_raw, raw))
    } else {
        c.anchor_epoch_ns
            .saturating_sub(c.clock.delta_as_nanos(raw, c.anchor_raw))
    };
    i64::try_from(epoch_ns / 1_000_000).unwrap_or(i64::MAX)
}

/// Current time in epoch milliseconds, from the same clock as the spans.
pub(crate) fn now_epoch_ms() -> i64 {
    to_epoch_ms(now_raw())
}

/// Nanoseconds between two raw readings (0 if `end` is not after `start`).
#[cfg(test)]
pub(crate) fn delta_ns(start: u64, end: u64) -> u64 {
    clock().clock.delta_as_nanos(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_ms_tracks_wall_clock() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let ours = now_epoch_ms();
        assert!((ours - wall).abs() < 50, "ours {ours} wall {wall}");
    }

    #[test]
    fn raw_is_monotonic_and_scales_to_real_time() {
        let a = now_raw();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = now_raw();
        let ns = delta_ns(a, b);
        assert!((15_000_000..500_000_000).contains(&ns), "{ns}");
        assert!(to_epoch_ms(b) - to_epoch_ms(a) >= 15);
    }
}

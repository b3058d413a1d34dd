//! The span clock: a cheap raw tick read on the hot path, turned into epoch milliseconds
//! off it.
//!
//! SkyWalking wants epoch milliseconds. `SystemTime::now()` costs 24–46 ns on the machines
//! we measured and `CLOCK_REALTIME_COARSE` has a 4 ms resolution, so the hot path reads the
//! CPU's time-stamp counter through [`quanta`] instead (a few ns; quanta falls back to the
//! monotonic clock where the TSC is not usable). An anchor (raw ticks, epoch
//! nanoseconds) maps ticks to wall time; the reporter thread does that conversion when
//! it encodes a segment, and takes a new anchor every 10 seconds, so NTP corrections
//! and the tick rate's calibration error never accumulate.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the reporter thread re-anchors the clock (see [`reanchor_if_due`]).
pub(crate) const REANCHOR_PERIOD_NS: u64 = 10_000_000_000;

struct SpanClock {
    clock: quanta::Clock,
    /// The raw reading all conversions count from.
    base_raw: u64,
    /// Epoch nanoseconds at `base_raw`, as of the last anchoring: one atomic, so a
    /// conversion never sees half of an update.
    base_epoch_ns: AtomicU64,
    /// Raw reading of the last anchoring.
    anchored_raw: AtomicU64,
}

static CLOCK: OnceLock<SpanClock> = OnceLock::new();

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn clock() -> &'static SpanClock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        #[cfg(target_arch = "x86_64")]
        if reads_tsc(&clock) {
            DIRECT_TSC.store(true, Ordering::Relaxed);
        }
        let base_raw = clock.raw();
        SpanClock {
            clock,
            base_raw,
            base_epoch_ns: AtomicU64::new(wall_ns()),
            anchored_raw: AtomicU64::new(base_raw),
        }
    })
}

/// Calibrates the clock now rather than on the first span (calibration takes a few ms),
/// and anchors it to the wall clock (an agent is starting).
pub(crate) fn warm_up() {
    reanchor();
}

/// Set once the clock is built, when quanta reads the time-stamp counter: [`now_raw`]
/// then executes `RDTSC` itself, which saves quanta's clock-type dispatch (a call that
/// is not inlined) and the `OnceLock` check on every span open and close.
static DIRECT_TSC: AtomicBool = AtomicBool::new(false);

/// Raw ticks: monotonic, meaningful only through [`to_epoch_ms`].
#[inline]
pub(crate) fn now_raw() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if DIRECT_TSC.load(Ordering::Relaxed) {
        return tsc();
    }
    clock().clock.raw()
}

/// The time-stamp counter, as quanta's counter clock reads it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)] // The crate's only `unsafe`: see SAFETY below.
fn tsc() -> u64 {
    // SAFETY: `RDTSC` exists on every x86_64 CPU and reads a register: it has no
    // precondition (core::arch declares every intrinsic `unsafe`). It is used only once
    // quanta has chosen the same counter (see `clock`), so the readings are the ones
    // quanta's calibration converts.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Whether `clock` reads the time-stamp counter: a reading of it falls between two
/// direct reads of the counter (a monotonic-clock reading, in nanoseconds since boot,
/// is far from the counter's value).
#[cfg(target_arch = "x86_64")]
fn reads_tsc(clock: &quanta::Clock) -> bool {
    let before = tsc();
    let raw = clock.raw();
    let after = tsc();
    before <= raw && raw <= after
}

/// Nanoseconds from the base reading to `raw` (negative before it).
fn since_base_ns(c: &SpanClock, raw: u64) -> i128 {
    if raw >= c.base_raw {
        i128::from(c.clock.delta_as_nanos(c.base_raw, raw))
    } else {
        -i128::from(c.clock.delta_as_nanos(raw, c.base_raw))
    }
}

/// Converts raw ticks to epoch milliseconds.
pub(crate) fn to_epoch_ms(raw: u64) -> i64 {
    let c = clock();
    let base = i128::from(c.base_epoch_ns.load(Ordering::Relaxed));
    let epoch_ns = (base + since_base_ns(c, raw)).max(0);
    i64::try_from(epoch_ns / 1_000_000).unwrap_or(i64::MAX)
}

/// Current time in epoch milliseconds, from the same clock as the spans.
pub(crate) fn now_epoch_ms() -> i64 {
    to_epoch_ms(now_raw())
}

/// Maps the raw clock to the wall clock again: NTP corrections (steps and slewing) and
/// the tick rate's calibration error would otherwise accumulate over days of uptime,
/// and OAP buckets metrics by span start time, minute by minute, against peers that
/// read the wall clock for every span. Runs on the reporter thread, never on the hot
/// path; a conversion racing with it sees the old or the new anchor, both valid.
pub(crate) fn reanchor() {
    anchor_at(wall_ns(), now_raw());
}

/// [`reanchor`], when [`REANCHOR_PERIOD_NS`] has passed since the last anchoring.
pub(crate) fn reanchor_if_due() {
    let c = clock();
    let now = c.clock.raw();
    if c.clock
        .delta_as_nanos(c.anchored_raw.load(Ordering::Relaxed), now)
        >= REANCHOR_PERIOD_NS
    {
        anchor_at(wall_ns(), now);
    }
}

/// Records that the wall clock read `wall_ns` at raw reading `raw`.
fn anchor_at(wall_ns: u64, raw: u64) {
    let c = clock();
    let base = (i128::from(wall_ns) - since_base_ns(c, raw)).max(0);
    c.base_epoch_ns
        .store(u64::try_from(base).unwrap_or(0), Ordering::Relaxed);
    c.anchored_raw.store(raw, Ordering::Relaxed);
}

/// Nanoseconds between two raw readings (0 if `end` is not after `start`).
#[cfg(any(test, feature = "prometheus"))]
pub(crate) fn delta_ns(start: u64, end: u64) -> u64 {
    clock().clock.delta_as_nanos(start, end)
}

/// `timeout` from now; a timeout too long for an `Instant` (`Duration::MAX`) waits
/// "forever": a hundred years (the agent's flush and shutdown, the backend check).
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_too_long_for_an_instant_waits_a_century_instead_of_panicking() {
        let deadline = deadline_after(Duration::MAX);
        assert!(deadline > Instant::now() + Duration::from_secs(50 * 365 * 24 * 3600));
        let soon = deadline_after(Duration::from_millis(5));
        assert!(soon <= Instant::now() + Duration::from_millis(5));
    }

    /// The step test moves the process's anchor: tests that compare with the wall
    /// clock hold this while they run.
    static ANCHOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn direct_readings_share_quantas_time_base() {
        // Whether or not the counter is read directly, `now_raw` must return readings of
        // the clock quanta converts: between two of quanta's own readings.
        let _ = now_raw();
        for _ in 0..1_000 {
            let before = clock().clock.raw();
            let raw = now_raw();
            let after = clock().clock.raw();
            assert!(
                before <= raw && raw <= after,
                "{before} <= {raw} <= {after}"
            );
        }
    }

    #[test]
    fn epoch_ms_tracks_wall_clock() {
        let _anchor = ANCHOR.lock().unwrap_or_else(|e| e.into_inner());
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let ours = now_epoch_ms();
        assert!((ours - wall).abs() < 50, "ours {ours} wall {wall}");
    }

    #[test]
    fn a_wall_clock_step_is_corrected_at_the_next_anchoring() {
        let _anchor = ANCHOR.lock().unwrap_or_else(|e| e.into_inner());
        let raw = now_raw();
        // Simulate a wall clock that was 5 s ahead when the last anchor was taken (an
        // NTP step since): every span time is 5 s off.
        anchor_at(wall_ns() + 5_000_000_000, raw);
        let wall = || wall_ns() as i64 / 1_000_000;
        assert!((now_epoch_ms() - wall() - 5_000).abs() < 50);
        // The next anchoring brings span times back onto the wall clock, within a
        // millisecond.
        reanchor();
        let deviation = (now_epoch_ms() - wall()).abs();
        assert!(deviation <= 1, "{deviation} ms off the wall clock");
        // Readings taken before the anchoring convert with the new anchor too.
        assert!((to_epoch_ms(raw) - wall()).abs() < 50);
    }

    #[test]
    fn reanchoring_is_periodic() {
        let _anchor = ANCHOR.lock().unwrap_or_else(|e| e.into_inner());
        reanchor();
        let before = clock().anchored_raw.load(Ordering::Relaxed);
        reanchor_if_due();
        assert_eq!(
            clock().anchored_raw.load(Ordering::Relaxed),
            before,
            "not due yet"
        );
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

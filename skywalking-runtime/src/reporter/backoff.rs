//! Jittered exponential backoff between connection attempts.
//!
//! The n-th consecutive failure waits a random time in `[d/2, d]` with
//! `d = min(MIN * 2^(n-1), MAX)`: 100 ms after the first failure, then 200 ms, 400 ms, ...
//! up to 5 s, where it stays. A success starts over. So a collector that comes back is
//! reached again within 5 s, and a fleet of agents does not reconnect in lock-step.

use std::time::Duration;

/// The first wait (before jitter).
pub(crate) const MIN: Duration = Duration::from_millis(100);
/// The longest wait: the reporter retries at least this often.
pub(crate) const MAX: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct Backoff {
    current: Duration,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        // Any odd seed will do; per-process variety comes from the id generator.
        let seed = crate::id::Id::generate().as_u128();
        Backoff {
            current: MIN,
            rng: (seed as u64 ^ (seed >> 64) as u64) | 1,
        }
    }

    /// The wait before the next attempt, after a failure.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let full = self.current;
        self.current = (self.current * 2).min(MAX);
        let half = full / 2;
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let span = u64::try_from(half.as_micros()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_micros(self.rng % (span + 1))
    }

    /// After a success.
    pub(crate) fn reset(&mut self) {
        self.current = MIN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new();
        let mut bound = MIN;
        for _ in 0..20 {
            let wait = backoff.next_wait();
            assert!(
                wait >= bound / 2 && wait <= bound,
                "{wait:?} outside {bound:?}"
            );
            bound = (bound * 2).min(MAX);
        }
        assert!(backoff.next_wait() >= MAX / 2);
        backoff.reset();
        assert!(backoff.next_wait() <= MIN);
    }
}

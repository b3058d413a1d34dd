//! Trace and segment ids: unique across processes, made without a syscall or a shared lock.
//!
//! An id is 128 bits: 64 random bits fixed per process, then a 24-bit thread slot (handed
//! out once per thread by an atomic counter) and a 40-bit per-thread sequence. It is
//! rendered as 32 lowercase hex digits, which is also a valid W3C trace id, so a trace
//! started here can be written as `traceparent` unchanged.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A locally generated 128-bit id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(u128);

impl Id {
    /// A fresh id, unique in this process and (with overwhelming probability) across
    /// processes.
    #[inline]
    pub fn generate() -> Id {
        let low = LOCAL.with(|local| {
            let (slot, seq) = match local.get() {
                Some(state) => state,
                None => (next_thread_slot(), 0),
            };
            local.set(Some((slot, seq.wrapping_add(1) & SEQ_MASK)));
            (slot << SEQ_BITS) | seq
        });
        Id((u128::from(process_prefix()) << 64) | u128::from(low))
    }

    /// The id as a number.
    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// Builds an id from a number (for tests and for ids read back from W3C headers).
    pub fn from_u128(value: u128) -> Id {
        Id(value)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

const SEQ_BITS: u32 = 40;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
const SLOT_MASK: u64 = (1 << (64 - SEQ_BITS)) - 1;

thread_local! {
    static LOCAL: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

fn next_thread_slot() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) & SLOT_MASK
}

fn process_prefix() -> u64 {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    *PREFIX.get_or_init(|| {
        // RandomState is seeded from the OS RNG once per process; mix in the pid and the
        // time so forked children differ too.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(d.as_nanos());
        }
        hasher.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..10_000).map(|_| Id::generate()).collect::<Vec<_>>()))
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(all.insert(id), "duplicate id {id}");
            }
        }
        assert_eq!(all.len(), 40_000);
    }

    #[test]
    fn renders_as_32_lowercase_hex_digits() {
        let s = Id::generate().to_string();
        assert_eq!(s.len(), 32);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(Id::from_u128(0xab).to_string(), format!("{:032x}", 0xab));
    }
}

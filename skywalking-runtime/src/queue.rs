//! HOT PATH (send half). The bounded queues between the application's threads and the
//! reporter thread, and the reporter's wake-up.
//!
//! One type, [`BoundedQueue`], carries both finished segments and log records: a push
//! never blocks; when the queue holds its bound, the item comes back to the caller, which
//! counts the drop (and recycles what it can). Items travel as `Box`es, so queuing moves a
//! pointer.
//!
//! The reporter thread parks between turns; a producer that sees a full batch waiting
//! wakes it early ([`BoundedQueue::push`] does so), so a burst is sent without waiting
//! for the flush interval.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;

use crossbeam_queue::ArrayQueue;

use crate::settings::{DEFAULT_MAX_SEND_QUEUE, REPORT_BATCH};

/// A bounded multi-producer queue that drops (never waits) when full.
///
/// The storage is allocated on first use with the bound of the first
/// [`configure`](Self::configure) (or the default); later calls can lower the bound but
/// not raise it past that size, so a process never re-allocates its queue.
#[derive(Debug)]
pub(crate) struct BoundedQueue<T> {
    items: OnceLock<ArrayQueue<T>>,
    limit: AtomicUsize,
}

impl<T> BoundedQueue<T> {
    /// An empty queue, allocated on first use.
    pub(crate) const fn new() -> Self {
        BoundedQueue {
            items: OnceLock::new(),
            limit: AtomicUsize::new(DEFAULT_MAX_SEND_QUEUE),
        }
    }

    /// Sets the bound (at least 1).
    pub(crate) fn configure(&self, capacity: usize) {
        let capacity = capacity.max(1);
        let items = self.items.get_or_init(|| ArrayQueue::new(capacity));
        self.limit
            .store(capacity.min(items.capacity()), Ordering::Relaxed);
    }

    #[inline]
    fn items(&self) -> &ArrayQueue<T> {
        self.items
            .get_or_init(|| ArrayQueue::new(self.limit.load(Ordering::Relaxed).max(1)))
    }

    /// Queues `item`, waking the reporter when a full batch waits; gives it back when the
    /// queue is at its bound.
    #[inline]
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let items = self.items();
        // The storage is as large as the first bound: only a lowered bound needs a count.
        let limit = self.limit.load(Ordering::Relaxed);
        if limit < items.capacity() && items.len() >= limit {
            return Err(item);
        }
        items.push(item)?;
        if PARKED.load(Ordering::Relaxed) {
            wake_if_busy(items.len());
        }
        Ok(())
    }

    /// Moves up to `max` queued items into `into`.
    pub(crate) fn drain(&self, max: usize, into: &mut Vec<T>) {
        let Some(items) = self.items.get() else {
            return;
        };
        for _ in 0..max {
            match items.pop() {
                Some(item) => into.push(item),
                None => break,
            }
        }
    }

    /// Items waiting.
    pub(crate) fn len(&self) -> usize {
        self.items.get().map_or(0, ArrayQueue::len)
    }
}

/// Set while the reporter thread is parked and may be woken by producers.
static PARKED: AtomicBool = AtomicBool::new(false);
/// The reporter thread, while one runs.
static REPORTER: Mutex<Option<Thread>> = Mutex::new(None);

/// Wakes a parked reporter when a queue has a full batch waiting.
#[cold]
fn wake_if_busy(len: usize) {
    if len >= REPORT_BATCH
        && PARKED.swap(false, Ordering::AcqRel)
        && let Ok(guard) = REPORTER.lock()
        && let Some(thread) = guard.as_ref()
    {
        thread.unpark();
    }
}

/// The reporter's side of the wake-up.
pub(crate) mod reporter {
    use super::{Ordering, PARKED, REPORTER};

    /// Registers the calling thread as the one producers wake (`None` to unregister).
    pub(crate) fn register(thread: Option<std::thread::Thread>) {
        if let Ok(mut guard) = REPORTER.lock() {
            *guard = thread;
        }
    }

    /// Whether producers may wake the reporter now (it is about to park).
    pub(crate) fn set_parked(parked: bool) {
        PARKED.store(parked, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_at_the_bound_and_drains_in_order() {
        let queue: BoundedQueue<Box<u32>> = BoundedQueue::new();
        queue.configure(3);
        for i in 0..3 {
            assert!(queue.push(Box::new(i)).is_ok());
        }
        assert_eq!(queue.push(Box::new(9)).map_err(|b| *b), Err(9));
        assert_eq!(queue.len(), 3);
        let mut out = Vec::new();
        queue.drain(2, &mut out);
        assert_eq!(out.iter().map(|b| **b).collect::<Vec<_>>(), [0, 1]);
        // A lower bound applies at once; a higher one cannot exceed the first size.
        queue.configure(1);
        assert!(queue.push(Box::new(5)).is_err());
        queue.configure(100);
        assert!(queue.push(Box::new(5)).is_ok());
        assert!(queue.push(Box::new(6)).is_ok());
        assert!(queue.push(Box::new(7)).is_err());
    }
}

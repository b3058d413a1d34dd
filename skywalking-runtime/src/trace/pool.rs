//! HOT PATH. Where finished segments go, and the pool that lets their buffers be reused.
//!
//! A finished segment is queued for the reporter in [`SEGMENTS`] (dropped and counted
//! when the queue is full). After encoding, the reporter hands each segment back with
//! [`recycle_segment`], so its span, tag and log buffers are reused by the next segment
//! [`take_segment`] gives out.
//!
//! Cleared segments travel back in **chains** of up to [`CHAIN_LEN`], linked through
//! [`SegmentRecord::next`]: the thread that recycles (the reporter) links them, and a
//! thread that starts segments takes a whole chain from the shared pool into its own
//! cache. Starting a segment then takes one from a thread-local list, and the shared
//! pool's atomics are touched once per chain instead of once per segment. Memory stays
//! bounded: [`POOL_CAPACITY`] segments in the shared pool, and at most one chain being
//! used and one being filled per thread; what does not fit is freed. The bound counts
//! segments, not chains: an idle reporter gives back short chains (down to one segment
//! per turn when traces trickle in), and those must not take the room of full ones.
//!
//! After a burst the pool gives back what nobody takes: once no thread has taken from it
//! for a second, the reporter frees the pooled chains above a floor ([`decay`]), so an
//! idle process returns to about [`POOL_FLOOR`] segments while a busy one keeps what it
//! uses.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;

use crate::queue::BoundedQueue;
use crate::record::{SegmentRecord, TraceId};
use crate::stats;

/// Finished segments waiting for the reporter (`SW_AGENT_REPORTER_MAX_SEND_QUEUE`).
pub(crate) static SEGMENTS: SegmentQueue = SegmentQueue::new();

/// The reporter's queue of finished segments: a [`BoundedQueue`] whose consumer counts
/// what it takes, so that producers count nothing.
#[derive(Debug)]
pub(crate) struct SegmentQueue {
    items: BoundedQueue<Box<SegmentRecord>>,
}

impl SegmentQueue {
    const fn new() -> Self {
        SegmentQueue {
            items: BoundedQueue::new(),
        }
    }

    /// Sets the bound (see [`BoundedQueue::configure`]).
    pub(crate) fn configure(&self, capacity: usize) {
        self.items.configure(capacity);
    }

    /// Segments waiting.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Moves up to `max` queued segments into `into` (a reporter turn). A turn that
    /// finds nothing hands this thread's unfinished chain to the pool, so that every
    /// recycled segment can be taken once the reporter is idle, and lets the pool shrink
    /// ([`decay`]).
    #[allow(clippy::vec_box)] // Segments travel as boxes: queues and pools move pointers.
    pub(crate) fn drain(&self, max: usize, into: &mut Vec<Box<SegmentRecord>>) {
        let start = into.len();
        self.items.drain(max, into);
        if into.len() == start {
            hand_back_chain();
            decay();
        }
    }
}

/// Segments kept for reuse in the shared pool.
pub(crate) const POOL_CAPACITY: usize = 1024;
/// Segments per chain (see the module docs).
pub(crate) const CHAIN_LEN: usize = 32;
/// Segments the pool keeps however long it idles (see [`decay`]): at least this many
/// while it had them, and fewer than a chain more.
pub(crate) const POOL_FLOOR: usize = 2 * CHAIN_LEN;
/// Span buffers larger than this are shrunk before reuse, to keep the pool's memory small.
const POOLED_SPAN_CAPACITY: usize = 128;
/// Tag buffers larger than this are shrunk before reuse (a tag per span of the largest
/// pooled segment).
const POOLED_TAG_CAPACITY: usize = POOLED_SPAN_CAPACITY;
/// Log and reference buffers larger than this are shrunk before reuse (few spans log,
/// few segments have more than one reference).
const POOLED_RARE_CAPACITY: usize = 8;
/// Span buffer of a fresh segment, when this thread's last segment was no larger. A
/// fresh segment is sized like the thread's last one, and a trace that waits (a parked
/// task) holds its segment, so the buffer is no larger than needed: one span for a
/// thread of one-span traces; a larger segment grows its buffer once, and keeps the
/// capacity while it is pooled.
const INITIAL_SPAN_CAPACITY: usize = 1;

/// The shared pool of cleared segments (see the module docs).
static POOL: SharedPool = SharedPool::new(POOL_CAPACITY);

/// Chains of cleared segments, by their first segment, bounded by the segments they hold.
struct SharedPool {
    /// A slot per segment, so that chains of one fit as well as full ones.
    chains: OnceLock<ArrayQueue<Box<SegmentRecord>>>,
    /// Segments in `chains`, never more than `capacity` (reserved before a chain is
    /// pushed, released when it is popped).
    pooled: AtomicUsize,
    capacity: usize,
}

impl SharedPool {
    const fn new(capacity: usize) -> SharedPool {
        SharedPool {
            chains: OnceLock::new(),
            pooled: AtomicUsize::new(0),
            capacity,
        }
    }

    fn chains(&self) -> &ArrayQueue<Box<SegmentRecord>> {
        self.chains
            .get_or_init(|| ArrayQueue::new(self.capacity.max(1)))
    }

    /// Segments pooled now.
    fn len(&self) -> usize {
        self.pooled.load(Ordering::Relaxed)
    }

    /// Whether no chain is pooled.
    fn is_empty(&self) -> bool {
        self.chains.get().is_none_or(ArrayQueue::is_empty)
    }

    /// Pools a chain of `len` segments headed by `head`, or frees it when the pool has no
    /// room for `len` more segments.
    fn push(&self, mut head: Box<SegmentRecord>, len: usize) {
        let reserved = self
            .pooled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |pooled| {
                (pooled + len <= self.capacity).then_some(pooled + len)
            });
        if reserved.is_err() {
            return; // Freed here, on the recycling thread.
        }
        head.chain_len = u32::try_from(len).unwrap_or(u32::MAX);
        // Cannot fail: a chain holds at least one segment, and there is a slot per segment.
        if self.chains().push(head).is_err() {
            self.pooled.fetch_sub(len, Ordering::Relaxed);
        }
    }

    /// The oldest pooled chain, its segments no longer counted as pooled.
    #[inline]
    fn pop(&self) -> Option<Box<SegmentRecord>> {
        let head = self.chains().pop()?;
        self.pooled
            .fetch_sub(head.chain_len as usize, Ordering::Relaxed);
        Some(head)
    }

    /// Frees chains, oldest first, down to `floor` segments: a chain that would take the
    /// pool below it is put back, so the pool keeps at least `floor` segments (when it
    /// had them) and fewer than a chain more.
    fn trim(&self, floor: usize) {
        while self.len() > floor {
            let Some(chain) = self.pop() else {
                break;
            };
            if self.len() < floor {
                let len = chain.chain_len as usize;
                self.push(chain, len);
                break;
            }
        }
    }
}

/// A chain of cleared segments being filled, and its length.
#[derive(Default)]
struct Chain {
    head: Option<Box<SegmentRecord>>,
    len: usize,
}

thread_local! {
    /// Spans in the last segment this thread finished.
    static LAST_SPANS: Cell<usize> = const { Cell::new(0) };
    /// Cleared segments this thread takes from before the shared pool.
    static CACHE: Cell<Option<Box<SegmentRecord>>> = const { Cell::new(None) };
    /// Segments this thread gave back, linked until the chain is full (or the shared
    /// pool runs dry).
    static RETURNS: Cell<Chain> = const { Cell::new(Chain { head: None, len: 0 }) };
    /// Emptied strings (capacity kept) that pooled segments brought back: the text of
    /// the next incoming reference is decoded into them ([`take_text`]).
    static SPARE_TEXT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Strings this thread keeps in [`SPARE_TEXT`]: the texts of a few references.
const MAX_THREAD_SPARE_TEXT: usize = 16;

/// A cleared segment for `trace_id`: from this thread's cache, else a chain from the
/// shared pool, else a new one.
#[inline]
pub(crate) fn take_segment(trace_id: TraceId) -> Box<SegmentRecord> {
    let mut segment = CACHE
        .try_with(|cache| {
            let mut head = match cache.take() {
                Some(head) => head,
                None => take_chain()?,
            };
            cache.set(head.next.take());
            Some(head)
        })
        .ok()
        .flatten()
        .unwrap_or_else(fresh_segment);
    if !segment.spare_text.is_empty() {
        keep_spare_text(&mut segment.spare_text);
    }
    segment.reset(trace_id);
    segment
}

/// A chain from the shared pool (marking the pool in use, see [`decay`]).
#[inline]
fn take_chain() -> Option<Box<SegmentRecord>> {
    let chain = POOL.pop()?;
    POOL_TAKEN.store(true, Ordering::Relaxed);
    Some(chain)
}

/// A new segment, when the pool is empty (the reporter is behind): its span buffer is
/// sized like this thread's last segment, so it is allocated once rather than grown.
#[cold]
fn fresh_segment() -> Box<SegmentRecord> {
    let capacity = LAST_SPANS
        .try_with(Cell::get)
        .unwrap_or(0)
        .clamp(INITIAL_SPAN_CAPACITY, POOLED_SPAN_CAPACITY);
    Box::new(SegmentRecord::with_capacity(capacity))
}

/// Moves a pooled segment's spare strings to this thread's [`SPARE_TEXT`], as many as
/// it has room for. A thread that never decoded a reference has no room (its spares
/// were never allocated): the strings then stay with the segment, for a thread that
/// does. Nothing is freed or allocated here.
#[cold]
fn keep_spare_text(texts: &mut Vec<String>) {
    let _ = SPARE_TEXT.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            let room = spare.capacity().saturating_sub(spare.len());
            let keep = texts.len().min(room);
            spare.extend(texts.drain(..keep));
        }
    });
}

/// An empty string for the text of an incoming reference: a spare one with capacity
/// from this thread's [`SPARE_TEXT`] when there is one, else a new (unallocated) one.
#[inline]
pub(crate) fn take_text() -> String {
    SPARE_TEXT
        .try_with(|spare| {
            let mut spare = spare.try_borrow_mut().ok()?;
            if spare.capacity() == 0 {
                // Once per thread that continues traces: room for the spares that
                // pooled segments bring back from now on.
                spare.reserve_exact(MAX_THREAD_SPARE_TEXT);
            }
            spare.pop()
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Queues a finished segment for the reporter; drops and counts it when the queue is full.
#[inline]
pub(crate) fn submit(segment: Box<SegmentRecord>) {
    let _ = LAST_SPANS.try_with(|last| last.set(segment.spans.len()));
    let spans = segment.spans.len() as u64;
    let report = segment.report;
    match SEGMENTS.items.push(segment) {
        // Recorded to be sent: counted. (A segment recorded only for the reporter thread
        // to observe, feature `prometheus`, is not: the identities hold for what is sent.)
        Ok(()) if report => stats::segment_queued(spans),
        Ok(()) => {}
        Err(segment) => {
            if report {
                stats::segment_dropped(spans);
            }
            recycle_segment(segment);
        }
    }
}

/// Puts this thread's unfinished chain of recycled segments in the shared pool (freed
/// if the pool is full).
fn hand_back_chain() {
    let _ = RETURNS.try_with(|returns| {
        let mut chain = returns.take();
        if let Some(head) = chain.head.take() {
            POOL.push(head, chain.len);
        }
        chain.len = 0;
        returns.set(chain);
    });
}

/// Set when a thread takes a chain from the shared pool: the pool is in use.
static POOL_TAKEN: AtomicBool = AtomicBool::new(false);
/// How long the pool must go untouched before [`decay`] frees part of it.
const DECAY_AFTER: Duration = Duration::from_secs(1);

/// When the reporter first found the pool untouched (reporter thread only).
static UNTOUCHED_SINCE: Mutex<Option<Instant>> = Mutex::new(None);

/// Frees pooled chains, oldest first, down to [`POOL_FLOOR`] segments (a chain that
/// would take the pool below it is put back), once no thread has taken a chain for
/// [`DECAY_AFTER`]: a second after a burst the pool is back to its floor, while a pool in
/// use keeps its size. Runs on the reporter thread, when a turn found no segment.
fn decay() {
    if POOL.is_empty() {
        return;
    }
    let Ok(mut since) = UNTOUCHED_SINCE.lock() else {
        return;
    };
    let now = Instant::now();
    if POOL_TAKEN.swap(false, Ordering::Relaxed) {
        *since = Some(now);
        return;
    }
    let start = *since.get_or_insert(now);
    if now.duration_since(start) < DECAY_AFTER {
        return;
    }
    *since = Some(now);
    POOL.trim(POOL_FLOOR);
}

/// Gives a segment back for reuse: cleared, and linked into this thread's chain, which
/// goes to the shared pool once it is full or the pool has run dry (so that threads
/// waiting for segments get them at once); what the pool has no room for is freed.
pub(crate) fn recycle_segment(mut segment: Box<SegmentRecord>) {
    segment.clear();
    if segment.spans.capacity() > POOLED_SPAN_CAPACITY {
        segment.spans.shrink_to(POOLED_SPAN_CAPACITY);
    }
    if segment.tags.capacity() > POOLED_TAG_CAPACITY {
        segment.tags.shrink_to(POOLED_TAG_CAPACITY);
    }
    if segment.logs.capacity() > POOLED_RARE_CAPACITY {
        segment.logs.shrink_to(POOLED_RARE_CAPACITY);
    }
    if segment.refs.capacity() > POOLED_RARE_CAPACITY {
        segment.refs.shrink_to(POOLED_RARE_CAPACITY);
    }
    let _ = RETURNS.try_with(move |returns| {
        let mut chain = returns.take();
        segment.next = chain.head.take();
        chain.head = Some(segment);
        chain.len += 1;
        if chain.len >= CHAIN_LEN || POOL.is_empty() {
            if let Some(head) = chain.head.take() {
                POOL.push(head, chain.len);
            }
            chain.len = 0;
        }
        returns.set(chain);
    });
}

/// Gives text that no segment will keep (the name of a span an unsampled trace does
/// not record) back to this thread's [`SPARE_TEXT`], while it has room.
#[cold]
pub(crate) fn give_text(text: crate::record::Str) {
    let std::borrow::Cow::Owned(mut text) = text else {
        return;
    };
    if text.capacity() == 0 || text.capacity() > crate::record::MAX_SPARE_TEXT_CAPACITY {
        return;
    }
    text.clear();
    let _ = SPARE_TEXT.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut()
            && spare.len() < spare.capacity()
        {
            spare.push(text);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    /// Segments in the shared pool now (other tests may take some meanwhile).
    fn pooled() -> usize {
        let mut chains = Vec::new();
        while let Some(chain) = POOL.chains().pop() {
            chains.push(chain);
        }
        let mut count = 0;
        for chain in &chains {
            let mut next = Some(&**chain);
            while let Some(segment) = next {
                count += 1;
                next = segment.next.as_deref();
            }
        }
        for chain in chains {
            assert!(POOL.chains().push(chain).is_ok(), "a slot per segment");
        }
        count
    }

    /// A chain of `len` cleared segments.
    fn chain(len: usize) -> Box<SegmentRecord> {
        let mut head = Box::new(SegmentRecord::with_capacity(1));
        for _ in 1..len {
            let mut segment = Box::new(SegmentRecord::with_capacity(1));
            segment.next = Some(head);
            head = segment;
        }
        head
    }

    /// Segments linked from `head`.
    fn linked(head: &SegmentRecord) -> usize {
        std::iter::successors(Some(head), |segment| segment.next.as_deref()).count()
    }

    #[test]
    fn the_pool_is_bounded_by_segments_and_chains_of_one_keep_their_room() {
        let pool = SharedPool::new(4 * CHAIN_LEN);
        // As many chains of one as the old bound (a slot per chain) had slots, and more:
        // they take the room of their segments only.
        for _ in 0..2 * CHAIN_LEN {
            pool.push(chain(1), 1);
        }
        pool.push(chain(CHAIN_LEN), CHAIN_LEN);
        pool.push(chain(CHAIN_LEN), CHAIN_LEN);
        assert_eq!(pool.len(), 4 * CHAIN_LEN);
        // Full: a chain that does not fit is freed, whole.
        pool.push(chain(1), 1);
        assert_eq!(pool.len(), 4 * CHAIN_LEN);
        let mut popped = 0;
        while let Some(head) = pool.pop() {
            popped += linked(&head);
        }
        assert_eq!(popped, 4 * CHAIN_LEN);
        assert_eq!(pool.len(), 0);
        assert!(pool.is_empty());
    }

    #[test]
    fn trimming_keeps_the_floor_and_frees_the_oldest_chains() {
        let pool = SharedPool::new(POOL_CAPACITY);
        for _ in 0..4 {
            pool.push(chain(CHAIN_LEN), CHAIN_LEN);
        }
        for _ in 0..5 {
            pool.push(chain(1), 1);
        }
        // 133 segments: the two oldest chains go; the third would leave 37 of a floor of
        // 64, so it is put back (behind the others).
        pool.trim(POOL_FLOOR);
        assert_eq!(pool.len(), 2 * CHAIN_LEN + 5);
        let mut chains = Vec::new();
        while let Some(head) = pool.pop() {
            chains.push(linked(&head));
        }
        assert_eq!(chains, [CHAIN_LEN, 1, 1, 1, 1, 1, CHAIN_LEN]);
        // A pool at or under its floor keeps everything.
        pool.push(chain(3), 3);
        pool.trim(POOL_FLOOR);
        assert_eq!(pool.len(), 3);
    }

    #[test]
    fn recycled_segments_come_back_in_bounded_chains() {
        // On a thread of its own, so that its caches start empty.
        std::thread::spawn(|| {
            let segments: Vec<_> = (0..POOL_CAPACITY + 3 * CHAIN_LEN)
                .map(|_| take_segment(TraceId::Local(Id::generate())))
                .collect();
            for mut segment in segments {
                segment.spans.reserve(1);
                recycle_segment(segment);
            }
            // The pool holds at most its capacity; the rest was freed, or waits in this
            // thread's unfinished chain.
            assert!(pooled() <= POOL_CAPACITY);
            let chain = RETURNS.with(|returns| {
                let chain = returns.take();
                let len = chain.len;
                returns.set(chain);
                len
            });
            assert!(chain < CHAIN_LEN);
            // A taken segment is cleared and unlinked, whichever chain it came from.
            let segment = take_segment(TraceId::Local(Id::generate()));
            assert!(segment.next.is_none() && segment.spans.is_empty());
            assert!(segment.spans.capacity() >= 1);
        })
        .join()
        .expect("the test thread");
    }
}

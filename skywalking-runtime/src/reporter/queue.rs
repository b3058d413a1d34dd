//! HOT PATH (send half). The bounded queue between the application's threads and the
//! reporter thread, and the pools that let segments and contexts be reused.
//!
//! `submit` never blocks: when the queue is full the segment is dropped and counted.
//! Finished segments travel as `Box`es, so queuing moves a pointer; the reporter thread
//! hands encoded segments back through a pool so their span buffers are reused.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;

use crate::context::Context;
use crate::record::{SegmentRecord, TraceId};
use crate::stats;

/// Default bound of the queue, `SW_AGENT_REPORTER_MAX_SEND_QUEUE`.
pub(crate) const DEFAULT_CAPACITY: usize = 5_000;
/// Segments kept for reuse.
const POOL_CAPACITY: usize = 1024;
/// Span buffers larger than this are shrunk before reuse, to keep the pool's memory small.
const POOLED_SPAN_CAPACITY: usize = 128;
/// Span buffer of a fresh segment.
const INITIAL_SPAN_CAPACITY: usize = 16;

static QUEUE: OnceLock<ArrayQueue<Box<SegmentRecord>>> = OnceLock::new();
static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_CAPACITY);
static POOL: OnceLock<ArrayQueue<Box<SegmentRecord>>> = OnceLock::new();

/// Sets the queue bound. The first call sizes the queue; later calls can lower the bound
/// but not raise it past that first size.
pub(crate) fn configure(capacity: usize) {
    let capacity = capacity.max(1);
    let queue = QUEUE.get_or_init(|| ArrayQueue::new(capacity));
    LIMIT.store(capacity.min(queue.capacity()), Ordering::Relaxed);
}

fn queue() -> &'static ArrayQueue<Box<SegmentRecord>> {
    QUEUE.get_or_init(|| ArrayQueue::new(DEFAULT_CAPACITY))
}

fn pool() -> &'static ArrayQueue<Box<SegmentRecord>> {
    POOL.get_or_init(|| ArrayQueue::new(POOL_CAPACITY))
}

/// A cleared segment for `trace_id`, from the pool when one is free.
#[inline]
pub(crate) fn take_segment(trace_id: TraceId) -> Box<SegmentRecord> {
    let mut segment = pool().pop().unwrap_or_else(|| {
        // The pool is empty (the reporter is behind): size the new buffer like this
        // thread's last segment, so it is allocated once rather than grown.
        let capacity = LAST_SPANS
            .try_with(Cell::get)
            .unwrap_or(0)
            .clamp(INITIAL_SPAN_CAPACITY, POOLED_SPAN_CAPACITY);
        Box::new(SegmentRecord::with_capacity(capacity))
    });
    segment.reset(trace_id);
    segment
}

/// Queues a finished segment for the reporter; drops and counts it when the queue is full.
#[inline]
pub(crate) fn submit(segment: Box<SegmentRecord>) {
    let _ = LAST_SPANS.try_with(|last| last.set(segment.spans.len()));
    let spans = segment.spans.len() as u64;
    stats::add_spans(spans);
    let queue = queue();
    if queue.len() >= LIMIT.load(Ordering::Relaxed) {
        stats::segment_dropped();
        recycle_segment(segment);
        return;
    }
    match queue.push(segment) {
        Ok(()) => {
            stats::segment_queued();
            super::worker::nudge_if_busy(queue.len());
        }
        Err(segment) => {
            stats::segment_dropped();
            recycle_segment(segment);
        }
    }
}

/// Takes up to `max` queued segments. They stay boxed: the box goes back to the pool.
#[allow(clippy::vec_box)]
pub(crate) fn drain(max: usize, into: &mut Vec<Box<SegmentRecord>>) {
    let queue = queue();
    for _ in 0..max {
        match queue.pop() {
            Some(segment) => into.push(segment),
            None => break,
        }
    }
}

/// Segments waiting in the queue.
pub(crate) fn len() -> usize {
    QUEUE.get().map_or(0, ArrayQueue::len)
}

/// Gives a segment back for reuse.
pub(crate) fn recycle_segment(mut segment: Box<SegmentRecord>) {
    segment.clear();
    if segment.spans.capacity() > POOLED_SPAN_CAPACITY {
        segment.spans.shrink_to(POOLED_SPAN_CAPACITY);
    }
    if segment.tags.capacity() > POOLED_SPAN_CAPACITY {
        segment.tags.shrink_to(POOLED_SPAN_CAPACITY);
    }
    if segment.logs.capacity() > POOLED_SPAN_CAPACITY {
        segment.logs.shrink_to(POOLED_SPAN_CAPACITY);
    }
    let _ = pool().push(segment);
}

thread_local! {
    /// Spans in the last segment this thread finished.
    static LAST_SPANS: Cell<usize> = const { Cell::new(0) };
    static SPARE_CONTEXT: Cell<Option<Box<Context>>> = const { Cell::new(None) };
}

/// Keeps one finished context per thread for reuse.
pub(crate) fn recycle_context(ctx: Box<Context>) {
    let _ = SPARE_CONTEXT.try_with(|spare| spare.set(Some(ctx)));
}

/// A context from this thread's spare, if there is one.
pub(crate) fn spare_context() -> Option<Box<Context>> {
    SPARE_CONTEXT.try_with(Cell::take).ok().flatten()
}

//! HOT PATH. Where finished segments go, and the pool that lets their buffers be reused.
//!
//! A finished segment is queued for the reporter in [`SEGMENTS`] (dropped and counted
//! when the queue is full). After encoding, the reporter hands each segment back with
//! [`recycle_segment`], so its span, tag and log buffers are reused by the next segment
//! [`take_segment`] gives out.

use std::cell::Cell;
use std::sync::OnceLock;

use crossbeam_queue::ArrayQueue;

use crate::queue::BoundedQueue;
use crate::record::{SegmentRecord, TraceId};
use crate::stats;

/// Finished segments waiting for the reporter (`SW_AGENT_REPORTER_MAX_SEND_QUEUE`).
pub(crate) static SEGMENTS: BoundedQueue<Box<SegmentRecord>> = BoundedQueue::new();

/// Segments kept for reuse.
const POOL_CAPACITY: usize = 1024;
/// Span buffers larger than this are shrunk before reuse, to keep the pool's memory small.
const POOLED_SPAN_CAPACITY: usize = 128;
/// Span buffer of a fresh segment.
const INITIAL_SPAN_CAPACITY: usize = 16;

static POOL: OnceLock<ArrayQueue<Box<SegmentRecord>>> = OnceLock::new();

fn pool() -> &'static ArrayQueue<Box<SegmentRecord>> {
    POOL.get_or_init(|| ArrayQueue::new(POOL_CAPACITY))
}

thread_local! {
    /// Spans in the last segment this thread finished.
    static LAST_SPANS: Cell<usize> = const { Cell::new(0) };
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
    stats::add_spans(segment.spans.len() as u64);
    match SEGMENTS.push(segment) {
        Ok(()) => stats::segment_queued(),
        Err(segment) => {
            stats::segment_dropped();
            recycle_segment(segment);
        }
    }
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

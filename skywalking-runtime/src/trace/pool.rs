//! HOT PATH. Where finished segments go, and the pool that lets their buffers be reused.
//!
//! A finished segment is queued for the reporter in [`SEGMENTS`] (dropped and counted
//! when the queue is full). After encoding, the reporter hands each segment back with
//! [`recycle_segment`], so its span, tag and log buffers are reused by the next segment
//! [`take_segment`] gives out.

use std::cell::{Cell, RefCell};
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
    /// Emptied strings (capacity kept) that pooled segments brought back: the text of
    /// the next incoming reference is decoded into them ([`take_text`]).
    static SPARE_TEXT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Strings this thread keeps in [`SPARE_TEXT`]: the texts of a few references.
const MAX_THREAD_SPARE_TEXT: usize = 16;

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
    if !segment.spare_text.is_empty() {
        keep_spare_text(&mut segment.spare_text);
    }
    segment.reset(trace_id);
    segment
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
    if !segment.report {
        // Recorded to be observed on the reporter thread, never sent: not counted as a
        // segment (the stats identities hold for what is sent).
        if let Err(segment) = SEGMENTS.push(segment) {
            recycle_segment(segment);
        }
        return;
    }
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

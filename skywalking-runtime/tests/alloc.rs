//! Zero heap allocations per span in steady state, counted by a global allocator.

// A counting global allocator is the one place tests need `unsafe`.
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use skywalking_runtime::Span;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn one_trace() {
    let root = Span::local("root");
    for _ in 0..100 {
        let child = Span::local("child");
        child.add_tag("k", "static value");
    }
    drop(root);
}

#[test]
fn spans_allocate_nothing_in_steady_state() {
    let _memory = common::start();
    // Warm up: thread-local state, the segment pool, buffer capacities.
    for _ in 0..50 {
        one_trace();
        assert!(common::flush(std::time::Duration::from_secs(5)));
    }
    let mut total = 0;
    for _ in 0..200 {
        let before = allocations();
        one_trace();
        total += allocations() - before;
        // Let the reporter hand the segment back to the pool (outside the measurement).
        assert!(common::flush(std::time::Duration::from_secs(5)));
    }
    assert_eq!(
        total, 0,
        "allocations in 200 traces of 101 spans with a tag each"
    );
}

//! Zero heap allocations per span in steady state, counted by a global allocator.

mod common;
// The counting allocator is the one place tests need `unsafe`.
#[allow(unsafe_code)]
mod counting_alloc;

use counting_alloc::allocations;
use skywalking_runtime::Span;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

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

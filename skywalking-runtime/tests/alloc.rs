//! Zero heap allocations per span in steady state, counted by a global allocator.

mod common;
// The counting allocator is the one place tests need `unsafe`.
#[allow(unsafe_code)]
mod counting_alloc;

use counting_alloc::allocations;
use skywalking_runtime::propagation::Sw8Header;
use skywalking_runtime::{Span, trace};

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// The tests that make segments share the segment pool: run them one at a time, so
/// that one test's segments (sized for its spans) do not grow in the other's.
static POOL: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    let _pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let _memory = common::start();
    // Warm up: thread-local state, the segment pool, buffer capacities (every pooled
    // segment, including the small ones the one-span test left, grows once here).
    for _ in 0..250 {
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

#[test]
fn sw8_parsing_allocates_nothing() {
    let mut endpoint = String::with_capacity(64);
    let before = allocations();
    for _ in 0..100 {
        let header = Sw8Header::parse(std::hint::black_box(common::JAVA_SW8)).expect("valid");
        assert!(
            header
                .trace_id()
                .with_decoded(|id| id.ends_with(".16181331190470001"))
        );
        assert!(header.parent_service() == "order-service");
        endpoint.clear();
        header.parent_endpoint().decode_into(&mut endpoint);
        // Rejected headers too (non-ASCII text takes another path).
        assert!(Sw8Header::parse(&common::JAVA_SW8[1..]).is_err());
        assert!(Sw8Header::parse("1-5pyN-//79-0-5pyN5Yqh-aQ-L2E-aDo4MA").is_err());
    }
    assert_eq!(allocations() - before, 0, "allocations in 100 parses");
    assert_eq!(endpoint, "{GET}/orders/{id}");
}

#[test]
fn sw8_decoding_into_reused_strings_allocates_nothing_once_they_have_room() {
    let mut reused = skywalking_runtime::propagation::Sw8::default();
    // The first decode gives the six strings their capacity.
    assert!(reused.decode_from(common::JAVA_SW8).is_ok());
    let before = allocations();
    for _ in 0..100 {
        assert!(
            reused
                .decode_from(std::hint::black_box(common::JAVA_SW8))
                .is_ok()
        );
        // A rejected header leaves no allocation behind either.
        assert!(reused.decode_from(&common::JAVA_SW8[1..]).is_err());
    }
    assert_eq!(allocations() - before, 0, "allocations in 200 decodes");
    assert!(reused.decode_from(common::JAVA_SW8).is_ok());
    assert_eq!(reused.parent_endpoint, "{GET}/orders/{id}");
}

/// A call that is its own trace: one span, one segment.
#[trace]
fn own_trace(n: u64) -> u64 {
    std::hint::black_box(n) + 1
}

/// Fifty turns of two one-span traces: 100 segments.
fn one_span_round(first: u64) {
    for i in first..first + 50 {
        own_trace(i);
        drop(Span::local("own"));
    }
}

#[test]
fn one_span_traces_allocate_nothing_per_segment_in_steady_state() {
    let _pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let _memory = common::start();
    // Warm up with the reporter held, so that the pool grows to a whole round's segments.
    common::with_reporter_held(|| one_span_round(0));
    let mut total = 0;
    for round in 0..20 {
        let before = allocations();
        // Fewer segments than the pool holds, so every one comes from it.
        one_span_round(round * 50);
        total += allocations() - before;
        // The reporter hands the segments back to the pool (outside the measurement).
        assert!(common::flush(std::time::Duration::from_secs(5)));
    }
    assert_eq!(total, 0, "allocations in 2,000 one-span traces");
}

#[test]
fn segments_given_back_one_at_a_time_stay_pooled() {
    let _pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let _memory = common::start();
    common::with_reporter_held(|| one_span_round(0));
    // A trickle: the reporter gives each segment back alone, in a chain of one (a turn
    // that finds the queue empty hands its unfinished chain to the pool). 300 turns use
    // up the full chains of the warm-up (about 100 segments), so the pool ends up holding
    // only chains of one; they must not crowd its room into freeing segments (the pool
    // bounded by 32 chains did: 136 allocations in the round below).
    for i in 0..300 {
        own_trace(i);
        assert!(common::flush(std::time::Duration::from_secs(5)));
    }
    let before = allocations();
    one_span_round(0);
    assert_eq!(
        allocations() - before,
        0,
        "allocations in 100 one-span traces after a trickle"
    );
}

/// An entry span continuing an incoming `sw8`: the request a traced server answers.
fn continued_request(carrier: &std::collections::BTreeMap<String, String>) {
    let entry = Span::entry("GET /orders/{id}", carrier);
    drop(Span::local("handler"));
    drop(entry);
}

#[test]
fn continuing_an_incoming_sw8_allocates_nothing_in_steady_state() {
    let _pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let _memory = common::start();
    let carrier: std::collections::BTreeMap<String, String> =
        [("sw8".to_owned(), common::JAVA_SW8.to_owned())].into();
    // Through more segments than the pool holds, so that every pooled segment has
    // brought back the texts of a reference; with the reporter held, so that the pool
    // grows to a whole round's segments.
    for _ in 0..25 {
        common::with_reporter_held(|| {
            for _ in 0..50 {
                continued_request(&carrier);
            }
        });
    }
    let requests = 1_000;
    let mut total = 0;
    for _ in 0..requests / 50 {
        let before = allocations();
        // Fewer segments than the pool holds, so every one comes from it, with the
        // reference texts of an earlier request to decode into.
        for _ in 0..50 {
            continued_request(&carrier);
        }
        total += allocations() - before;
        // The reporter hands the segments back to the pool (outside the measurement).
        assert!(common::flush(std::time::Duration::from_secs(5)));
    }
    // The remote trace id and parent segment id are held inline (`RemoteId`); the
    // four texts of the reference (service, instance, endpoint, address) and the
    // segment come from the pools.
    assert_eq!(total, 0, "allocations in {requests} continued requests");
}

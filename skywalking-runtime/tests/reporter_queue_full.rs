//! Memory stays bounded while the collector is unreachable: the queue never holds more
//! than `max_send_queue` segments, every segment beyond it is dropped and counted
//! (dropped = created - queued), and the process does not grow.

mod reporter_support;

use std::time::Duration;

use reporter_support::{free_addr, rss_bytes, segment};
use skywalking_runtime::{Agent, Config};

const LIMIT: u64 = 100;

fn waiting(stats: &skywalking_runtime::Stats) -> u64 {
    let undelivered = stats.segments_dropped - stats.segments_dropped_queue_full;
    stats.segments_queued - stats.segments_sent - undelivered
}

#[test]
fn a_full_queue_drops_and_counts_and_memory_stays_flat() {
    let guard = Agent::builder()
        .config(Config::default())
        .service("queue-full")
        .backend(free_addr().to_string())
        .max_send_queue(LIMIT as usize)
        .shutdown_timeout(Duration::from_millis(300))
        .start()
        .expect("agent starts");

    let mut created = 0u64;
    for _ in 0..1_000 {
        segment("kept-or-dropped", 3);
        created += 1;
        let stats = skywalking_runtime::stats();
        assert!(waiting(&stats) <= LIMIT, "queue above its limit: {stats:?}");
    }
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.segments_queued, LIMIT);
    assert_eq!(
        stats.segments_dropped_queue_full,
        created - stats.segments_queued
    );
    assert_eq!(stats.segments_dropped, created - stats.segments_queued);
    assert_eq!(stats.spans_started, created * 4);

    // A sustained flood: resident memory does not follow it.
    let before = rss_bytes();
    for _ in 0..100_000 {
        segment("flood", 9);
    }
    created += 100_000;
    let after = rss_bytes();
    if let (Some(before), Some(after)) = (before, after) {
        let growth = after.saturating_sub(before);
        assert!(growth < 16 << 20, "grew by {} KiB", growth >> 10);
    }
    let stats = skywalking_runtime::stats();
    assert!(waiting(&stats) <= LIMIT);
    assert_eq!(
        stats.segments_dropped_queue_full,
        created - stats.segments_queued
    );

    // Shutting down with the collector still away: what waited is dropped and counted.
    drop(guard);
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.segments_sent, 0);
    assert_eq!(stats.segments_dropped, created, "{stats:?}");
    assert_eq!(waiting(&stats), 0);
}

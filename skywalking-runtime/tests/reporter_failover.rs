//! Two collector addresses: when the one in use goes away, the reporter fails over to
//! the other one and keeps delivering.

mod reporter_support;

use std::time::{Duration, Instant};

use reporter_support::{WAIT, collector_runtime, segment};
use skywalking_runtime::{Agent, Config};
use skywalking_testkit::MockCollector;

#[test]
fn the_reporter_fails_over_to_the_next_address() {
    let rt = collector_runtime();
    let first = rt
        .block_on(MockCollector::start())
        .expect("first collector");
    let second = rt
        .block_on(MockCollector::start())
        .expect("second collector");
    let guard = Agent::builder()
        .config(Config::default())
        .service("failover-svc")
        .backends([first.addr().to_string(), second.addr().to_string()])
        .check_interval(Duration::from_millis(100))
        .start()
        .expect("agent starts");

    for _ in 0..10 {
        segment("to-first", 1);
    }
    rt.block_on(first.wait_for_segments(10, WAIT))
        .expect("the first address is used first");
    assert!(second.segments().is_empty());

    rt.block_on(first.stop());
    let stopped = Instant::now();
    loop {
        segment("to-second", 1);
        if !second.segments().is_empty() {
            break;
        }
        assert!(stopped.elapsed() < WAIT, "no failover");
        std::thread::sleep(Duration::from_millis(10));
    }
    rt.block_on(second.wait_for_properties(1, WAIT))
        .expect("introduced to the second");

    drop(guard);
    let stats = skywalking_runtime::stats();
    assert!(stats.reconnects >= 1, "{stats:?}");
    let undelivered = stats.segments_dropped - stats.segments_dropped_queue_full;
    assert_eq!(
        stats.segments_sent + undelivered,
        stats.segments_queued,
        "{stats:?}"
    );
}

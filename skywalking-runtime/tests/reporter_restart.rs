//! The collector goes away mid-run and comes back on the same port: the reporter
//! reconnects within one backoff period (5 s at most), and every segment is accounted
//! for: sent (the collector answered) or dropped (counted).

mod reporter_support;

use std::time::{Duration, Instant};

use reporter_support::{WAIT, collector_runtime, segment};
use skywalking_runtime::{Agent, Config};
use skywalking_testkit::MockCollector;

#[test]
fn the_reporter_recovers_and_counts_what_it_lost() {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let guard = Agent::builder()
        .config(Config::default())
        .service("restart-svc")
        .backend(collector.addr().to_string())
        .check_interval(Duration::from_millis(100))
        .start()
        .expect("agent starts");

    for _ in 0..100 {
        segment("before", 2);
    }
    rt.block_on(collector.wait_for_segments(100, WAIT))
        .expect("before the outage");

    rt.block_on(collector.stop());
    // Traffic during the outage: some batches fail in flight (dropped), the rest wait
    // in the queue.
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_millis(1500) {
        segment("during", 2);
        std::thread::sleep(Duration::from_millis(5));
    }
    let during = skywalking_runtime::stats();
    assert!(
        during.send_errors >= 1,
        "the outage was noticed: {during:?}"
    );

    rt.block_on(collector.restart())
        .expect("restart on the same port");
    let back = Instant::now();
    // Keep producing until a segment made after the restart arrives.
    let mut n = 0u32;
    let recovered = loop {
        segment("after", 1);
        n += 1;
        if collector
            .segments()
            .iter()
            .any(|s| s.spans[0].operation_name == "after")
        {
            break back.elapsed();
        }
        assert!(
            back.elapsed() < WAIT,
            "no recovery after {:?}",
            back.elapsed()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        recovered < Duration::from_millis(5_000 + 1_500),
        "recovery took {recovered:?} (backoff is at most 5 s)"
    );
    assert!(n >= 1);

    drop(guard);
    let stats = skywalking_runtime::stats();
    let undelivered = stats.segments_dropped - stats.segments_dropped_queue_full;
    assert_eq!(
        stats.segments_sent + undelivered,
        stats.segments_queued,
        "every queued segment is sent or counted as dropped: {stats:?}"
    );
    assert_eq!(stats.segments_dropped_queue_full, 0);
    assert!(stats.reconnects >= 1, "{stats:?}");
    // The collector may have kept part of a stream that failed, never less than sent.
    assert!(collector.segments().len() as u64 >= stats.segments_sent);
}

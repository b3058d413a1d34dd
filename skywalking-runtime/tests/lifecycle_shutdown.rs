//! Graceful shutdown with the collector up: every segment created before the guard is
//! dropped has arrived when the drop returns.

mod reporter_support;

use reporter_support::{collector_runtime, segment};
use skywalking_runtime::{Agent, Config};
use skywalking_testkit::MockCollector;

#[test]
fn dropping_the_guard_delivers_every_queued_segment() {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let guard = Agent::builder()
        .config(Config::default())
        .service("shutdown-svc")
        .backend(collector.addr().to_string())
        .start()
        .expect("agent starts");

    const N: usize = 3_000;
    for _ in 0..N {
        segment("burst", 3);
    }
    drop(guard);

    assert_eq!(
        collector.segments().len(),
        N,
        "all arrived before drop returned"
    );
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.segments_queued, N as u64);
    assert_eq!(stats.segments_sent, N as u64);
    assert_eq!(stats.segments_dropped, 0);
    assert!(!skywalking_runtime::Span::local("after").is_recording());
}

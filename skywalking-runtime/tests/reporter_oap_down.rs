//! OAP is down when the agent starts: `start()` does not wait for it, span creation
//! stays cheap, and once the collector comes up (within one backoff period) the
//! segments made after that arrive, along with those that waited in the queue.

mod reporter_support;

use std::time::{Duration, Instant};

use reporter_support::{WAIT, collector_runtime, free_addr, segment};
use skywalking_runtime::{Agent, Config};
use skywalking_testkit::MockCollector;

#[test]
fn segments_made_after_the_collector_comes_up_arrive() {
    let addr = free_addr();
    let started = Instant::now();
    let guard = Agent::builder()
        .config(Config::default())
        .service("late-oap")
        .backend(addr.to_string())
        .check_interval(Duration::from_millis(200))
        .start()
        .expect("starts without a collector");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "start() waited for OAP"
    );

    // Down: the caller never waits on the network.
    let mut slowest = Duration::ZERO;
    let mut total = Duration::ZERO;
    for _ in 0..200 {
        let took = segment("while-down", 4);
        slowest = slowest.max(took);
        total += took;
        std::thread::sleep(Duration::from_millis(2));
    }
    // Preemption on a busy machine aside, nothing waits: a caller blocked on the
    // network would wait for a connect timeout (seconds).
    assert!(
        slowest < Duration::from_millis(250),
        "a segment took {slowest:?}"
    );
    assert!(
        total / 200 < Duration::from_millis(1),
        "mean {:?}",
        total / 200
    );
    let down = skywalking_runtime::stats();
    assert_eq!(down.segments_sent, 0);
    assert!(
        down.send_errors >= 1,
        "failed connection attempts are counted"
    );

    let rt = collector_runtime();
    let collector = rt
        .block_on(MockCollector::builder().bind(addr).start())
        .expect("collector on the reserved port");
    let up = Instant::now();
    for _ in 0..50 {
        segment("after-up", 1);
    }
    let arrived = rt
        .block_on(collector.wait_until(WAIT, |records| {
            let n = records
                .segments
                .iter()
                .filter(|s| s.spans[0].operation_name == "after-up")
                .count();
            (n == 50).then_some(())
        }))
        .map(|()| up.elapsed());
    let recovery = arrived.expect("segments made after the collector came up arrive");
    assert!(
        recovery < Duration::from_secs(7),
        "recovered after {recovery:?}"
    );
    // The ones that waited in the queue (it never filled) arrive too.
    let early = collector
        .segments()
        .iter()
        .filter(|s| s.spans[0].operation_name == "while-down")
        .count();
    assert_eq!(early, 200);
    rt.block_on(collector.wait_for_pings(1, WAIT))
        .expect("heartbeat");
    rt.block_on(collector.wait_for_properties(1, WAIT))
        .expect("properties");

    drop(guard);
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.segments_sent, 250);
    assert_eq!(stats.segments_dropped, 0);
    assert_eq!(
        stats.reconnects, 0,
        "the first connection is not a reconnect"
    );
}

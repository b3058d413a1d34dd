//! Log records while the collector is unreachable: they wait in their bounded queue,
//! what does not fit is dropped and counted, the caller never waits, and at shutdown
//! what could not be sent is counted as dropped too.

mod reporter_support;

use std::time::{Duration, Instant};

use skywalking_runtime::integrations::log::SkyWalkingLogger;
use skywalking_runtime::{Agent, Config};

struct Discard;

impl log::Log for Discard {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        false
    }
    fn log(&self, _: &log::Record<'_>) {}
    fn flush(&self) {}
}

#[test]
fn a_full_log_queue_drops_and_counts_without_blocking() {
    let guard = Agent::builder()
        .config(Config::default())
        .backend(reporter_support::free_addr().to_string())
        .max_send_queue(5)
        .meter_active(false)
        .shutdown_timeout(Duration::from_millis(300))
        .start()
        .expect("agent starts");
    SkyWalkingLogger::new(Discard)
        .init(log::LevelFilter::Warn)
        .expect("the only logger");

    let start = Instant::now();
    for i in 0..20 {
        log::warn!("record {i}");
    }
    log::info!("below the level: neither queued nor dropped");
    assert!(start.elapsed() < Duration::from_secs(1), "logging waited");

    let stats = skywalking_runtime::stats();
    assert_eq!(stats.logs_queued, 5);
    assert_eq!(stats.logs_dropped_queue_full, 15);

    drop(guard);
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.logs_sent, 0);
    assert_eq!(stats.logs_dropped, 20);
}

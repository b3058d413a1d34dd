//! A plain (non-async) program: the agent reports over real gRPC to the mock collector
//! from its own thread and runtime; segments, instance properties and heartbeats arrive,
//! and properties are re-sent every 10 heartbeats.

mod reporter_support;

use std::time::Duration;

use reporter_support::{WAIT, collector_runtime, segment};
use skywalking_runtime::{Agent, Config, Span};
use skywalking_testkit::MockCollector;

#[test]
fn a_sync_program_delivers_segments_properties_and_pings() {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");

    let guard = Agent::builder()
        .config(Config::default())
        .service("sync-svc")
        .instance("sync-1")
        .backend(collector.addr().to_string())
        .check_interval(Duration::from_millis(50))
        .start()
        .expect("agent starts");

    for _ in 0..20 {
        segment("sync-root", 2);
    }
    let trace = {
        let _root = Span::local("traced");
        skywalking_runtime::trace_id().expect("a trace").to_string()
    };
    let segments = rt
        .block_on(collector.wait_for_segments(21, WAIT))
        .expect("segments");
    assert_eq!(segments.len(), 21);
    let roots = segments
        .iter()
        .filter(|s| s.spans[0].operation_name == "sync-root");
    for s in roots {
        assert_eq!(s.service, "sync-svc");
        assert_eq!(s.service_instance, "sync-1");
        assert_eq!(s.spans.len(), 3);
        assert_eq!(s.spans[1].parent_span_id, 0);
    }
    assert_eq!(collector.trace(&trace).len(), 1);

    // Properties at start, then again after 10 heartbeats.
    let properties = rt
        .block_on(collector.wait_for_properties(2, WAIT))
        .expect("properties twice");
    let first = &properties[0];
    assert_eq!(first.service, "sync-svc");
    assert_eq!(first.service_instance, "sync-1");
    let value = |key: &str| {
        first
            .properties
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.clone())
    };
    assert_eq!(value("language").as_deref(), Some("rust"));
    assert_eq!(value("Process No."), Some(std::process::id().to_string()));
    assert!(value("hostname").is_some_and(|h| !h.is_empty()));
    assert!(value("OS Name").is_some());
    let pings = collector.pings();
    assert!(
        pings.len() >= 10,
        "properties came back before 10 pings: {}",
        pings.len()
    );
    assert!(
        pings
            .iter()
            .all(|p| p.service == "sync-svc" && p.service_instance == "sync-1")
    );

    drop(guard);
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.segments_queued, 21);
    assert_eq!(stats.segments_sent, 21);
    assert_eq!(stats.segments_dropped, 0);
    assert_eq!(stats.send_errors, 0);
    assert_eq!(stats.reconnects, 0);
}

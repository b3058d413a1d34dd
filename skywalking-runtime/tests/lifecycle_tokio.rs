//! An async program on a `current_thread` tokio runtime that also serves the mock
//! collector: the reporter needs nothing from the application's runtime (it has its own
//! thread and runtime), so reporting neither stalls nor deadlocks it.

mod reporter_support;

use std::time::Duration;

use reporter_support::WAIT;
use skywalking_runtime::{Agent, Config, FutureExt};
use skywalking_testkit::MockCollector;

async fn handler(i: u32) -> u32 {
    let doubled = async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        i * 2
    }
    .in_span("double")
    .await;
    let side = skywalking_runtime::spawn(async move { i + 1 }.in_span("spawned"));
    doubled + side.await.expect("joined")
}

#[tokio::test(flavor = "current_thread")]
async fn a_tokio_program_delivers_segments_properties_and_pings() {
    let collector = MockCollector::start().await.expect("collector");
    let guard = Agent::builder()
        .config(Config::default())
        .service("tokio-svc")
        .instance("tokio-1")
        .backend(collector.addr().to_string())
        .check_interval(Duration::from_millis(100))
        .shutdown_timeout(Duration::from_millis(500))
        .start()
        .expect("agent starts");

    for i in 0..10 {
        let value = handler(i).in_span("request").await;
        assert_eq!(value, 3 * i + 1);
    }
    // Each request: its own segment (request + double) and the spawned task's segment.
    let segments = collector
        .wait_for_segments(20, WAIT)
        .await
        .expect("segments");
    let requests: Vec<_> = segments
        .iter()
        .filter(|s| s.spans[0].operation_name == "request")
        .collect();
    assert_eq!(requests.len(), 10);
    for request in &requests {
        assert_eq!(request.service, "tokio-svc");
        let names: Vec<_> = request
            .spans
            .iter()
            .map(|s| s.operation_name.as_str())
            .collect();
        assert_eq!(names, ["request", "double"]);
        let spawned = collector
            .trace(&request.trace_id)
            .into_iter()
            .find(|s| s.spans[0].operation_name == "spawned")
            .expect("the spawned task's segment");
        assert_eq!(
            spawned.spans[0].refs[0].parent_trace_segment_id,
            request.trace_segment_id
        );
    }

    let properties = collector
        .wait_for_properties(1, WAIT)
        .await
        .expect("properties");
    assert_eq!(properties[0].service_instance, "tokio-1");
    let pings = collector.wait_for_pings(2, WAIT).await.expect("pings");
    assert_eq!(pings[0].service, "tokio-svc");

    // Nothing is queued now: the drop's flush has nothing to wait for, even though the
    // collector lives on this very (blocked) thread.
    assert!(guard.flush(Duration::from_secs(2)));
    drop(guard);
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.segments_sent, stats.segments_queued);
    assert_eq!(stats.segments_dropped, 0);
}

//! `delay(d)`: every answer, unary or streaming, takes at least `d`.

use std::time::{Duration, Instant};

use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
use skywalking_testkit::MockCollector;
use skywalking_tests::{connect, ping, segment};

const DELAY: Duration = Duration::from_millis(300);

#[tokio::test]
async fn answers_take_at_least_the_delay() {
    let collector = MockCollector::builder().delay(DELAY).start().await.unwrap();
    let channel = connect(collector.endpoint()).await;
    let mut management = ManagementServiceClient::new(channel.clone());
    let mut traces = TraceSegmentReportServiceClient::new(channel);

    let started = Instant::now();
    management.keep_alive(ping("svc")).await.unwrap();
    let unary = started.elapsed();
    assert!(unary >= DELAY, "unary answered after {unary:?}");

    let started = Instant::now();
    traces
        .collect(tokio_stream::iter([segment("t", "s", "svc", None, 0)]))
        .await
        .unwrap();
    let streaming = started.elapsed();
    assert!(streaming >= DELAY, "stream answered after {streaming:?}");

    // The data itself is recorded on arrival, not held back with the answer.
    assert_eq!(collector.pings(), [ping("svc")]);
    assert_eq!(collector.segments().len(), 1);
}

#[tokio::test]
async fn a_client_deadline_shorter_than_the_delay_expires() {
    let collector = MockCollector::builder().delay(DELAY).start().await.unwrap();
    let mut management = ManagementServiceClient::new(connect(collector.endpoint()).await);
    let mut request = tonic::Request::new(ping("svc"));
    request.set_timeout(Duration::from_millis(50));
    let status = management.keep_alive(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Cancelled, "{status:?}");
}

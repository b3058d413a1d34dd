//! Segments sent with `collect` (client streaming) and `collectInSync` (unary) arrive
//! intact, and the trace accessors group them by trace.

use std::time::Duration;

use skywalking_proto::v3::SegmentCollection;
use skywalking_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
use skywalking_testkit::{Error, MockCollector};
use skywalking_tests::{WAIT, connect, segment};

#[tokio::test]
async fn streamed_and_batched_segments_arrive_intact() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = TraceSegmentReportServiceClient::new(connect(collector.endpoint()).await);

    let streamed = vec![
        segment("trace-a", "a-1", "frontend", None, 1_000),
        segment("trace-a", "a-2", "backend", Some(("a-1", 1)), 1_005),
        segment("trace-b", "b-1", "frontend", None, 2_000),
    ];
    let commands = client
        .collect(tokio_stream::iter(streamed.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty());

    let batched = vec![
        segment("trace-b", "b-2", "backend", Some(("b-1", 1)), 2_005),
        segment("trace-c", "c-1", "cron", None, 3_000),
    ];
    let commands = client
        .collect_in_sync(SegmentCollection {
            segments: batched.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty());

    let all: Vec<_> = streamed.iter().chain(&batched).cloned().collect();
    assert_eq!(collector.wait_for_segments(5, WAIT).await.unwrap(), all);
    assert_eq!(collector.segments(), all);
    assert_eq!(collector.trace_ids(), ["trace-a", "trace-b", "trace-c"]);
    assert_eq!(collector.trace("trace-b"), [all[2].clone(), all[3].clone()]);
    assert!(collector.trace("no-such-trace").is_empty());
    assert_eq!(
        collector.calls_to("/skywalking.v3.TraceSegmentReportService/collect"),
        1
    );
    assert_eq!(
        collector.calls_to("/skywalking.v3.TraceSegmentReportService/collectInSync"),
        1
    );
    assert_eq!(collector.calls(), 2);
    assert_eq!(collector.rejected_calls(), 0);
}

#[tokio::test]
async fn waiting_for_more_than_arrives_times_out_and_says_how_many_came() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = TraceSegmentReportServiceClient::new(connect(collector.endpoint()).await);
    client
        .collect_in_sync(SegmentCollection {
            segments: vec![segment("t", "s", "svc", None, 0)],
        })
        .await
        .unwrap();

    let err = collector
        .wait_for_segments(2, Duration::from_millis(200))
        .await
        .unwrap_err();
    match &err {
        Error::Timeout { what, waited } => {
            assert_eq!(what, "2 segments (got 1)");
            assert_eq!(*waited, Duration::from_millis(200));
        }
        other => panic!("unexpected error {other:?}"),
    }
    let err = collector
        .wait_for_trace("t", 2, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("2 segments of trace t (got 1)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_waiter_wakes_when_a_late_stream_item_arrives() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = TraceSegmentReportServiceClient::new(connect(collector.endpoint()).await);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let call = tokio::spawn(async move {
        client
            .collect(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });

    tx.send(segment("t", "s1", "svc", None, 0)).await.unwrap();
    let first = collector.wait_for_segments(1, WAIT).await.unwrap();
    assert_eq!(first.len(), 1, "recorded while the stream is still open");

    let waiter = {
        let collector = collector.clone();
        tokio::spawn(async move { collector.wait_for_trace("t", 2, WAIT).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.send(segment("t", "s2", "svc", Some(("s1", 1)), 5))
        .await
        .unwrap();
    let both = waiter.await.unwrap().unwrap();
    assert_eq!(both.len(), 2);

    drop(tx);
    call.await.unwrap().unwrap();
}

#[tokio::test]
async fn clear_and_take_empty_the_records() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = TraceSegmentReportServiceClient::new(connect(collector.endpoint()).await);
    let sent = segment("t", "s", "svc", None, 0);
    let batch = || SegmentCollection {
        segments: vec![sent.clone()],
    };

    client.collect_in_sync(batch()).await.unwrap();
    let taken = collector.take();
    assert_eq!(taken.segments, std::slice::from_ref(&sent));
    assert!(collector.segments().is_empty());
    assert_eq!(collector.calls(), 1, "take keeps the counters");

    client.collect_in_sync(batch()).await.unwrap();
    assert_eq!(collector.records().segments, [sent]);
    collector.clear();
    assert!(collector.segments().is_empty());
    assert_eq!(collector.calls(), 0, "clear resets the counters");
}

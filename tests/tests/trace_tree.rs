//! `trace_tree` renders the segments of one trace, sent by two services over gRPC, as
//! one indented tree: the callee's segment hangs under the caller's exit span.

use skywalking_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
use skywalking_proto::v3::{RefType, SegmentObject, SegmentReference, SpanObject, SpanType};
use skywalking_testkit::MockCollector;
use skywalking_tests::{WAIT, connect, segment};

fn span(id: i32, parent: i32, kind: SpanType, op: &str, start: i64, end: i64) -> SpanObject {
    SpanObject {
        span_id: id,
        parent_span_id: parent,
        start_time: start,
        end_time: end,
        operation_name: op.into(),
        span_type: kind as i32,
        ..Default::default()
    }
}

/// frontend: Entry GET /checkout -> Exit POST /pay (peer payment:8080)
/// payment:  Entry POST /pay (ref -> frontend span 1) -> Local charge (error)
fn linked_segments() -> (SegmentObject, SegmentObject) {
    let mut call_payment = span(1, 0, SpanType::Exit, "POST /pay", 1_003, 1_012);
    call_payment.peer = "payment:8080".into();
    let frontend = SegmentObject {
        trace_id: "trace-1".into(),
        trace_segment_id: "frontend-seg".into(),
        spans: vec![
            span(0, -1, SpanType::Entry, "GET /checkout", 1_000, 1_015),
            call_payment,
        ],
        service: "frontend".into(),
        service_instance: "frontend-1".into(),
        is_size_limited: false,
    };
    let mut pay = span(0, -1, SpanType::Entry, "POST /pay", 1_004, 1_011);
    pay.refs.push(SegmentReference {
        ref_type: RefType::CrossProcess as i32,
        trace_id: "trace-1".into(),
        parent_trace_segment_id: "frontend-seg".into(),
        parent_span_id: 1,
        parent_service: "frontend".into(),
        parent_service_instance: "frontend-1".into(),
        parent_endpoint: "GET /checkout".into(),
        network_address_used_at_peer: "payment:8080".into(),
    });
    let mut charge = span(1, 0, SpanType::Local, "charge", 1_005, 1_010);
    charge.is_error = true;
    let payment = SegmentObject {
        trace_id: "trace-1".into(),
        trace_segment_id: "payment-seg".into(),
        spans: vec![pay, charge],
        service: "payment".into(),
        service_instance: "payment-1".into(),
        is_size_limited: false,
    };
    (frontend, payment)
}

#[tokio::test]
async fn two_linked_segments_render_as_one_tree() {
    let collector = MockCollector::start().await.unwrap();
    let channel = connect(collector.endpoint()).await;
    let (frontend, payment) = linked_segments();

    // Each service reports on its own connection; the callee finishes first.
    let mut payment_client = TraceSegmentReportServiceClient::new(channel.clone());
    payment_client
        .collect(tokio_stream::iter([payment]))
        .await
        .unwrap();
    let mut frontend_client = TraceSegmentReportServiceClient::new(channel);
    frontend_client
        .collect(tokio_stream::iter([
            frontend,
            // Another trace in between, which must not show up in this tree.
            segment("trace-2", "other", "frontend", None, 1_001),
        ]))
        .await
        .unwrap();

    let segments = collector.wait_for_trace("trace-1", 2, WAIT).await.unwrap();
    assert_eq!(segments.len(), 2);
    assert_eq!(
        collector.trace_tree("trace-1"),
        "\
[frontend] Entry GET /checkout (15 ms)
  [frontend] Exit POST /pay -> payment:8080 (9 ms)
    [payment] Entry POST /pay (7 ms)
      [payment] Local charge (5 ms) [error]
"
    );
    assert_eq!(
        collector.trace_tree("trace-2"),
        "\
[frontend] Entry GET /frontend (20 ms)
  [frontend] Exit SELECT users -> db:5432 (10 ms) [error]
"
    );
    assert_eq!(collector.trace_tree("unknown"), "");
}

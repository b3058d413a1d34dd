//! `max_message_size`: a message up to the limit is accepted, one byte more gets
//! `RESOURCE_EXHAUSTED` (what OAP, a gRPC-Java server, answers), and the collector
//! keeps serving.

use prost::Message;
use skywalking_proto::v3::SegmentCollection;
use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
use skywalking_testkit::{DEFAULT_MAX_MESSAGE_SIZE, MockCollector};
use skywalking_tests::{WAIT, connect, frame, ping, raw_call, segment};
use tonic::Code;

const LIMIT: usize = 1024;

/// A ping whose encoding is exactly `size` bytes (for sizes from 131 to 16 KiB).
fn ping_of_size(size: usize) -> skywalking_proto::v3::InstancePingPkg {
    // One key byte and a two-byte length before the service name.
    let mut ping = ping("");
    ping.layer = String::new();
    ping.service_instance = String::new();
    ping.service = "x".repeat(size - 3);
    assert_eq!(ping.encoded_len(), size);
    ping
}

#[tokio::test]
async fn up_to_the_limit_passes_one_byte_more_is_resource_exhausted() {
    let collector = MockCollector::builder()
        .max_message_size(LIMIT)
        .start()
        .await
        .unwrap();
    let mut client = ManagementServiceClient::new(connect(collector.endpoint()).await);

    client.keep_alive(ping_of_size(LIMIT)).await.unwrap();
    let status = client
        .keep_alive(ping_of_size(LIMIT + 1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let status = client
        .keep_alive(ping_of_size(16 * 1024))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    client.keep_alive(ping("small")).await.unwrap();
    let pings = collector.wait_for_pings(2, WAIT).await.unwrap();
    assert_eq!(pings, [ping_of_size(LIMIT), ping("small")]);
}

#[tokio::test]
async fn an_oversized_segment_fails_its_call_and_keeps_what_came_before() {
    let collector = MockCollector::builder()
        .max_message_size(LIMIT)
        .start()
        .await
        .unwrap();
    let mut client = TraceSegmentReportServiceClient::new(connect(collector.endpoint()).await);
    let small = segment("t", "small", "svc", None, 0);
    let mut big = segment("t", "big", "svc", None, 0);
    big.spans[0].operation_name = "y".repeat(2 * LIMIT);

    let status = client
        .collect(tokio_stream::iter([small.clone(), big.clone()]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let status = client
        .collect_in_sync(SegmentCollection {
            segments: vec![big],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    assert_eq!(collector.segments(), std::slice::from_ref(&small));
    client
        .collect_in_sync(SegmentCollection {
            segments: vec![small.clone()],
        })
        .await
        .unwrap();
    assert_eq!(collector.wait_for_segments(2, WAIT).await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_default_limit_is_oaps_50_mib() {
    assert_eq!(DEFAULT_MAX_MESSAGE_SIZE, 50 * 1024 * 1024);
    let collector = MockCollector::start().await.unwrap();
    let mut client = TraceSegmentReportServiceClient::new(connect(collector.endpoint()).await);
    // Above tonic's own 4 MiB default, below OAP's 50 MiB: accepted.
    let mut big = segment("t", "big", "svc", None, 0);
    big.spans[0].operation_name = "z".repeat(5 * 1024 * 1024);
    client
        .collect_in_sync(SegmentCollection {
            segments: vec![big],
        })
        .await
        .unwrap();
    assert_eq!(collector.segments().len(), 1);
}

#[tokio::test]
async fn a_frame_claiming_gigabytes_is_refused_without_waiting_for_them() {
    let collector = MockCollector::builder()
        .max_message_size(LIMIT)
        .start()
        .await
        .unwrap();
    let mut channel = connect(collector.endpoint()).await;
    // The header claims 0x7F7F7F7F bytes (about 2 GiB); three follow.
    let body = [&[0u8, 0x7F, 0x7F, 0x7F, 0x7F][..], b"abc"].concat();
    let code = raw_call(
        &mut channel,
        "/skywalking.v3.ManagementService/keepAlive",
        body,
    )
    .await;
    assert_eq!(code, Some(Code::ResourceExhausted));
    // Just over the limit, with every byte present.
    let body = frame(0, &vec![b'a'; LIMIT + 1]);
    let code = raw_call(
        &mut channel,
        "/skywalking.v3.ManagementService/keepAlive",
        body,
    )
    .await;
    assert_eq!(code, Some(Code::ResourceExhausted));
    assert!(collector.pings().is_empty());

    let mut client = ManagementServiceClient::new(channel);
    client.keep_alive(ping("after")).await.unwrap();
}

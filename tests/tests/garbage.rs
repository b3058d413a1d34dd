//! Malformed input never takes the collector down: bodies that are not protobuf,
//! broken gRPC framing, fields of the wrong type, invalid UTF-8 and bytes that are not
//! even HTTP/2 each get an error (a gRPC status, or a closed connection), nothing bad is
//! recorded, and the next well-formed call succeeds.

use prost::Message;
use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_proto::v3::{Commands, SegmentObject, SpanObject};
use skywalking_testkit::MockCollector;
use skywalking_tests::{connect, frame, ping, raw_call};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Code, Request};
use tonic_prost::ProstCodec;

const KEEP_ALIVE: &str = "/skywalking.v3.ManagementService/keepAlive";
const COLLECT: &str = "/skywalking.v3.TraceSegmentReportService/collect";

async fn still_serves(collector: &MockCollector, label: &str) {
    let mut client = ManagementServiceClient::new(connect(collector.endpoint()).await);
    client.keep_alive(ping(label)).await.unwrap();
}

#[tokio::test]
async fn malformed_bodies_get_error_statuses_and_the_server_keeps_serving() {
    let collector = MockCollector::start().await.unwrap();
    let mut channel = connect(collector.endpoint()).await;

    // The helper itself works: a well-formed ping sent raw is answered normally.
    let valid = ping("raw").encode_to_vec();
    assert_eq!(
        raw_call(&mut channel, KEEP_ALIVE, frame(0, &valid)).await,
        None
    );
    assert_eq!(collector.pings(), [ping("raw")]);

    let cases: Vec<(&str, Vec<u8>, Option<Code>)> = vec![
        // Key byte 0x07: field 0 with wire type 7; neither exists.
        (
            "invalid key",
            frame(0, &[0x07, 0x07, 0x07, 0x07]),
            Some(Code::Internal),
        ),
        // Field 1 (a string) sent as a varint.
        (
            "wrong wire type",
            frame(0, &[0x08, 0x01]),
            Some(Code::Internal),
        ),
        // A string field claiming 100 bytes with 3 present.
        (
            "truncated field",
            frame(0, b"\x0A\x64abc"),
            Some(Code::Internal),
        ),
        // The frame header promises 100 bytes; the body ends after 3.
        (
            "truncated frame",
            [&[0, 0, 0, 0, 100][..], b"abc"].concat(),
            None,
        ),
        ("half a frame header", vec![0, 0, 0], None),
        // Compressed flag without a grpc-encoding header.
        ("compressed flag", frame(1, &valid), None),
        ("unknown flag", frame(7, &valid), None),
        ("no message at all", Vec::new(), None),
        (
            "text, not protobuf",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            None,
        ),
    ];
    for (name, body, expected) in cases {
        let code = raw_call(&mut channel, KEEP_ALIVE, body).await;
        match expected {
            Some(expected) => assert_eq!(code, Some(expected), "{name}"),
            None => assert!(
                code.is_some_and(|code| code != Code::Ok),
                "{name}: expected an error status, got {code:?}"
            ),
        }
        still_serves(&collector, name).await;
    }

    // Only the well-formed pings were recorded.
    let pings: Vec<String> = collector.pings().into_iter().map(|p| p.service).collect();
    assert_eq!(pings[0], "raw");
    assert_eq!(pings.len(), 10, "{pings:?}");
    assert!(!pings.iter().any(String::is_empty));
}

#[tokio::test]
async fn a_stream_that_turns_to_garbage_keeps_what_came_before() {
    let collector = MockCollector::start().await.unwrap();
    let mut channel = connect(collector.endpoint()).await;
    let good = SegmentObject {
        trace_id: "t".into(),
        trace_segment_id: "s".into(),
        spans: vec![SpanObject {
            operation_name: "op".into(),
            ..Default::default()
        }],
        service: "svc".into(),
        ..Default::default()
    };
    let body = [
        frame(0, &good.encode_to_vec()),
        frame(0, &[0x1A, 0x7F, 0x00]),
    ]
    .concat();
    let code = raw_call(&mut channel, COLLECT, body).await;
    assert_eq!(code, Some(Code::Internal));
    assert_eq!(collector.segments(), [good]);
    still_serves(&collector, "after").await;
}

/// A message with InstancePingPkg's field numbers but bytes where strings belong, so
/// invalid UTF-8 can be put on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct BytesPing {
    #[prost(bytes = "vec", tag = "1")]
    service: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    service_instance: Vec<u8>,
}

/// A message with SegmentObject's `spans` field (3) as a plain integer.
#[derive(Clone, PartialEq, prost::Message)]
struct IntSpans {
    #[prost(int64, tag = "3")]
    spans: i64,
}

#[tokio::test]
async fn fields_of_the_wrong_kind_are_rejected_through_a_custom_codec() {
    let collector = MockCollector::start().await.unwrap();
    let mut grpc = Grpc::new(connect(collector.endpoint()).await);

    grpc.ready().await.unwrap();
    let bad_utf8 = BytesPing {
        service: vec![0xC3, 0x28, 0xFF],
        service_instance: b"ok".to_vec(),
    };
    let status = grpc
        .unary::<_, Commands, _>(
            Request::new(bad_utf8),
            PathAndQuery::from_static(KEEP_ALIVE),
            ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");

    grpc.ready().await.unwrap();
    let status = grpc
        .client_streaming::<_, _, Commands, _>(
            Request::new(tokio_stream::iter([IntSpans { spans: 42 }])),
            PathAndQuery::from_static(COLLECT),
            ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");

    // The same codec with valid UTF-8 goes through: the rejection was the content.
    grpc.ready().await.unwrap();
    let good = BytesPing {
        service: "checkout".into(),
        service_instance: "checkout-1".into(),
    };
    grpc.unary::<_, Commands, _>(
        Request::new(good),
        PathAndQuery::from_static(KEEP_ALIVE),
        ProstCodec::default(),
    )
    .await
    .unwrap();
    let pings = collector.pings();
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0].service, "checkout");
    assert!(collector.segments().is_empty());
}

#[tokio::test]
async fn unknown_services_and_methods_are_unimplemented() {
    let collector = MockCollector::start().await.unwrap();
    let mut channel = connect(collector.endpoint()).await;
    let body = frame(0, &ping("x").encode_to_vec());
    for path in [
        "/skywalking.v3.ProfileTask/getProfileTaskCommands",
        "/skywalking.v3.ManagementService/noSuchMethod",
        "/ManagementService/keepAlive",
        "/",
    ] {
        let code = raw_call(&mut channel, path, body.clone()).await;
        assert_eq!(code, Some(Code::Unimplemented), "{path}");
    }
    assert!(collector.pings().is_empty());
    still_serves(&collector, "after").await;
}

#[tokio::test]
async fn bytes_that_are_not_http2_only_close_their_own_connection() {
    let collector = MockCollector::start().await.unwrap();
    let garbage: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
        &[0u8; 64],
        &[0xFF; 4096],
    ];
    for bytes in garbage {
        let mut socket = TcpStream::connect(collector.addr()).await.unwrap();
        // The server may close before reading it all; a failed write is fine.
        let _ = socket.write_all(bytes).await;
        let mut sink = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            socket.read_to_end(&mut sink),
        )
        .await
        .expect("the server closes a garbage connection");
        drop(read);
        still_serves(&collector, "after garbage").await;
    }
    assert_eq!(collector.pings().len(), 4);
}

//! `stop` takes the collector away (new connections refused, open streams cut, records
//! kept) and `restart` brings it back on the same port, where new data arrives.

use std::time::{Duration, Instant};

use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
use skywalking_testkit::{MockCollector, STOP_GRACE};
use skywalking_tests::{WAIT, connect, ping, segment};
use tokio::net::TcpStream;

#[tokio::test]
async fn data_sent_after_a_restart_on_the_same_port_arrives() {
    let collector = MockCollector::start().await.unwrap();
    let addr = collector.addr();
    let endpoint = collector.endpoint();
    let channel = connect(endpoint.clone()).await;
    let mut client = ManagementServiceClient::new(channel);
    client.keep_alive(ping("before")).await.unwrap();

    collector.stop().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port still accepts connections after stop"
    );
    let status = client.keep_alive(ping("while-down")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(
        collector.pings(),
        [ping("before")],
        "stop keeps the records"
    );
    collector.stop().await; // stopping twice is harmless

    collector.restart().await.unwrap();
    assert_eq!(collector.addr(), addr);
    assert_eq!(collector.endpoint(), endpoint);

    // The old channel reconnects by itself, as an agent's would.
    client.keep_alive(ping("after")).await.unwrap();
    // And a fresh client finds the collector at the same endpoint.
    let mut fresh = ManagementServiceClient::new(connect(endpoint).await);
    fresh.keep_alive(ping("fresh")).await.unwrap();

    assert_eq!(
        collector.wait_for_pings(3, WAIT).await.unwrap(),
        [ping("before"), ping("after"), ping("fresh")]
    );
}

#[tokio::test]
async fn restart_while_running_and_repeatedly_keeps_the_port() {
    let collector = MockCollector::start().await.unwrap();
    let addr = collector.addr();
    let mut client = ManagementServiceClient::new(connect(collector.endpoint()).await);
    for round in 0..3 {
        collector.restart().await.unwrap();
        assert_eq!(collector.addr(), addr);
        client
            .keep_alive(ping(&format!("round-{round}")))
            .await
            .unwrap();
    }
    assert_eq!(collector.wait_for_pings(3, WAIT).await.unwrap().len(), 3);
}

#[tokio::test]
async fn stop_cuts_a_stream_that_never_ends() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = TraceSegmentReportServiceClient::new(connect(collector.endpoint()).await);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let call = tokio::spawn(async move {
        client
            .collect(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tx.send(segment("t", "s", "svc", None, 0)).await.unwrap();
    collector.wait_for_segments(1, WAIT).await.unwrap();

    // The stream stays open (tx alive), so a graceful shutdown alone would wait forever.
    let started = Instant::now();
    collector.stop().await;
    let took = started.elapsed();
    assert!(
        took < STOP_GRACE + Duration::from_secs(2),
        "stop took {took:?}"
    );

    let result = tokio::time::timeout(WAIT, call).await.unwrap().unwrap();
    let status = result.unwrap_err();
    assert_ne!(status.code(), tonic::Code::Ok);
    assert_eq!(
        collector.segments().len(),
        1,
        "what arrived before stop is kept"
    );
    drop(tx);
}

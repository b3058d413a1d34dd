//! `LogReportService/collect`: text, JSON and YAML log records arrive intact.

use skywalking_proto::v3::log_report_service_client::LogReportServiceClient;
use skywalking_testkit::MockCollector;
use skywalking_tests::{WAIT, connect, logs};

#[tokio::test]
async fn streamed_logs_arrive_intact_and_in_order() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = LogReportServiceClient::new(connect(collector.endpoint()).await);

    let sent = logs("payment");
    let commands = client
        .collect(tokio_stream::iter(sent.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty());
    // A second stream appends.
    client
        .collect(tokio_stream::iter(sent[..1].to_vec()))
        .await
        .unwrap();

    let got = collector.wait_for_logs(4, WAIT).await.unwrap();
    assert_eq!(got[..3], sent[..]);
    assert_eq!(got[3], sent[0]);
    assert_eq!(collector.logs(), got);
}

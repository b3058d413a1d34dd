//! `fail_first(n)`: the first n calls, whatever the RPC, get `UNAVAILABLE` and record
//! nothing; the calls after them succeed.

use skywalking_proto::v3::log_report_service_client::LogReportServiceClient;
use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_testkit::MockCollector;
use skywalking_tests::{WAIT, connect, logs, ping};
use tonic::Code;

#[tokio::test]
async fn the_first_n_calls_are_unavailable_then_calls_succeed() {
    let collector = MockCollector::builder()
        .fail_first(3)
        .start()
        .await
        .unwrap();
    let channel = connect(collector.endpoint()).await;
    let mut management = ManagementServiceClient::new(channel.clone());
    let mut log = LogReportServiceClient::new(channel);

    for attempt in 1..=2 {
        let status = management.keep_alive(ping("svc")).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unavailable,
            "attempt {attempt}: {status:?}"
        );
    }
    // The count is shared by every RPC.
    let status = log
        .collect(tokio_stream::iter(logs("svc")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(collector.pings().is_empty());
    assert!(collector.logs().is_empty());
    assert_eq!(collector.rejected_calls(), 3);

    // A reporter that retries now gets through.
    management.keep_alive(ping("svc")).await.unwrap();
    log.collect(tokio_stream::iter(logs("svc"))).await.unwrap();
    assert_eq!(
        collector.wait_for_pings(1, WAIT).await.unwrap(),
        [ping("svc")]
    );
    assert_eq!(collector.wait_for_logs(3, WAIT).await.unwrap(), logs("svc"));
    assert_eq!(collector.rejected_calls(), 3);
    assert_eq!(collector.calls(), 5);
}

#[tokio::test]
async fn fail_first_zero_fails_nothing() {
    let collector = MockCollector::builder()
        .fail_first(0)
        .start()
        .await
        .unwrap();
    let mut management = ManagementServiceClient::new(connect(collector.endpoint()).await);
    management.keep_alive(ping("svc")).await.unwrap();
    assert_eq!(collector.rejected_calls(), 0);
}

//! `ManagementService`: instance properties and keep-alive pings arrive intact.

use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_testkit::MockCollector;
use skywalking_tests::{WAIT, connect, ping, properties};

#[tokio::test]
async fn properties_and_pings_arrive_intact() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = ManagementServiceClient::new(connect(collector.endpoint()).await);

    let sent = properties("checkout");
    let commands = client
        .report_instance_properties(sent.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty());
    for _ in 0..3 {
        client.keep_alive(ping("checkout")).await.unwrap();
    }

    assert_eq!(
        collector.wait_for_properties(1, WAIT).await.unwrap(),
        [sent]
    );
    let pings = collector.wait_for_pings(3, WAIT).await.unwrap();
    assert_eq!(pings, vec![ping("checkout"); 3]);
    assert_eq!(
        collector.calls_to("/skywalking.v3.ManagementService/keepAlive"),
        3
    );
    assert_eq!(
        collector.calls_to("/skywalking.v3.ManagementService/reportInstanceProperties"),
        1
    );
}

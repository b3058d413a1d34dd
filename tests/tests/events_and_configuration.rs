//! `EventService/collect` records events intact; `ConfigurationDiscoveryService`
//! records the request and answers an empty `Commands` (nothing changed).

use skywalking_proto::v3::configuration_discovery_service_client::ConfigurationDiscoveryServiceClient;
use skywalking_proto::v3::event_service_client::EventServiceClient;
use skywalking_testkit::MockCollector;
use skywalking_tests::{WAIT, configuration_request, connect, event};

#[tokio::test]
async fn events_arrive_intact() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = EventServiceClient::new(connect(collector.endpoint()).await);

    let sent = vec![event("checkout"), event("payment")];
    let commands = client
        .collect(tokio_stream::iter(sent.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty());
    assert_eq!(collector.wait_for_events(2, WAIT).await.unwrap(), sent);
}

#[tokio::test]
async fn configuration_fetch_is_recorded_and_answers_no_commands() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = ConfigurationDiscoveryServiceClient::new(connect(collector.endpoint()).await);

    let commands = client
        .fetch_configurations(configuration_request("checkout"))
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty());
    assert_eq!(
        collector.configuration_requests(),
        [configuration_request("checkout")]
    );
}

//! `EventService/collect` records events intact; `ConfigurationDiscoveryService`
//! records the request and answers as OAP: the service's configuration (the empty one
//! for a service with none), then an empty `Commands` once the agent has its UUID.

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
async fn configuration_fetch_is_recorded_and_answers_like_oap() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = ConfigurationDiscoveryServiceClient::new(connect(collector.endpoint()).await);
    let uuid_of = |commands: &skywalking_proto::v3::Commands| {
        assert_eq!(commands.commands.len(), 1, "{commands:?}");
        assert_eq!(
            commands.commands[0].command,
            "ConfigurationDiscoveryCommand"
        );
        commands.commands[0]
            .args
            .iter()
            .find(|pair| pair.key == "UUID")
            .map(|pair| pair.value.clone())
            .expect("a UUID")
    };

    // No configuration for the service: OAP's empty one (no keys).
    let commands = client
        .fetch_configurations(configuration_request("checkout"))
        .await
        .unwrap()
        .into_inner();
    let empty = uuid_of(&commands);
    assert_eq!(commands.commands[0].args.len(), 2, "SerialNumber and UUID");
    assert_eq!(
        collector.configuration_requests(),
        [configuration_request("checkout")]
    );
    let mut request = configuration_request("checkout");
    request.uuid = empty.clone();
    let commands = client
        .fetch_configurations(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty(), "nothing changed");

    // A configuration: its pairs, then nothing once the agent sends its UUID back.
    collector.set_agent_configurations("checkout", [("agent.sample_rate", "0.5")]);
    let commands = client
        .fetch_configurations(request.clone())
        .await
        .unwrap()
        .into_inner();
    let uuid = uuid_of(&commands);
    assert_ne!(uuid, empty);
    assert!(
        commands.commands[0]
            .args
            .iter()
            .any(|pair| pair.key == "agent.sample_rate" && pair.value == "0.5")
    );
    request.uuid = uuid;
    let commands = client
        .fetch_configurations(request)
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty());
}

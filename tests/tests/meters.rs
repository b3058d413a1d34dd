//! `MeterReportService`: meter data from `collect` and from `collectBatch` (flattened)
//! arrive intact.

use skywalking_proto::v3::MeterDataCollection;
use skywalking_proto::v3::meter_report_service_client::MeterReportServiceClient;
use skywalking_testkit::MockCollector;
use skywalking_tests::{WAIT, connect, meters};

#[tokio::test]
async fn collected_and_batched_meters_arrive_intact() {
    let collector = MockCollector::start().await.unwrap();
    let mut client = MeterReportServiceClient::new(connect(collector.endpoint()).await);

    let streamed = meters("inventory");
    client
        .collect(tokio_stream::iter(streamed.clone()))
        .await
        .unwrap();
    assert_eq!(collector.wait_for_meters(2, WAIT).await.unwrap(), streamed);

    let batch_one = meters("billing");
    let batch_two = meters("shipping");
    let commands = client
        .collect_batch(tokio_stream::iter([
            MeterDataCollection {
                meter_data: batch_one.clone(),
            },
            MeterDataCollection {
                meter_data: batch_two.clone(),
            },
        ]))
        .await
        .unwrap()
        .into_inner();
    assert!(commands.commands.is_empty());

    let expected: Vec<_> = [streamed, batch_one, batch_two].concat();
    assert_eq!(collector.wait_for_meters(6, WAIT).await.unwrap(), expected);
    assert_eq!(
        collector.calls_to("/skywalking.v3.MeterReportService/collectBatch"),
        1
    );
}

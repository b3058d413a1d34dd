//! Token authentication: without the `authentication` metadata, or with a wrong value,
//! every RPC gets `PERMISSION_DENIED` (as OAP answers) and nothing is recorded; the right
//! token goes through.

use skywalking_proto::v3::SegmentCollection;
use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
use skywalking_testkit::MockCollector;
use skywalking_tests::{WAIT, connect, ping, segment};
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Status};

const TOKEN: &str = "s3cret-token";

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authentication", MetadataValue::try_from(token).unwrap());
    request
}

#[tokio::test]
async fn missing_or_wrong_token_is_denied_and_not_recorded() {
    let collector = MockCollector::builder()
        .authentication(TOKEN)
        .start()
        .await
        .unwrap();
    let channel = connect(collector.endpoint()).await;
    let mut management = ManagementServiceClient::new(channel.clone());
    let mut traces = TraceSegmentReportServiceClient::new(channel);

    let status = management.keep_alive(ping("svc")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = management
        .keep_alive(with_token(ping("svc"), "wrong"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // A prefix of the token is still wrong.
    let status = management
        .keep_alive(with_token(ping("svc"), &TOKEN[..4]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // Client streaming is checked too.
    let status = traces
        .collect(tokio_stream::iter([segment("t", "s", "svc", None, 0)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    assert!(collector.pings().is_empty());
    assert!(collector.segments().is_empty());
    assert_eq!(collector.rejected_calls(), 4);
    assert_eq!(collector.calls(), 4);
}

#[tokio::test]
async fn the_right_token_goes_through_on_every_call() {
    let collector = MockCollector::builder()
        .authentication(TOKEN)
        .start()
        .await
        .unwrap();
    let channel = connect(collector.endpoint()).await;
    // The way an agent does it: an interceptor adds the token to every call.
    let add_token = |mut request: Request<()>| -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authentication", MetadataValue::from_static(TOKEN));
        Ok(request)
    };
    let mut management = ManagementServiceClient::with_interceptor(channel.clone(), add_token);
    let mut traces = TraceSegmentReportServiceClient::with_interceptor(channel, add_token);

    management.keep_alive(ping("svc")).await.unwrap();
    let sent = segment("t", "s", "svc", None, 0);
    traces
        .collect(tokio_stream::iter([sent.clone()]))
        .await
        .unwrap();
    traces
        .collect_in_sync(SegmentCollection {
            segments: vec![sent.clone()],
        })
        .await
        .unwrap();

    assert_eq!(
        collector.wait_for_pings(1, WAIT).await.unwrap(),
        [ping("svc")]
    );
    assert_eq!(
        collector.wait_for_segments(2, WAIT).await.unwrap(),
        [sent.clone(), sent]
    );
    assert_eq!(collector.rejected_calls(), 0);
}

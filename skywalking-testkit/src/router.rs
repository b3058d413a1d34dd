//! Routes a gRPC request to the generated server of its service, by path.
//!
//! tonic's own router needs its `router` feature (and axum); six services do not
//! need that, so this is a plain `match` on the service part of the path.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use skywalking_proto::v3::configuration_discovery_service_server::{
    self as cds, ConfigurationDiscoveryServiceServer,
};
use skywalking_proto::v3::event_service_server::{self as event, EventServiceServer};
use skywalking_proto::v3::log_report_service_server::{self as log, LogReportServiceServer};
use skywalking_proto::v3::management_service_server::{
    self as management, ManagementServiceServer,
};
use skywalking_proto::v3::meter_report_service_server::{self as meter, MeterReportServiceServer};
use skywalking_proto::v3::trace_segment_report_service_server::{
    self as trace, TraceSegmentReportServiceServer,
};
use tonic::Status;
use tonic::body::Body;
use tower_service::Service;

use crate::services::Recorder;

/// The future every route returns (the generated servers box theirs too).
pub(crate) type RouteFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send + 'static>>;

/// The six served services, each with the configured maximum message size.
#[derive(Debug, Clone)]
pub(crate) struct Router {
    trace: TraceSegmentReportServiceServer<Recorder>,
    management: ManagementServiceServer<Recorder>,
    log: LogReportServiceServer<Recorder>,
    meter: MeterReportServiceServer<Recorder>,
    cds: ConfigurationDiscoveryServiceServer<Recorder>,
    event: EventServiceServer<Recorder>,
}

impl Router {
    pub(crate) fn new(recorder: Recorder, max_message_size: usize) -> Self {
        let recorder = Arc::new(recorder);
        let limit = max_message_size;
        Self {
            trace: TraceSegmentReportServiceServer::from_arc(Arc::clone(&recorder))
                .max_decoding_message_size(limit),
            management: ManagementServiceServer::from_arc(Arc::clone(&recorder))
                .max_decoding_message_size(limit),
            log: LogReportServiceServer::from_arc(Arc::clone(&recorder))
                .max_decoding_message_size(limit),
            meter: MeterReportServiceServer::from_arc(Arc::clone(&recorder))
                .max_decoding_message_size(limit),
            cds: ConfigurationDiscoveryServiceServer::from_arc(Arc::clone(&recorder))
                .max_decoding_message_size(limit),
            event: EventServiceServer::from_arc(recorder).max_decoding_message_size(limit),
        }
    }
}

impl Service<Request<Body>> for Router {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = RouteFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Every generated server is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // "/skywalking.v3.ManagementService/keepAlive" -> "skywalking.v3.ManagementService"
        let service = request
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        match service {
            trace::SERVICE_NAME => self.trace.call(request),
            management::SERVICE_NAME => self.management.call(request),
            log::SERVICE_NAME => self.log.call(request),
            meter::SERVICE_NAME => self.meter.call(request),
            cds::SERVICE_NAME => self.cds.call(request),
            event::SERVICE_NAME => self.event.call(request),
            _ => {
                let status = Status::unimplemented(format!(
                    "the mock collector does not serve {}",
                    request.uri().path()
                ));
                Box::pin(ready(Ok(status.into_http())))
            }
        }
    }
}

//! The v3 service implementations: each one records what it receives and answers with
//! an empty `Commands`, as OAP does for trace, log and meter data;
//! `fetchConfigurations` answers with the agent configurations set on the collector
//! (see `cds.rs`).
//!
//! Stream items are recorded as they arrive (OAP also handles each `onNext` on its
//! own), so a stream that fails half-way keeps what came before the failure, and the
//! failure itself (a decode error, an oversized message) is returned as the call's
//! status.

use std::sync::Arc;

use skywalking_proto::v3::configuration_discovery_service_server::ConfigurationDiscoveryService;
use skywalking_proto::v3::event_service_server::EventService;
use skywalking_proto::v3::log_report_service_server::LogReportService;
use skywalking_proto::v3::management_service_server::ManagementService;
use skywalking_proto::v3::meter_report_service_server::MeterReportService;
use skywalking_proto::v3::trace_segment_report_service_server::TraceSegmentReportService;
use skywalking_proto::v3::{
    Commands, ConfigurationSyncRequest, Event, InstancePingPkg, InstanceProperties, LogData,
    MeterData, MeterDataCollection, SegmentCollection, SegmentObject,
};
use tonic::{Request, Response, Status, Streaming};

use crate::cds::AgentConfigurations;
use crate::store::{Records, Store};

/// Implements every served v3 service on top of one [`Store`].
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    store: Arc<Store>,
    configurations: Arc<AgentConfigurations>,
}

impl Recorder {
    pub(crate) fn new(store: Arc<Store>, configurations: Arc<AgentConfigurations>) -> Self {
        Self {
            store,
            configurations,
        }
    }

    /// Records each message of a client stream with `append`, until the stream ends.
    async fn drain<T>(
        &self,
        request: Request<Streaming<T>>,
        append: fn(&mut Records, T),
    ) -> Result<Response<Commands>, Status> {
        let mut stream = request.into_inner();
        while let Some(item) = stream.message().await? {
            self.store.record(|records| append(records, item));
        }
        Ok(empty())
    }

    /// Records one unary request with `append`.
    fn keep<T>(&self, request: Request<T>, append: fn(&mut Records, T)) -> Response<Commands> {
        let item = request.into_inner();
        self.store.record(|records| append(records, item));
        empty()
    }
}

fn empty() -> Response<Commands> {
    Response::new(Commands::default())
}

#[tonic::async_trait]
impl TraceSegmentReportService for Recorder {
    async fn collect(
        &self,
        request: Request<Streaming<SegmentObject>>,
    ) -> Result<Response<Commands>, Status> {
        self.drain(request, |r, segment| r.segments.push(segment))
            .await
    }

    async fn collect_in_sync(
        &self,
        request: Request<SegmentCollection>,
    ) -> Result<Response<Commands>, Status> {
        Ok(self.keep(request, |r, batch| r.segments.extend(batch.segments)))
    }
}

#[tonic::async_trait]
impl ManagementService for Recorder {
    async fn report_instance_properties(
        &self,
        request: Request<InstanceProperties>,
    ) -> Result<Response<Commands>, Status> {
        Ok(self.keep(request, |r, properties| r.properties.push(properties)))
    }

    async fn keep_alive(
        &self,
        request: Request<InstancePingPkg>,
    ) -> Result<Response<Commands>, Status> {
        Ok(self.keep(request, |r, ping| r.pings.push(ping)))
    }
}

#[tonic::async_trait]
impl LogReportService for Recorder {
    async fn collect(
        &self,
        request: Request<Streaming<LogData>>,
    ) -> Result<Response<Commands>, Status> {
        self.drain(request, |r, log| r.logs.push(log)).await
    }
}

#[tonic::async_trait]
impl MeterReportService for Recorder {
    async fn collect(
        &self,
        request: Request<Streaming<MeterData>>,
    ) -> Result<Response<Commands>, Status> {
        self.drain(request, |r, meter| r.meters.push(meter)).await
    }

    async fn collect_batch(
        &self,
        request: Request<Streaming<MeterDataCollection>>,
    ) -> Result<Response<Commands>, Status> {
        self.drain(request, |r, batch| r.meters.extend(batch.meter_data))
            .await
    }
}

#[tonic::async_trait]
impl ConfigurationDiscoveryService for Recorder {
    async fn fetch_configurations(
        &self,
        request: Request<ConfigurationSyncRequest>,
    ) -> Result<Response<Commands>, Status> {
        let answer = self.configurations.answer(request.get_ref());
        self.keep(request, |r, req| r.configuration_requests.push(req));
        Ok(Response::new(answer))
    }
}

#[tonic::async_trait]
impl EventService for Recorder {
    async fn collect(
        &self,
        request: Request<Streaming<Event>>,
    ) -> Result<Response<Commands>, Status> {
        self.drain(request, |r, event| r.events.push(event)).await
    }
}

//! A collector that counts segments and keeps nothing, for whole-process CPU runs of
//! `hot` with the gRPC reporter: `cargo run --release --example sink -- 127.0.0.1:11899`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use skywalking_proto::v3::management_service_server::{ManagementService, ManagementServiceServer};
use skywalking_proto::v3::trace_segment_report_service_server::{
    TraceSegmentReportService, TraceSegmentReportServiceServer,
};
use skywalking_proto::v3::{
    Commands, InstancePingPkg, InstanceProperties, SegmentCollection, SegmentObject,
};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

#[derive(Clone, Default)]
struct Sink(Arc<AtomicU64>);

#[tonic::async_trait]
impl TraceSegmentReportService for Sink {
    async fn collect(
        &self,
        request: Request<Streaming<SegmentObject>>,
    ) -> Result<Response<Commands>, Status> {
        let mut stream = request.into_inner();
        while let Some(segment) = stream.next().await {
            let spans = segment?.spans.len() as u64;
            self.0.fetch_add(spans, Ordering::Relaxed);
        }
        Ok(Response::new(Commands::default()))
    }

    async fn collect_in_sync(
        &self,
        request: Request<SegmentCollection>,
    ) -> Result<Response<Commands>, Status> {
        let spans: usize = request
            .into_inner()
            .segments
            .iter()
            .map(|s| s.spans.len())
            .sum();
        self.0.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl ManagementService for Sink {
    async fn report_instance_properties(
        &self,
        _: Request<InstanceProperties>,
    ) -> Result<Response<Commands>, Status> {
        Ok(Response::new(Commands::default()))
    }

    async fn keep_alive(&self, _: Request<InstancePingPkg>) -> Result<Response<Commands>, Status> {
        Ok(Response::new(Commands::default()))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:11899".into())
        .parse()?;
    let sink = Sink::default();
    let counter = sink.0.clone();
    tokio::spawn(async move {
        let mut last = 0;
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let now = counter.load(Ordering::Relaxed);
            if now != last {
                eprintln!("sink: {now} spans received");
                last = now;
            }
        }
    });
    tonic::transport::Server::builder()
        .add_service(TraceSegmentReportServiceServer::new(sink.clone()))
        .add_service(ManagementServiceServer::new(sink))
        .serve(addr)
        .await?;
    Ok(())
}

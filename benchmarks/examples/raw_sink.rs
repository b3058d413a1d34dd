//! A collector that reads every gRPC message and decodes none: each call (segments,
//! heartbeats, instance properties, logs, meters) is read to its end, message by message,
//! and answered with an empty message (what an empty `Commands` encodes to). For
//! whole-process CPU runs of a traced process (`process_cpu.sh`) on a machine with few
//! cores: it answers like OAP at a fraction of the CPU of the decoding `sink`, so it takes
//! less of the cores the measured process runs on.
//!
//! `cargo run --release --example raw_sink -- 127.0.0.1:11899`

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

/// Messages read, for the log line.
static MESSAGES: AtomicU64 = AtomicU64::new(0);

/// Decodes a message into its length (skipping its bytes); encodes the empty message.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = ();
    type Decode = usize;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = ();
    type Error = Status;

    fn encode(&mut self, _: (), _: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = usize;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<usize>, Status> {
        // `bytes::Buf` (tonic's and prost's `bytes` are the same crate).
        use prost::bytes::Buf;
        let n = src.remaining();
        src.advance(n);
        Ok(Some(n))
    }
}

/// Reads every message of a call, answers with the empty message.
struct ReadAll;

impl Service<Request<Streaming<usize>>> for ReadAll {
    type Response = Response<()>;
    type Error = Status;
    type Future = BoxFuture<Response<()>, Status>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Streaming<usize>>) -> Self::Future {
        Box::pin(async move {
            let mut stream = request.into_inner();
            while stream.message().await?.is_some() {
                MESSAGES.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Response::new(()))
        })
    }
}

/// One gRPC service (by name) whose every method is answered by [`ReadAll`].
#[derive(Clone, Copy)]
struct Raw<const N: usize>;

const NAMES: [&str; 5] = [
    "skywalking.v3.TraceSegmentReportService",
    "skywalking.v3.ManagementService",
    "skywalking.v3.LogReportService",
    "skywalking.v3.MeterReportService",
    "skywalking.v3.ConfigurationDiscoveryService",
];

impl<const N: usize> NamedService for Raw<N> {
    const NAME: &'static str = NAMES[N];
}

impl<const N: usize, B> Service<http::Request<B>> for Raw<N>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.client_streaming(ReadAll, request).await)
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:11899".into())
        .parse()?;
    tokio::spawn(async {
        let mut last = 0;
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let now = MESSAGES.load(Ordering::Relaxed);
            if now != last {
                eprintln!("raw_sink: {now} messages read");
                last = now;
            }
        }
    });
    tonic::transport::Server::builder()
        .add_service(Raw::<0>)
        .add_service(Raw::<1>)
        .add_service(Raw::<2>)
        .add_service(Raw::<3>)
        .add_service(Raw::<4>)
        .serve(addr)
        .await?;
    Ok(())
}

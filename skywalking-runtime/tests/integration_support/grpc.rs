//! Shared by the tonic tests: a loopback tonic server behind the `ServerLayer` with a
//! unary service (the SkyWalking configuration discovery service) and a server-streaming
//! one (`test.Stream`, written out as generated code would be), and helpers to read the
//! recorded spans.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::PathAndQuery;
use skywalking_proto::v3::configuration_discovery_service_server::{
    ConfigurationDiscoveryService, ConfigurationDiscoveryServiceServer,
};
use skywalking_proto::v3::{
    Commands, ConfigurationSyncRequest, SegmentObject, SpanObject, SpanType,
};
use skywalking_runtime::integrations::tonic::{ClientService, ServerLayer};
use skywalking_runtime::{FutureExt, Span};
use tokio_stream::Stream;
use tonic::body::Body;
use tonic::server::{NamedService, ServerStreamingService};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// The streaming method the tests' agent ignores (`SW_AGENT_TRACE_IGNORE_PATH`).
pub const IGNORED: &str = "/test.Stream/Ignored";
/// Messages each streaming call sends.
pub const ITEMS: usize = 3;
/// The time before each message (and before the end of the stream).
pub const GAP: Duration = Duration::from_millis(25);

/// The shortest a streaming call can last, in ms, less a margin for rounding.
pub fn min_stream_ms() -> i64 {
    (GAP.as_millis() as i64) * (ITEMS as i64 + 1) - 5
}

/// The unary service: `service == "fail"` is answered with `Err(Status::not_found)`.
pub struct Discovery;

#[tonic::async_trait]
impl ConfigurationDiscoveryService for Discovery {
    async fn fetch_configurations(
        &self,
        request: Request<ConfigurationSyncRequest>,
    ) -> Result<Response<Commands>, Status> {
        // A span inside the handler is a child of the entry span.
        async {}.in_span("lookup").await;
        if request.get_ref().service == "fail" {
            return Err(Status::not_found("no such service"));
        }
        Ok(Response::new(Commands::default()))
    }
}

/// The streaming methods of `test.Stream`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    /// [`ITEMS`] messages, then `Status::unavailable`, sent in the trailers.
    Failing,
    /// [`ITEMS`] messages, then `OK`.
    Fine,
    /// As `Fine`, at [`IGNORED`].
    Ignored,
}

impl Watch {
    pub fn path(self) -> &'static str {
        match self {
            Watch::Failing => "/test.Stream/Failing",
            Watch::Fine => "/test.Stream/Fine",
            Watch::Ignored => IGNORED,
        }
    }

    fn from_path(path: &str) -> Option<Watch> {
        [Watch::Failing, Watch::Fine, Watch::Ignored]
            .into_iter()
            .find(|w| w.path() == path)
    }
}

/// The `test.Stream` service, as tonic's generated code would route it.
#[derive(Clone, Copy, Debug)]
pub struct Streams;

impl NamedService for Streams {
    const NAME: &'static str = "test.Stream";
}

impl tower::Service<http::Request<Body>> for Streams {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let watch = Watch::from_path(request.uri().path());
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Commands, Commands>::default());
            Ok(grpc.server_streaming(Handler(watch), request).await)
        })
    }
}

struct Handler(Option<Watch>);

impl ServerStreamingService<Commands> for Handler {
    type Response = Commands;
    type ResponseStream = Items;
    type Future = Ready<Result<Response<Items>, Status>>;

    fn call(&mut self, _: Request<Commands>) -> Self::Future {
        ready(match self.0 {
            Some(watch) => Ok(Response::new(Items::new(watch))),
            None => Err(Status::unimplemented("no such method")),
        })
    }
}

/// The response stream: a message every [`GAP`], each made inside a local span.
pub struct Items {
    left: usize,
    fail: bool,
    span: &'static str,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Items {
    fn new(watch: Watch) -> Items {
        Items {
            left: ITEMS,
            fail: watch == Watch::Failing,
            span: match watch {
                Watch::Ignored => "produce.ignored",
                Watch::Failing | Watch::Fine => "produce",
            },
            sleep: Box::pin(tokio::time::sleep(GAP)),
        }
    }
}

impl Stream for Items {
    type Item = Result<Commands, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if this.left == 0 {
            let fail = std::mem::take(&mut this.fail);
            return Poll::Ready(fail.then(|| Err(Status::unavailable("the source went away"))));
        }
        this.left -= 1;
        let _span = Span::local(this.span);
        let next = tokio::time::Instant::now() + GAP;
        this.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Commands::default())))
    }
}

/// Serves both services behind the `ServerLayer` on `127.0.0.1:<ephemeral>`.
pub async fn serve() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(ServerLayer::new())
            .add_service(ConfigurationDiscoveryServiceServer::new(Discovery))
            .add_service(Streams)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

/// Calls the streaming method `which` and reads the stream to its end: the messages
/// received, and the error status it ended with.
pub async fn watch(
    client: &mut tonic::client::Grpc<ClientService<Channel>>,
    which: Watch,
) -> (usize, Option<Status>) {
    client.ready().await.expect("the channel is ready");
    let path = PathAndQuery::from_static(which.path());
    let codec = ProstCodec::<Commands, Commands>::default();
    let request = Request::new(Commands::default());
    let mut stream = match client.server_streaming(request, path, codec).await {
        Ok(response) => response.into_inner(),
        Err(status) => return (0, Some(status)),
    };
    let mut items = 0;
    loop {
        match stream.message().await {
            Ok(Some(_)) => items += 1,
            Ok(None) => return (items, None),
            Err(status) => return (items, Some(status)),
        }
    }
}

/// The segments of `trace`, once there are at least `n`.
pub async fn wait_for(memory: &super::common::Memory, trace: &str, n: usize) -> Vec<SegmentObject> {
    for _ in 0..100 {
        let segments = memory.trace(trace);
        if segments.len() >= n {
            return segments;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "trace {trace} never had {n} segments: {:?}",
        memory.trace(trace)
    );
}

pub fn spans_of_kind(segment: &SegmentObject, kind: SpanType) -> Vec<&SpanObject> {
    segment
        .spans
        .iter()
        .filter(|s| s.span_type == kind as i32)
        .collect()
}

pub fn span_named<'a>(segment: &'a SegmentObject, name: &str) -> &'a SpanObject {
    segment
        .spans
        .iter()
        .find(|s| s.operation_name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {:?}", segment.spans))
}

/// The `rpc.status_code` tag of `span`.
pub fn status_tag(span: &SpanObject) -> Option<&str> {
    span.tags
        .iter()
        .find(|t| t.key == "rpc.status_code")
        .map(|t| t.value.as_str())
}

//! gRPC with [tonic]: a server layer (entry spans) and a client layer (exit spans)
//! (feature `tonic`).
//!
//! # Server
//!
//! [`ServerLayer`] wraps the whole tonic server:
//!
//! ```
//! use std::convert::Infallible;
//!
//! use skywalking_runtime::integrations::tonic::ServerLayer;
//! use tonic::body::Body;
//! use tonic::server::NamedService;
//!
//! async fn serve<S>(service: S, addr: std::net::SocketAddr) -> Result<(), tonic::transport::Error>
//! where
//!     // A generated server, such as `GreeterServer::new(MyGreeter)`.
//!     S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
//!         + NamedService + Clone + Send + Sync + 'static,
//!     S::Future: Send + 'static,
//! {
//!     tonic::transport::Server::builder()
//!         .layer(ServerLayer::new())
//!         .add_service(service)
//!         .serve(addr)
//!         .await
//! }
//! ```
//!
//! For each call, the [`ServerService`] checks the ignore rules
//! (`SW_AGENT_TRACE_IGNORE_PATH`, `SW_AGENT_IGNORE_SUFFIX`) against the method path
//! (`/package.Service/Method`): an ignored call runs with no span, in an unsampled
//! context, so nothing its handler does is recorded. Otherwise it reads `sw8` (or
//! `traceparent`) from the request metadata. The **entry span opens when the handler's
//! future is first polled**, continuing the caller's trace with a `CrossProcess`
//! reference (or starting one), named by the method path, layer `RPCFramework`,
//! component 23 (`GRPC`). A path that cannot name a gRPC method (not
//! `/service/Method`, with letters, digits, `_` and, in the service, `.`), which tonic
//! answers `UNIMPLEMENTED`, names its span `(unmatched)`: a scanner's paths do not become
//! endpoints in OAP. It is **current during every poll**, so `#[sw::trace]` functions
//! in the handler are its children.
//!
//! # Client
//!
//! [`ClientLayer`] wraps a `tonic::transport::Channel` (or any `Clone` gRPC service);
//! the generated client takes the wrapped channel:
//!
//! ```
//! use skywalking_runtime::integrations::tonic::ClientLayer;
//! use tower::ServiceBuilder;
//!
//! # fn generated_client<T: tonic::client::GrpcService<tonic::body::Body>>(_: T) {}
//! # async fn f() -> Result<(), tonic::transport::Error> {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let channel = ServiceBuilder::new()
//!     .layer(ClientLayer::new("127.0.0.1:50051"))
//!     .service(channel);
//! generated_client(channel); // `GreeterClient::new(channel)`
//! # Ok(()) }
//! ```
//!
//! Nothing happens when a call is made: on the **first poll** of its future the **exit
//! span opens**, as a child of the span current then (or as the first span of a new
//! trace), named by the method path, its peer the address given to [`ClientLayer::new`];
//! `sw8` is written into the request metadata, and only then is the request sent. The
//! span is current while the response head is awaited. As the request is sent from the
//! future, the inner service must be `Clone` (the one `poll_ready` made ready goes into
//! the future).
//!
//! # Status, and when spans end
//!
//! Both sides tag `rpc.status_code` with the name of the call's status code, as the Java
//! agent does (`OK`, `NOT_FOUND`, `UNAVAILABLE`, ...), and any code but `OK` marks the
//! span as an error. The status is read where gRPC puts it:
//!
//! - in the **response headers** of a *trailers-only* response (how tonic sends a
//!   handler's `Err(Status)` and how servers reject a call): the span **ends with the
//!   response head**;
//! - otherwise in the **trailers** that close the response body (every other response,
//!   unary or streaming, and a streaming error sent after some messages): the span goes
//!   on in the [`ResponseBody`] and **ends with the body**, when the trailers frame
//!   arrives. While a frame of that body is polled the span is current again, so the
//!   spans a server's response stream opens are children of the entry span. A body that
//!   ends without a status is read as gRPC clients read it (from the HTTP status: a 200
//!   is `UNKNOWN`); one that fails logs the error on the span; one dropped before its
//!   end (the caller went away, or stopped reading a stream) ends the span with an
//!   `event=cancelled` log.
//!
//! An error from the inner service (no response at all: a connection failure) marks the
//! span as an error and logs its text. A future dropped before the response head ends
//! the span as cancelled.
//!
//! With no agent running, both layers only call the inner service: no span, no metadata
//! read or written, nothing allocated; the body passes through.
//!
//! [tonic]: https://docs.rs/tonic

mod body;
mod client;
mod server;
mod status;

use std::borrow::Cow;

pub use body::ResponseBody;
pub use client::{ClientLayer, ClientResponseFuture, ClientService};
pub use server::{ServerLayer, ServerResponseFuture, ServerService};

use crate::record::{SpanKind, SpanLayer};
use crate::trace::context::SpanInit;

/// The span of a call to the method at `path` (`/package.Service/Method`).
fn span_init(kind: SpanKind, path: &str, peer: Cow<'static, str>, component: i32) -> SpanInit {
    SpanInit {
        kind,
        name: Cow::Owned(path.to_owned()),
        peer,
        layer: SpanLayer::RpcFramework,
        component,
    }
}

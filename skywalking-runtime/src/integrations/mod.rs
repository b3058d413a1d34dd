//! Framework integrations, one module per cargo feature; each feature pulls only its own
//! dependencies.
//!
//! | feature | module | what it adds |
//! |---|---|---|
//! | `tower` | `tower` | `ServerLayer`: an entry span per `http::Request`, `sw8` extraction, status tags |
//! | `axum` | `axum` | `ServerLayer`: the `tower` layer, naming spans by axum's matched route |
//! | `hyper` | `hyper` | `ClientLayer` for hyper-util's client (exit spans, `sw8` injection); servers use the `tower` layer |
//! | `reqwest` | `reqwest` | `send_traced()`: exit spans and `sw8` injection for reqwest requests |
//! | `actix-web` | `actix_web` | `ServerLayer` (a `Transform`): an entry span per request, named by the matched resource pattern |
//! | `tonic` | `tonic` | gRPC `ServerLayer` and `ClientLayer`: spans named by the method, `rpc.status_code` from headers or trailers |
//! | `tracing` | `tracing` | `TracingLayer`: `tracing` spans as local spans, events as logs; `WithTraceIds` for log lines |
//! | `log` | `log` | `SkyWalkingLogger`: trace ids on `log` records, and log reporting |
//! | `redis` | `redis` | `TracedConnection`: a redis-rs async connection whose commands and pipelines are Cache exit spans (`Redis/GET`) |
//! | `tokio-postgres` | `tokio_postgres` | `TracedClient`: a tokio-postgres client or transaction whose queries, prepares and transaction statements are Database exit spans |
//! | `sqlx` (`sqlx-postgres`, `sqlx-mysql`, `sqlx-sqlite`) | `sqlx` | `TracedPool`: a sqlx pool (also an `Executor`) whose statements are Database exit spans (`PostgreSQL/sqlx/execute`), on the pool or, through `on()`, on its connections and transactions; the pool's `datasource` meters |
//! | `rskafka`, `rdkafka` | `kafka` | producer exit spans writing `sw8` into record headers, one consumer entry span per polled batch with a reference per traced message |
//!
//! Every module names its types the same way: `ServerLayer` / `ServerService<S>` /
//! `ResponseFuture<F>` for servers, `ClientLayer` / `ClientService<S>` /
//! `ResponseFuture<..>` for clients (tonic, which has both, says `ServerResponseFuture`
//! and `ClientResponseFuture`).
//!
//! With no agent running (before [`Agent`](crate::Agent) starts, after it stops, or in
//! a library built without one) every integration only forwards the call: no span, no
//! header read or written, no allocation.
//!
//! # HTTP conventions
//!
//! Every HTTP integration records the same shape, so traces from axum, actix-web, hyper
//! and reqwest look alike in OAP:
//!
//! - **Entry spans** (servers): layer `Http`, component 49 (`http`), named `METHOD route`
//!   (`GET /users/{id}`); tags `http.method`, `url`, `http.status_code`. The trace
//!   continues the caller's: from `sw8` with a `CrossProcess` reference to the caller's
//!   segment; else from W3C `traceparent`, keeping its trace id (no SkyWalking segment
//!   to refer to, so no reference).
//! - **Exit spans** (clients): layer `Http`, component 2 (`HttpClient`, the id the
//!   Node.js and .NET agents give their HTTP clients), named `METHOD /path`, peer = the
//!   `host:port` the request goes to (the port defaults from the scheme), which is also
//!   the address `sw8` carries, so OAP links the call to the callee; the same tags.
//! - **`url`**: the URL without its query string. A client knows the full URL
//!   (`http://host:port/path`); a server sees the request target, which is the path in
//!   HTTP/1.1 (`/users/7`) and the full URL in HTTP/2 or for absolute-form targets. The
//!   query is left out, as the Java agent does by default: it often carries tokens and
//!   personal data.
//! - **Errors**: a status of 400 or more marks the span as an error, on entry and exit
//!   spans alike, as the Java (Tomcat, HttpClient) and Go (net/http) agents do (OAP's
//!   success rate counts error spans); so does a failure without a response, whose
//!   text is logged on the span (`event=error`, `error.kind`, `message`).
//! - **Ignore rules**: servers check `SW_AGENT_TRACE_IGNORE_PATH` (Ant-style patterns:
//!   `/health`, `/static/**`, `/api/*/ping`, `?` for one character) and
//!   `SW_AGENT_IGNORE_SUFFIX` (`.jpg,.css,...`, compared ASCII case-insensitively)
//!   against the request path before the first span opens. An ignored request gets no
//!   span and runs in an unsampled context: the spans its handler opens and the calls it
//!   makes record nothing.
//! - **Timing**: spans open when the request's future is first polled and are current
//!   during each poll, so `#[sw::trace]` functions in a handler are children of the
//!   entry span; they end when the response head is ready (a streaming body is not
//!   covered). gRPC spans end with the call's status instead, which most responses send
//!   in the body's trailers (see the `tonic` module).

#[cfg(any(feature = "tower", feature = "reqwest", feature = "actix-web"))]
mod http;
#[cfg(any(feature = "tower", feature = "actix-web", feature = "tonic"))]
mod ignore;
#[cfg(any(
    feature = "tower",
    feature = "reqwest",
    feature = "actix-web",
    feature = "tonic",
    feature = "redis",
    feature = "tokio-postgres",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
mod support;

#[cfg(feature = "actix-web")]
pub mod actix_web;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(any(feature = "rskafka", feature = "rdkafka"))]
pub mod kafka;
#[cfg(feature = "log")]
pub mod log;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(any(
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
pub mod sqlx;
#[cfg(feature = "tokio-postgres")]
pub mod tokio_postgres;
#[cfg(feature = "tonic")]
pub mod tonic;
#[cfg(feature = "tower")]
pub mod tower;
#[cfg(feature = "tracing")]
pub mod tracing;

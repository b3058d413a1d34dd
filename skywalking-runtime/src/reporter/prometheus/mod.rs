//! RED metrics (rate, errors, duration) of the spans, for Prometheus (feature
//! `prometheus`).
//!
//! The reporter thread counts every finished entry span (calls served, per endpoint) and
//! exit span (calls made, per peer and operation) of the segments it takes from the
//! queue. Nothing happens when a span closes: the spans are already in the segment the
//! reporter drains, so the hot path costs the same with the feature on or off.
//!
//! # Metrics
//!
//! | metric | type | what |
//! |---|---|---|
//! | `skywalking_calls_total` | counter | finished entry and exit spans |
//! | `skywalking_call_errors_total` | counter | the part of them marked as errors (HTTP status ≥ 400, a gRPC status other than `OK`, an `Err` with `#[trace(err)]`, a panic) |
//! | `skywalking_call_duration_seconds` | histogram | their duration; buckets from `SW_AGENT_PROMETHEUS_BUCKETS` (default 1 ms to 10 s) |
//! | `skywalking_metrics_overflow_total` | counter | spans counted under `endpoint="other"` (labels `service`, `kind`) |
//! | `skywalking_agent_spans_total`, `_segments_queued_total`, `_segments_sent_total`, `_segments_dropped_total`, `_traces_unsampled_total` | counter | the agent's own [`stats()`](crate::stats()) |
//!
//! The three span metrics share their labels:
//!
//! | label | value |
//! |---|---|
//! | `service` | the agent's service name (`SW_AGENT_NAME`) |
//! | `kind` | `entry` or `exit` |
//! | `endpoint` | the span's operation name, cut to 150 characters as OAP cuts it: the route template of an entry span (`GET /users/{id}`, never the raw path, with the axum, actix-web and tonic integrations), the operation of an exit span; for an HTTP exit span named `METHOD /path` (the hyper and reqwest integrations name them by raw path) only the method, as OpenTelemetry's HTTP client metrics do |
//! | `peer` | the peer of an exit span (`db:5432`); empty on entry spans |
//! | `layer` | `http`, `rpc_framework`, `database`, `cache`, `mq`, `faas` or `unknown` |
//! | `component` | the component's name in OAP (`http`, `GRPC`, `PostgreSQL`, `Redis`, `HttpClient`, `Rust`, ...), or its id |
//!
//! Local spans are not counted, nor spans marked `skipAnalysis` (OAP leaves those out of
//! its metrics too).
//!
//! **Bounded cardinality.** Each metric holds at most `SW_AGENT_PROMETHEUS_MAX_SERIES`
//! label sets (default 500) of entry spans and as many of exit spans, so that one kind
//! cannot crowd out the other. Once a kind's are taken, a span with a new endpoint or peer
//! goes to `endpoint="other"` (and `peer="other"` for exit spans), keeping its kind,
//! layer and component (which come from code, not from requests), and is counted in
//! `skywalking_metrics_overflow_total`. Memory stays bounded whatever paths clients
//! send, for example through a plain `tower` layer that names spans by raw path.
//!
//! # What is counted
//!
//! A segment is counted when the reporter thread takes it from the queue, every
//! flush interval (20 ms by default), so a scrape lags the requests by about that much.
//! What never reaches the reporter thread is not counted:
//!
//! - **Sampling**: with `SW_AGENT_SAMPLE` below 1 (or `SW_AGENT_SAMPLE_N_PER_3_SECS`),
//!   an unsampled trace records nothing and is not counted, so rates are those of the
//!   sampled traffic (`skywalking_agent_traces_unsampled_total` says how much was left
//!   out). With `SW_AGENT_KEEP_ERRORS` or `SW_AGENT_KEEP_SLOW_MS` the agent records every
//!   trace and decides at the end of each segment: the segments it does not keep still
//!   reach the reporter thread, flagged not to be sent, and are counted, so the metrics
//!   cover all the traffic. In general the metrics see every segment the reporter takes
//!   from the queue, sent or not.
//! - **Ignored paths** (`SW_AGENT_TRACE_IGNORE_PATH`, `SW_AGENT_IGNORE_SUFFIX`) and a
//!   disabled agent record nothing.
//! - **A full queue**: segments dropped because the queue was full
//!   (`skywalking_agent_segments_dropped_total`) are lost to the metrics too. While the
//!   collector is unreachable, segments wait in the queue and are counted when it comes
//!   back; a program that wants metrics without OAP can set a discarding
//!   [`Reporter`](crate::Reporter) with [`AgentBuilder::reporter`](crate::AgentBuilder::reporter).
//!
//! # Serving the metrics
//!
//! Either the agent listens on its own thread: set `SW_AGENT_PROMETHEUS_LISTEN`
//! (`127.0.0.1:9464`, or `0.0.0.0:9464` for every interface) or
//! [`AgentBuilder::prometheus_listen`](crate::AgentBuilder::prometheus_listen), and
//! Prometheus scrapes `http://<address>/metrics`. A busy address fails
//! [`init`](crate::init()). Or the application serves them in its own router, with
//! [`handler`] (axum) or [`response`] (hyper, or anything with an [`http::HeaderMap`]):
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # mod example {
//! use axum::{Router, routing::get};
//! use skywalking_runtime::prometheus;
//!
//! fn app() -> Router {
//!     Router::new().route("/metrics", get(prometheus::handler))
//! }
//! # }
//! ```
//!
//! ```
//! use std::convert::Infallible;
//! use hyper::{Request, Response, body::Incoming, service::service_fn};
//!
//! let service = service_fn(|request: Request<Incoming>| async move {
//!     Ok::<Response<String>, Infallible>(skywalking_runtime::prometheus::response(request.headers()))
//! });
//! # let _ = service;
//! ```
//!
//! Both answer in the Prometheus text format (version 0.0.4), or in OpenMetrics when the
//! `Accept` header prefers `application/openmetrics-text` (as Prometheus does), both
//! encoded by the official `prometheus-client` crate. Before an agent with metrics has
//! started they answer `503 Service Unavailable`.
//!
//! # Queries
//!
//! ```text
//! # Requests per second, per endpoint
//! sum by (endpoint) (rate(skywalking_calls_total{kind="entry"}[5m]))
//! # Error ratio, per endpoint
//!   sum by (endpoint) (rate(skywalking_call_errors_total{kind="entry"}[5m]))
//! / sum by (endpoint) (rate(skywalking_calls_total{kind="entry"}[5m]))
//! # p99 latency of the calls to each peer
//! histogram_quantile(0.99,
//!   sum by (peer, le) (rate(skywalking_call_duration_seconds_bucket{kind="exit"}[5m])))
//! ```

mod aggregate;
mod health;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use prometheus_client::registry::Registry;

use self::aggregate::Aggregator;
use self::server::Server;
use crate::config::{Config, OPTIONS};
use crate::diag::diag;
use crate::error::Error;
use crate::record::SegmentRecord;

/// What scrapes encode: set when an agent with metrics starts, kept after it stops (the
/// last values stay readable).
static REGISTRY: RwLock<Option<Arc<Registry>>> = RwLock::new(None);
/// What the reporter thread updates; `None` while metrics are off.
static AGGREGATOR: Mutex<Option<Aggregator>> = Mutex::new(None);
/// The listener of `SW_AGENT_PROMETHEUS_LISTEN`, while the agent runs.
static SERVER: Mutex<Option<Server>> = Mutex::new(None);

/// The content type of the Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The Prometheus text format, version 0.0.4: what `curl` and most tools read.
    Text,
    /// OpenMetrics 1.0 text: what Prometheus asks for first.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header prefers: OpenMetrics when it weighs
    /// `application/openmetrics-text` above `text/plain` (Prometheus sends
    /// `application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5,...`),
    /// text otherwise, and without a header.
    ///
    /// ```
    /// use http::HeaderValue;
    /// use skywalking_runtime::prometheus::Format;
    ///
    /// let prometheus = HeaderValue::from_static(
    ///     "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    /// );
    /// assert_eq!(Format::from_accept(Some(&prometheus)), Format::OpenMetrics);
    /// assert_eq!(Format::from_accept(None), Format::Text);
    /// ```
    pub fn from_accept(accept: Option<&HeaderValue>) -> Format {
        let Some(accept) = accept.and_then(|a| a.to_str().ok()) else {
            return Format::Text;
        };
        let (mut openmetrics, mut text) = (0.0_f32, 0.0_f32);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(q),
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics > text {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// The metrics in `format`, or `None` before an agent with metrics (feature `prometheus`,
/// `SW_AGENT_PROMETHEUS_ACTIVE` not `false`) has started.
///
/// ```
/// use skywalking_runtime::prometheus::{self, Format};
///
/// // No agent runs in this example.
/// assert_eq!(prometheus::encode(Format::Text), None);
/// ```
pub fn encode(format: Format) -> Option<String> {
    let registry = REGISTRY
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()?;
    let mut text = String::with_capacity(16 * 1024);
    let encoded = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut text, &registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, &registry),
    };
    // Writing to a String cannot fail; an encoder error would be a bug, answered as none.
    encoded.ok().map(|()| text)
}

/// The response to a scrape whose request carried `headers`: the metrics in the format
/// its `Accept` header prefers ([`Format::from_accept`]), or `503 Service Unavailable`
/// before an agent with metrics has started. For hyper, or any server with
/// [`http::Response`]s (see the [module docs](self)).
pub fn response(headers: &HeaderMap) -> Response<String> {
    let format = Format::from_accept(headers.get(header::ACCEPT));
    let Some(body) = encode(format) else {
        return server::plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "no SkyWalking agent with Prometheus metrics runs in this process\n",
        );
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

/// [`response`] as an async handler taking the request's headers: mount it in an axum
/// router with `.route("/metrics", get(prometheus::handler))`.
pub async fn handler(headers: HeaderMap) -> Response<String> {
    response(&headers)
}

/// The address the agent's own listener is bound to (`SW_AGENT_PROMETHEUS_LISTEN`; the
/// real port when port 0 was asked), or `None` when it does not listen.
pub fn local_addr() -> Option<SocketAddr> {
    SERVER
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(Server::local_addr)
}

/// Sets up the metrics of an agent that starts: a fresh registry (counters start from
/// zero, which Prometheus reads as a reset), and the listener if an address is set.
pub(crate) fn start(config: &Config, service: &str) -> Result<(), Error> {
    stop();
    if !config.prometheus_active {
        *AGGREGATOR.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if config.prometheus_listen.is_some() {
            diag!(
                Warn,
                "SW_AGENT_PROMETHEUS_ACTIVE is false: SW_AGENT_PROMETHEUS_LISTEN is ignored"
            );
        }
        return Ok(());
    }
    let server = match &config.prometheus_listen {
        None => None,
        Some(address) => Some(listen(address)?),
    };
    let mut registry = Registry::default();
    let aggregator = Aggregator::new(
        service,
        config.prometheus_buckets.bounds(),
        config.prometheus_max_series,
        &mut registry,
    );
    registry.register_collector(Box::new(health::AgentStats));
    *AGGREGATOR.lock().unwrap_or_else(PoisonError::into_inner) = Some(aggregator);
    *REGISTRY.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(registry));
    if let Some(server) = server {
        diag!(
            Info,
            "Prometheus metrics at http://{}{}",
            server.local_addr(),
            server::PATH
        );
        *SERVER.lock().unwrap_or_else(PoisonError::into_inner) = Some(server);
    }
    Ok(())
}

/// Binds the listener of `SW_AGENT_PROMETHEUS_LISTEN`.
fn listen(address: &str) -> Result<Server, Error> {
    let option = &OPTIONS.prometheus_listen;
    let addr: SocketAddr = address.parse().map_err(|_| Error::Config {
        variable: option.name(),
        value: address.to_owned(),
        expected: option.form,
    })?;
    Server::start(addr).map_err(|source| Error::Listen {
        variable: option.name(),
        address: address.to_owned(),
        source,
    })
}

/// Stops the listener (the agent stops). The last values stay readable through
/// [`encode`] and [`handler`].
pub(crate) fn stop() {
    let server = SERVER.lock().unwrap_or_else(PoisonError::into_inner).take();
    drop(server);
}

/// Counts the entry and exit spans of segments the reporter thread took from the queue:
/// called once per drained batch, whether its segments are then sent or not. Never
/// inlined: once per batch, and a symbol of its own for profilers.
#[inline(never)]
pub(crate) fn observe(batch: &[Box<SegmentRecord>]) {
    let mut aggregator = AGGREGATOR.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(aggregator) = aggregator.as_mut() {
        for segment in batch {
            aggregator.observe(segment);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_pick_the_format() {
        let pick =
            |accept: &'static str| Format::from_accept(Some(&HeaderValue::from_static(accept)));
        assert_eq!(pick("application/openmetrics-text"), Format::OpenMetrics);
        assert_eq!(
            pick(
                "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5"
            ),
            Format::OpenMetrics
        );
        assert_eq!(pick("text/plain;version=0.0.4"), Format::Text);
        assert_eq!(pick("*/*"), Format::Text);
        assert_eq!(pick("application/openmetrics-text;q=0"), Format::Text);
        assert_eq!(
            pick("text/plain, application/openmetrics-text;q=0.9"),
            Format::Text
        );
        assert_eq!(pick("application/json"), Format::Text);
    }

    #[test]
    fn a_bad_or_busy_listen_address_is_an_error_naming_the_variable() {
        let error = listen("localhost").unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error}");
        assert!(error.to_string().contains("SW_AGENT_PROMETHEUS_LISTEN"));
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap().to_string();
        let error = listen(&address).unwrap_err();
        assert!(matches!(error, Error::Listen { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("SW_AGENT_PROMETHEUS_LISTEN") && message.contains(&address));
    }

    #[test]
    fn the_variables_are_read_and_bad_values_name_them() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            Config::from_lookup(move |name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        let config = env(&[
            ("SW_AGENT_PROMETHEUS_ACTIVE", "false"),
            ("SW_AGENT_PROMETHEUS_LISTEN", "0.0.0.0:9464"),
            ("SW_AGENT_PROMETHEUS_BUCKETS", "0.01, 0.1,1"),
            ("SW_AGENT_PROMETHEUS_MAX_SERIES", "20"),
        ])
        .unwrap();
        assert!(!config.prometheus_active());
        assert_eq!(config.prometheus_listen(), Some("0.0.0.0:9464"));
        assert_eq!(config.prometheus_buckets.bounds(), [0.01, 0.1, 1.0]);
        assert_eq!(config.prometheus_max_series(), 20);
        let defaults = Config::default();
        assert!(defaults.prometheus_active() && defaults.prometheus_listen().is_none());
        assert_eq!(defaults.prometheus_buckets.bounds().len(), 13);
        for bad in [
            &[("SW_AGENT_PROMETHEUS_LISTEN", "localhost:9464")][..],
            &[("SW_AGENT_PROMETHEUS_LISTEN", "127.0.0.1")],
            &[("SW_AGENT_PROMETHEUS_BUCKETS", "0.1,0.01")],
            &[("SW_AGENT_PROMETHEUS_BUCKETS", "0.1,0.1")],
            &[("SW_AGENT_PROMETHEUS_BUCKETS", "0,1")],
            &[("SW_AGENT_PROMETHEUS_BUCKETS", "1,inf")],
            &[("SW_AGENT_PROMETHEUS_BUCKETS", "fast")],
            &[("SW_AGENT_PROMETHEUS_MAX_SERIES", "0")],
            &[("SW_AGENT_PROMETHEUS_ACTIVE", "maybe")],
        ] {
            let error = env(bad).unwrap_err().to_string();
            assert!(error.contains(bad[0].0), "{bad:?}: {error}");
        }
    }
}

//! The default sink: OAP over gRPC (tonic), on the reporter thread's own small
//! `current_thread` tokio runtime.
//!
//! - **Segments**: each batch goes out as one `TraceSegmentReportService/collect` client
//!   stream; its segments count as sent when OAP answers, as dropped when the call fails.
//!   The records travel with the stream for the time of the call, and each segment is
//!   encoded by one [`wire::SegmentEncoder`] when tonic asks for the next message, into a
//!   small reused buffer, then copied into tonic's frame buffer: the bytes of a batch are
//!   never all in memory at once, so they stay in the CPU's cache on their way to the
//!   socket, and nothing is allocated per segment.
//! - **Logs**: each batch of log records goes out as one `LogReportService/collect`
//!   stream, and **meters** as one `MeterReportService/collectBatch` stream per
//!   collection, counted the same way. All three go through one helper
//!   ([`GrpcSink::stream`]) over the same connection, so they share its authentication,
//!   TLS, timeouts, failover and backoff.
//! - **Heartbeat**: `ManagementService/keepAlive` every check interval
//!   (`SW_AGENT_REPORTER_CHECK_INTERVAL`), and `reportInstanceProperties` on every new
//!   connection and then every [`PROPERTIES_EVERY`] heartbeats.
//! - **Connection**: made lazily, by the reporter thread, never by `init()`; addresses are
//!   tried in turn (failover), and after a failure the next attempt waits a jittered
//!   exponential backoff (see [`backoff`](super::backoff): 100 ms doubling to 5 s).
//! - **Authentication**: the `authentication` metadata on every call when a token is set.
//!   A refused token (`PERMISSION_DENIED`/`UNAUTHENTICATED`) is logged once, counted, and
//!   backed off like a connection failure.
//! - **TLS**: rustls, trusting the configured CA, or with no CA path the operating
//!   system's trust store (plus Mozilla's roots with the feature `tls-webpki-roots`); a
//!   client certificate and key make it mutual TLS. A failed handshake is logged (once
//!   per outage) with rustls' reason.
//! - **Dynamic configuration**: `ConfigurationDiscoveryService/fetchConfigurations` on
//!   every new connection and then every `SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL`
//!   (see [`cds`](super::cds)), with the UUID of the last answer so that an unchanged
//!   configuration comes back empty. Its failures never hold segments back.
//!
//! Every call has a timeout ([`CALL_TIMEOUT`], or less when a flush deadline is nearer),
//! so the thread never hangs on a collector that stopped answering.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use prost::bytes::{Buf, BufMut, Bytes};
use skywalking_proto::v3::configuration_discovery_service_client::ConfigurationDiscoveryServiceClient;
use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_proto::v3::{Commands, MeterData};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as TlsIdentity};
use tonic::{Code, Request, Status};

use super::backoff::{self, Backoff};
use super::cds;
use super::encode::Identity;
use super::encode_logs;
use super::management::{self, PROPERTIES_EVERY};
use super::runtime::SinkRuntime;
use super::wire;
use super::worker::Sink;
use crate::config::{Config, OPTIONS, strip_scheme};
use crate::diag::diag;
use crate::error::Error;
use crate::logs::LogItem;
use crate::meter;
use crate::record::SegmentRecord;
use crate::stats;

/// Longest wait for one call (the Java agent's `grpc_upstream_timeout` is 30 s; a
/// shorter one keeps the queue moving).
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a TCP (and TLS) connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The path of the segment stream.
const COLLECT: &str = "/skywalking.v3.TraceSegmentReportService/collect";
/// The path of the log stream.
const COLLECT_LOGS: &str = "/skywalking.v3.LogReportService/collect";
/// The path of the meter stream.
const COLLECT_METERS: &str = "/skywalking.v3.MeterReportService/collectBatch";

/// Sends messages already encoded (logs and meters, by prost) and decodes OAP's
/// `Commands` answer, which all three services return (segments are encoded by
/// [`SegmentCodec`] as the stream asks for them, and answered through this decoder).
#[derive(Debug, Clone, Copy, Default)]
struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Commands;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Commands;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Commands>, Status> {
        decode_commands(src)
    }
}

/// OAP's answer to every stream.
fn decode_commands(src: &mut DecodeBuf<'_>) -> Result<Option<Commands>, Status> {
    let commands = Commands::decode(src.copy_to_bytes(src.remaining()))
        .map_err(|e| Status::internal(format!("undecodable Commands from OAP: {e}")))?;
    Ok(Some(commands))
}

/// The batch being streamed: its records (lent by the worker for the time of the call),
/// and what encodes them. One per sink, shared with the stream's codec.
struct LazyBatch {
    /// Which call the records belong to: a codec of an earlier call (a stream that timed
    /// out but is still polled) finds another number and stops.
    call: u64,
    #[allow(clippy::vec_box)]
    records: Vec<Box<SegmentRecord>>,
    encoder: wire::SegmentEncoder,
    /// One segment's bytes, reused.
    scratch: Vec<u8>,
}

/// Largest segment encoding whose buffer is kept for the next segment.
const KEEP_SCRATCH_BYTES: usize = 1 << 20;

/// The segment stream's codec: item `i` is the batch's segment `i`, encoded when tonic
/// asks for it and copied into tonic's frame buffer.
#[derive(Clone)]
struct SegmentCodec {
    batch: Arc<Mutex<LazyBatch>>,
    call: u64,
}

impl std::fmt::Debug for SegmentCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentCodec")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl Codec for SegmentCodec {
    type Encode = usize;
    type Decode = Commands;
    type Encoder = SegmentCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        self.clone()
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl Encoder for SegmentCodec {
    type Item = usize;
    type Error = Status;

    fn encode(&mut self, index: usize, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        let mut guard = self
            .batch
            .lock()
            .map_err(|_| Status::internal("segment encoder poisoned"))?;
        let LazyBatch {
            call,
            records,
            encoder,
            scratch,
        } = &mut *guard;
        let record = records
            .get_mut(index)
            .filter(|_| *call == self.call)
            .ok_or_else(|| Status::cancelled("the batch is no longer being sent"))?;
        scratch.clear();
        encoder.encode(record, scratch);
        dst.put_slice(scratch);
        if scratch.capacity() > KEEP_SCRATCH_BYTES {
            *scratch = Vec::new();
        }
        Ok(())
    }

    /// Frames are written into a buffer tonic hands to h2 every 48 KiB (a yield); after
    /// a yield the buffer is shared with the frames in flight, so running out of room
    /// means a new buffer and a copy of what the current yield holds. With tonic's default
    /// (8 KiB buffer, 32 KiB yield) that is several copies per yield; with a 64 KiB buffer
    /// (the largest size `bytes` keeps as a buffer's original capacity, and below
    /// malloc's mmap threshold) a yield never outgrows it, and a new buffer copies at most
    /// the 16 KiB of slack.
    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(64 << 10, 48 << 10)
    }
}

/// The items of an iterator as a stream that is always ready. `tokio_stream::iter`
/// returns `Pending` every 32 items (cooperative scheduling), and tonic ends a chunk of
/// the request body, one write to the socket, at every `Pending`: a batch of small
/// segments would go out in writes of 32 segments. Always ready, the chunks are cut by
/// size only ([`SegmentCodec::buffer_settings`]). The reporter's runtime runs nothing
/// else that could wait.
struct ReadyStream<I>(I);

impl<I: Iterator + Unpin> tokio_stream::Stream for ReadyStream<I> {
    type Item = I::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.0.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// One collector address.
pub(crate) struct Backend {
    /// As configured, for logs.
    pub(crate) address: String,
    pub(crate) endpoint: Endpoint,
}

/// An established connection.
struct Connection {
    backend: usize,
    /// Client streams of pre-encoded messages, on any path.
    streams: tonic::client::Grpc<Channel>,
    management: ManagementServiceClient<Channel>,
    configuration: ConfigurationDiscoveryServiceClient<Channel>,
}

/// What went wrong, for logging it once per episode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trouble {
    Unreachable,
    Refused,
    Rejected,
}

pub(crate) struct GrpcSink {
    runtime: SinkRuntime,
    backends: Vec<Backend>,
    /// The address tried first on the next attempt.
    next_backend: usize,
    connection: Option<Connection>,
    connected_before: bool,
    backoff: Backoff,
    /// Set after a failure: no call before this instant (unless forced).
    retry_at: Option<Instant>,
    token: Option<AsciiMetadataValue>,
    identity: Identity,
    tls: bool,
    /// The batch being sent and its encoder, shared with the stream's codec.
    batch: Arc<Mutex<LazyBatch>>,
    check_interval: Duration,
    next_heartbeat: Instant,
    heartbeats_since_properties: u32,
    properties_due: bool,
    /// The trouble being had (logged when it started), until a call succeeds.
    trouble: Option<Trouble>,
    /// Dynamic configuration; `None` when off (or OAP does not serve it).
    cds: Option<cds::Poller>,
}

impl std::fmt::Debug for GrpcSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcSink")
            .field(
                "backends",
                &self.backends.iter().map(|b| &b.address).collect::<Vec<_>>(),
            )
            .field("connected", &self.connection.is_some())
            .finish_non_exhaustive()
    }
}

fn read_pem(variable: &'static str, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let file_error = |reason: String| Error::TlsFile {
        variable,
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(file_error("no PEM block (-----BEGIN ...) in it".to_owned()));
    }
    Ok(bytes)
}

/// The variable naming the CA file.
const CA_PATH: &str = "SW_AGENT_REPORTER_GRPC_TLS_CA_PATH";

/// The client TLS settings of `config`: `None` when TLS is off. With no CA path the
/// roots are the system's (see [`with_tls`]).
pub(crate) fn tls_config(config: &Config) -> Result<Option<ClientTlsConfig>, Error> {
    if !config.tls_enabled() {
        return Ok(None);
    }
    let mut tls = ClientTlsConfig::new();
    if let Some(path) = &config.tls_ca_path {
        let ca = read_pem(CA_PATH, path)?;
        tls = tls.ca_certificate(Certificate::from_pem(ca));
    }
    if let (Some(cert), Some(key)) = (&config.tls_client_cert_path, &config.tls_client_key_path) {
        let cert = read_pem("SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_CHAIN_PATH", cert)?;
        let key = read_pem("SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH", key)?;
        tls = tls.identity(TlsIdentity::from_pem(cert, key));
    }
    Ok(Some(tls))
}

/// Puts TLS on `endpoint`. With no CA path, the roots are the operating system's trust
/// store, or (feature `tls-webpki-roots`) Mozilla's roots as well, or alone when the
/// system has none.
fn with_tls(endpoint: Endpoint, tls: &ClientTlsConfig, config: &Config) -> Result<Endpoint, Error> {
    let file_error = |e: tonic::transport::Error| Error::TlsFile {
        variable: CA_PATH,
        path: config.tls_ca_path.clone().unwrap_or_default(),
        reason: crate::diag::chain(&e),
    };
    if config.tls_ca_path.is_some() {
        return endpoint.tls_config(tls.clone()).map_err(file_error);
    }
    let system = tls.clone().with_native_roots();
    #[cfg(feature = "tls-webpki-roots")]
    let system = system.with_webpki_roots();
    let error = match endpoint.clone().tls_config(system) {
        Ok(endpoint) => return Ok(endpoint),
        Err(error) => error,
    };
    // tonic's `TlsError::NativeCertsNotFound`: the system store is empty or missing.
    if !crate::diag::chain(&error).contains("no native certs") {
        return Err(file_error(error));
    }
    #[cfg(feature = "tls-webpki-roots")]
    return endpoint
        .tls_config(tls.clone().with_webpki_roots())
        .map_err(file_error);
    #[cfg(not(feature = "tls-webpki-roots"))]
    Err(Error::Config {
        variable: CA_PATH,
        value: String::new(),
        expected: "the path of the CA that signs the collector's certificate: TLS is on \
                   and the system trust store has no certificates (install the \
                   ca-certificates package in the image, or enable the feature \
                   `tls-webpki-roots`)",
    })
}

/// One endpoint per configured address, with the reporter's timeouts and TLS.
pub(crate) fn backends(config: &Config) -> Result<Vec<Backend>, Error> {
    let tls = tls_config(config)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    config
        .backends
        .iter()
        .map(|address| {
            let invalid = |_| Error::Config {
                variable: OPTIONS.backends.name(),
                value: address.clone(),
                expected: OPTIONS.backends.form,
            };
            let uri = format!("{scheme}://{}", strip_scheme(address));
            let mut endpoint = Endpoint::from_shared(uri)
                .map_err(invalid)?
                .connect_timeout(CONNECT_TIMEOUT)
                .tcp_nodelay(true)
                // A collector host that vanishes without closing the connection is
                // noticed by the kernel, not only by the next call's timeout.
                .tcp_keepalive(Some(Duration::from_secs(30)))
                .initial_stream_window_size(Some(4 << 20))
                .initial_connection_window_size(Some(8 << 20))
                .user_agent(concat!("skywalking-rust-agent/", env!("CARGO_PKG_VERSION")))
                .map_err(invalid)?;
            if let Some(tls) = &tls {
                endpoint = with_tls(endpoint, tls, config)?;
            }
            Ok(Backend {
                address: address.clone(),
                endpoint,
            })
        })
        .collect()
}

/// The `authentication` metadata value of `SW_AGENT_AUTHENTICATION`.
pub(crate) fn token(config: &Config) -> Result<Option<AsciiMetadataValue>, Error> {
    config
        .authentication
        .as_ref()
        .map(|token| {
            MetadataValue::try_from(token.as_str()).map_err(|_| Error::Config {
                variable: "SW_AGENT_AUTHENTICATION",
                value: "<hidden>".to_owned(),
                expected: "printable ASCII (it travels as gRPC metadata)",
            })
        })
        .transpose()
}

/// `message` with the `authentication` metadata when a token is set.
pub(crate) fn with_token<T>(message: T, token: Option<&AsciiMetadataValue>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authentication", token.clone());
    }
    request
}

impl GrpcSink {
    /// Checks the configuration and reads the TLS files; connects nothing.
    pub(crate) fn new(config: &Config, identity: Identity) -> Result<GrpcSink, Error> {
        let backends = backends(config)?;
        let tls = config.tls_enabled();
        let token = token(config)?;
        let cds = (!config.cds_interval.is_zero())
            .then(|| cds::Poller::new(config, identity.service.clone()));
        Ok(GrpcSink {
            runtime: SinkRuntime::default(),
            backends,
            next_backend: 0,
            connection: None,
            connected_before: false,
            backoff: Backoff::new(),
            retry_at: None,
            token,
            batch: Arc::new(Mutex::new(LazyBatch {
                call: 0,
                records: Vec::new(),
                encoder: wire::SegmentEncoder::new(&identity),
                scratch: Vec::new(),
            })),
            identity,
            tls,
            check_interval: config.check_interval,
            next_heartbeat: Instant::now(),
            heartbeats_since_properties: 0,
            properties_due: true,
            trouble: None,
            cds,
        })
    }

    /// Runs `future` on the sink's runtime, giving up at `deadline` or after
    /// [`CALL_TIMEOUT`]. `None` if it timed out or there is no runtime.
    fn block_on<F: std::future::Future>(
        &mut self,
        deadline: Option<Instant>,
        future: F,
    ) -> Option<F::Output> {
        self.runtime.block_on(CALL_TIMEOUT, deadline, future)
    }

    fn addresses(&self) -> String {
        self.backends
            .iter()
            .map(|b| b.address.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Tries each address once, starting with the preferred one.
    fn connect(&mut self, deadline: Option<Instant>) -> bool {
        let count = self.backends.len();
        let mut last_error = String::new();
        for attempt in 0..count {
            let index = (self.next_backend + attempt) % count;
            let endpoint = self.backends[index].endpoint.clone();
            let connect_deadline = Some(
                deadline
                    .unwrap_or_else(|| Instant::now() + CONNECT_TIMEOUT)
                    .min(Instant::now() + CONNECT_TIMEOUT),
            );
            match self.block_on(connect_deadline, endpoint.connect()) {
                Some(Ok(channel)) => {
                    self.on_connected(index, channel);
                    return true;
                }
                Some(Err(e)) => {
                    stats::send_error();
                    last_error = format!(
                        "{}: {}",
                        self.backends[index].address,
                        crate::diag::chain(&e)
                    );
                }
                None => {
                    stats::send_error();
                    last_error = format!("{}: timed out", self.backends[index].address);
                }
            }
        }
        self.next_backend = (self.next_backend + 1) % count;
        let wait = self.backoff.next_wait();
        self.retry_at = Some(Instant::now() + wait);
        if self.trouble != Some(Trouble::Unreachable) {
            self.trouble = Some(Trouble::Unreachable);
            let tls_hint = if self.tls && is_tls_failure(&last_error) {
                " (TLS handshake failed: check SW_AGENT_REPORTER_GRPC_TLS_CA_PATH and the \
                 collector's certificate)"
            } else {
                ""
            };
            let message = format!(
                "cannot reach the SkyWalking collector at {}{tls_hint}: {last_error}; retrying \
                 every {:?} to {:?} (jittered backoff); segments wait in the queue and are \
                 dropped (counted in stats()) when it is full",
                self.addresses(),
                backoff::MIN,
                backoff::MAX,
            );
            if tls_hint.is_empty() {
                diag!(Warn, "{message}");
            } else {
                diag!(Error, "{message}");
            }
        }
        false
    }

    fn on_connected(&mut self, index: usize, channel: Channel) {
        let streams = tonic::client::Grpc::new(channel.clone());
        let management = ManagementServiceClient::new(channel.clone());
        let configuration = ConfigurationDiscoveryServiceClient::new(channel);
        self.connection = Some(Connection {
            backend: index,
            streams,
            management,
            configuration,
        });
        self.next_backend = index;
        self.retry_at = None;
        let address = &self.backends[index].address;
        if self.trouble == Some(Trouble::Unreachable) {
            self.trouble = None;
            if self.connected_before {
                diag!(Warn, "reconnected to the SkyWalking collector at {address}");
            } else {
                diag!(
                    Warn,
                    "connected to the SkyWalking collector at {address}, unreachable until now"
                );
            }
        } else {
            diag!(Info, "connected to the SkyWalking collector at {address}");
        }
        if self.connected_before {
            stats::reconnect();
        }
        self.connected_before = true;
        // OAP may have restarted: say who we are again, now, and ask for its
        // configuration (the UUID is kept: an unchanged one comes back empty).
        self.properties_due = true;
        self.next_heartbeat = Instant::now();
        if let Some(cds) = &mut self.cds {
            cds.due_now();
        }
    }

    fn request<T>(&self, message: T) -> Request<T> {
        with_token(message, self.token.as_ref())
    }

    /// Handles a call's outcome: `true` if it succeeded.
    fn outcome(&mut self, result: Option<Result<(), Status>>, what: &str) -> bool {
        let status = match result {
            Some(Ok(())) => {
                self.backoff.reset();
                if let Some(trouble) = self.trouble.take()
                    && trouble != Trouble::Unreachable
                {
                    diag!(Warn, "the SkyWalking collector accepts {what} again");
                }
                return true;
            }
            Some(Err(status)) => status,
            None => Status::deadline_exceeded(format!("no answer within {CALL_TIMEOUT:?}")),
        };
        stats::send_error();
        let address = self
            .connection
            .as_ref()
            .map_or_else(String::new, |c| self.backends[c.backend].address.clone());
        let wait = self.backoff.next_wait();
        self.retry_at = Some(Instant::now() + wait);
        match status.code() {
            Code::PermissionDenied | Code::Unauthenticated => {
                stats::auth_error();
                if self.trouble != Some(Trouble::Refused) {
                    self.trouble = Some(Trouble::Refused);
                    let token = if self.token.is_some() {
                        "the authentication token was refused"
                    } else {
                        "the collector requires an authentication token and none is set"
                    };
                    diag!(
                        Error,
                        "SkyWalking collector at {address}: {token} ({:?}: {}); set \
                         SW_AGENT_AUTHENTICATION to the collector's SW_AUTHENTICATION; \
                         segments are dropped (counted in stats()) until it accepts the token",
                        status.code(),
                        status.message(),
                    );
                }
            }
            Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Internal
            | Code::Aborted => {
                // The connection is gone or stuck: reconnect, maybe to another address.
                self.connection = None;
                self.next_backend = (self.next_backend + 1) % self.backends.len();
                if self.trouble != Some(Trouble::Unreachable) {
                    self.trouble = Some(Trouble::Unreachable);
                    diag!(
                        Warn,
                        "lost the SkyWalking collector at {address} while sending {what} \
                         ({:?}: {}); reconnecting with backoff",
                        status.code(),
                        status.message(),
                    );
                }
            }
            code => {
                if self.trouble != Some(Trouble::Rejected) {
                    self.trouble = Some(Trouble::Rejected);
                    diag!(
                        Warn,
                        "the SkyWalking collector at {address} rejected {what} ({code:?}: {})",
                        status.message(),
                    );
                }
            }
        }
        false
    }

    fn heartbeat(&mut self, deadline: Option<Instant>) {
        let Some(connection) = &self.connection else {
            return;
        };
        let mut management = connection.management.clone();
        if self.properties_due || self.heartbeats_since_properties >= PROPERTIES_EVERY {
            let request = self.request(management::instance_properties(&self.identity));
            let result = self.block_on(deadline, async {
                management
                    .report_instance_properties(request)
                    .await
                    .map(drop)
            });
            if !self.outcome(result, "instance properties") {
                return;
            }
            self.properties_due = false;
            self.heartbeats_since_properties = 0;
        }
        let request = self.request(management::ping(&self.identity));
        let result = self.block_on(deadline, async {
            management.keep_alive(request).await.map(drop)
        });
        if self.outcome(result, "a heartbeat") {
            self.heartbeats_since_properties += 1;
        }
    }
}

impl GrpcSink {
    /// Sends `items`, each encoded into one message by `codec`, as one client stream on
    /// `path`, and handles the outcome (backoff, reconnection, logging once). True when
    /// OAP answered.
    fn stream<I, C>(
        &mut self,
        path: &'static str,
        items: I,
        codec: C,
        deadline: Option<Instant>,
        what: &str,
    ) -> bool
    where
        I: IntoIterator + Send + 'static,
        I::IntoIter: Send + Unpin,
        I::Item: Send + Sync + 'static,
        C: Codec<Encode = I::Item, Decode = Commands> + Send + 'static,
    {
        let Some(connection) = &self.connection else {
            return false;
        };
        let mut client = connection.streams.clone();
        let request = self.request(ReadyStream(items.into_iter()));
        let result = self.block_on(deadline, async move {
            client.ready().await.map_err(|e| {
                Status::unavailable(format!("connection not ready: {}", crate::diag::chain(&e)))
            })?;
            let path = http::uri::PathAndQuery::from_static(path);
            client
                .client_streaming(request, path, codec)
                .await
                .map(drop)
        });
        self.outcome(result, what)
    }

    /// The shared batch state. A panic while encoding (a bug) poisons it: the records
    /// are still the worker's to take back, and the encoder starts over.
    fn lent_batch(&self) -> std::sync::MutexGuard<'_, LazyBatch> {
        self.batch.lock().unwrap_or_else(|poisoned| {
            self.batch.clear_poison();
            let mut lent = poisoned.into_inner();
            lent.encoder.reset();
            lent
        })
    }

    /// Streams `batch` (taken for the time of the call, given back in the same order)
    /// and counts its segments as sent or undelivered.
    #[allow(clippy::vec_box)]
    fn send_records(&mut self, batch: &mut Vec<Box<SegmentRecord>>, deadline: Option<Instant>) {
        let n = batch.len() as u64;
        if self.connection.is_none() {
            stats::segments_undelivered(n);
            return;
        }
        let call = {
            let mut lent = self.lent_batch();
            lent.call += 1;
            lent.encoder.begin_batch();
            std::mem::swap(&mut lent.records, batch);
            lent.call
        };
        let codec = SegmentCodec {
            batch: self.batch.clone(),
            call,
        };
        let sent = self.stream(COLLECT, 0..n as usize, codec, deadline, "segments");
        // Back to the worker, whatever happened to the stream.
        {
            let mut lent = self.lent_batch();
            lent.call += 1;
            std::mem::swap(&mut lent.records, batch);
        }
        if sent {
            stats::segments_sent(n);
        } else {
            stats::segments_undelivered(n);
        }
    }

    fn heartbeat_if_due(&mut self, deadline: Option<Instant>) {
        let now = Instant::now();
        if self.connection.is_none() || now < self.next_heartbeat {
            return;
        }
        if self.retry_at.is_some_and(|at| now < at) {
            return;
        }
        self.next_heartbeat = now + self.check_interval;
        self.heartbeat(deadline);
    }

    /// Fetches OAP's dynamic configuration when due and applies what changed. A failure
    /// is logged at debug level and retried next period; `UNIMPLEMENTED` (an OAP without
    /// the configuration-discovery module) turns the polling off.
    fn configuration_if_due(&mut self) {
        let now = Instant::now();
        let (Some(connection), Some(poller)) = (&self.connection, &self.cds) else {
            return;
        };
        if !poller.is_due(now) || self.retry_at.is_some_and(|at| now < at) {
            return;
        }
        let mut client = connection.configuration.clone();
        let address = self.backends[connection.backend].address.clone();
        let request = self.request(poller.request());
        let result = self.block_on(
            None,
            async move { client.fetch_configurations(request).await },
        );
        let Some(poller) = &mut self.cds else {
            return;
        };
        poller.fetched(now);
        match result {
            Some(Ok(response)) => poller.handle(&response.into_inner()),
            Some(Err(status)) if status.code() == Code::Unimplemented => {
                diag!(
                    Info,
                    "the SkyWalking collector at {address} does not serve dynamic configuration \
                     (ConfigurationDiscoveryService is UNIMPLEMENTED): not asking again"
                );
                self.cds = None;
            }
            Some(Err(status)) => diag!(
                Debug,
                "dynamic configuration from {address} failed ({:?}: {}); retrying next period",
                status.code(),
                status.message()
            ),
            None => diag!(
                Debug,
                "dynamic configuration from {address}: no answer within {CALL_TIMEOUT:?}"
            ),
        }
    }
}

fn is_tls_failure(error: &str) -> bool {
    let error = error.to_ascii_lowercase();
    ["certificate", "handshake", "tls", "unknownissuer", "alert"]
        .iter()
        .any(|word| error.contains(word))
}

impl Sink for GrpcSink {
    fn ready(&mut self, force: bool, deadline: Option<Instant>) -> Result<(), Instant> {
        if let Some(at) = self.retry_at
            && !force
            && Instant::now() < at
        {
            return Err(at);
        }
        if self.connection.is_some() || self.connect(deadline) {
            Ok(())
        } else {
            Err(self.retry_at.unwrap_or_else(Instant::now))
        }
    }

    fn send(&mut self, batch: &mut Vec<Box<SegmentRecord>>, deadline: Option<Instant>) {
        self.send_records(batch, deadline);
    }

    fn send_logs(&mut self, batch: &[Box<LogItem>], deadline: Option<Instant>) {
        let n = batch.len() as u64;
        let items: Vec<Bytes> = batch
            .iter()
            .map(|item| Bytes::from(encode_logs::log(item, &self.identity).encode_to_vec()))
            .collect();
        if self.stream(COLLECT_LOGS, items, BytesCodec, deadline, "logs") {
            stats::logs_sent(n);
        } else {
            stats::logs_undelivered(n);
        }
    }

    fn send_meters(&mut self, data: Vec<MeterData>, deadline: Option<Instant>) {
        let n = data.len() as u64;
        let batches = meter::batches(
            data,
            &self.identity.service,
            &self.identity.instance,
            crate::clock::now_epoch_ms(),
        );
        let items: Vec<Bytes> = batches
            .iter()
            .map(|batch| Bytes::from(batch.encode_to_vec()))
            .collect();
        if self.stream(COLLECT_METERS, items, BytesCodec, deadline, "meters") {
            stats::meters_sent(n);
        } else {
            stats::meters_dropped(n);
        }
    }

    fn tick(&mut self) {
        self.heartbeat_if_due(None);
        self.configuration_if_due();
    }

    fn flush(&mut self, deadline: Instant) {
        // A short-lived program may end before the first turn's heartbeat: introduce the
        // instance anyway.
        self.heartbeat_if_due(Some(deadline));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_recognised() {
        assert!(is_tls_failure(
            "127.0.0.1:1: transport error: invalid peer certificate: UnknownIssuer"
        ));
        assert!(!is_tls_failure(
            "127.0.0.1:1: tcp connect error: Connection refused"
        ));
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let config = Config {
            tls_ca_path: Some("/nonexistent/ca.pem".into()),
            ..Config::default()
        };
        let identity = Identity {
            service: "s".into(),
            instance: "i".into(),
        };
        let message = GrpcSink::new(&config, identity).unwrap_err().to_string();
        assert!(
            message.contains("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH"),
            "{message}"
        );
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");
    }
}

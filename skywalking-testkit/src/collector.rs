//! The mock collector: its builder, its lifecycle (start, stop, restart) and its
//! accessors over what it recorded.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use skywalking_proto::v3::{
    ConfigurationSyncRequest, Event, InstancePingPkg, InstanceProperties, LogData, MeterData,
    SegmentObject,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::cds::AgentConfigurations;
use crate::faults::{FaultService, Faults};
use crate::net::{self, Incoming};
use crate::router::Router;
use crate::services::Recorder;
use crate::store::{Records, Store};
use crate::{Error, render_trace_tree};

/// OAP's default gRPC `maxMessageSize` (`core.default.maxMessageSize`), 50 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 50 * 1024 * 1024;

/// How long [`MockCollector::stop`] lets open calls finish before it cuts connections.
pub const STOP_GRACE: Duration = Duration::from_millis(250);

/// An in-process mock of the SkyWalking OAP gRPC receiver.
///
/// It serves the v3 trace, management, log, meter, event and configuration discovery
/// services on a real TCP port and records every message it accepts. Cloning is cheap
/// and every clone sees the same collector; the server stops when the last clone is
/// dropped. See the [crate docs](crate) for a walk-through.
#[derive(Debug, Clone)]
pub struct MockCollector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    addr: SocketAddr,
    tls: Option<ServerTlsConfig>,
    max_message_size: usize,
    faults: Arc<Faults>,
    store: Arc<Store>,
    configurations: Arc<AgentConfigurations>,
    /// The current server generation; `None` while stopped. The async lock serialises
    /// stop and restart.
    running: tokio::sync::Mutex<Option<Running>>,
}

/// One server generation: from a bind to a stop.
#[derive(Debug)]
struct Running {
    /// Cancelled to begin a graceful shutdown (no new connections, GOAWAY to old ones).
    shutdown: CancellationToken,
    /// Cancelled to cut every remaining connection.
    kill: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let Self {
            shutdown,
            kill,
            mut task,
        } = self;
        shutdown.cancel();
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            kill.cancel();
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        kill.cancel();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(running) = self.running.get_mut().take() {
            running.shutdown.cancel();
            running.kill.cancel();
        }
    }
}

impl Inner {
    /// Starts a server generation on `listener`. Must run inside a tokio runtime.
    fn serve(&self, listener: tokio::net::TcpListener) -> Result<Running, Error> {
        let mut server = Server::builder();
        if let Some(tls) = &self.tls {
            server = server.tls_config(tls.clone()).map_err(Error::Tls)?;
        }
        let router = Router::new(
            Recorder::new(Arc::clone(&self.store), Arc::clone(&self.configurations)),
            self.max_message_size,
        );
        let service = FaultService::new(router, Arc::clone(&self.faults), Arc::clone(&self.store));
        let shutdown = CancellationToken::new();
        let kill = CancellationToken::new();
        let incoming = Incoming::new(listener, kill.clone());
        let signal = shutdown.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            // An error here means the accept loop failed to build a connection
            // service, which ours never does; either way the generation is over.
            let _ = server
                .serve_with_incoming_shutdown(service, incoming, signal)
                .await;
        });
        Ok(Running {
            shutdown,
            kill,
            task,
        })
    }
}

/// Configures a [`MockCollector`]: faults, limits, TLS and the address to bind.
///
/// Obtained from [`MockCollector::builder`].
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), skywalking_testkit::Error> {
/// use std::time::Duration;
/// use skywalking_testkit::MockCollector;
///
/// let collector = MockCollector::builder()
///     .authentication("s3cret")
///     .fail_first(2)
///     .delay(Duration::from_millis(10))
///     .start()
///     .await?;
/// assert!(collector.endpoint().starts_with("http://127.0.0.1:"));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `start` is awaited"]
#[derive(Clone)]
pub struct Builder {
    bind: SocketAddr,
    token: Option<String>,
    fail_first: u64,
    delay: Option<Duration>,
    max_message_size: usize,
    tls: Option<(Vec<u8>, Vec<u8>)>,
    client_ca: Option<Vec<u8>>,
    configurations: Vec<(String, BTreeMap<String, String>)>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: None,
            fail_first: 0,
            delay: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            tls: None,
            client_ca: None,
            configurations: Vec::new(),
        }
    }
}

impl fmt::Debug for Builder {
    // Written by hand so the private key never ends up in a test log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("bind", &self.bind)
            .field("authentication", &self.token.as_ref().map(|_| "<set>"))
            .field("fail_first", &self.fail_first)
            .field("delay", &self.delay)
            .field("max_message_size", &self.max_message_size)
            .field("tls", &self.tls.is_some())
            .field("client_ca", &self.client_ca.is_some())
            .field("agent_configurations", &self.configurations)
            .finish()
    }
}

impl Builder {
    /// Requires every call to carry the gRPC metadata `authentication: <token>`, as OAP
    /// does when `SW_AUTHENTICATION` is set. A missing or different value gets
    /// `PERMISSION_DENIED` and nothing is recorded.
    pub fn authentication(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Answers the first `n` calls (of any RPC, counted together, over the collector's
    /// whole life including restarts) with `UNAVAILABLE`, recording nothing.
    pub fn fail_first(mut self, n: u64) -> Self {
        self.fail_first = n;
        self
    }

    /// Holds every answer (including rejections) back by `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Largest accepted message, in bytes (default [`DEFAULT_MAX_MESSAGE_SIZE`], as
    /// OAP). A larger one fails its call with `RESOURCE_EXHAUSTED`, as OAP answers.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Serves over TLS with this certificate chain and private key (both PEM). The
    /// [`endpoint`](MockCollector::endpoint) then starts with `https://`.
    pub fn tls(mut self, cert_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Self {
        self.tls = Some((cert_pem.as_ref().to_vec(), key_pem.as_ref().to_vec()));
        self
    }

    /// Requires clients to present a certificate signed by this CA (PEM): mutual TLS.
    /// Needs [`tls`](Self::tls).
    pub fn client_ca(mut self, ca_pem: impl AsRef<[u8]>) -> Self {
        self.client_ca = Some(ca_pem.as_ref().to_vec());
        self
    }

    /// Serves this agent configuration to `service` from the start; see
    /// [`MockCollector::set_agent_configurations`].
    pub fn agent_configurations<I, K, V>(mut self, service: impl Into<String>, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.configurations
            .push((service.into(), collect_pairs(pairs)));
        self
    }

    /// Binds this address instead of `127.0.0.1:0` (an ephemeral port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Binds the port and starts serving in the background of the current tokio
    /// runtime. The port is bound (and [`addr`](MockCollector::addr) final) when this
    /// returns.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] if the address cannot be bound, [`Error::Tls`] or
    /// [`Error::ClientCaWithoutTls`] for a bad TLS setup.
    pub async fn start(self) -> Result<MockCollector, Error> {
        let tls = match (self.tls, self.client_ca) {
            (Some((cert, key)), client_ca) => {
                let config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
                let config = match client_ca {
                    Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
                    None => config,
                };
                // Fail here, not in the background, on a bad certificate or key.
                Server::builder()
                    .tls_config(config.clone())
                    .map_err(Error::Tls)?;
                Some(config)
            }
            (None, Some(_)) => return Err(Error::ClientCaWithoutTls),
            (None, None) => None,
        };
        let listener = net::bind(self.bind).await?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: self.bind,
            source,
        })?;
        let store = Arc::new(Store::new());
        let configurations = Arc::new(AgentConfigurations::default());
        for (service, pairs) in self.configurations {
            configurations.set(service, pairs);
        }
        let mut inner = Inner {
            addr,
            tls,
            max_message_size: self.max_message_size,
            faults: Arc::new(Faults::new(self.token, self.fail_first, self.delay)),
            store,
            configurations,
            running: tokio::sync::Mutex::new(None),
        };
        let running = inner.serve(listener)?;
        *inner.running.get_mut() = Some(running);
        Ok(MockCollector {
            inner: Arc::new(inner),
        })
    }
}

impl MockCollector {
    /// Starts a collector with default settings on `127.0.0.1` and an ephemeral port.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] if no port can be bound.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), skywalking_testkit::Error> {
    /// let collector = skywalking_testkit::MockCollector::start().await?;
    /// assert!(collector.addr().ip().is_loopback());
    /// assert_ne!(collector.addr().port(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start() -> Result<Self, Error> {
        Self::builder().start().await
    }

    /// A [`Builder`] for faults, limits, TLS and the bind address.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The address the collector listens on (the same across restarts).
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The URL to give a gRPC client: `http://127.0.0.1:PORT`, or `https://…` with TLS.
    pub fn endpoint(&self) -> String {
        let scheme = if self.inner.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.inner.addr)
    }

    /// Shuts the server down, like a collector going away, and keeps what it recorded.
    ///
    /// New connections are refused at once; open calls get [`STOP_GRACE`] to finish,
    /// then every connection is cut. Stopping a stopped collector does nothing.
    pub async fn stop(&self) {
        if let Some(running) = self.inner.running.lock().await.take() {
            running.stop().await;
        }
    }

    /// Stops the server if it runs, then serves again on the same address, keeping the
    /// records and counters.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] if the port cannot be bound again within a few seconds (another
    /// process took it).
    pub async fn restart(&self) -> Result<(), Error> {
        let mut running = self.inner.running.lock().await;
        if let Some(old) = running.take() {
            old.stop().await;
        }
        let listener = net::bind(self.inner.addr).await?;
        *running = Some(self.inner.serve(listener)?);
        Ok(())
    }

    /// A copy of everything recorded so far.
    pub fn records(&self) -> Records {
        self.inner.store.read(Records::clone)
    }

    /// Moves everything recorded so far out of the collector, leaving it empty (the
    /// call counters are kept). Nothing that arrives meanwhile is lost.
    pub fn take(&self) -> Records {
        self.inner.store.take()
    }

    /// Forgets everything recorded and resets the call counters. The fail-first count
    /// is not reset.
    pub fn clear(&self) {
        self.inner.store.clear();
    }

    /// The segments received so far, in arrival order.
    pub fn segments(&self) -> Vec<SegmentObject> {
        self.inner.store.read(|r| r.segments.clone())
    }

    /// The instance properties received so far.
    pub fn properties(&self) -> Vec<InstanceProperties> {
        self.inner.store.read(|r| r.properties.clone())
    }

    /// The keep-alive pings received so far.
    pub fn pings(&self) -> Vec<InstancePingPkg> {
        self.inner.store.read(|r| r.pings.clone())
    }

    /// The log records received so far.
    pub fn logs(&self) -> Vec<LogData> {
        self.inner.store.read(|r| r.logs.clone())
    }

    /// The meter data received so far, from `collect` and (flattened) `collectBatch`.
    pub fn meters(&self) -> Vec<MeterData> {
        self.inner.store.read(|r| r.meters.clone())
    }

    /// The events received so far.
    pub fn events(&self) -> Vec<Event> {
        self.inner.store.read(|r| r.events.clone())
    }

    /// Sets the agent configuration `fetchConfigurations` answers to `service` (the
    /// `SW_AGENT_NAME` of the agent asking), replacing any previous one, as an OAP
    /// operator edits `configuration-discovery.default.agentConfigurations`. Keys and
    /// values are the agent's (`agent.sample_rate`, `agent.sample_n_per_3_secs`,
    /// `agent.trace.ignore_path`, ...); the collector does not check them.
    ///
    /// An agent polling with the UUID of the configuration it has gets an empty answer;
    /// after this call its next poll gets the new pairs. Setting the same pairs again
    /// keeps the UUID.
    pub fn set_agent_configurations<I, K, V>(&self, service: impl Into<String>, pairs: I)
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.inner
            .configurations
            .set(service.into(), collect_pairs(pairs));
    }

    /// Removes the agent configuration of `service`: its agents get the empty
    /// configuration and go back to their local settings.
    pub fn remove_agent_configurations(&self, service: &str) {
        self.inner.configurations.remove(service);
    }

    /// The configuration discovery requests received so far.
    pub fn configuration_requests(&self) -> Vec<ConfigurationSyncRequest> {
        self.inner.store.read(|r| r.configuration_requests.clone())
    }

    /// The segments of one trace, in arrival order.
    pub fn trace(&self, trace_id: &str) -> Vec<SegmentObject> {
        self.inner.store.read(|r| {
            r.segments
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .cloned()
                .collect()
        })
    }

    /// The distinct trace ids received so far, in order of first arrival.
    pub fn trace_ids(&self) -> Vec<String> {
        self.inner.store.read(|r| {
            let mut ids: Vec<String> = Vec::new();
            for segment in &r.segments {
                if !ids.contains(&segment.trace_id) {
                    ids.push(segment.trace_id.clone());
                }
            }
            ids
        })
    }

    /// One trace rendered as an indented tree across its segments; see
    /// [`render_trace_tree`] for the format. Empty if the trace is unknown.
    pub fn trace_tree(&self, trace_id: &str) -> String {
        render_trace_tree(&self.trace(trace_id))
    }

    /// Number of calls received (accepted or rejected), of every RPC.
    pub fn calls(&self) -> u64 {
        self.inner.store.calls()
    }

    /// Number of calls received for one gRPC method path, such as
    /// `"/skywalking.v3.ManagementService/keepAlive"`.
    pub fn calls_to(&self, method_path: &str) -> u64 {
        self.inner.store.calls_to(method_path)
    }

    /// Number of calls rejected by authentication or [`Builder::fail_first`].
    pub fn rejected_calls(&self) -> u64 {
        self.inner.store.rejected_calls()
    }

    /// Waits until `check` returns `Some` for the records, and returns its value.
    ///
    /// `check` runs now and again after each recorded message (no polling).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if `check` still returns `None` after `timeout`.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use skywalking_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
    /// use skywalking_proto::v3::{SegmentCollection, SegmentObject, SpanObject};
    /// use skywalking_testkit::MockCollector;
    ///
    /// let collector = MockCollector::start().await?;
    /// # let mut client = TraceSegmentReportServiceClient::connect(collector.endpoint()).await?;
    /// # let span = SpanObject { operation_name: "boom".into(), is_error: true, ..Default::default() };
    /// # let segment = SegmentObject { spans: vec![span], ..Default::default() };
    /// # client.collect_in_sync(SegmentCollection { segments: vec![segment] }).await?;
    /// // ... the code under test reports a failing span ...
    /// let failed = collector
    ///     .wait_until(Duration::from_secs(5), |records| {
    ///         let mut spans = records.segments.iter().flat_map(|s| &s.spans);
    ///         spans.find(|span| span.is_error).cloned()
    ///     })
    ///     .await?;
    /// assert_eq!(failed.operation_name, "boom");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_until<R>(
        &self,
        timeout: Duration,
        check: impl FnMut(&Records) -> Option<R>,
    ) -> Result<R, Error> {
        self.inner
            .store
            .wait_until(timeout, check)
            .await
            .ok_or_else(|| Error::Timeout {
                what: "a custom condition".to_owned(),
                waited: timeout,
            })
    }

    /// Waits until at least `n` segments have arrived, and returns all of them.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] (saying how many arrived) if fewer than `n` arrive in time.
    pub async fn wait_for_segments(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<SegmentObject>, Error> {
        self.inner
            .store
            .wait_for_count("segments", n, timeout, |r| &r.segments)
            .await
    }

    /// Waits until at least `n` instance-properties reports have arrived, and returns
    /// all of them.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if fewer than `n` arrive in time.
    pub async fn wait_for_properties(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<InstanceProperties>, Error> {
        self.inner
            .store
            .wait_for_count("instance properties", n, timeout, |r| &r.properties)
            .await
    }

    /// Waits until at least `n` keep-alive pings have arrived, and returns all of them.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if fewer than `n` arrive in time.
    pub async fn wait_for_pings(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<InstancePingPkg>, Error> {
        self.inner
            .store
            .wait_for_count("pings", n, timeout, |r| &r.pings)
            .await
    }

    /// Waits until at least `n` log records have arrived, and returns all of them.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if fewer than `n` arrive in time.
    pub async fn wait_for_logs(&self, n: usize, timeout: Duration) -> Result<Vec<LogData>, Error> {
        self.inner
            .store
            .wait_for_count("logs", n, timeout, |r| &r.logs)
            .await
    }

    /// Waits until at least `n` meter data have arrived, and returns all of them.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if fewer than `n` arrive in time.
    pub async fn wait_for_meters(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<MeterData>, Error> {
        self.inner
            .store
            .wait_for_count("meter data", n, timeout, |r| &r.meters)
            .await
    }

    /// Waits until at least `n` events have arrived, and returns all of them.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if fewer than `n` arrive in time.
    pub async fn wait_for_events(&self, n: usize, timeout: Duration) -> Result<Vec<Event>, Error> {
        self.inner
            .store
            .wait_for_count("events", n, timeout, |r| &r.events)
            .await
    }

    /// Waits until trace `trace_id` has at least `n` segments, and returns them.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if fewer than `n` segments of the trace arrive in time.
    pub async fn wait_for_trace(
        &self,
        trace_id: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<SegmentObject>, Error> {
        let count = |r: &Records| r.segments.iter().filter(|s| s.trace_id == trace_id).count();
        self.inner
            .store
            .wait_until(timeout, |r| (count(r) >= n).then_some(()))
            .await
            .map(|()| self.trace(trace_id))
            .ok_or_else(|| Error::Timeout {
                what: format!(
                    "{n} segments of trace {trace_id} (got {})",
                    self.inner.store.read(count)
                ),
                waited: timeout,
            })
    }
}

fn collect_pairs<I, K, V>(pairs: I) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    pairs
        .into_iter()
        .map(|(key, value)| (key.into(), value.into()))
        .collect()
}

//! The process-wide agent: whether tracing is on, the limits the hot path reads, and the
//! reporter thread's lifetime.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::config::Config;
use crate::diag::diag;
use crate::error::Error;
use crate::reporter::Reporter;
use crate::reporter::worker::{Custom, Meters, Sink, Worker};
use crate::settings::{self, Identity, IgnoreRules};
use crate::trace::{self, pool::SEGMENTS};
use crate::{clock, logs};

/// `Some` while an agent runs; it holds the worker unless the agent is disabled.
static RUNNING: Mutex<Option<Option<Worker>>> = Mutex::new(None);

/// Reads the configuration from `SW_AGENT_*` (see [`Config`]) and starts the agent. The
/// returned [`Agent`] flushes and stops it when dropped.
///
/// The same as `Agent::builder().start()`. OAP does not need to be up: the reporter
/// connects in the background and keeps retrying.
///
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let _agent = skywalking_runtime::init()?;
///     // ... the program; dropping `_agent` sends what is still queued (5 s at most).
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// [`Error::Config`] for a variable that does not parse (naming it and the accepted
/// form), [`Error::TlsFile`] for an unreadable TLS file, [`Error::AlreadyStarted`].
pub fn init() -> Result<Agent, Error> {
    Agent::builder().start()
}

/// A builder method's change to the configuration, applied on top of the environment.
type Override = Box<dyn FnOnce(&mut Config) + Send>;

/// Configures and starts the agent: the environment first (see [`Config`]), then the
/// builder's methods, which win.
///
/// With no [`reporter`](AgentBuilder::reporter), segments go to OAP over gRPC
/// (feature `grpc`, on by default):
///
/// - a thread named `skywalking-reporter` with its own small `current_thread` tokio
///   runtime does all the I/O, so the agent works from sync programs and never needs
///   (or blocks) the application's runtime;
/// - it connects lazily (OAP may be down at start), tries the addresses in turn, and after
///   a failure waits a jittered exponential backoff: 100 ms, doubling, at most 5 s;
/// - segments go in batches (up to 512 segments, or what waited one flush interval) as
///   `TraceSegmentReportService/collect` streams, and count as sent once OAP answers;
/// - `keepAlive` every check interval, instance properties (`language`, `hostname`,
///   `ipv4`, `OS Name`, `Process No.`, `Agent Version`) on connecting and every 10
///   heartbeats;
/// - while OAP is unreachable, segments wait in the bounded queue; beyond it they are
///   dropped and counted ([`stats()`](crate::stats())), so memory stays bounded and
///   callers never block. Problems are logged once on stderr (see `SW_LOG_LEVEL`).
///
/// The same thread and connection carry log records at or above
/// [`log_reporter_level`](AgentBuilder::log_reporter_level) (from the `log` and `tracing`
/// integrations; a queue of their own with the same bound and drop rule) and, every
/// [`meter_collect_interval`](AgentBuilder::meter_collect_interval), the
/// [meters](crate::meter).
///
/// ```
/// use skywalking_runtime::{Agent, Reporter};
/// use skywalking_proto::v3::SegmentObject;
///
/// struct Discard;
/// impl Reporter for Discard {
///     fn report(&mut self, _: Vec<SegmentObject>) {}
/// }
///
/// let agent = Agent::builder()
///     .service("checkout")
///     .instance("checkout-1")
///     .reporter(Discard)
///     .start()
///     .expect("agent starts");
/// drop(agent); // flushes and stops
/// ```
#[must_use]
pub struct AgentBuilder {
    base: Option<Config>,
    overrides: Vec<Override>,
    reporter: Option<Box<dyn Reporter>>,
}

impl std::fmt::Debug for AgentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentBuilder")
            .field("base", &self.base)
            .field("overrides", &self.overrides.len())
            .field("custom_reporter", &self.reporter.is_some())
            .finish()
    }
}

// The setters of single options (`service`, `span_limit`, `check_interval`, ...) are
// generated from the table in `config/options.rs`; those a row cannot express are here.
impl AgentBuilder {
    /// Queues a change to the configuration (the generated setters use it too).
    pub(crate) fn set(mut self, f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.overrides.push(Box::new(f));
        self
    }

    /// Starts from `config` instead of reading the environment (for example
    /// [`Config::default()`] to ignore `SW_AGENT_*`, or [`Config::from_lookup`]).
    pub fn config(mut self, config: Config) -> Self {
        self.base = Some(config);
        self
    }

    /// One collector address, `host:port` (`SW_AGENT_COLLECTOR_BACKEND_SERVICES`).
    pub fn backend(self, address: impl Into<String>) -> Self {
        let address = address.into();
        self.set(move |c| c.backends = vec![address])
    }

    /// Reports through Kafka to these brokers (`host:port`), to the topics OAP's
    /// kafka-fetcher reads: what `SW_AGENT_PROTOCOL=kafka` and
    /// `SW_KAFKA_BOOTSTRAP_SERVERS` set. Starting fails with a configuration error in a
    /// build without the `kafka` feature.
    pub fn kafka<I, S>(self, brokers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let brokers: Vec<String> = brokers.into_iter().map(Into::into).collect();
        self.set(move |c| {
            c.protocol = crate::config::Protocol::Kafka;
            c.kafka_bootstrap_servers = brokers;
        })
    }

    /// Connects with TLS, trusting the CA certificates (PEM) in this file
    /// (`SW_AGENT_REPORTER_GRPC_TLS_CA_PATH`).
    pub fn tls_ca_path(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.set(move |c| {
            c.tls_enable = true;
            c.tls_ca_path = Some(path);
        })
    }

    /// Adds an instance property reported to OAP (after those of
    /// `SW_AGENT_INSTANCE_PROPERTIES`), such as `("namespace", "shop")`.
    pub fn instance_property(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let pair = (key.into(), value.into());
        self.set(move |c| c.instance_properties.push(pair))
    }

    /// Presents this client certificate chain and private key (PEM files) for mutual
    /// TLS (`SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_CHAIN_PATH`,
    /// `SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH`).
    pub fn tls_client_identity(
        self,
        cert_chain_path: impl Into<PathBuf>,
        key_path: impl Into<PathBuf>,
    ) -> Self {
        let (cert, key) = (cert_chain_path.into(), key_path.into());
        self.set(move |c| {
            c.tls_client_cert_path = Some(cert);
            c.tls_client_key_path = Some(key);
        })
    }

    /// Correlation limits: keys per trace and bytes per value
    /// (`SW_AGENT_CORRELATION_MAX_KEY_COUNT`, default 3, and
    /// `SW_AGENT_CORRELATION_MAX_VALUE_SIZE`, default 128).
    pub fn correlation_limits(self, max_keys: usize, max_value_size: usize) -> Self {
        self.set(move |c| {
            c.correlation_max_keys = max_keys;
            c.correlation_max_value_size = max_value_size;
        })
    }

    /// Where segments go, instead of OAP over gRPC.
    pub fn reporter(mut self, reporter: impl Reporter) -> Self {
        self.reporter = Some(Box::new(reporter));
        self
    }

    /// Starts the agent.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a value that does not parse, [`Error::TlsFile`] for an
    /// unusable TLS file, [`Error::AlreadyStarted`] if an agent runs in this process,
    /// [`Error::NoReporter`] without a reporter when the `grpc` feature is off.
    pub fn start(self) -> Result<Agent, Error> {
        let mut config = match self.base {
            Some(config) => config,
            None => Config::from_env()?,
        };
        for apply in self.overrides {
            apply(&mut config);
        }
        config.validate()?;
        crate::diag::set_level(config.log_level);

        let mut running = RUNNING.lock().map_err(|_| Error::Poisoned)?;
        if running.is_some() {
            return Err(Error::AlreadyStarted);
        }
        let identity = Identity::new(
            config.service.clone(),
            config
                .instance
                .clone()
                .unwrap_or_else(crate::reporter::management::default_instance_name),
        );
        for (what, name) in [
            ("service", &identity.service),
            ("instance", &identity.instance),
        ] {
            if name.chars().count() > 70 {
                diag!(
                    Warn,
                    "the {what} name {name:?} is longer than 70 characters: OAP cuts it there"
                );
            }
        }
        // The gRPC reporter's addresses are checked at start, on a thread of their own.
        #[cfg(feature = "grpc")]
        let check_backends = self.reporter.is_none()
            && !config.disabled
            && config.protocol == crate::config::Protocol::Grpc;
        let sink: Option<Box<dyn Sink>> = match self.reporter {
            Some(reporter) => Some(Box::new(Custom::new(reporter, identity.clone()))),
            None if config.disabled => None,
            None => Some(default_sink(&config, &identity)?),
        };
        settings::apply(settings::Applied {
            identity: identity.clone(),
            ignore: IgnoreRules {
                paths: config.trace_ignore_paths.clone(),
                suffixes: config.ignore_suffixes.clone(),
            },
            span_limit: config.span_limit,
            correlation: config.correlation_limits(),
        });
        settings::set_instance_properties(config.instance_properties.clone());
        settings::set_redis_trace_key(config.redis_trace_key);
        settings::set_sql(
            config.sql_body_max_length,
            config
                .sql_trace_parameters
                .then_some(config.sql_parameters_max_length),
        );
        crate::clock::warm_up();
        trace::sampling::configure(config.sample_rate, config.sample_per_3_secs);
        trace::keep::configure(
            config.keep_errors,
            u64::try_from(config.keep_slow_ms).unwrap_or(u64::MAX),
        );
        SEGMENTS.configure(config.max_send_queue);
        trace::panic_hook::install();
        let worker = if config.disabled {
            diag!(Info, "SW_AGENT_DISABLE is set: no span is recorded");
            None
        } else {
            let sink = sink.ok_or(Error::NoReporter)?;
            crate::meter::on_agent_start();
            let meters = config
                .meter_active
                .then(|| Meters::every(config.meter_collect_interval));
            #[cfg(feature = "prometheus")]
            crate::reporter::prometheus::start(&config, &identity.service)?;
            let worker =
                Worker::start(sink, config.flush_interval, meters).map_err(Error::Thread)?;
            logs::configure(config.log_reporter_level, config.max_send_queue);
            Some(worker)
        };
        *running = Some(worker);
        settings::set_enabled(!config.disabled);
        #[cfg(feature = "grpc")]
        if check_backends {
            crate::reporter::check::log_at_start(&config, identity.clone());
        }
        diag!(
            Info,
            "started: service {:?}, instance {:?}, collector {}",
            identity.service,
            identity.instance,
            if config.protocol == crate::config::Protocol::Kafka {
                format!("kafka {}", config.kafka_bootstrap_servers.join(","))
            } else {
                config.backends.join(",")
            }
        );
        Ok(Agent {
            shutdown_timeout: config.shutdown_timeout,
        })
    }
}

/// The transport `SW_AGENT_PROTOCOL` names (Kafka without its feature was refused by
/// `Config::validate` already).
fn default_sink(config: &Config, identity: &Identity) -> Result<Box<dyn Sink>, Error> {
    #[cfg(feature = "kafka")]
    if config.protocol == crate::config::Protocol::Kafka {
        return Ok(Box::new(crate::reporter::kafka::KafkaSink::new(
            config,
            identity.clone(),
        )));
    }
    grpc_sink(config, identity)
}

#[cfg(feature = "grpc")]
fn grpc_sink(config: &Config, identity: &Identity) -> Result<Box<dyn Sink>, Error> {
    Ok(Box::new(crate::reporter::grpc::GrpcSink::new(
        config,
        identity.clone(),
    )?))
}

#[cfg(not(feature = "grpc"))]
fn grpc_sink(_config: &Config, _identity: &Identity) -> Result<Box<dyn Sink>, Error> {
    Err(Error::NoReporter)
}

/// The running agent. Dropping it flushes queued data (waiting at most the shutdown
/// timeout, 5 s by default) and stops the reporter thread.
///
/// Made by [`init`] or [`Agent::builder`]. Keep it alive as long as the program traces,
/// typically as a `let _agent = ...;` binding in `main`.
#[derive(Debug)]
#[must_use = "dropping the agent stops it"]
pub struct Agent {
    shutdown_timeout: Duration,
}

impl Agent {
    /// A builder over the environment's configuration (read when it starts).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), skywalking_runtime::Error> {
    /// let _agent = skywalking_runtime::Agent::builder()
    ///     .service("checkout")
    ///     .backend("oap:11800")
    ///     .start()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> AgentBuilder {
        AgentBuilder {
            base: None,
            overrides: Vec::new(),
            reporter: None,
        }
    }

    /// Sends everything queued so far, waiting at most `timeout`. Returns false if the
    /// timeout passed first or the collector could not take everything. Safe to call
    /// from async code (it blocks the calling thread, not a runtime the reporter needs),
    /// though it is best not called on a `current_thread` runtime that serves something
    /// the flush waits for.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = clock::deadline_after(timeout);
        match RUNNING.lock() {
            Ok(running) => match running.as_ref() {
                Some(Some(worker)) => worker.flush(deadline),
                Some(None) => true,
                None => false,
            },
            Err(_) => false,
        }
    }

    /// Stops recording, flushes what is queued within `timeout` and stops the reporter
    /// thread; what could not be sent by then is dropped and counted. Returns false if
    /// the timeout passed first. Dropping the agent does the same with the configured
    /// shutdown timeout.
    pub fn shutdown(self, timeout: Duration) -> bool {
        let stopped = stop(timeout);
        std::mem::forget(self);
        stopped
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        stop(self.shutdown_timeout);
    }
}

fn stop(timeout: Duration) -> bool {
    let deadline = clock::deadline_after(timeout);
    settings::set_enabled(false);
    logs::disable();
    let running = RUNNING.lock().ok().and_then(|mut r| r.take());
    settings::clear_ignore_rules();
    #[cfg(feature = "prometheus")]
    crate::reporter::prometheus::stop();
    match running {
        Some(Some(worker)) => worker.shutdown(deadline),
        Some(None) => true,
        None => false,
    }
}

//! The process-wide agent: whether tracing is on, the limits the hot path reads, and the
//! reporter thread's lifetime.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::reporter::encode::Identity;
use crate::reporter::worker::Worker;
use crate::reporter::{Reporter, queue};

static ENABLED: AtomicBool = AtomicBool::new(false);
static SPAN_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_SPAN_LIMIT);
static WORKER: Mutex<Option<Worker>> = Mutex::new(None);
static IDENTITY: Mutex<Option<Identity>> = Mutex::new(None);

/// Spans per segment before further spans are dropped and the segment is marked
/// `isSizeLimited` (`SW_AGENT_SPAN_LIMIT`).
pub const DEFAULT_SPAN_LIMIT: usize = 300;
/// How long dropping an [`AgentGuard`] waits for queued segments to be sent.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether spans are recorded at all.
#[inline]
pub(crate) fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

#[inline]
pub(crate) fn span_limit() -> usize {
    SPAN_LIMIT.load(Ordering::Relaxed)
}

/// The service and instance of the running agent (for headers and logs).
pub(crate) fn identity() -> Option<Identity> {
    IDENTITY.lock().ok().and_then(|g| g.clone())
}

/// Configures and starts the agent.
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
    service: String,
    instance: Option<String>,
    sample_rate: f64,
    sample_per_3s: u32,
    span_limit: usize,
    max_send_queue: usize,
    flush_interval: Duration,
    shutdown_timeout: Duration,
    disabled: bool,
    reporter: Option<Box<dyn Reporter>>,
}

impl std::fmt::Debug for AgentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentBuilder")
            .field("service", &self.service)
            .field("instance", &self.instance)
            .field("sample_rate", &self.sample_rate)
            .field("sample_per_3s", &self.sample_per_3s)
            .field("span_limit", &self.span_limit)
            .field("max_send_queue", &self.max_send_queue)
            .field("flush_interval", &self.flush_interval)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// Entry point of the agent's configuration.
#[derive(Debug)]
pub struct Agent(());

impl Agent {
    /// A builder with the defaults.
    pub fn builder() -> AgentBuilder {
        AgentBuilder {
            service: "rust-service".into(),
            instance: None,
            sample_rate: 1.0,
            sample_per_3s: 0,
            span_limit: DEFAULT_SPAN_LIMIT,
            max_send_queue: queue::DEFAULT_CAPACITY,
            flush_interval: Duration::from_millis(20),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            disabled: false,
            reporter: None,
        }
    }
}

impl AgentBuilder {
    /// The service name (`SW_AGENT_NAME`).
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.service = name.into();
        self
    }

    /// The instance name (`SW_AGENT_INSTANCE_NAME`; default `<uuid>@<hostname>`).
    pub fn instance(mut self, name: impl Into<String>) -> Self {
        self.instance = Some(name.into());
        self
    }

    /// The share of new traces recorded, `0.0..=1.0` (`SW_AGENT_SAMPLE`).
    pub fn sample_rate(mut self, rate: f64) -> Self {
        self.sample_rate = rate;
        self
    }

    /// At most this many new traces recorded per 3 seconds; 0 for no cap
    /// (`SW_AGENT_SAMPLE_N_PER_3_SECS`).
    pub fn sample_per_3_secs(mut self, n: u32) -> Self {
        self.sample_per_3s = n;
        self
    }

    /// Spans per segment (`SW_AGENT_SPAN_LIMIT`, default 300).
    pub fn span_limit(mut self, limit: usize) -> Self {
        self.span_limit = limit;
        self
    }

    /// Segments waiting to be sent before new ones are dropped
    /// (`SW_AGENT_REPORTER_MAX_SEND_QUEUE`).
    pub fn max_send_queue(mut self, n: usize) -> Self {
        self.max_send_queue = n;
        self
    }

    /// How often the reporter thread drains the queue when it is not full.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// How long dropping the guard waits for queued segments to be sent.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Turns every span into a no-op (`SW_AGENT_DISABLE`).
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// Where segments go.
    pub fn reporter(mut self, reporter: impl Reporter) -> Self {
        self.reporter = Some(Box::new(reporter));
        self
    }

    /// Starts the agent. Fails if one is already running in this process or if no
    /// reporter was given.
    pub fn start(self) -> Result<AgentGuard, Error> {
        let mut worker = WORKER.lock().map_err(|_| Error::Poisoned)?;
        if worker.is_some() {
            return Err(Error::AlreadyStarted);
        }
        let identity = Identity {
            service: self.service,
            instance: self
                .instance
                .unwrap_or_else(crate::reporter::encode::default_instance_name),
        };
        if let Ok(mut slot) = IDENTITY.lock() {
            *slot = Some(identity.clone());
        }
        crate::clock::warm_up();
        crate::sampling::configure(self.sample_rate, self.sample_per_3s);
        SPAN_LIMIT.store(self.span_limit.max(1), Ordering::Relaxed);
        queue::configure(self.max_send_queue);
        crate::panic_hook::install();
        let reporter = self.reporter.ok_or(Error::NoReporter)?;
        *worker = Some(Worker::start(reporter, identity, self.flush_interval).map_err(Error::Thread)?);
        ENABLED.store(!self.disabled, Ordering::Release);
        Ok(AgentGuard {
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// Keeps the agent running; dropping it flushes queued segments (waiting at most the
/// shutdown timeout, 5 s by default) and stops the reporter thread.
#[derive(Debug)]
#[must_use = "dropping the guard stops the agent"]
pub struct AgentGuard {
    shutdown_timeout: Duration,
}

impl AgentGuard {
    /// Sends everything queued so far, waiting at most `timeout`. Returns false if the
    /// timeout passed first.
    pub fn flush(&self, timeout: Duration) -> bool {
        flush(timeout)
    }
}

impl Drop for AgentGuard {
    fn drop(&mut self) {
        shutdown(self.shutdown_timeout);
    }
}

/// Sends everything queued so far, waiting at most `timeout`. Returns false if the
/// timeout passed first or no agent is running.
pub fn flush(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    match WORKER.lock() {
        Ok(worker) => worker.as_ref().is_some_and(|w| w.flush(deadline)),
        Err(_) => false,
    }
}

/// Stops recording, flushes what is queued within `timeout` and stops the reporter
/// thread. Returns false if the timeout passed first. Dropping the [`AgentGuard`] does the
/// same.
pub fn shutdown(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    ENABLED.store(false, Ordering::Release);
    let worker = WORKER.lock().ok().and_then(|mut w| w.take());
    worker.is_some_and(|w| w.shutdown(deadline))
}

static CORRELATION_LIMITS: Mutex<Option<crate::propagation::CorrelationLimits>> = Mutex::new(None);

/// The limits applied to incoming `sw8-correlation` data.
pub(crate) fn correlation_limits() -> crate::propagation::CorrelationLimits {
    CORRELATION_LIMITS
        .lock()
        .ok()
        .and_then(|g| *g)
        .unwrap_or_default()
}

//! The settings the hot path and the integrations read, and every default.
//!
//! This is the bottom of the crate: plain statics that the agent (the only writer) sets
//! when it starts and stops, read lock-free on the hot path (`is_enabled`, `span_limit`,
//! `correlation_limits`), or through a short read lock once per trace or request
//! (`identity`, `ignore_rules`). Nothing here imports another module of the crate
//! except the header codecs' limits.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::propagation::CorrelationLimits;

/// The service name when `SW_AGENT_NAME` is not set.
pub(crate) const DEFAULT_SERVICE: &str = "rust-service";
/// The collector address when `SW_AGENT_COLLECTOR_BACKEND_SERVICES` is not set.
pub(crate) const DEFAULT_BACKEND: &str = "127.0.0.1:11800";
/// The heartbeat (`keepAlive`) period, `SW_AGENT_REPORTER_CHECK_INTERVAL`.
pub(crate) const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// The period of meter collection, `SW_AGENT_METER_COLLECT_INTERVAL`.
pub(crate) const DEFAULT_METER_COLLECT_INTERVAL: Duration = Duration::from_secs(20);
/// `SW_AGENT_IGNORE_SUFFIX`: the Java agent's list.
pub(crate) const DEFAULT_IGNORE_SUFFIX: &str =
    ".jpg,.jpeg,.js,.css,.png,.bmp,.gif,.ico,.mp3,.mp4,.html,.svg";
/// Spans per segment before further spans are dropped and the segment is marked
/// `isSizeLimited` (`SW_AGENT_SPAN_LIMIT`).
pub(crate) const DEFAULT_SPAN_LIMIT: usize = 300;
/// Segments (and, separately, log records) waiting to be sent before new ones are
/// dropped (`SW_AGENT_REPORTER_MAX_SEND_QUEUE`).
pub(crate) const DEFAULT_MAX_SEND_QUEUE: usize = 5_000;
/// How long dropping the agent's guard waits for queued data to be sent.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the reporter thread drains the queues when less than a batch is waiting.
pub(crate) const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(20);
/// Segments (or log records) per reporter batch; also the queue length at which a
/// parked reporter is woken early.
pub(crate) const REPORT_BATCH: usize = 512;

static ENABLED: AtomicBool = AtomicBool::new(false);
static SPAN_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_SPAN_LIMIT);
static CORRELATION_MAX_KEYS: AtomicUsize = AtomicUsize::new(CorrelationLimits::DEFAULT.max_keys);
static CORRELATION_MAX_VALUE: AtomicUsize =
    AtomicUsize::new(CorrelationLimits::DEFAULT.max_value_size);
static IDENTITY: RwLock<Option<Arc<Identity>>> = RwLock::new(None);
static IGNORE: RwLock<Option<Arc<IgnoreRules>>> = RwLock::new(None);

/// The service and instance names this process reports under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) service: String,
    pub(crate) instance: String,
}

impl Identity {
    /// The names, cut (at a character boundary) to what an `sw8` header may carry, so
    /// every header this agent writes decodes downstream.
    pub(crate) fn new(mut service: String, mut instance: String) -> Identity {
        cut_to(&mut service, crate::propagation::SW8_MAX_SERVICE_LEN);
        cut_to(&mut instance, crate::propagation::SW8_MAX_INSTANCE_LEN);
        Identity { service, instance }
    }
}

fn cut_to(s: &mut String, max_bytes: usize) {
    let kept = crate::record::cut_bytes(s, max_bytes).len();
    s.truncate(kept);
}

/// The trace ignore rules of `SW_AGENT_TRACE_IGNORE_PATH` and `SW_AGENT_IGNORE_SUFFIX`,
/// for the integrations that apply them at a trace's first span.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct IgnoreRules {
    /// Ant-style path patterns.
    pub(crate) paths: Vec<String>,
    /// Suffixes of first-span names.
    pub(crate) suffixes: Vec<String>,
}

/// Whether spans are recorded at all.
#[inline]
pub(crate) fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Turns recording on or off (the agent starts or stops).
pub(crate) fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Release);
}

/// Spans per segment.
#[inline]
pub(crate) fn span_limit() -> usize {
    SPAN_LIMIT.load(Ordering::Relaxed)
}

/// The limits applied to `sw8-correlation` data (`SW_AGENT_CORRELATION_MAX_KEY_COUNT`,
/// `SW_AGENT_CORRELATION_MAX_VALUE_SIZE`). Lock-free: read once per trace.
#[inline]
pub(crate) fn correlation_limits() -> CorrelationLimits {
    CorrelationLimits::new(
        CORRELATION_MAX_KEYS.load(Ordering::Relaxed),
        CORRELATION_MAX_VALUE.load(Ordering::Relaxed),
    )
}

/// The service and instance of the running agent (for headers and logs).
pub(crate) fn identity() -> Option<Arc<Identity>> {
    IDENTITY.read().ok().and_then(|g| g.clone())
}

/// The trace ignore rules of the running agent; `None` when no agent runs.
#[cfg_attr(
    not(any(feature = "tower", feature = "actix-web", feature = "tonic")),
    allow(dead_code)
)]
pub(crate) fn ignore_rules() -> Option<Arc<IgnoreRules>> {
    IGNORE.read().ok().and_then(|g| g.clone())
}

/// What the agent sets when it starts.
#[derive(Debug)]
pub(crate) struct Applied {
    pub(crate) identity: Identity,
    pub(crate) ignore: IgnoreRules,
    pub(crate) span_limit: usize,
    pub(crate) correlation: CorrelationLimits,
}

/// Publishes the settings of a starting agent (recording is turned on separately, last).
pub(crate) fn apply(settings: Applied) {
    if let Ok(mut slot) = IDENTITY.write() {
        *slot = Some(Arc::new(settings.identity));
    }
    if let Ok(mut slot) = IGNORE.write() {
        *slot = Some(Arc::new(settings.ignore));
    }
    SPAN_LIMIT.store(settings.span_limit.max(1), Ordering::Relaxed);
    CORRELATION_MAX_KEYS.store(settings.correlation.max_keys, Ordering::Relaxed);
    CORRELATION_MAX_VALUE.store(settings.correlation.max_value_size, Ordering::Relaxed);
}

/// Drops the rules of a stopped agent (its identity stays for late log lines).
pub(crate) fn clear_ignore_rules() {
    if let Ok(mut slot) = IGNORE.write() {
        *slot = None;
    }
}

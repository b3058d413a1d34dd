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

use arc_swap::{ArcSwapOption, Guard};

use crate::propagation::CorrelationLimits;

/// The service name when `SW_AGENT_NAME` is not set.
pub(crate) const DEFAULT_SERVICE: &str = "rust-service";
/// The collector address when `SW_AGENT_COLLECTOR_BACKEND_SERVICES` is not set.
pub(crate) const DEFAULT_BACKEND: &str = "127.0.0.1:11800";
/// The Kafka brokers asked first (`SW_KAFKA_BOOTSTRAP_SERVERS`), as the Python agent's.
pub(crate) const DEFAULT_KAFKA_BOOTSTRAP: &str = "localhost:9092";
/// The heartbeat (`keepAlive`) period, `SW_AGENT_REPORTER_CHECK_INTERVAL`.
pub(crate) const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// The period of dynamic configuration fetches,
/// `SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL` (the Java agent's default).
pub(crate) const DEFAULT_CDS_INTERVAL: Duration = Duration::from_secs(20);
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
static IDENTITY: ArcSwapOption<Identity> = ArcSwapOption::const_empty();
static IGNORE: ArcSwapOption<IgnoreRules> = ArcSwapOption::const_empty();
static INSTANCE_PROPERTIES: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

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

/// The service and instance of the running agent (for headers and logs): a load with
/// no lock and no reference count taken.
pub(crate) fn identity() -> Guard<Option<Arc<Identity>>> {
    IDENTITY.load()
}

/// The trace ignore rules of the running agent; `None` when no agent runs.
#[cfg_attr(
    not(any(feature = "tower", feature = "actix-web", feature = "tonic")),
    allow(dead_code)
)]
pub(crate) fn ignore_rules() -> Guard<Option<Arc<IgnoreRules>>> {
    IGNORE.load()
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
    IDENTITY.store(Some(Arc::new(settings.identity)));
    IGNORE.store(Some(Arc::new(settings.ignore)));
    SPAN_LIMIT.store(settings.span_limit.max(1), Ordering::Relaxed);
    CORRELATION_MAX_KEYS.store(settings.correlation.max_keys, Ordering::Relaxed);
    CORRELATION_MAX_VALUE.store(settings.correlation.max_value_size, Ordering::Relaxed);
}

/// Replaces the ignore rules of the running agent at once (dynamic configuration): a
/// request sees the old rules or the new ones, never a mix. Does nothing when no agent
/// runs.
#[cfg(feature = "grpc")]
pub(crate) fn replace_ignore_rules(rules: IgnoreRules) {
    let current = IGNORE.load();
    if current.is_some() {
        // Not if the agent stopped meanwhile (its rules were cleared).
        IGNORE.compare_and_swap(&current, Some(Arc::new(rules)));
    }
}

/// Changes the span limit of the running agent (dynamic configuration); segments under
/// way keep the limit they read.
#[cfg(feature = "grpc")]
pub(crate) fn set_span_limit(limit: usize) {
    SPAN_LIMIT.store(limit.max(1), Ordering::Relaxed);
}

/// Extra instance properties (`SW_AGENT_INSTANCE_PROPERTIES`), reported after the
/// agent's own; set when the agent starts, read when the reporter introduces the
/// instance.
pub(crate) fn set_instance_properties(properties: Vec<(String, String)>) {
    if let Ok(mut slot) = INSTANCE_PROPERTIES.write() {
        *slot = properties;
    }
}

/// The extra instance properties of the running agent.
pub(crate) fn instance_properties() -> Vec<(String, String)> {
    INSTANCE_PROPERTIES
        .read()
        .map(|p| p.clone())
        .unwrap_or_default()
}

/// Drops the rules of a stopped agent (its identity stays for late log lines).
pub(crate) fn clear_ignore_rules() {
    IGNORE.store(None);
}

/// Whether redis exit spans carry the command's key (`SW_PLUGIN_REDIS_TRACE_KEY`).
static REDIS_TRACE_KEY: AtomicBool = AtomicBool::new(false);

/// Sets `SW_PLUGIN_REDIS_TRACE_KEY` when the agent starts.
pub(crate) fn set_redis_trace_key(on: bool) {
    REDIS_TRACE_KEY.store(on, Ordering::Relaxed);
}

/// Whether redis exit spans carry `cache.key` (read once per recorded command).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn redis_trace_key() -> bool {
    REDIS_TRACE_KEY.load(Ordering::Relaxed)
}

/// Bytes of a statement kept in `db.statement` by default (the Java agent's
/// `plugin.jdbc.sql_body_max_length`).
pub(crate) const DEFAULT_SQL_BODY_MAX_LENGTH: usize = 2048;
/// Bytes of `db.sql.parameters` kept by default (the Java agent's
/// `plugin.jdbc.sql_parameters_max_length`).
pub(crate) const DEFAULT_SQL_PARAMETERS_MAX_LENGTH: usize = 512;

/// How database exit spans record statements: `SW_PLUGIN_JDBC_SQL_BODY_MAX_LENGTH`,
/// `SW_JDBC_TRACE_SQL_PARAMETERS` (0: off) and `SW_PLUGIN_JDBC_SQL_PARAMETERS_MAX_LENGTH`.
static SQL_BODY_MAX: AtomicUsize = AtomicUsize::new(DEFAULT_SQL_BODY_MAX_LENGTH);
static SQL_PARAMETERS_MAX: AtomicUsize = AtomicUsize::new(0);

/// Sets the SQL options when the agent starts: the bytes of a statement kept, and of its
/// parameters (`None`: parameters are not recorded).
pub(crate) fn set_sql(body_max: usize, parameters_max: Option<usize>) {
    SQL_BODY_MAX.store(body_max.max(1), Ordering::Relaxed);
    SQL_PARAMETERS_MAX.store(parameters_max.map_or(0, |n| n.max(1)), Ordering::Relaxed);
}

/// Bytes of a statement kept in `db.statement`.
#[cfg_attr(
    not(any(
        feature = "sqlx-postgres",
        feature = "sqlx-mysql",
        feature = "sqlx-sqlite",
        feature = "tokio-postgres"
    )),
    allow(dead_code)
)]
pub(crate) fn sql_body_max() -> usize {
    SQL_BODY_MAX.load(Ordering::Relaxed)
}

/// Bytes of `db.sql.parameters` kept, `None` when parameters are not recorded.
#[cfg_attr(
    not(any(
        feature = "sqlx-postgres",
        feature = "sqlx-mysql",
        feature = "sqlx-sqlite",
        feature = "tokio-postgres"
    )),
    allow(dead_code)
)]
pub(crate) fn sql_parameters_max() -> Option<usize> {
    match SQL_PARAMETERS_MAX.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}
